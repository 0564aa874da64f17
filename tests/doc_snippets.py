"""Run the fenced code blocks of README.md and docs/*.md the way a reader pastes them.

Convention (kept small on purpose; ``tests/test_docs.py`` applies it to every document):

* Every fenced block has a language: ``sh``/``bash`` and ``python`` run; ``console`` runs its
  ``$ `` lines and checks the other lines appear in their output (``...`` matches anything);
  ``yaml``/``json`` must parse; ``text`` is a picture and is left alone.
* An HTML comment on the line right before the fence changes that:

  ``<!-- doc-test: skip (REASON) -->``       not run; the reason says why and what tests it instead
  ``<!-- doc-test: args-only (REASON) -->``  commands are not run: each ``genomics-mock ...`` command
                                              must parse with the real CLI parser, other programs
                                              must be on PATH (placeholder URLs, long runs)
  ``<!-- doc-test: server -->``              the block starts a server in the foreground: it runs in
                                              the background until the document ends, and must
                                              answer ``/_mock/health`` on the session's port
  ``<!-- doc-test: pytest -->``              a Python block that is a test file: run with pytest
  ``<!-- doc-test: same-as PATH -->``        the block is the repository file PATH, verbatim
  ``<!-- doc-test: loads-as KIND -->``       a YAML/JSON block that loads as a ``tokens``, ``seed``
                                              or ``iam`` document

Each document runs top to bottom in one session, like one terminal: a fresh directory holding a
copy of ``examples/``, the port ``8080`` replaced everywhere by a free port (also exported as
``GENOMICS_MOCK_PORT``), ``pip`` replaced by a stub that says what it skipped (the tests run in an
installed checkout; the fresh-clone walkthrough is what runs the installs). A block that starts
``genomics-mock serve`` first stops the servers of earlier blocks, as a reader would press Ctrl-C.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import redirect_stderr
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOC_PORT = "8080"
RUNS = {"sh", "bash", "console", "python"}
DATA = {"yaml", "json"}
LANGUAGES = RUNS | DATA | {"text"}
DIRECTIVES = {"skip", "args-only", "server", "pytest", "same-as", "loads-as"}
NEEDS_ARGUMENT = {"skip", "args-only", "same-as", "loads-as"}
TIMEOUT = 180
FENCE = re.compile(r"^```(.*)$")
DIRECTIVE = re.compile(r"^<!--\s*doc-test:\s*([a-z-]+)\s*(.*?)\s*-->\s*$")


@dataclass
class Block:
    doc: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    directive: str | None = None
    argument: str = ""

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


class DocError(AssertionError):
    """A block that does not do what the document says (the message names document and line)."""


def extract(doc: Path) -> list[Block]:
    """The document's fenced blocks with their directives; a malformed convention is an error."""
    blocks: list[Block] = []
    lines = doc.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i] != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise DocError(f"{doc.name}:{start + 1}: fence never closed")
        block = Block(doc, start + 1, opening.group(1).strip(), "\n".join(body) + "\n")
        directive = DIRECTIVE.match(lines[start - 1]) if start else None
        if directive:
            block.directive, block.argument = directive.group(1), directive.group(2)
        _check_convention(block)
        blocks.append(block)
        i += 1
    return blocks


