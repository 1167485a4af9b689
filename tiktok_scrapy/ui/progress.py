"""What a crawl's folder says about it, while it runs and after: progress and verdict.

A running crawl logs a ``Progress:`` line every ``TIKTOK_PROGRESS_INTERVAL`` seconds and
appends a line to ``pages.jsonl`` per page; at the end it writes ``stats.json`` (with the
verdict) and ``report.html``. This module reads whatever of that is there, never the
crawl's memory, so the UI shows the same after a restart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiktok_scrapy.verdict import REASONS, exit_status

# The progress extension's line (extensions/progress.py), and its older form:
# "3/10 chains done (30%), 0 failed, 5 pages, 100 items, 5 requests; quota left today: main
# 995/1000; elapsed 1m02s, ETA about 2m10s" / "3/10 chains done (0 failed), 5 pages, ...".
PROGRESS = re.compile(
    r"(?P<done>\d+)/(?P<chains>\d+) chains done(?: \(\d+%\))?(?:, | \()(?P<failed>\d+) failed\)?, "
    r"(?P<pages>\d+) pages, (?P<items>\d+) items, (?P<requests>\d+) requests"
    r"(?:; quota left today: (?P<quota_left>[^;]+))?(?:; elapsed \S+, (?P<eta_text>[^.]+))?"
)
# Lines worth showing a researcher from a crawl's log (never settings, which may hold keys).
SHOWN = re.compile(r"(Verdict:|^error: | ERROR: | WARNING: |Progress: )")
TAIL_BYTES = 256 * 1024


@dataclass
class Progress:
    chains: int | None = None
    done: int | None = None
    failed: int | None = None
    pages: int | None = None
    items: int | None = None
    requests: int | None = None
    verdict: str | None = None
    reason: str | None = None
    meaning: str | None = None
    exit_status: int | None = None
    quota: dict[str, int] = field(default_factory=dict)  # requests per quota family
    quota_left: str | None = None  # as the crawl's progress line says it: "main 995/1000"
    eta_text: str | None = None  # the crawl's own estimate: "ETA about 2m10s"
    lines: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    report: bool = False

    def eta_seconds(self, elapsed: float) -> float | None:
        """A naive estimate: the time per finished chain, for the chains left."""
        if not self.chains or not self.done or self.verdict:
            return None
        return elapsed * (self.chains - self.done) / self.done

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def read_progress(output: Path, log: Path | None = None, hide: tuple[str, ...] = ()) -> Progress:
    progress = Progress()
    lines = _tail(log) if log else []
    for line in lines:
        match = PROGRESS.search(line)
        if match:
            for key, value in match.groupdict().items():
                if key in ("quota_left", "eta_text"):
                    setattr(progress, key, value)
                elif value is not None:
                    setattr(progress, key, int(value))
    progress.lines = [redact(line, hide) for line in lines if SHOWN.search(line)][-12:]
    pages = output / "pages.jsonl"
    if pages.exists():
        with pages.open("rb") as file:
            progress.pages = max(progress.pages or 0, sum(1 for _ in file))
    stats = read_stats(output)
    if stats:
        progress.chains = stats.get("tiktok/chains/total", progress.chains)
        incomplete = stats.get("tiktok/chains/incomplete")
        if progress.chains is not None and incomplete is not None:
            progress.done = progress.chains - incomplete
            progress.failed = incomplete
        progress.items = stats.get("tiktok/items", progress.items)
        progress.requests = stats.get("tiktok/requests_sent", progress.requests)
        progress.verdict = stats.get("tiktok/verdict")
        progress.reason = stats.get("tiktok/verdict/reason") or stats.get("finish_reason")
        progress.quota = {
            key.rsplit("/", 1)[1]: value
            for key, value in stats.items()
            if key.startswith("tiktok/quota/requests/")
        }
        close = stats.get("finish_reason")
        if close:
            known = REASONS.get(close)
            progress.meaning = known.meaning if known else None
            progress.exit_status = exit_status(close, progress.verdict)
    progress.files = data_files(output)
    progress.report = (output / "report.html").is_file()
    return progress


def read_stats(output: Path) -> dict[str, Any] | None:
    try:
        stats = json.loads((output / "stats.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stats if isinstance(stats, dict) else None


def data_files(output: Path) -> list[str]:
    """The JSON Lines files of a crawl's output folder (its items and page records)."""
    if not output.is_dir():
        return []
    return sorted(p.name for p in output.glob("*.jsonl") if p.is_file())


def _tail(path: Path) -> list[str]:
    try:
        with path.open("rb") as file:
            file.seek(0, 2)
            size = file.tell()
            file.seek(max(0, size - TAIL_BYTES))
            text = file.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.splitlines()


SECRET_SETTING = re.compile(
    r"(['\"]?\w*(?:SECRET|PASSWORD|TOKEN)\w*['\"]?\s*[:=]\s*)('[^']*'|\"[^\"]*\"|[^\s,}]+)",
    re.IGNORECASE,
)
BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)


def redact(line: str, hide: tuple[str, ...] = ()) -> str:
    """A log line without anything that looks like a secret setting's value or a token,
    nor any of the values in ``hide`` (the credentials the crawls were given)."""
    line = BEARER.sub(r"\1[hidden]", SECRET_SETTING.sub(r"\1[hidden]", line))
    for value in hide:
        if value:
            line = line.replace(value, "[hidden]")
    return line
