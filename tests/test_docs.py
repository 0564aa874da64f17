"""Every code block of README.md and docs/*.md runs as pasted (convention: tests/doc_snippets.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from doc_snippets import ROOT, Block, DocError, Session, extract, shell_commands

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_runs_as_pasted(doc: Path, tmp_path: Path):
    blocks = extract(doc)
    with Session(tmp_path) as session:
        for block in blocks:
            session.run(block)


def test_the_documents_are_really_exercised():
    """Guard against a convention that quietly skips everything: most blocks run."""
    blocks = [b for doc in DOCUMENTS for b in extract(doc)]
    ran = [b for b in blocks if b.directive not in ("skip",) and b.lang != "text"]
    assert len(ran) >= 0.75 * len(blocks), [b.where for b in blocks if b not in ran]
    assert {"server", "pytest", "same-as"} <= {b.directive for b in blocks}


# -- the runner bites ---------------------------------------------------------------------


def _doc(tmp_path: Path, text: str) -> list[Block]:
    doc = ROOT / "tests" / f".doc-test-{tmp_path.name}.md"  # under ROOT, as the real documents are
    doc.write_text(text)
    try:
        return extract(doc)
    finally:
        doc.unlink()


def _run(tmp_path: Path, text: str) -> None:
    with Session(tmp_path / "session") as session:
        for block in _doc(tmp_path, text):
            session.run(block)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("```sh\ntrue\nfalse\n```\n", "exit status 1"),
        ("```console\n$ echo hello\nhola\n```\n", "printed no line like"),
        ("```python\nraise SystemExit(3)\n```\n", "exit status 3"),
        ("<!-- doc-test: pytest -->\n```python\ndef test_x():\n    assert False\n```\n", "exit status 1"),
        ("<!-- doc-test: same-as examples/tokens.yaml -->\n```yaml\ntokens: {}\n```\n", "differs from"),
        ("<!-- doc-test: loads-as tokens -->\n```yaml\ntokens: {t: {principal: nobody}}\n```\n",
         "does not load as tokens"),
        ("<!-- doc-test: args-only (placeholders here) -->\n```sh\ngenomics-mock serve --prot 1\n```\n",
         "did you mean --port"),
        ("```json\n{\"a\": \n```\n", "does not parse as json"),
    ],
)
def test_a_broken_block_fails_with_its_place(tmp_path, text, reason):
    with pytest.raises(DocError, match=reason) as failure:
        _run(tmp_path, text)
    assert ".md:" in str(failure.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("```\nno language\n```\n", "with language ''"),
        ("<!-- doc-test: skip -->\n```sh\nx\n```\n", "needs a \\(reason\\)"),
        ("<!-- doc-test: skip because -->\n```sh\nx\n```\n", "reason in parentheses"),
        ("<!-- doc-test: maybe -->\n```sh\nx\n```\n", "unknown doc-test directive"),
    ],
)
def test_the_convention_is_enforced(tmp_path, text, reason):
    with pytest.raises(DocError, match=reason):
        _doc(tmp_path, text)


def test_a_server_block_runs_until_the_document_ends_and_ports_are_substituted(tmp_path):
    text = (
        "<!-- doc-test: server -->\n```console\n$ genomics-mock serve --port 8080\n"
        "genomics-mock serving the Genomics v1 API on http://127.0.0.1:8080/ (...)\n```\n"
        "```sh\ncurl -sf http://127.0.0.1:8080/ | grep -q genomics-mock\n```\n"
    )
    with Session(tmp_path / "session") as session:
        for block in _doc(tmp_path, text):
            session.run(block)
        [server] = session.groups
    assert server.poll() is not None  # stopped with the document


def test_shell_commands_split_like_a_shell():
    text = 'a --x "y z" && b | c # note\nd \\\n  --e\n'
    assert shell_commands(text) == [["a", "--x", "y z"], ["b"], ["c"], ["d", "--e"]]
