"""The sandbox's mutable state: clock, tokens, quotas, search ids, counters, request log.

Kept apart from the HTTP handlers so tests and the admin endpoints read and move it
directly. Everything runs on the server's event loop; ``SandboxThread`` hops onto that
loop before touching it from another thread.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tiktok_scrapy.api.endpoints import Access
from tiktok_scrapy.sandbox.options import SandboxOptions, parse_denied_access

MAX_SEARCHES = 100_000


class Clock:
    """Sandbox time = real time + offset, so tests can jump to the next UTC day."""

    def __init__(self, start: datetime | None = None) -> None:
        self.offset = 0.0
        if start is not None:
            self.set(start)

    def now(self) -> float:
        """Sandbox Unix time in seconds."""
        return time.time() + self.offset

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def day(self) -> str:
        """The sandbox's UTC day, ``YYYY-MM-DD`` (quotas reset when it changes)."""
        return self.datetime().date().isoformat()

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def set(self, moment: datetime) -> None:
        self.offset = moment.timestamp() - time.time()


@dataclass(slots=True)
class Token:
    client_key: str
    expires_at: float  # sandbox Unix time


def search_key(query: dict, start_date: Any, end_date: Any) -> str:
    """What a search_id answers: the normalised query and the window, as one string.

    TikTok rejects a search_id sent with another query or other dates; comparing these
    keys lets the sandbox do the same instead of paging a snapshot of another window. The
    values of an IN condition are a set: their order does not make another query.
    """
    canonical = {
        key: [
            {**c, "field_values": sorted(c["field_values"])} if c.get("operation") == "IN" else c
            for c in conditions
        ]
        for key, conditions in query.items()
    }
    return json.dumps([canonical, str(start_date), str(end_date)], sort_keys=True)


@dataclass(slots=True)
class Search:
    """A video query's result list, frozen under its search_id."""

    videos: list[dict]
    created_at: float  # sandbox Unix time
    request: str  # the query and dates it answers (``search_key``); other bodies are refused
    just_failed: bool = False  # an injected "invalid or expired" answer; the retry works


