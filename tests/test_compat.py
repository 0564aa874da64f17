"""mockserver.compat: the version check that guards the library workarounds, and the workarounds."""

from __future__ import annotations

import copy

import pytest

from mockserver import compat
from mockserver.compat import UnsupportedLibraryError, unverified


def test_the_installed_libraries_are_verified() -> None:
    assert unverified(compat.installed_versions()) == []


@pytest.mark.parametrize(
    ("library", "version"),
    [("connexion", "3.4.0"), ("connexion", "2.14.2"), ("starlette", "2.0.0"), ("uvicorn", "0.55.1")],
)
def test_a_version_outside_the_verified_range_is_named(library: str, version: str) -> None:
    installed = {**compat.installed_versions(), library: version}
    problems = unverified(installed)
    assert len(problems) == 1
    assert problems[0].startswith(f"{library} {version} is installed")


def test_a_missing_library_is_named() -> None:
    installed = {k: v for k, v in compat.installed_versions().items() if k != "uvicorn"}
    assert unverified(installed) == ["uvicorn is not installed"]


def test_an_unknown_version_fails_loudly_unless_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "installed_versions", lambda: {"connexion": "9.0", "starlette": "1.0",
                                                               "uvicorn": "0.54.0"})
    monkeypatch.delenv(compat.OVERRIDE_VARIABLE, raising=False)
    with pytest.raises(UnsupportedLibraryError, match="connexion 9.0 is installed"):
        compat.check_versions.__wrapped__()
    monkeypatch.setenv(compat.OVERRIDE_VARIABLE, "1")
    with pytest.warns(RuntimeWarning, match="connexion 9.0"):
        compat.check_versions.__wrapped__()


def test_each_operation_gets_its_own_copy_of_the_path_parameters() -> None:
    shared = [{"name": "alt", "in": "query"}]
    document = {
        "paths": {
            "/v1/x/{id}": {
                "parameters": shared,
                "get": {"operationId": "x.get", "parameters": [{"name": "id", "in": "path"}]},
                "delete": {"operationId": "x.delete"},
            }
        }
    }
    original = copy.deepcopy(document)
    compat.own_path_parameters(document)
    item = document["paths"]["/v1/x/{id}"]
    assert "parameters" not in item
    assert [p["name"] for p in item["get"]["parameters"]] == ["alt", "id"]
    assert [p["name"] for p in item["delete"]["parameters"]] == ["alt"]
    assert item["get"]["parameters"][0] is not item["delete"]["parameters"][0]
    assert original["paths"]["/v1/x/{id}"]["parameters"] == shared


def test_drop_connection_without_a_uvicorn_cycle_reports_false() -> None:
    async def send(_message: dict) -> None:
        return None

    assert compat.drop_connection(send) is False


def test_replayed_gives_each_message_once_then_reads_on() -> None:
    import asyncio

    later = [{"type": "http.disconnect"}]

    async def receive() -> dict:
        return later.pop(0)

    first = {"type": "http.request", "body": b"a", "more_body": True}
    second = {"type": "http.request", "body": b"b"}
    replay = compat.replayed(receive, [first, second])

    async def read_all() -> list:
        return [await replay(), await replay(), await replay()]

    assert asyncio.run(read_all()) == [first, second, {"type": "http.disconnect"}]
