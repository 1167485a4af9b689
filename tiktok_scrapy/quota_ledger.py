"""The quota ledger: requests and records spent per client, quota family and API day.

A counter in memory forgets yesterday's run and the crawl next door; the ledger is a file
(SQLite, WAL, ``BEGIN IMMEDIATE``) or a MongoDB collection that every crawl on the same
client key shares, so ``reserve`` is one atomic "increment only below the limit". Clients
are stored as ``sha256(key)[:16]`` plus the key's last 4 characters for people, never the
secret. ``ApiClock`` tracks the API's clock (from HTTP ``Date`` headers) because quotas
reset at 00:00 UTC on *its* clock. No Scrapy imports: the ``scrapy quota`` command, tests
and other tools use it directly.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol

DEFAULT_LEDGER_PATH = "~/.local/share/tiktok-scrapy/quota.sqlite"
DEFAULT_COLLECTION = "quota_ledger"
DEFAULT_API_URL = "https://open.tiktokapis.com"
# The built-in sandbox (TIKTOK_SANDBOX): one client whatever port a run's sandbox got, in
# a ledger of its own so that its spend never mixes with the real API's.
SANDBOX_CLIENT_KEY = "sandbox-client"
SANDBOX_LABEL = "built-in sandbox"
DEFAULT_SANDBOX_LEDGER_PATH = "~/.local/share/tiktok-scrapy/sandbox-quota.sqlite"
DEFAULT_SANDBOX_COLLECTION = "sandbox_quota_ledger"


@dataclass(frozen=True, slots=True)
class Client:
    """A client key as the ledger knows it: a fingerprint and a hint for people."""

    fingerprint: str
    hint: str  # last 4 characters of the key

    @classmethod
    def from_key(cls, client_key: str, api_url: str | None = None) -> Client:
        """The ledger's client for a key at an API: TikTok's own (the default URL), or
        another server such as a local sandbox, whose quota is its own."""
        url = (api_url or DEFAULT_API_URL).rstrip("/")
        if client_key == SANDBOX_CLIENT_KEY:
            url = SANDBOX_LABEL
        source = client_key if url == DEFAULT_API_URL else f"{client_key} @ {url}"
        digest = hashlib.sha256(source.encode()).hexdigest()[:16]
        hint = client_key[-4:] if url == DEFAULT_API_URL else f"{client_key[-4:]}@{url}"
        return cls(digest, SANDBOX_LABEL if url == SANDBOX_LABEL else hint)

    def __str__(self) -> str:
        if self.hint == SANDBOX_LABEL:
            return f"{self.hint} ({self.fingerprint})"
        return f"…{self.hint} ({self.fingerprint})"


@dataclass(slots=True)
class Spend:
    """One family's spend on one day."""

    requests: int = 0
    records: int = 0
    exhausted: bool = False


class QuotaLedger(Protocol):
    """What the quota middleware and the ``scrapy quota`` command need from a backend."""

    def reserve(self, client: Client, family: str, day: str, limit: int) -> bool:
        """Count one request if fewer than ``limit`` are spent and the family is not
        marked exhausted; True when counted. Atomic across threads and processes."""

    def reserve_now(self, client: Client, family: str, day: str, limit: int) -> bool | None:
        """``reserve`` if it can be answered without waiting (None: it cannot; call
        ``reserve`` in a thread). Keeps a local ledger off the crawl's critical path."""

    def release(self, client: Client, family: str, day: str) -> None:
        """Give back a reserved request that was never sent."""

    def add_records(self, client: Client, family: str, day: str, count: int) -> None: ...

    def add_records_now(self, client: Client, family: str, day: str, count: int) -> bool:
        """``add_records`` if it can be done without waiting; False if not done."""

    def mark_exhausted(self, client: Client, family: str, day: str) -> None:
        """The API said the family is spent (429): refuse reservations until the day ends."""

    def is_exhausted(self, client: Client, family: str, day: str, limit: int) -> bool: ...

    def spent(self, client: Client, day: str) -> dict[str, Spend]: ...

    def clients(self) -> list[Client]: ...

    def close(self) -> None: ...