@dataclass
class SandboxState:
    """Counters and stores shared by all handlers of one sandbox."""

    options: SandboxOptions
    clock: Clock = field(init=False)
    tokens: dict[str, Token] = field(default_factory=dict)
    searches: dict[str, Search] = field(default_factory=dict)
    tasks: dict[int, Any] = field(default_factory=dict)  # compliance tasks (compliance.py)
    quota: Counter = field(default_factory=Counter)  # (client_key, family, day) -> spent
    requests: Counter = field(default_factory=Counter)  # endpoint name -> n
    in_flight: int = 0  # data requests received and not yet answered (and logged)
    statuses: Counter = field(default_factory=Counter)  # "200" -> n
    tokens_issued: int = 0
    log: deque = field(init=False)
    rng: random.Random = field(init=False)  # faults, latency jitter, is_random samples

    def __post_init__(self) -> None:
        self.clock = Clock(self.options.clock)
        self.log = deque(maxlen=self.options.request_log_max or None)
        self.rng = random.Random(self.options.fault_seed)

    # --- options -------------------------------------------------------------------
    def set_options(self, **changes: Any) -> SandboxOptions:
        """Change options on the running sandbox (faults, quotas, token TTL ...)."""
        from tiktok_scrapy.sandbox.options import STATIC_OPTIONS, OptionsError

        fixed = sorted(set(changes) & STATIC_OPTIONS)
        if fixed:
            raise OptionsError(
                f"Sandbox option(s) {', '.join(fixed)} cannot change on a running sandbox; "
                "restart it (the clock moves through /admin/clock)."
            )
        options = self.options.replace(**changes)
        if "fault_seed" in changes:
            self.rng = random.Random(options.fault_seed)
        if "request_log_max" in changes:
            self.log = deque(self.log, maxlen=options.request_log_max or None)
        self.options = options
        return options

    def chance(self, rate: float) -> bool:
        """True with probability ``rate`` (no RNG draw when the fault is off)."""
        return rate > 0 and self.rng.random() < rate

    # --- tokens --------------------------------------------------------------------
    def issue_token(self, client_key: str) -> str:
        token = "clt." + secrets.token_urlsafe(30)
        self.tokens[token] = Token(client_key, self.clock.now() + self.options.token_ttl)
        self.tokens_issued += 1
        if len(self.tokens) > 10_000:
            self._forget_expired_tokens()
        return token

    def client_for(self, authorization: str | None) -> str | None:
        """The client key behind a live ``Bearer`` token, else None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        token = self.tokens.get(authorization[7:].strip())
        if token is None or token.expires_at <= self.clock.now():
            return None
        return token.client_key

    def _forget_expired_tokens(self) -> None:
        now = self.clock.now()
        for key in [k for k, t in self.tokens.items() if t.expires_at <= now]:
            del self.tokens[key]

    # --- approvals -----------------------------------------------------------------
    def denied_access(self, client_key: str) -> frozenset[Access]:
        """The approvals ``client_key`` lacks (option ``denied_access``)."""
        return parse_denied_access(self.options.denied_access).get(client_key, frozenset())

    # --- quotas --------------------------------------------------------------------
    def quota_limit(self, family: str) -> int:
        return int(getattr(self.options, f"quota_{family}"))

    def spend(self, client_key: str, family: str) -> bool:
        """Charge one request; False (and no charge) when the family is spent today."""
        key = (client_key, str(family), self.clock.day())
        if self.quota[key] >= self.quota_limit(family):
            return False
        self.quota[key] += 1
        return True

    # --- search ids ----------------------------------------------------------------
    def new_search(self, videos: list[dict], request: str) -> str:
        """A new search_id for ``videos``, the answer to ``request`` (see ``search_key``).

        Ids come from ``secrets``, not from the dataset seed: a restarted sandbox must not
        hand out (and so accept) the search_ids of an earlier run, as TikTok does not.
        """
        ttl = self.options.search_id_ttl
        if ttl and len(self.searches) > 1000:
            now = self.clock.now()
            for sid in [s for s, v in self.searches.items() if now - v.created_at > ttl]:
                del self.searches[sid]
        if len(self.searches) >= MAX_SEARCHES:  # a long-running sandbox: forget the oldest
            del self.searches[next(iter(self.searches))]
        while True:
            search_id = str(7_000_000_000_000_000_000 + secrets.randbelow(10**18))
            if search_id not in self.searches:
                break
        self.searches[search_id] = Search(videos, self.clock.now(), request)
        return search_id

    def search(self, search_id: str) -> Search | None:
        """The snapshot behind ``search_id``; None when unknown or expired (then forgotten)."""
        found = self.searches.get(search_id)
        ttl = self.options.search_id_ttl
        if found is not None and ttl and self.clock.now() - found.created_at > ttl:
            del self.searches[search_id]
            return None
        return found

    # --- counters ------------------------------------------------------------------
    def record(
        self,
        endpoint: str,
        status: int,
        body: Any,
        query_string: str,
        client_key: str | None,
    ) -> None:
        self.requests[endpoint] += 1
        self.statuses[str(status)] += 1
        self.log.append(
            {
                "endpoint": endpoint,
                "status": status,
                "body": body,
                "query_string": query_string,
                "client_key": client_key,
                "at": self.clock.datetime().isoformat().replace("+00:00", "Z"),
            }
        )

    def stats(self) -> dict[str, Any]:
        day = self.clock.day()
        spent: Counter = Counter()
        by_client: dict[str, dict[str, int]] = {}
        for (client, family, qday), n in self.quota.items():
            if qday == day:
                spent[family] += n
                by_client.setdefault(client, {})[family] = n
        return {
            "requests": dict(self.requests),
            "status": dict(self.statuses),
            "quota": {
                "main": spent["main"],
                "follow": spent["follow"],
                **({"adlib": spent["adlib"]} if spent["adlib"] else {}),
            },
            "quota_by_client": by_client,
            "day": day,
            "tokens_issued": self.tokens_issued,
            "in_flight": self.in_flight,
        }

    def reset(self) -> None:
        """Zero the counters, the quota and the request log (tokens and searches stay)."""
        self.quota.clear()
        self.requests.clear()
        self.statuses.clear()
        self.log.clear()
        self.tokens_issued = 0

    def log_id(self) -> str:
        """14 digits of sandbox UTC time + 20 hex characters, like TikTok's."""
        return self.clock.datetime().strftime("%Y%m%d%H%M%S") + os.urandom(10).hex().upper()
