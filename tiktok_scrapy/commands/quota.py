"""``scrapy quota``: today's spend and what remains, per quota family, from the ledger.

Reads the same ledger the crawls write (TIKTOK_QUOTA_LEDGER, or MongoDB when MONGODB_URI is
set), for the configured client key or, with ``--all``, every client in it. "Today" is the
current UTC day on the local clock (the API's clock is learnt only during a crawl).
``-s TIKTOK_SANDBOX=true`` reads the built-in sandbox's own ledger and client.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from tiktok_scrapy.addons import with_sandbox_quota
from tiktok_scrapy.commands import ProjectDefaults
from tiktok_scrapy.middlewares.quota import daily_limits, open_ledger
from tiktok_scrapy.middlewares.token import read_credentials
from tiktok_scrapy.preflight import check_project_settings
from tiktok_scrapy.quota_ledger import ApiClock, Client, QuotaLedger, Spend, format_duration
from tiktok_scrapy.settings_check import SettingsError


class Command(ProjectDefaults, ScrapyCommand):
    requires_crawler_process = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--all] [--ledger PATH]"

    def short_desc(self) -> str:
        return "Show today's Research API quota spend and what remains"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--all",
            dest="all_clients",
            action="store_true",
            help="every client key in the ledger, not only the configured one",
        )
        parser.add_argument(
            "--ledger",
            metavar="PATH",
            help="SQLite ledger file to read (overrides TIKTOK_QUOTA_LEDGER)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        try:
            check_project_settings(self.settings)
        except SettingsError as error:
            print(f"error: {error}", file=sys.stderr)
            self.exitcode = 2
            return
        settings = with_sandbox_quota(self.settings)
        ledger = open_ledger(settings, opts.ledger)
        try:
            print(report(ledger, settings, all_clients=opts.all_clients))
        finally:
            ledger.close()


def report(
    ledger: QuotaLedger, settings: Any, *, all_clients: bool = False, clock: ApiClock | None = None
) -> str:
    """The text ``scrapy quota`` prints."""
    clock = clock or ApiClock()
    limits = daily_limits(settings)
    if all_clients:
        clients = ledger.clients()
    else:
        key, _ = read_credentials(settings)
        if not key:
            raise UsageError(
                "No client key: set TIKTOK_CLIENT_KEY (environment or -s), add "
                "-s TIKTOK_SANDBOX=true for the built-in sandbox, or use --all to list every "
                "client in the ledger.",
                print_help=False,
            )
        clients = [Client.from_key(key, settings.get("TIKTOK_API_URL"))]
    day = clock.day()
    lines = [
        f"Quota for {day} (UTC); resets at 00:00 UTC, in "
        f"{format_duration(clock.seconds_to_reset())}."
    ]
    if not clients:
        lines.append("The ledger is empty.")
    for client in clients:
        lines.append(f"client {client}:")
        spent = ledger.spent(client, day)
        for family, limit in limits.items():
            spend = spent.get(family, Spend())
            left = 0 if spend.exhausted else max(0, limit - spend.requests)
            note = "  (the API reported it spent)" if spend.exhausted else ""
            lines.append(
                f"  {family:<7} {spend.requests:>6}/{limit:<6} requests, {left:>6} left, "
                f"{spend.records:>8} records{note}"
            )
    return "\n".join(lines)
