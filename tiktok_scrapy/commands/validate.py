"""``scrapy validate <spider> -a config=...``: check a config (and settings), send nothing.

The same checks ``scrapy crawl`` makes before its first request
(:func:`tiktok_scrapy.preflight.preflight`: the spider's name, the settings, the ``-a``
values, the config against the spider's model and the files it names, read now). Prints
the config as the crawl will use it (defaults filled in) and exits 0, or prints
``error: …`` in one line and exits 2. ``scrapy plan`` goes further: what the crawl would
cost.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import CloseSpider, UsageError
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.conf import arglist_to_dict

from tiktok_scrapy.commands import ProjectDefaults
from tiktok_scrapy.preflight import BAD_INPUT, one_line, preflight


def add_spider_args(parser: argparse.ArgumentParser) -> None:
    """``-a NAME=VALUE``, as ``scrapy crawl`` takes it (``plan`` and ``validate`` share it)."""
    parser.add_argument(
        "-a",
        dest="spargs",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="spider argument, as for scrapy crawl (may be repeated)",
    )


class Command(ProjectDefaults, ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "<spider> -a config=<file|example|json> [-a key=value ...]"

    def short_desc(self) -> str:
        return "Check a crawl's config and settings without sending anything"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        add_spider_args(parser)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("name one spider, e.g. scrapy validate videos -a config=quickstart")
        assert self.settings is not None
        try:
            spargs = arglist_to_dict(opts.spargs)
            spiders = get_spider_loader(self.settings).list()
            config = preflight(args[0], spargs, self.settings, spiders)
            inputs = config.inputs() if hasattr(config, "inputs") else None
        except (*BAD_INPUT, CloseSpider, ValueError) as error:
            print(f"error: {one_line(error)}", file=sys.stderr)
            self.exitcode = 2
            return
        for warning in config.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        what = f", {len(inputs)} input(s)" if inputs is not None else ""
        print(f"OK: a valid {args[0]} config (query id {config.query_id()}{what}):")
        print(json.dumps(config.to_jsonable(), ensure_ascii=False, default=str))
