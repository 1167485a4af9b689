"""Durable per-chain progress: what lets a killed crawl resume without losing a page.

Requests live in memory only (``tiktok_scrapy.scheduler``), so what a resume needs is each
chain's position (epoch, next page, cursor, search_id): it is committed to SQLite in the
JOBDIR after the items of a page have been handed on (stored or exported), and the next
run re-issues every unfinished chain from here. Job metadata (config fingerprint, run
count, verdict, the finished flag) lives in the same file.

Without a JOBDIR the same store lives in memory, so the crawl has one code path.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from tiktok_scrapy.chains.state import ChainState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS job (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chains (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    page INTEGER NOT NULL,
    cursor TEXT,
    search_id TEXT,
    pages INTEGER NOT NULL,
    items INTEGER NOT NULL,
    empty_pages INTEGER NOT NULL,
    reason TEXT,
    spec TEXT,
    extra TEXT,
    updated_at REAL NOT NULL
);
"""
# Columns added after the first release: (name, SQL type), added to older stores on open.
_ADDED_COLUMNS = (("continuation", "TEXT"),)


class CheckpointError(Exception):
    """The JOBDIR's checkpoint file cannot be read (damaged, or not a checkpoint store)."""


class CheckpointStore:
    """SQLite-backed chain states and job metadata (config fingerprint, finished flag)."""

    FILENAME = "tiktok_checkpoints.sqlite"

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) / self.FILENAME if path else None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        target = str(self.path) if self.path else ":memory:"
        try:
            self._db = sqlite3.connect(target, isolation_level=None)
            if self.path:
                self._db.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode survives a process kill (not a power cut) and is fast.
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(chains)")}
            for name, kind in _ADDED_COLUMNS:
                if name not in columns:
                    self._db.execute(f"ALTER TABLE chains ADD COLUMN {name} {kind}")
            self._db.execute("SELECT COUNT(*) FROM chains").fetchone()
        except sqlite3.DatabaseError as error:
            raise CheckpointError(
                f"the checkpoint file {self.path} is damaged ({error}): move it aside to "
                "start this crawl over, or use a new JOBDIR"
            ) from None

    @property
    def durable(self) -> bool:
        return self.path is not None

    # --- job metadata ----------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM job WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO job (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value, default=str)),
        )

    # --- chains ----------------------------------------------------------------------
    def load(self) -> dict[str, ChainState]:
        """Every chain state stored so far, by chain id."""
        rows = self._db.execute(
            "SELECT id, state, epoch, page, cursor, search_id, pages, items, empty_pages,"
            " reason, spec, extra, continuation FROM chains"
        ).fetchall()
        try:
            return {row[0]: _state_from_row(row) for row in rows}
        except (ValueError, TypeError) as error:
            raise CheckpointError(
                f"the checkpoint file {self.path} holds a damaged chain state ({error}): move "
                "it aside to start this crawl over, or use a new JOBDIR"
            ) from None

    def save(self, state: ChainState) -> None:
        """Commit one chain's state (one small transaction)."""
        self._db.execute(
            "INSERT INTO chains (id, state, epoch, page, cursor, search_id, pages, items,"
            " empty_pages, reason, spec, extra, continuation, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET state = excluded.state, epoch = excluded.epoch,"
            " page = excluded.page, cursor = excluded.cursor, search_id = excluded.search_id,"
            " pages = excluded.pages, items = excluded.items,"
            " empty_pages = excluded.empty_pages, reason = excluded.reason,"
            " spec = excluded.spec, extra = excluded.extra,"
            " continuation = excluded.continuation, updated_at = excluded.updated_at",
            (
                state.id,
                state.state,
                state.epoch,
                state.page,
                json.dumps(state.cursor),
                state.search_id,
                state.pages,
                state.items,
                state.empty_pages,
                state.reason,
                json.dumps(state.spec) if state.spec is not None else None,
                json.dumps(state.extra),
                json.dumps(state.continuation),
                time.time(),
            ),
        )

    def close(self) -> None:
        self._db.close()


def _state_from_row(row: tuple) -> ChainState:
    (chain_id, state, epoch, page, cursor, search_id, pages, items, empty, reason, spec, extra) = (
        row[:12]
    )
    continuation = row[12] if len(row) > 12 else None
    return ChainState(
        id=chain_id,
        state=state,
        epoch=epoch,
        page=page,
        cursor=json.loads(cursor) if cursor is not None else None,
        search_id=search_id,
        pages=pages,
        items=items,
        empty_pages=empty,
        reason=reason,
        spec=json.loads(spec) if spec else None,
        extra=json.loads(extra) if extra else {},
        continuation=json.loads(continuation) if continuation else {},
    )
