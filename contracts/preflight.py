"""Before any check runs: a well-formed base URL, a target that answers and speaks the API, and the
facts about its callers that the verdicts depend on.

A conformance tool that passes when nothing answers is worse than none, so every entry point
(``genomics-mock conformance``, ``pytest --pyargs contracts``) calls :func:`prepare` first and
stops with one line (``cannot reach http://127.0.0.1:9: connection refused``, exit 2) when the
target is not there or refuses the writer. The facts it learns go into the :class:`Target`:

* whether the writer sees every project (a superuser) or only ``--project`` (an owner there):
  a project-scoped writer is rightly answered 403 for other projects, so the schema suite and
  the token-binding check accept 403 exactly then;
* whether the mock's admin API (``/_mock/``) is there, for the checks that mint principals;
* which reference set to create annotation sets against, unless ``--reference-set-id`` names
  one: the first the target lists that holds the references the suites place annotations on
  (:data:`SUITE_REFERENCES`: UCSC names, long enough for the positions used), else the first it
  lists (a server that checks names will then refuse the suites' annotations: give
  ``--reference-set-id``).
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

import httpx

#: a :class:`contracts.core.Target` (not imported: this module stays light for the pytest plugin)
Target = Any

#: the whole probe stays well under the 5 s a user waits for "cannot reach"
CONNECT_TIMEOUT = 3.0
#: used when the target lists no reference set (servers that accept any id)
FALLBACK_REFERENCE_SET = "contracts-refset"
#: the references the suites annotate (fields, model, pagination, permissions, schema) and the
#: least length each needs (the fields suite places annotations up to 200,001,000 on chr1)
SUITE_REFERENCES = {"chr1": 200_001_000, "chr2": 1_000, "chr10": 1_000, "chrX": 1_000}
#: reference sets examined when choosing one (one references.search each)
SCANNED_SETS = 64


class TargetError(Exception):
    """The run cannot start (the message is one line, for the user)."""


def validate_base_url(url: str) -> str:
    """``url`` without a trailing slash, or ValueError saying what is wrong with it."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL (such as http://127.0.0.1:8080): {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"not a valid port in {url!r}") from None
    return url.strip().rstrip("/")


def reachable(url: str) -> None:
    """Raise :class:`TargetError` (``cannot reach URL: connection refused``) unless something
    answers HTTP at ``url``; ValueError for a malformed URL."""
    base = validate_base_url(url)
    try:
        with httpx.Client(timeout=httpx.Timeout(CONNECT_TIMEOUT)) as http:
            http.get(base + "/_mock/health")
    except httpx.HTTPError as exc:
        raise TargetError(f"cannot reach {base}: {describe(exc)}") from None


def describe(exc: httpx.HTTPError) -> str:
    """A transport error in a few words: ``connection refused``, ``no answer within 3 s``, ..."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {CONNECT_TIMEOUT:g} s"
    text = str(exc) or type(exc).__name__
    match = re.search(r"\[Errno -?\d+\] ([^\]\)]+)", text)
    return (match[1] if match else text.splitlines()[0]).strip().lower()


def _get(http: httpx.Client, base_url: str, path: str, token: str | None, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.get(base_url + path, params=params, headers=headers)


def _google_error(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _speaks_the_api(response: httpx.Response) -> bool:
    """A JSON object on success, or Google's error envelope on failure."""
    if response.status_code == 200:
        try:
            return isinstance(response.json(), dict)
        except ValueError:
            return False
    return _google_error(response) is not None


def prepare(target: Target) -> Target:
    """Check the target answers and accepts the writer; fill in what the verdicts depend on.

    Raises :class:`TargetError` with a one-line message otherwise. Cheap (a few requests).
    """
    base = validate_base_url(target.base_url)
    # without --project every check makes a fresh one; probe with one such
    project = target.project or f"contracts-{secrets.token_hex(4)}"
    timeout = httpx.Timeout(CONNECT_TIMEOUT)
    try:
        with httpx.Client(timeout=timeout) as http:
            _check_writer(http, base, target, project)
            if target.writer_sees_all_projects is None:
                elsewhere = f"{project}-elsewhere-{secrets.token_hex(3)}"
                r = _get(http, base, "/v1/datasets", target.writer_token, projectId=elsewhere, pageSize=1)
                target.writer_sees_all_projects = r.status_code == 200
            if target.has_admin is None:
                target.has_admin = _get(http, base, "/_mock/health", None).status_code == 200
            if target.reference_set_id is None:
                target.reference_set_id = reference_set_for_suites(http, base, target.writer_token)
    except httpx.HTTPError as exc:
        raise TargetError(f"cannot reach {base}: {describe(exc)}") from None
    return target


def _check_writer(http: httpx.Client, base: str, target: Target, project: str) -> None:
    r = _get(http, base, "/v1/datasets", target.writer_token, projectId=project, pageSize=1)
    if not _speaks_the_api(r):
        kind = r.headers.get("content-type", "no content type").split(";")[0]
        raise TargetError(
            f"{base} does not answer like a Genomics v1 server: GET /v1/datasets answered "
            f"{r.status_code} ({kind})"
        )
    if r.status_code == 200:
        return
    error = _google_error(r) or {}
    said = f"{r.status_code} {error.get('status', '')}: {str(error.get('message', ''))[:200]}".strip()
    if r.status_code == 401:
        hint = "give --writer-token" if not target.writer_token else "check --writer-token"
        raise TargetError(f"{base} refuses the writer's credentials ({said}); {hint}")
    if r.status_code in (403, 404):
        need = (
            "it needs roles/owner on --project"
            if target.project
            else "give --project, a project where the writer holds roles/owner"
        )
        raise TargetError(
            f"the writer cannot list datasets in project {project!r} on {base} ({said}); {need}"
        )
    raise TargetError(f"{base} answered GET /v1/datasets with {said}")


def reference_set_for_suites(http: httpx.Client, base: str, token: str | None) -> str:
    """The first listed reference set holding :data:`SUITE_REFERENCES`, else the first listed."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = http.post(base + "/v1/referencesets/search", json={"pageSize": SCANNED_SETS}, headers=headers)
    found = r.json().get("referenceSets") if r.status_code == 200 and _is_json(r) else None
    ids = [str(s["id"]) for s in found or [] if isinstance(s, dict) and s.get("id")]
    for set_id in ids:
        refs = http.post(
            base + "/v1/references/search", json={"referenceSetId": set_id, "pageSize": 1024}, headers=headers
        )
        listed = refs.json().get("references") if refs.status_code == 200 and _is_json(refs) else None
        lengths = {
            ref.get("name"): int(ref["length"])
            for ref in listed or []
            if isinstance(ref, dict) and str(ref.get("length", "")).isdigit()
        }
        if all(lengths.get(name, 0) >= least for name, least in SUITE_REFERENCES.items()):
            return set_id
    return ids[0] if ids else FALLBACK_REFERENCE_SET


def _is_json(response: httpx.Response) -> bool:
    try:
        return isinstance(response.json(), dict)
    except ValueError:
        return False
