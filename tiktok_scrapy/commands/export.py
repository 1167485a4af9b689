"""``scrapy export``: a crawl's JSON Lines, or a MongoDB collection, to flat tables.

    scrapy export --input data/videos/my_query -o tables/            # CSV per item type
    scrapy export --input data/videos/my_query -o tables/ --format csv,parquet
    scrapy export --input data/videos/my_query/videos.jsonl -o videos.parquet
    scrapy export --collection videos --query '{"region_code": "US"}' -o us.csv
    scrapy export --collection comments --fields id,video_id,text --limit 1000 -o c.jsonl

``--input`` needs no database; ``--collection`` reads MONGODB_URI (setting or environment),
MONGODB_DATABASE and MONGODB_CLIENT_CLASS. Tables are flat and de-duplicated
(``tiktok_scrapy.storage.tables``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from tiktok_scrapy.commands import ProjectDefaults
from tiktok_scrapy.settings_check import SettingsError, check_settings
from tiktok_scrapy.settings_spec import SETTINGS
from tiktok_scrapy.storage.backend import configured_uri
from tiktok_scrapy.storage.export import ExportError, export, format_for, parse_query
from tiktok_scrapy.storage.mongo import make_client, short_error
from tiktok_scrapy.storage.tables import TableError, export_jsonl


class Command(ProjectDefaults, ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return (
            "--input <crawl output folder | file.jsonl> -o <folder/ | file.csv | file.parquet> "
            "[--format csv,parquet]\n       or: scrapy export --collection NAME -o FILE "
            "[--query JSON] [--fields a,b] [--limit N]   (MongoDB)"
        )

    def short_desc(self) -> str:
        return "Export a crawl (JSON Lines or MongoDB) to flat CSV or Parquet tables"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--input",
            "-i",
            metavar="PATH",
            help="a crawl's output folder (every *.jsonl item file) or one .jsonl file",
        )
        parser.add_argument(
            "--format",
            default=None,
            metavar="csv,parquet",
            help="with --input and a folder as -o: csv (default), parquet or csv,parquet",
        )
        parser.add_argument(
            "--collection",
            help="MongoDB: videos, users, comments, follow_edges, user_videos, ...",
        )
        parser.add_argument(
            "-o",
            "--output",
            metavar="FILE",
            help="a folder (one table per item type), or a .csv, .parquet (or .jsonl) file",
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
        if not opts.output or bool(opts.input) == bool(opts.collection):
            raise UsageError(
                "give --input <crawl output folder> -o <folder/ or file.csv>, or (MongoDB) "
                "--collection NAME -o FILE",
                print_help=False,
            )
        if opts.input:
            self.exitcode = export_folder(opts.input, opts.output, opts.format)
            return
        assert self.settings is not None
        try:
            given = [s.name for s in SETTINGS if s.name.startswith("MONGODB_")]
            check_settings(self.settings, [n for n in given if self.settings.get(n) is not None])
        except SettingsError as error:
            print(f"export: {error}", file=sys.stderr)
            self.exitcode = 2
            return
        # Reading a collection needs a URI whatever TIKTOK_STORAGE_BACKEND says.
        uri = configured_uri(self.settings)
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


def export_folder(source: str, output: str, formats: str | None) -> int:
    """``--input``: tables from JSON Lines; prints what it wrote; the exit status."""
    out = Path(output)
    suffix = out.suffix.lower().lstrip(".")
    if suffix in ("csv", "parquet"):
        chosen = [suffix]
    else:
        chosen = [f.strip().lower() for f in (formats or "csv").split(",") if f.strip()]
    try:
        for written in export_jsonl(Path(source), out, chosen):
            print(f"exported {written}", file=sys.stderr)
    except TableError as error:
        print(f"export: {error}", file=sys.stderr)
        return 1
    return 0
