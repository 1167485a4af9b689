"""``scrapy export``: a MongoDB collection to CSV, JSON Lines or Parquet.

    scrapy export --collection videos --query '{"region_code": "US"}' -o us.csv
    scrapy export --collection comments --fields id,video_id,text --limit 1000 -o c.jsonl

Reads MONGODB_URI (setting or environment), MONGODB_DATABASE and MONGODB_CLIENT_CLASS.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from tiktok_scrapy.settings_check import SettingsError, check_settings
from tiktok_scrapy.settings_spec import SETTINGS
from tiktok_scrapy.storage.export import ExportError, export, format_for, parse_query
from tiktok_scrapy.storage.mongo import make_client, mongodb_uri, short_error


class Command(ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "--collection NAME -o FILE [--query JSON] [--fields a,b] [--limit N]"

    def short_desc(self) -> str:
        return "Export a MongoDB collection to CSV, JSON Lines or Parquet"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--collection",
            required=True,
            help="videos, users, comments, follow_edges, user_videos, ...",
        )
        parser.add_argument(
            "-o",
            "--output",
            required=True,
            metavar="FILE",
            help="output file: .csv, .jsonl or .parquet",
        )
        parser.add_argument(
            "--query",
            default=None,
            metavar="JSON",
            help='MongoDB filter, e.g. \'{"region_code": "US"}\'',
        )
        parser.add_argument("--fields", default=None, help="comma-separated fields to keep")
        parser.add_argument("--limit", type=int, default=None, help="at most N documents")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args:
            raise UsageError(f"unexpected arguments: {' '.join(args)}")
        assert self.settings is not None
        try:
            given = [s.name for s in SETTINGS if s.name.startswith("MONGODB_")]
            check_settings(self.settings, [n for n in given if self.settings.get(n) is not None])
        except SettingsError as error:
            print(f"export: {error}", file=sys.stderr)
            self.exitcode = 2
            return
        uri = mongodb_uri(self.settings)
        try:
            if not uri:
                raise ExportError("MONGODB_URI is not set: export it or pass -s MONGODB_URI=...")
            format_for(opts.output)
            query = parse_query(opts.query)
            fields = (
                [f.strip() for f in opts.fields.split(",") if f.strip()] if opts.fields else None
            )
            client = make_client(self.settings, uri)
            try:
                db = client[self.settings.get("MONGODB_DATABASE") or "tiktok_research"]
                count = export(
                    db[opts.collection], opts.output, query=query, fields=fields, limit=opts.limit
                )
            finally:
                client.close()
        except ExportError as exc:
            print(f"export: {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        except Exception as exc:  # e.g. server unreachable: one line, password hidden
            print(f"export: {short_error(exc)}", file=sys.stderr)
            self.exitcode = 1
            return
        print(f"exported {count} {opts.collection} to {opts.output}", file=sys.stderr)
