"""Check every project setting against its declaration before a crawl starts.

Components read their settings when Scrapy builds them, mid-start-up, where a bad value
becomes a traceback (or, read per page, a crawl that "finishes" with nothing).
``scrapy crawl``, ``scrapy plan`` and ``scrapy quota`` call :func:`check_settings` first, so
a mistake in ``-s NAME=value`` is one line naming the setting, the value and what is
allowed. The declarations (type, range, meaning) are in ``settings_spec``. This is the one
validator: a component that must refuse a value itself calls :func:`checked`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tiktok_scrapy import settings as project_settings
from tiktok_scrapy.api.query import did_you_mean
from tiktok_scrapy.api.windows import check_day
from tiktok_scrapy.default_settings import DEFAULTS
from tiktok_scrapy.settings_spec import (
    PREFIXES,
    SETTINGS,
    SPEC,
    Setting,
    parse_bool,
    parse_date,
    parse_float,
    parse_int,
    template_fields,
)
from tiktok_scrapy.text import excerpt, expand_user, invisible_at, one_line

DOCS = "docs/settings.md"


class SettingsError(ValueError):
    """A setting with a value the project cannot use; str() is one line for people."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(str(message)))


class Why(ValueError):
    """Why a value is refused, in words worth showing (other ValueErrors are not shown)."""


def check_settings(settings: Any, names: Iterable[str] | None = None) -> None:
    """Raise SettingsError for the first unusable value (all declared settings by default).

    ``settings`` is Scrapy's Settings (or any mapping); unknown names in our namespaces
    (``TIKTOK_*``, ``MONGODB_*``, ``CASSETTE_*``) are refused as typos.
    """
    # A name with a value in settings.py or default_settings.py but no declaration yet (a
    # setting added on another branch) is not a typo: tests/test_bad_inputs.py asks for its
    # declaration.
    known = SPEC.keys() | DEFAULTS.keys() | set(dir(project_settings))
    for name in sorted(_names(settings)):
        if name.startswith(PREFIXES) and name not in known:
            suggestion = did_you_mean(name, SPEC)
            shown = excerpt(settings.get(name), 40)
            raise SettingsError(
                f"-s {excerpt(name, 40)}={shown}: no such setting{suggestion} — see {DOCS} "
                f"for every setting"
            )
    for spec in SETTINGS if names is None else (SPEC[n] for n in names):
        check_value(spec, settings.get(spec.name))


def checked(settings: Any, name: str, normalise: Callable[[str], str] | None = None) -> Any:
    """Setting ``name`` parsed as declared, for a component that reads it (the one validator).

    ``normalise`` is applied to a text value first (a component that folds case, say).
    The crawl commands already ran :func:`check_settings`; this catches settings given to a
    component some other way, with the same one-line SettingsError (a ValueError).
    """
    value = settings.get(name)
    if value is None:  # settings without the project's defaults (a component under test)
        value = SPEC[name].default
    if normalise is not None and isinstance(value, str):
        value = normalise(value)
    return check_value(SPEC[name], value)


def _names(settings: Any) -> list[str]:
    try:
        return [str(name) for name in settings]
    except TypeError:
        return []


def check_value(spec: Setting, value: Any) -> Any:
    """``value`` parsed as ``spec`` says, or SettingsError naming setting, value and fix."""
    # Only empty is unset: components read the text "None" as text (a folder named None),
    # and " " as a value too.
    unset = value is None or value == ""
    if unset and spec.optional:
        return None
    try:
        return CHECKERS[spec.kind](spec, value)
    except SettingsError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        shown = "(hidden)" if spec.secret else excerpt(value)
        detail = f" ({exc})" if isinstance(exc, Why) else ""
        raise SettingsError(
            f"-s {spec.name}={shown}: {spec.name} takes {spec.allowed(unset=False)}{detail}"
        ) from None


def _number(spec: Setting, number: float) -> float:
    if spec.zero_is_off and number == 0:
        return number
    if spec.minimum is not None and number < spec.minimum:
        raise ValueError
    if spec.maximum is not None and number > spec.maximum:
        raise ValueError
    return number


def _check_int(spec: Setting, value: Any) -> int:
    number = parse_int(value)
    _number(spec, number)
    return number


def _check_float(spec: Setting, value: Any) -> float:
    return _number(spec, parse_float(value))


def _check_choice(spec: Setting, value: Any) -> str | None:
    if value is None and spec.optional:
        return None
    # Exactly as written: components compare the text as it is (VIDEO_LENGTH is no field).
    if not isinstance(value, str) or value not in spec.choices:
        raise ValueError
    return value


