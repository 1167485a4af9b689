"""Check the project's enumerated settings before a crawl starts.

Components read their settings when Scrapy builds them, mid-start-up, where a bad value
becomes a traceback. ``scrapy crawl`` calls :func:`check_settings` first so that a typo in
``-s NAME=value`` is one line naming the setting and the values it takes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

CHOICES: dict[str, tuple[str, ...]] = {
    "TIKTOK_QUOTA_ON_EXHAUSTED": ("stop", "wait"),
    "CASSETTE_MODE": ("record", "replay", "off"),
}


class SettingsError(ValueError):
    """A setting with a value the project cannot use; str() is one line for people."""


def check_settings(settings: Any) -> None:
    """Raise SettingsError for the first unusable value among the settings checked here."""
    for name, choices in CHOICES.items():
        value = str(settings.get(name) or "").strip().lower()
        if value and value not in choices:
            raise SettingsError(f"-s {name}={settings.get(name)}: use one of {', '.join(choices)}")
    url = str(settings.get("TIKTOK_API_URL") or "")
    if not url.startswith(("http://", "https://")):
        raise SettingsError(
            f"-s TIKTOK_API_URL={url}: give the API's base URL, e.g. https://open.tiktokapis.com"
        )
    today = settings.get("TIKTOK_TODAY")
    if today:
        try:
            date.fromisoformat(str(today))
        except ValueError:
            raise SettingsError(
                f"-s TIKTOK_TODAY={today}: write the date as YYYY-MM-DD (UTC)"
            ) from None
    for name in ("TIKTOK_MAX_REQUESTS_PER_SECOND", "TIKTOK_RETRY_TIMES"):
        try:
            if float(settings.get(name) or 0) < 0:
                raise ValueError
        except (TypeError, ValueError):
            raise SettingsError(f"-s {name}={settings.get(name)}: give a number >= 0") from None
