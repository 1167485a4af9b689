"""``scrapy ui``: the local web app for researchers (docs/ui.md).

Serves the query builder, crawls, reports, exports and quota on 127.0.0.1 (``--port``).
Beyond loopback (``--host``) it needs a token (``--token`` or ``TIKTOK_UI_TOKEN``) and
refuses to start without one. ``-s NAME=VALUE`` settings given to this command are passed
to every crawl it starts (``-s TIKTOK_SANDBOX=true`` makes the sandbox the default);
credentials go to the crawls by environment, never on their command line or to the browser.
Crawls started from the UI live under ``--dir`` (default ``data/ui``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.utils.conf import arglist_to_dict

from tiktok_scrapy.commands import ProjectDefaults
from tiktok_scrapy.preflight import check_project_settings
from tiktok_scrapy.settings_check import SettingsError
from tiktok_scrapy.ui.security import is_loopback

DEFAULT_PORT = 8642


class Command(ProjectDefaults, ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--port PORT] [--host HOST --token TOKEN] [--dir DIR] [-s NAME=VALUE ...]"

    def short_desc(self) -> str:
        return "Serve the local web app: build queries, plan, run and watch crawls, quota"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
        parser.add_argument(
            "--token",
            default=None,
            help="token a browser must give (required beyond loopback; or TIKTOK_UI_TOKEN)",
        )
        parser.add_argument("--dir", default="data/ui", help="folder of the UI's crawls")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        try:  # a misspelt -s setting would otherwise fail every crawl the UI starts
            check_project_settings(self.settings)
        except SettingsError as error:
            print(f"error: {error}", file=sys.stderr)
            self.exitcode = 2
            return
        token = opts.token or os.environ.get("TIKTOK_UI_TOKEN") or None
        loopback = is_loopback(opts.host)
        if not loopback and not token:
            print(
                f"error: --host {opts.host} is reachable from other machines: give a token "
                "(--token or TIKTOK_UI_TOKEN) that browsers must enter, or use 127.0.0.1",
                file=sys.stderr,
            )
            self.exitcode = 2
            return
        app = build_app(self.settings, arglist_to_dict(opts.set), opts.dir, token, loopback)
        import uvicorn

        where = f"[{opts.host}]" if ":" in opts.host else opts.host
        print(
            f"Open http://{where}:{opts.port}/ in a browser (Ctrl-C stops the UI, not its crawls)."
        )
        if token:
            print("Browsers are asked for the token once.")
        uvicorn.run(app, host=opts.host, port=opts.port, log_level="warning", access_log=False)


def build_app(
    settings: Any, crawl_settings: dict[str, str], folder: str, token: str | None, loopback: bool
) -> Any:
    from tiktok_scrapy.ui.app import UiConfig, create_app
    from tiktok_scrapy.ui.jobs import JobStore

    store = JobStore(
        folder,
        settings=crawl_settings,
        scrapyd_url=settings.get("SCRAPYD_URL") or os.environ.get("SCRAPYD_URL"),
        scrapyd_project=settings.get("SCRAPYD_PROJECT") or "tiktok_scrapy",
    )
    sandbox = settings.getbool("TIKTOK_SANDBOX")
    return create_app(UiConfig(settings, store, token=token, loopback=loopback, sandbox=sandbox))