class SqliteLedger:
    """A ledger in a SQLite file; several processes may share it."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS spend (
            client TEXT NOT NULL, hint TEXT NOT NULL, family TEXT NOT NULL, day TEXT NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0, records INTEGER NOT NULL DEFAULT 0,
            exhausted INTEGER NOT NULL DEFAULT 0, updated TEXT NOT NULL,
            PRIMARY KEY (client, family, day))
    """

    def __init__(self, path: str | Path = DEFAULT_LEDGER_PATH) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            file = Path(self.path).expanduser()
            file.parent.mkdir(parents=True, exist_ok=True)
            self.path = str(file)
        # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE.
        self._db = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()  # one connection, shared by threads
        with self._lock:
            self._db.execute("PRAGMA busy_timeout = 30000")
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute(self.SCHEMA)

    def _write(
        self,
        client: Client,
        family: str,
        day: str,
        assignment: str,
        params: tuple[Any, ...] = (),
        condition: str = "",
        wait: bool = True,
    ) -> int | None:
        """Update the (client, family, day) row in one immediate transaction; rows changed.

        ``wait=False``: None at once when another thread or process holds the write lock,
        instead of waiting for it (up to the 30 s busy timeout)."""
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            if not self._begin(wait):
                return None
            try:
                self._db.execute(
                    "INSERT OR IGNORE INTO spend (client, hint, family, day, updated) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (client.fingerprint, client.hint, family, day, _now()),
                )
                cursor = self._db.execute(
                    f"UPDATE spend SET {assignment}, updated = ? "
                    f"WHERE client = ? AND family = ? AND day = ? {condition}",
                    (*params, _now(), client.fingerprint, family, day),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return cursor.rowcount
        finally:
            self._lock.release()

    def _begin(self, wait: bool) -> bool:
        if wait:
            self._db.execute("BEGIN IMMEDIATE")
            return True
        self._db.execute("PRAGMA busy_timeout = 0")
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "lock" in str(exc) or "busy" in str(exc):
                return False
            raise
        finally:
            self._db.execute("PRAGMA busy_timeout = 30000")
        return True

    def reserve(self, client: Client, family: str, day: str, limit: int) -> bool:
        return self._reserve(client, family, day, limit, wait=True) is True

    def reserve_now(self, client: Client, family: str, day: str, limit: int) -> bool | None:
        return self._reserve(client, family, day, limit, wait=False)

    def _reserve(
        self, client: Client, family: str, day: str, limit: int, wait: bool
    ) -> bool | None:
        condition = f"AND requests < {int(limit)} AND exhausted = 0"
        changed = self._write(
            client, family, day, "requests = requests + 1", condition=condition, wait=wait
        )
        return None if changed is None else changed == 1

    def release(self, client: Client, family: str, day: str) -> None:
        self._write(client, family, day, "requests = MAX(requests - 1, 0)")

    def add_records(self, client: Client, family: str, day: str, count: int) -> None:
        if count:
            self._write(client, family, day, "records = records + ?", (count,))

    def add_records_now(self, client: Client, family: str, day: str, count: int) -> bool:
        return (
            not count
            or self._write(client, family, day, "records = records + ?", (count,), wait=False)
            is not None
        )

    def mark_exhausted(self, client: Client, family: str, day: str) -> None:
        self._write(client, family, day, "exhausted = 1")

    def is_exhausted(self, client: Client, family: str, day: str, limit: int) -> bool:
        spend = self.spent(client, day).get(family, Spend())
        return spend.exhausted or spend.requests >= limit

    def spent(self, client: Client, day: str) -> dict[str, Spend]:
        with self._lock:
            rows = self._db.execute(
                "SELECT family, requests, records, exhausted FROM spend "
                "WHERE client = ? AND day = ?",
                (client.fingerprint, day),
            ).fetchall()
        return {f: Spend(req, rec, bool(ex)) for f, req, rec, ex in rows}

    def clients(self) -> list[Client]:
        with self._lock:
            rows = self._db.execute(
                "SELECT client, MAX(hint) FROM spend GROUP BY client ORDER BY client"
            ).fetchall()
        return [Client(fp, hint) for fp, hint in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class MongoLedger:
    """A ledger in a MongoDB collection, shared by crawls on several machines."""

    def __init__(self, collection: Any, client: Any = None) -> None:
        self.collection = collection  # a pymongo (or mongomock) Collection
        self._mongo_client = client  # closed with the ledger when given

    @staticmethod
    def _id(client: Client, family: str, day: str) -> str:
        return f"{client.fingerprint}:{family}:{day}"

    def _ensure(self, client: Client, family: str, day: str) -> str:
        doc_id = self._id(client, family, day)
        self.collection.update_one(
            {"_id": doc_id},
            {
                "$setOnInsert": {
                    "client": client.fingerprint,
                    "hint": client.hint,
                    "family": family,
                    "day": day,
                    "requests": 0,
                    "records": 0,
                    "exhausted": False,
                }
            },
            upsert=True,
        )
        return doc_id

    def reserve(self, client: Client, family: str, day: str, limit: int) -> bool:
        doc_id = self._ensure(client, family, day)
        before = self.collection.find_one_and_update(
            {"_id": doc_id, "requests": {"$lt": limit}, "exhausted": {"$ne": True}},
            {"$inc": {"requests": 1}, "$set": {"updated": _now()}},
        )
        return before is not None

    def reserve_now(self, client: Client, family: str, day: str, limit: int) -> bool | None:
        return None  # a network round trip: always in a thread

    def add_records_now(self, client: Client, family: str, day: str, count: int) -> bool:
        return not count

    def release(self, client: Client, family: str, day: str) -> None:
        self.collection.update_one(
            {"_id": self._id(client, family, day), "requests": {"$gt": 0}},
            {"$inc": {"requests": -1}, "$set": {"updated": _now()}},
        )

    def add_records(self, client: Client, family: str, day: str, count: int) -> None:
        if count:
            self.collection.update_one(
                {"_id": self._ensure(client, family, day)},
                {"$inc": {"records": count}, "$set": {"updated": _now()}},
            )

    def mark_exhausted(self, client: Client, family: str, day: str) -> None:
        self.collection.update_one(
            {"_id": self._ensure(client, family, day)},
            {"$set": {"exhausted": True, "updated": _now()}},
        )

    def is_exhausted(self, client: Client, family: str, day: str, limit: int) -> bool:
        spend = self.spent(client, day).get(family, Spend())
        return spend.exhausted or spend.requests >= limit

    def spent(self, client: Client, day: str) -> dict[str, Spend]:
        docs = self.collection.find({"client": client.fingerprint, "day": day})
        return {
            d["family"]: Spend(d.get("requests", 0), d.get("records", 0), bool(d.get("exhausted")))
            for d in docs
        }

    def clients(self) -> list[Client]:
        seen: dict[str, str] = {}
        for doc in self.collection.find({}, {"client": 1, "hint": 1}):
            seen.setdefault(doc["client"], doc.get("hint", ""))
        return [Client(fp, hint) for fp, hint in sorted(seen.items())]

    def close(self) -> None:
        if self._mongo_client is not None:
            self._mongo_client.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ApiClock:
    """The API's idea of now, learnt from HTTP ``Date`` headers (quota days are its days)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self.offset = 0.0  # API time minus local time, seconds
        self.known = False  # a Date header has been seen (else the local clock stands in)

    def observe(self, date_header: str | bytes | None) -> None:
        """Learn the offset from a response's ``Date`` header; ignore unparsable ones."""
        if not date_header:
            return
        if isinstance(date_header, bytes):
            date_header = date_header.decode("latin-1")
        try:
            api_time = parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            return
        if api_time.tzinfo is None:
            api_time = api_time.replace(tzinfo=UTC)
        self.offset = api_time.timestamp() - self._now()
        self.known = True

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._now() + self.offset, UTC)

    def day(self) -> str:
        """The API's current UTC day, ``YYYY-MM-DD``: the ledger's key."""
        return self.now().date().isoformat()

    def next_reset(self) -> datetime:
        """The API's next 00:00 UTC."""
        now = self.now()
        return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)

    def seconds_to_reset(self) -> float:
        return max(0.0, (self.next_reset() - self.now()).total_seconds())


def format_duration(seconds: float) -> str:
    """``5 h 12 min`` / ``3 min 20 s``: a wait told to people."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
