"""The project's settings for tests, in one place (instead of a copy per test file).

- ``project_settings(**overrides)``: what a ``scrapy`` command sees — the project's
  settings module, the project's defaults (``tiktok_scrapy.default_settings``, at "addon"
  priority, as the add-on applies them) and ``overrides`` at "cmdline" priority, like ``-s``.
- ``settings_dict(*prefixes, **overrides)``: the defaults of our own settings as a plain
  dict plus ``overrides``, for ``scrapy.utils.test.get_crawler(settings_dict=...)`` when a
  component is built without a crawl (so without the add-on). ``prefixes`` narrow it
  (e.g. ``"TIKTOK_"``); the default is every ``TIKTOK_``/``MONGODB_``/``CASSETTE_`` setting.

``tests/conftest.py`` offers both as fixtures of the same names.
"""

from __future__ import annotations

import copy
from typing import Any

from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from tiktok_scrapy.default_settings import DEFAULTS, apply_defaults
from tiktok_scrapy.settings_spec import PREFIXES


def project_settings(**overrides: Any) -> Settings:
    settings = get_project_settings().copy()
    apply_defaults(settings)
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


def settings_dict(*prefixes: str, **overrides: Any) -> dict[str, Any]:
    wanted = prefixes or PREFIXES
    values = {k: copy.deepcopy(v) for k, v in DEFAULTS.items() if k.startswith(wanted)}
    values.update(overrides)
    return values
