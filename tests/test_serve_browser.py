"""Issue 22: the web view in a real browser (Playwright driving Debian's chromium): load the
dashboard, filter a collection, open an asset, approve it and see the change.  Screenshots of
the dashboard and the collection page are kept under $RETROVUE_TEST_ARTIFACTS (else the test's
tmp dir), never committed.  No skip: without chromium this fails."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright

from retrovue.web.app import create_app
from retrovue.web.settings import ServeSettings
from tests.serve_helpers import build_catalogue

CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(rv, db_url, engine, tmp_path):
    cat = build_catalogue(rv, db_url, engine, tmp_path)
    port = _free_port()
    app = create_app(ServeSettings(db_url=db_url, config_file=cat.config, port=port))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield cat, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def artifacts(tmp_path, request) -> Path:
    root = os.environ.get("RETROVUE_TEST_ARTIFACTS")
    folder = Path(root) / request.node.name if root else tmp_path / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_filter_open_approve_and_see_the_change(served, artifacts):
    cat, base = served
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"] if os.geteuid() == 0 else []
        )
        try:
            page = browser.new_page()
            page.goto(base + "/")
            expect(page.locator("h1")).to_have_text("Sources")
            page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

            page.get_by_role("link", name="movies").click()
            expect(page.locator("table.assets tbody tr")).to_have_count(3)
            page.get_by_label("Text").fill("hea")
            page.get_by_role("button", name="Filter").click()
            rows = page.locator("table.assets tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("Heat")
            expect(page.locator("svg.histogram")).to_have_count(2)
            page.screenshot(path=str(artifacts / "collection.png"), full_page=True)

            page.get_by_role("link", name="Heat").click()
            expect(page.locator("#approved")).to_have_text("no")
            page.get_by_role("button", name="Approve").click()
            expect(page.locator("#approved")).to_have_text("yes")
            expect(page.get_by_role("button", name="Unapprove")).to_be_visible()

            page.goto(f"{base}/collections/{cat.movies}?state=ready")
            heat = page.locator("table.assets tbody tr", has_text="Heat")
            expect(heat.locator("td").nth(4)).to_have_text("yes")
        finally:
            browser.close()
    assert (artifacts / "dashboard.png").stat().st_size > 0
    assert (artifacts / "collection.png").stat().st_size > 0
