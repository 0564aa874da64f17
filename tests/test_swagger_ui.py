"""Swagger UI at /ui, driven by headless Chromium (Debian's ``chromium``) through Playwright.

Needs ``apt-get install -y chromium`` and ``pip install playwright`` (Playwright's own browser
download is never used: ``executable_path`` points at the system Chromium).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from mockserver.app import create_app
from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.live import LiveServer
from mockserver.spec_build import default_paths, load_seed

CHROMIUM = os.environ.get("GENOMICS_MOCK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not os.path.exists(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="needs the playwright package (pip install playwright)"
)


def _seed_operations() -> list[tuple[str, str, str]]:
    """(METHOD, path, operationId) of the seed Swagger file's operations."""
    seed = load_seed(default_paths()[0])
    return [
        (method.upper(), path, op["operationId"])
        for path, item in seed["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    ]


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    app = create_app(Backend())
    app.state.backend.datasets.create(DEFAULT_OWNER, {"projectId": "ui-project", "name": "shown-in-ui"})
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def page(server: LiveServer):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{server.url}/ui/")
            page.wait_for_selector(".opblock")
            yield page
        finally:
            browser.close()


def _block_ids(page) -> dict[str, str]:
    """operationId -> the element id Swagger UI gives its block (``operations-<tag>-<id, CSS-escaped>``)."""
    ids = page.eval_on_selector_all(".opblock", "els => els.map(e => e.id)")
    return {raw.replace("\\", "").split("-", 2)[2]: raw for raw in ids}


def test_every_seed_operation_is_listed(page):
    seed = _seed_operations()
    assert len(seed) == 28
    listed = _block_ids(page)
    missing = [op_id for _m, _p, op_id in seed if op_id not in listed]
    assert missing == []
    shown = set(
        page.eval_on_selector_all(
            ".opblock",
            "els => els.map(e => e.querySelector('.opblock-summary-method').textContent + ' ' +"
            " e.querySelector('.opblock-summary-path').getAttribute('data-path'))",
        )
    )
    assert {f"{method} {path}" for method, path, _id in seed} - shown == set()


def test_try_it_out_runs_against_the_live_mock(page, server):
    raw_id = _block_ids(page)["genomics.datasets.list"]
    block = page.locator('[id="' + raw_id.replace("\\", "\\\\") + '"]')
    block.locator(".opblock-summary").click()
    block.get_by_role("button", name="Try it out").click()
    block.locator('tr[data-param-name="projectId"] input').fill("ui-project")
    block.get_by_role("button", name="Execute").click()
    status = block.locator(".live-responses-table .response .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert "shown-in-ui" in block.locator(".live-responses-table").inner_text()
    log = server.app.state.control.requests.entries()
    assert ("GET", "genomics.datasets.list", 200) in [
        (r["method"], r["operationId"], r["status"]) for r in log
    ]


def test_servers_dropdown_offers_this_server(page, server):
    options = page.eval_on_selector_all(".servers select option", "els => els.map(e => e.value)")
    assert options == [server.url]
