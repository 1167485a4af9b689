"""``scrapy export_graph --input <crawl output> -o graph.graphml|edges.csv``.

Turns a network (or followers/following) crawl's ``follow_edges.jsonl`` and
``users.jsonl`` into files Gephi, networkx or R open: GraphML, or CSV edge and node lists
(``edges.csv`` + ``nodes.csv``). See ``tiktok_scrapy.graph``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from tiktok_scrapy.commands import ProjectDefaults
from tiktok_scrapy.graph import GraphInputError, export


class Command(ProjectDefaults, ScrapyCommand):
    requires_crawler_process = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "--input <output folder | follow_edges.jsonl> -o <graph.graphml | edges.csv>"

    def short_desc(self) -> str:
        return "Export a crawled follow network as GraphML or CSV edge/node lists"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--input",
            "-i",
            dest="input",
            metavar="PATH",
            help="a network crawl's output folder or its follow_edges.jsonl",
        )
        parser.add_argument(
            "-o",
            "--output",
            dest="outputs",
            action="append",
            metavar="FILE",
            help="*.graphml or *.csv (repeat for several)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not opts.input or not opts.outputs:
            raise UsageError(
                "give --input <crawl output folder> and -o <file.graphml|.csv>", print_help=False
            )
        for output in opts.outputs:
            try:
                print(export(Path(opts.input), Path(output)))
            except GraphInputError as error:
                print(f"error: {error}", file=sys.stderr)
                self.exitcode = 2
                return
