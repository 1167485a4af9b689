"""The web app in a real browser: Playwright driving Debian's Chromium (``/usr/bin/chromium``).

A researcher's whole path through the UI: build a query with a mistake (the CLI's error
appears at the field), fix it, plan it, start it against the sandbox, watch it finish with
the verdict ``complete``, open its report and download its CSV. Along the way each page is
photographed; ``UI_SCREENSHOTS=docs/ui`` writes them where the docs show them.

Skipped, saying why, when Chromium or Playwright is missing outside CI (``.ci/run``
installs Chromium when it is absent; in CI a missing browser fails the test).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.integration


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements-dev.txt)"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this in CI)"
    return None


@pytest.fixture
def ui_url(tmp_path: Path) -> Iterator[str]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    import uvicorn
    from settings_fixture import project_settings

    from tiktok_scrapy.ui.app import UiConfig, create_app
    from tiktok_scrapy.ui.jobs import JobStore

    settings = project_settings()
    settings.set("TIKTOK_QUOTA_LEDGER", str(tmp_path / "quota.sqlite"), priority="cmdline")
    store = JobStore(tmp_path / "ui", cwd=ROOT)
    app = create_app(UiConfig(settings, store))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the UI server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_researchers_path_through_the_ui(ui_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("UI_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 860})
        context.set_default_timeout(30_000)
        page = context.new_page()
        try:
            # Build a query with a mistake: the CLI's line appears at the field.
            page.goto(ui_url + "/")
            page.check("#f-sandbox")
            page.fill("#f-hashtags", "flood, storm")
            page.fill("#f-start_date", "2024-01-01")
            page.fill("#f-end_date", "2024-01-07")
            page.fill("#f-max_count", "150")
            error = page.locator('[data-error-for="max_count"]')
            expect(error).to_contain_text("`max_count` is 150, must be at most 100")
            expect(page.locator("#f-max_count")).to_have_class("invalid")
            error.evaluate("el => el.scrollIntoView({block: 'center'})")
            page.screenshot(path=shots / "builder.png")

            # Fix it: the error goes, the TikTok query and the YAML appear.
            page.fill("#f-max_count", "50")
            expect(page.locator("#status")).to_have_text("✓ valid")
            expect(error).to_be_empty()
            expect(page.locator("#query-json")).to_contain_text('"hashtag_name"')
            expect(page.locator("#config-yaml")).to_contain_text("max_count: 50")

            # Plan it, then start it against the sandbox.
            page.click("#plan")
            expect(page.locator("#plan-text")).to_contain_text("Plan for `scrapy crawl videos`")
            page.screenshot(path=shots / "plan.png")
            page.click("#start")

            # Watch it finish: the page updates itself until the verdict is there.
            page.wait_for_url("**/crawls/*")
            expect(page.locator("#p-verdict")).to_have_text("complete", timeout=120_000)
            expect(page.locator("#p-status")).to_have_text("ended")
            expect(page.locator("#p-reason")).to_contain_text("exit status 0")
            expect(page.locator("#report-link")).to_be_visible()
            page.screenshot(path=shots / "crawl.png")

            # Its report, one click away.
            with page.expect_popup() as popup_info:
                page.click("#report-link a")
            report = popup_info.value
            report.wait_for_load_state()
            assert "videos" in report.content()
            report.screenshot(path=shots / "report.png")
            report.close()

            # Its CSV, one click away.
            with page.expect_download() as download_info:
                page.click('a.csv-link[data-name="videos"]')
            download = download_info.value
            assert download.suggested_filename == "videos.csv"
            lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
            assert lines[0].startswith("id,") or ",id," in lines[0]
            assert len(lines) > 1

            # The list of crawls and the quota page.
            page.click("text=Crawls")
            expect(page.locator("table .verdict.complete")).to_have_count(1)
            page.screenshot(path=shots / "crawls.png")
            page.click("text=Quota")
            expect(page.locator(".chart svg").first).to_be_visible()
            page.screenshot(path=shots / "quota.png")
        finally:
            context.close()
            browser.close()