def _check_convention(block: Block) -> None:
    if block.lang not in LANGUAGES:
        raise DocError(f"{block.where}: fenced block with language {block.lang!r}; "
                       f"use one of {', '.join(sorted(LANGUAGES))}")
    if block.directive is None:
        return
    if block.directive not in DIRECTIVES:
        raise DocError(f"{block.where}: unknown doc-test directive {block.directive!r}")
    if block.directive in NEEDS_ARGUMENT and not block.argument:
        raise DocError(f"{block.where}: doc-test {block.directive} needs "
                       + ("a (reason)" if block.directive in ("skip", "args-only") else "an argument"))
    if block.directive in ("skip", "args-only") and not re.fullmatch(r"\(.{10,}\)", block.argument):
        raise DocError(f"{block.where}: give the reason in parentheses: doc-test {block.directive} (why)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PIP_STUB = """#!/bin/sh
echo "doc-test: skipped 'pip $*' (the tests run in an installed checkout)"
"""


class Session:
    """One document's terminal: directory, environment, the servers its blocks started."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.dir = directory
        self.port = str(port or free_port())
        shutil.copytree(ROOT / "examples", directory / "examples",
                        ignore=shutil.ignore_patterns("__pycache__"))
        stubs = directory / ".doc-test-bin"
        stubs.mkdir()
        (stubs / "pip").write_text(PIP_STUB)
        (stubs / "pip").chmod(0o755)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GENOMICS_")}
        path = os.pathsep.join([str(stubs), str(Path(sys.executable).parent), env.get("PATH", "")])
        self.env = {**env, "PATH": path, "GENOMICS_MOCK_PORT": self.port, "PYTHONUNBUFFERED": "1"}
        self.groups: list[subprocess.Popen[bytes]] = []  # process groups that may hold servers
        self.count = 0

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_servers()

    # -- running blocks ------------------------------------------------------------------

    def run(self, block: Block) -> None:
        handler = {
            "skip": lambda b: None,
            "same-as": self._same_as,
            "loads-as": self._loads_as,
            "args-only": self._args_only,
            "server": self._server,
            "pytest": self._pytest,
        }.get(block.directive or "")
        if handler is None:
            handler = {"sh": self._shell, "bash": self._shell, "console": self._console,
                       "python": self._python, "yaml": self._parses, "json": self._parses}.get(
                block.lang, lambda b: None)
        handler(block)

    def substitute(self, text: str) -> str:
        return text.replace(DOC_PORT, self.port)

    def _spawn(self, script: str, name: str) -> tuple[subprocess.Popen[bytes], Path]:
        """bash in a process group of its own, output to a file (background jobs keep running)."""
        self.count += 1
        out = self.dir / f".doc-test-{self.count}-{name}.out"
        with open(out, "wb") as sink:
            proc = subprocess.Popen(["bash", "-c", "set -euo pipefail\n" + script], cwd=self.dir,
                                    env=self.env, stdout=sink, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        if "genomics-mock serve" in script:
            self.groups.append(proc)
        return proc, out

    def _finish(self, block: Block, script: str) -> str:
        if "genomics-mock serve" in script:
            self.stop_servers()
        proc, out = self._spawn(script, "sh")
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise DocError(f"{block.where}: still running after {TIMEOUT} s:\n{_tail(out)}") from None
        if proc.returncode != 0:
            raise DocError(
                f"{block.where}: exit status {proc.returncode}:\n{script}\n--- output\n{_tail(out)}"
            )
        return out.read_text(errors="replace")

    def _shell(self, block: Block) -> None:
        self._finish(block, self.substitute(block.text))

    def _console(self, block: Block) -> None:
        for command, expected in console_commands(self.substitute(block.text)):
            output = self._finish(block, command)
            expect_lines(block, command, expected, output)

    def _python(self, block: Block) -> None:
        self.count += 1
        script = self.dir / f"doc_snippet_{self.count}.py"
        script.write_text(self.substitute(block.text))
        self._finish(block, f"{shlex.quote(sys.executable)} {script.name}")

    def _pytest(self, block: Block) -> None:
        self.count += 1
        test_file = self.dir / f"test_doc_snippet_{self.count}.py"
        test_file.write_text(self.substitute(block.text))
        output = self._finish(block, f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider "
                                     f"{test_file.name}")
        if not re.search(r"\b\d+ passed\b", output) or re.search(r"\b(failed|skipped|error)", output):
            raise DocError(f"{block.where}: not every test passed:\n{output[-3000:]}")

    def _server(self, block: Block) -> None:
        """Start the block in the background; it must answer health; its output must match."""
        self.stop_servers()
        commands = console_commands(block.text) if block.lang == "console" else [(block.text, [])]
        script = "\n".join(self.substitute(command) for command, _ in commands)
        proc, out = self._spawn(script, "server")
        if "genomics-mock serve" not in script:
            self.groups.append(proc)
        url = f"http://127.0.0.1:{self.port}/_mock/health"
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None and proc.returncode != 0:
                raise DocError(f"{block.where}: the server exited ({proc.returncode}):\n{_tail(out)}")
            if time.monotonic() > deadline:
                raise DocError(f"{block.where}: no health answer at {url} after {TIMEOUT} s:\n{_tail(out)}")
            time.sleep(0.1)
        expected = [self.substitute(line) for _command, lines in commands for line in lines]
        expect_lines(block, script, expected, out.read_text(errors="replace"))

    def _args_only(self, block: Block) -> None:
        from mockserver.cli import build_parser

        text = block.text
        if block.lang == "console":
            text = "\n".join(command for command, _ in console_commands(block.text))
        for argv in shell_commands(text):
            if argv[0] == "genomics-mock":
                errors = StringIO()
                try:
                    with redirect_stderr(errors):
                        build_parser({}).parse_args(argv[1:])
                except SystemExit:
                    message = errors.getvalue().strip()
                    raise DocError(f"{block.where}: {shlex.join(argv)}: {message}") from None
            elif shutil.which(argv[0], path=self.env["PATH"]) is None:
                raise DocError(f"{block.where}: {argv[0]}: no such program")

    def _same_as(self, block: Block) -> None:
        path = ROOT / block.argument
        if not path.is_file():
            raise DocError(f"{block.where}: same-as {block.argument}: no such file")
        if _normalized(path.read_text()) != _normalized(block.text):
            raise DocError(f"{block.where}: differs from {block.argument}; paste the file again")
        self._parses(block)

    def _parses(self, block: Block) -> object:
        try:
            return json.loads(block.text) if block.lang == "json" else yaml.safe_load(block.text)
        except (ValueError, yaml.YAMLError) as exc:
            raise DocError(f"{block.where}: does not parse as {block.lang}: {exc}") from None

    def _loads_as(self, block: Block) -> None:
        import tempfile

        from mockserver.auth import TokenRegistry
        from mockserver.backend import Backend
        from mockserver.seed import load_seed

        data = self._parses(block)
        try:
            if block.argument == "tokens":
                TokenRegistry().load(data)  # type: ignore[arg-type]
            elif block.argument == "iam":
                Backend().iam.load_config(data)  # type: ignore[arg-type]
            elif block.argument == "seed":
                with tempfile.TemporaryDirectory() as storage:
                    load_seed(Backend(storage_root=storage), data, TokenRegistry(),  # type: ignore[arg-type]
                              base_dir=ROOT / "examples")
            else:
                raise DocError(f"{block.where}: loads-as {block.argument}: use tokens, seed or iam")
        except DocError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the loader refuses is the document's fault
            raise DocError(f"{block.where}: does not load as {block.argument}: {exc}") from None

    # -- servers -------------------------------------------------------------------------

    def stop_servers(self) -> None:
        """SIGTERM each process group a block started (then SIGKILL), and wait for it to be gone."""
        for proc in self.groups:
            _stop_group(proc)
        self.groups.clear()


def _stop_group(leader: subprocess.Popen[bytes]) -> None:
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(leader.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            leader.poll()  # reap the leader: a zombie still counts as a member of its group
            try:
                os.killpg(leader.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def console_commands(text: str) -> list[tuple[str, list[str]]]:
    """``$ command`` (with ``\\`` continuations) and the output lines that follow each."""
    commands: list[tuple[str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            if not commands:
                raise DocError(f"console block: output before any '$ ' command: {lines[i]!r}")
            if lines[i].strip():
                commands[-1][1].append(lines[i])
            i += 1
            continue
        command = lines[i][2:]
        while command.endswith("\\") and i + 1 < len(lines):
            i += 1
            command = command + "\n" + lines[i]
        commands.append((command, []))
        i += 1
    return commands


def shell_commands(text: str) -> list[list[str]]:
    """Each simple command of a shell snippet as argv (comments, continuations, && and ; handled)."""
    joined = text.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        current: list[str] = []
        for token in lexer:
            if token and set(token) <= set(";&|"):
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(token)
        if current:
            commands.append(current)
    return commands


def expect_lines(block: Block, command: str, expected: list[str], output: str) -> None:
    """Every documented output line appears in the output (``...`` stands for anything)."""
    got = [line.rstrip() for line in output.splitlines()]
    for line in expected:
        pattern = re.compile(".*?".join(re.escape(part) for part in line.rstrip().split("...")) + "$")
        if not any(pattern.match(candidate) for candidate in got):
            raise DocError(
                f"{block.where}: `{command}` printed no line like:\n  {line}\n--- it printed\n{output}"
            )


def _normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _tail(path: Path, size: int = 4000) -> str:
    return path.read_text(errors="replace")[-size:]
