"""Where a crawl's data goes — MongoDB or JSON Lines feeds — decided in one place.

``TIKTOK_STORAGE_BACKEND`` names the backend, as scrapyd's ``jobstorage`` names its job
storage: ``auto`` (the default) is MongoDB when ``MONGODB_URI`` is set (setting or
environment variable) and JSON Lines feeds otherwise; ``mongodb`` requires the URI;
``feeds`` writes JSON Lines even when a URI is set. Every component that asks "is MongoDB
on?" (the add-on's feeds, the MongoDB pipeline, page records, the quota ledger, refresh and
purge) calls :func:`backend` (or :func:`mongodb_uri`, which follows it). No pymongo import.
"""

from __future__ import annotations

import os
from typing import Any

from tiktok_scrapy.settings_check import SettingsError, check_value
from tiktok_scrapy.settings_spec import SPEC

SETTING = "TIKTOK_STORAGE_BACKEND"
AUTO, MONGODB, FEEDS = "auto", "mongodb", "feeds"  # its choices (settings_spec declares them)


def configured_uri(settings: Any) -> str | None:
    """MONGODB_URI from the settings, else from the environment (whatever the backend)."""
    return settings.get("MONGODB_URI") or os.environ.get("MONGODB_URI") or None


def backend(settings: Any) -> str:
    """``"mongodb"`` or ``"feeds"``: the storage backend the settings name.

    An unknown ``TIKTOK_STORAGE_BACKEND``, or ``mongodb`` without a URI, is a one-line
    ``SettingsError`` naming the setting and what it takes.
    """
    value = settings.get(SETTING)
    # Unset (settings without the project's defaults, e.g. a component under test): auto.
    choice = AUTO if value is None or value == "" else check_value(SPEC[SETTING], value)
    uri = configured_uri(settings)
    if choice == AUTO:
        return MONGODB if uri else FEEDS
    if choice == MONGODB and not uri:
        raise SettingsError(
            f"-s {SETTING}={MONGODB}: set MONGODB_URI too (setting or environment variable)"
        )
    return choice


def mongodb_uri(settings: Any) -> str | None:
    """The MongoDB URI when the backend is MongoDB, else None (storage in feeds)."""
    return configured_uri(settings) if backend(settings) == MONGODB else None