def _check_text(spec: Setting, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError
    if value != value.strip():
        raise Why("remove the spaces or line breaks around the value")
    return value


def _check_url(spec: Setting, value: Any) -> str:
    text = _check_text(spec, value)
    if any(c.isspace() for c in text) or invisible_at(text) is not None:
        raise Why("no spaces or invisible characters in a URL")
    scheme, _, rest = text.partition("://")
    if scheme not in ("http", "https") or not rest.strip("/"):
        raise Why("e.g. https://open.tiktokapis.com")
    return text


def _check_date(spec: Setting, value: Any) -> Any:
    try:
        day = parse_date(value)
    except (ValueError, TypeError):
        raise Why("write the date as YYYY-MM-DD") from None
    try:
        return check_day(day)
    except ValueError as exc:
        raise Why(str(exc)) from None


def _parse_dict(value: Any) -> dict:
    if isinstance(value, str):
        import json

        text = value.strip()
        try:
            value = json.loads(text)
        except ValueError:
            raise Why("not valid JSON") from None
    if hasattr(value, "copy_to_dict"):  # Scrapy's BaseSettings
        value = value.copy_to_dict()
    if not isinstance(value, dict):
        raise Why("not an object")
    return value


def _check_quota(spec: Setting, value: Any) -> dict[str, int]:
    limits = _parse_dict(value)
    checked = {}
    for key, limit in limits.items():
        if key not in spec.choices:
            raise Why(f'unknown family "{excerpt(key, 30)}"{did_you_mean(key, spec.choices)}')
        try:
            checked[key] = parse_int(limit)
        except ValueError:
            raise Why(f"{key}: {excerpt(limit, 30)} is not a whole number") from None
        if not 0 <= checked[key] <= (spec.maximum or 10**9):
            raise Why(f"{key}: {excerpt(limit, 30)} is out of range")
    return checked


def _check_sandbox(spec: Setting, value: Any) -> Any:
    from tiktok_scrapy.sandbox.options import OptionsError, SandboxOptions

    options = _parse_dict(value)
    try:
        return SandboxOptions.from_dict(options)
    except OptionsError as exc:
        raise Why(excerpt(str(exc), 160)) from None


def _check_template(spec: Setting, value: Any) -> str:
    text = _check_text(spec, value)
    try:
        used = template_fields(text)
    except ValueError:
        raise Why("unbalanced { } — double them ({{ }}) for literal braces") from None
    unknown = [n for n in used if n not in spec.placeholders]
    if unknown:
        raise Why(f"unknown placeholder {{{excerpt(unknown[0], 30)}}}")
    return text


def _check_jobdir(spec: Setting, value: Any) -> Path | None:
    text = _check_text(spec, value)
    path = expand_user(Path(text))
    if path.exists():
        if not path.is_dir():
            raise Why("it is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise Why("the folder is not writable")
        return path
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise Why(f"{excerpt(str(parent), 60)} is a file, so the folder cannot be made")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise Why(f"cannot create it: {excerpt(str(parent), 60)} is not writable")
    return path


def _check_mongodb_uri(spec: Setting, value: Any) -> str:
    text = _check_text(spec, value).strip()
    if not text.startswith(("mongodb://", "mongodb+srv://")):
        raise ValueError
    return text


def _check_database(spec: Setting, value: Any) -> str:
    text = _check_text(spec, value)
    if any(c in text for c in ' /\\."$\x00') or len(text) > 63:
        raise ValueError
    return text


def _check_import(spec: Setting, value: Any) -> Any:
    if callable(value):
        return value  # Scrapy's load_object takes the object itself too
    text = _check_text(spec, value).strip()
    parts = text.split(".")
    if len(parts) < 2 or not all(p.isidentifier() for p in parts):
        raise ValueError
    return text


def _check_log_level(spec: Setting, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # logging's numeric levels
    if value not in spec.choices:  # logging takes the names in capitals, exactly
        raise ValueError
    return value


def _check_bool(spec: Setting, value: Any) -> bool:
    return parse_bool(value)


CHECKERS = {
    "int": _check_int,
    "float": _check_float,
    "bool": _check_bool,
    "choice": _check_choice,
    "text": _check_text,
    "url": _check_url,
    "date": _check_date,
    "quota": _check_quota,
    "sandbox": _check_sandbox,
    "template": _check_template,
    "path": _check_text,
    "jobdir": _check_jobdir,
    "mongodb_uri": _check_mongodb_uri,
    "database": _check_database,
    "import": _check_import,
    "log_level": _check_log_level,
}
