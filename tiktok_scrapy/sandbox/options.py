"""Sandbox options: the dataset, credentials, quotas, clock and injectable faults.

One dataclass holds every option with its default. The CLI (``python -m
tiktok_scrapy.sandbox``), the crawler's ``TIKTOK_SANDBOX_OPTIONS`` setting and
``POST /admin/options`` all go through :meth:`SandboxOptions.from_dict`, so the names and
the checks are the same everywhere.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

from tiktok_scrapy.api.endpoints import SCOPE_ADLIB, Access


class OptionsError(ValueError):
    """A bad sandbox option; the message names the option and what it accepts."""


@dataclass(frozen=True, slots=True)
class SandboxOptions:
    """Every sandbox option with its default (see docs/sandbox.md)."""

    # Dataset: generated deterministically from these.
    seed: int = 0
    scale: float = 1.0
    start: date = date(2024, 1, 1)
    end: date = date(2024, 3, 31)
    # Credentials: any client_key is accepted with this secret.
    client_secret: str = "sandbox-secret"
    token_ttl: int = 7200
    # Daily request quotas per family, per client key and sandbox UTC day.
    quota_main: int = 1000
    quota_follow: int = 20000
    quota_adlib: int = 1000  # the Commercial Content API's (undocumented) daily limit
    # Clients lacking an approval: "key:shop,other-key:adlib" (shop, adlib or research, or
    # an endpoint's scope); they get scope_not_authorized there.
    denied_access: str = ""
    scope_denied_status: int = 401  # the HTTP status of scope_not_authorized (401 or 403)
    # Initial sandbox time (UTC); None: real time. Moved later through /admin/clock.
    clock: datetime | None = None
    request_log_max: int = 100_000
    # Faults (data endpoints only, except token_error_rate), drawn from a seeded RNG.
    fault_seed: int = 0
    error_rate: float = 0.0
    transient_400_rate: float = 0.0
    search_id_invalid_rate: float = 0.0
    search_id_ttl: float = 0.0  # seconds; 0: search ids never expire
    html_504_rate: float = 0.0
    non_json_rate: float = 0.0
    stall_cursor_rate: float = 0.0
    token_error_rate: float = 0.0
    trailing_empty_pages: int = 0
    fail_results_over: int = 0  # video queries matching more videos: 500 every time (0: off)
    outage_day: date | None = None  # video queries whose window covers it: 500 every time
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    # Batch compliance tasks: a task answers Processing to this many status polls and for
    # this many seconds of sandbox time (both must pass), then Completed; a share of them
    # ends Failed instead (task_failed_rate, drawn when the task is created).
    task_processing_polls: int = 1
    task_processing_seconds: float = 0.0
    task_failed_rate: float = 0.0

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> SandboxOptions:
        """Options from plain values (strings allowed, as from a command line or JSON)."""
        return cls().replace(**(values or {}))

    def replace(self, **changes: Any) -> SandboxOptions:
        """A copy with ``changes`` applied, each checked and converted."""
        known = {f.name: f for f in fields(self)}
        converted: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise OptionsError(
                    f"Unknown sandbox option {name!r}; known options: {', '.join(known)}."
                )
            converted[name] = _convert(name, known[name].type, value)
        options = dataclasses.replace(self, **converted)
        parse_denied_access(options.denied_access)  # fails early, naming the bad entry
        if options.scope_denied_status not in (401, 403):
            raise OptionsError("Sandbox option scope_denied_status: give 401 or 403.")
        if options.end < options.start:
            raise OptionsError(
                f"Sandbox option end ({options.end}) is before start ({options.start})."
            )
        return options

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (dates and times as ISO strings)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, date) else value
        return out


# Options that define the dataset or the clock; they cannot change on a running sandbox.
STATIC_OPTIONS: frozenset[str] = frozenset({"seed", "scale", "start", "end", "clock"})
RATE_OPTIONS: frozenset[str] = frozenset(
    f.name for f in fields(SandboxOptions) if f.name.endswith("_rate")
)


def _convert(name: str, kind: str, value: Any) -> Any:
    try:
        if kind == "int":
            result: Any = _to_int(value)
        elif kind == "float":
            result = float(value)
            if result != result:  # NaN
                raise ValueError
        elif kind == "str":
            if not isinstance(value, str):
                raise ValueError
            result = value
        elif kind == "date":
            result = parse_date(value)
        elif kind == "date | None":
            result = None if value in (None, "", "none", "None") else parse_date(value)
        elif kind == "datetime | None":
            result = None if value in (None, "", "none", "None") else parse_datetime(value)
        else:  # pragma: no cover - a new option type without a converter
            raise TypeError(kind)
    except (TypeError, ValueError) as exc:
        raise OptionsError(
            f"Sandbox option {name}={value!r} is not a valid {kind.split(' ')[0]}"
            f"{' (e.g. 2024-05-01T23:59:58Z)' if 'datetime' in kind else ''}."
        ) from exc
    if isinstance(result, int | float) and result < 0 and name != "fault_seed":
        raise OptionsError(f"Sandbox option {name}={value!r} must not be negative.")
    if name in RATE_OPTIONS and result > 1:
        raise OptionsError(f"Sandbox option {name}={value!r} is a rate: give 0..1.")
    return result


ACCESS_NAMES: dict[str, Access] = {
    "research": Access.RESEARCH,
    "shop": Access.SHOP,
    "tts": Access.SHOP,
    "adlib": Access.ADLIB,
    SCOPE_ADLIB: Access.ADLIB,
}


def parse_denied_access(text: str) -> dict[str, frozenset[Access]]:
    """``"key:shop,key2:adlib"`` -> {client key: approvals it lacks}."""
    denied: dict[str, set[Access]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, name = part.rpartition(":")
        access = ACCESS_NAMES.get(name.strip().lower())
        if not key or access is None:
            raise OptionsError(
                f"Sandbox option denied_access: {part!r} is not client_key:approval — "
                f"approvals: {', '.join(ACCESS_NAMES)}"
            )
        denied.setdefault(key.strip(), set()).add(access)
    return {k: frozenset(v) for k, v in denied.items()}


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        return int(value)
    return int(value)


def parse_date(value: Any) -> date:
    """A date from a ``date``, ``YYYY-MM-DD`` or ``YYYYMMDD``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value)
    if len(text) == 8 and text.isdigit():
        return datetime.strptime(text, "%Y%m%d").date()
    return date.fromisoformat(text)


def parse_datetime(value: Any) -> datetime:
    """An aware UTC datetime from a datetime, an ISO string (``Z`` allowed) or a date."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    else:
        result = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if result.tzinfo is None:
        result = result.replace(tzinfo=UTC)
    return result.astimezone(UTC)
