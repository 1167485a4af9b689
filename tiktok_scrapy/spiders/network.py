"""network: snowball a follow graph from seed accounts, level by level, to ``depth``.

``scrapy crawl network -a config=examples/network.yaml``. Level 0 is the seeds; a node of
level L < ``depth`` has its follower and/or following list crawled (``direction``), and
the accounts listed there that are new make level L+1. Every node gets one user-info
request. Items: the same ``FollowEdge`` (source follows target) as the followers/following
spiders, and one ``User`` per node with its ``level`` (distance from the seeds).

Levels are built behind a barrier: level L+1 is chosen only once every list of level L is
committed, from those lists in chain order (sorted by username, then endpoint), so which
accounts make a capped level (``max_users_per_level``) never depends on response timing.
A list stops after ``max_edges_per_user`` entries. New chains are saved with their spec,
and each list's accounts are kept in its checkpoint, so a JOBDIR resume rebuilds the
levels exactly. Private, hidden or unknown accounts are user-level outcomes: recorded in
the page records, their chain ends, the crawl goes on. ``max_requests`` caps the budget.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from scrapy import Request

from tiktok_scrapy.api.endpoints import ENDPOINTS
from tiktok_scrapy.chains import FAILED, Chain, ChainState
from tiktok_scrapy.config import NetworkConfig
from tiktok_scrapy.items import ApiItem, FollowEdge, User, follow_edge
from tiktok_scrapy.spiders.base import ResearchApiSpider

logger = logging.getLogger(__name__)

USERS = "users"


def chain_level(chain_id: str) -> int | None:
    """The level encoded in a network chain id ``network:<level>:<endpoint>:<username>``."""
    parts = chain_id.split(":", 3)
    if len(parts) != 4 or parts[0] != "network" or not parts[1].isdigit():
        return None
    return int(parts[1])


class NetworkSpider(ResearchApiSpider):
    name = "network"
    endpoint_name = USERS
    item_class = User
    item_classes = (FollowEdge, User)
    config: NetworkConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._edges_seen: set[tuple[str, str]] = set()

    # --- chains ----------------------------------------------------------------------
    def plan(self) -> Iterator[Chain]:
        yield from self._level_chains(0, self.config.inputs())

    def _level_chains(self, level: int, usernames: Iterable[str]) -> list[Chain]:
        chains: list[Chain] = []
        for username in usernames:
            chains.append(self._chain(level, USERS, username))
            if level < self.config.depth:
                chains += [self._chain(level, kind, username) for kind in self.config.directions()]
        return chains

    def _chain(self, level: int, kind: str, username: str) -> Chain:
        endpoint = ENDPOINTS[kind]
        body: dict[str, Any] = {"username": username}
        if endpoint.paged:
            body["max_count"] = min(self.config.max_count, self.config.max_edges_per_user or 100)
        return Chain(
            id=f"network:{level}:{kind}:{username}",
            endpoint=endpoint,
            body=body,
            input=username,
            fields=tuple(self.config.fields) if endpoint.fields else None,
        )

    # --- items -----------------------------------------------------------------------
    def make_items(
        self, chain: Chain, records: list, data: dict, state: ChainState, done: bool
    ) -> list[ApiItem]:
        if chain.endpoint.name == USERS:
            level = chain_level(chain.id)
            return [User({**record, "username": chain.input, "level": level}) for record in records]
        listed: list[str] = list(state.extra.get("listed", []))
        cap = self.config.max_edges_per_user
        room = len(records) if cap is None else max(0, cap - len(listed))
        items: list[ApiItem] = []
        for account in records[:room]:
            edge = (
                follow_edge(chain.input, account, chain.endpoint.name == "followers")
                if isinstance(account, dict)
                else None
            )
            if edge is None:
                continue
            listed.append(account["username"])
            pair = (edge["source"], edge["target"])
            if pair in self._edges_seen:  # found from both ends: keep one
                continue
            self._edges_seen.add(pair)
            items.append(edge)
        state.extra = {**state.extra, "listed": listed}
        return items

    def end_reason(
        self, chain: Chain, has_more: bool, sent: Any, next_cursor: Any, empty: int
    ) -> str | None:
        reason = super().end_reason(chain, has_more, sent, next_cursor, empty)
        cap = self.config.max_edges_per_user
        if reason is None and cap is not None and chain.endpoint.name != USERS:
            listed = len(self.core.state(chain.id).extra.get("listed", []))
            if listed + chain.body["max_count"] >= cap:  # this page fills the cap
                return "edge_cap"
        return reason

    # --- levels ----------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Request]:
        async for request in super().start():
            yield request
        for level in range(self.config.depth):  # levels a previous run left unbuilt
            for request in self._expand(level):
                yield request

    def chain_committed(self, state: ChainState) -> None:
        level = chain_level(state.id)
        if level is None or not self._ended(state.id):
            return
        for request in self._expand(level):
            try:
                self.crawler.engine.crawl(request)
            except RuntimeError:  # the crawl is closing: the new chains are saved for a resume
                break

    def _ended(self, chain_id: str) -> bool:
        committed = self.core.committed(chain_id)
        if committed is None:
            return False
        if committed.state == FAILED:  # failed chains are retried on resume: ended only now
            return not self.core.knows(chain_id) or self.core.state(chain_id).state == FAILED
        return committed.finished

    def _expand(self, level: int) -> list[Request]:
        """Build level+1 once every list of ``level`` has ended; its first requests."""
        nxt = level + 1
        if nxt > self.config.depth or any(chain_level(c) == nxt for c in self.core.chains):
            return []
        lists = sorted(
            (
                c
                for c in self.core.chains.values()
                if chain_level(c.id) == level and c.endpoint.name != USERS
            ),
            key=lambda c: (c.input, c.endpoint.name),
        )
        if not lists or not all(self._ended(c.id) for c in lists):
            return []
        known = {c.input for c in self.core.chains.values() if c.endpoint.name == USERS}
        found: dict[str, None] = {}
        for chain in lists:
            for username in self.core.committed(chain.id).extra.get("listed", []):
                if username not in known:
                    found.setdefault(username)
        names = list(found)[: self.config.max_users_per_level or None]
        logger.info(
            "Network level %d: %d new accounts (%d found in level %d's lists).",
            nxt,
            len(names),
            len(found),
            level,
        )
        self.crawler.stats.set_value(f"tiktok/network/level_{nxt}/users", len(names))
        requests: list[Request] = []
        for chain in self._level_chains(nxt, names):
            state = self.core.add(chain)
            if state is not None:
                requests.append(self.page_request(chain, state))
        return requests
