"""``@cassette <name>``: run a callback's ``scrapy check`` contracts on a recorded cassette.

Scrapy's ``@url`` contract builds a GET for a URL; our callbacks need the POST a chain
sends (JSON body, chain/page meta) and the chain state the spider keeps. This contract
builds exactly that request from the cassette's recorded config: it gives the spider that
config, plans its chains and asks for the first page of the first chain, tagged with the
cassette (request meta ``cassette``). ``CassetteStorage`` answers it from the cassette —
under ``scrapy check`` cassettes replay by default, so no contract touches the network —
and the usual contracts check the callback's output::

    def parse_page(self, response):
        \"\"\"@cassette videos_quickstart
        @returns items 1
        @scrapes id create_time
        \"\"\"
        return super().parse_page(response)

Run ``scrapy check videos -a config=quickstart`` (the spider needs a config to start;
the contract replaces it with the cassette's). Enabled by SPIDER_CONTRACTS in settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scrapy.contracts import Contract

from tiktok_scrapy.cassettes import META_KEY, read_index
from tiktok_scrapy.config import load_config


class CassetteContract(Contract):
    """Sets the sample request: the first page of a recorded crawl (see module docstring)."""

    name = "cassette"

    def adjust_request_args(self, args: dict[str, Any]) -> dict[str, Any]:
        spider = args["callback"].__self__
        cassette = (
            self.args[0]
            if self.args and self.args[0]
            else getattr(spider, "cassette", None) or spider.name
        )
        folder = Path(spider.settings.get("CASSETTE_DIR") or "fixtures/cassettes") / cassette
        index = read_index(folder)
        if not index:
            raise ValueError(
                f"@cassette {cassette}: no cassette at {folder} — record it with "
                f"-s CASSETTE_MODE=record -s CASSETTE_NAME={cassette or '<name>'}"
            )
        if index.get("spider") != spider.name:
            raise ValueError(
                f"@cassette {cassette}: recorded with the {index.get('spider')} "
                f"spider, not {spider.name}"
            )
        spider.use_config(load_config(spider.name, json.dumps(index["config"])))
        # Several callbacks may check the same cassette: each takes a chain of its own, as
        # one chain's first page is recorded (and admitted by the chain gate) once.
        free = [chain for chain in spider.plan() if not spider.core.expects(chain.id)]
        if not free:
            raise ValueError(
                f"@cassette {cassette}: every chain of this cassette is taken by "
                f"another callback's contract — record a cassette with more inputs"
            )
        chain = free[0]
        state = spider.core.add(chain)
        assert state is not None
        request = spider.page_request(chain, state)
        args.update(
            url=request.url,
            method=request.method,
            body=request.body,
            headers=request.headers,
            meta={**request.meta, META_KEY: cassette},
        )
        return args
