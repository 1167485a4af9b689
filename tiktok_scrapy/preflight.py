"""Everything checked before a crawl starts: the spider's name, settings, ``-a`` values,
the config and its input files.

``scrapy crawl`` (and ``scrapy plan``) call :func:`preflight` before Scrapy builds
anything, so every bad input is one line — what, where, how to fix it — and exit status 2,
never a traceback and never a request sent. The fuzz tests call the same function.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tiktok_scrapy.api.query import did_you_mean
from tiktok_scrapy.config import ConfigError, CrawlConfig, load_config
from tiktok_scrapy.settings_check import SettingsError, check_settings
from tiktok_scrapy.storage.backend import backend
from tiktok_scrapy.text import excerpt

# -a arguments the crawl command and the spider read themselves (not config keys).
FLAG_ARGS = ("dry_run", "force")
FLAG_TRUE = frozenset({"1", "true", "yes", "on"})  # what the spider's force reads as true
FLAG_FALSE = frozenset({"", "0", "false", "no", "off"})
BAD_INPUT = (ConfigError, SettingsError)


def check_spider(name: str, known: Iterable[str]) -> None:
    """ConfigError naming close matches and every spider when ``name`` is not one."""
    names = sorted(known)
    if name not in names:
        raise ConfigError(
            f'no spider "{excerpt(name, 40)}"{did_you_mean(name, names)} — spiders: '
            f"{', '.join(names)} (see `scrapy list`)"
        )


def flag(spargs: Mapping[str, Any], name: str) -> bool:
    """An ``-a name=true|false`` flag; anything else is a ConfigError."""
    value = spargs.get(name)
    text = "" if value is None else str(value).strip().lower()
    if text in FLAG_TRUE:
        return True
    if text in FLAG_FALSE:
        return False
    raise ConfigError(f"-a {name}={excerpt(value)}: give true or false")


def config_overrides(spargs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``-a`` values that are config keys (scrapyd's ``_job`` and flags excluded)."""
    return {
        k: v for k, v in spargs.items() if not k.startswith("_") and k not in ("config", *FLAG_ARGS)
    }


def preflight(
    spider: str,
    spargs: Mapping[str, Any],
    settings: Any,
    spiders: Iterable[str] | None = None,
    *,
    read_inputs: bool = True,
) -> CrawlConfig:
    """The validated config of a crawl, or ConfigError/SettingsError in one line.

    ``spiders``: the names of the project's spiders (checked when given).
    """
    if spiders is not None:
        check_spider(spider, spiders)
    check_project_settings(settings)
    for name in FLAG_ARGS:
        flag(spargs, name)
    config = load_config(spider, spargs.get("config"), config_overrides(spargs))
    if read_inputs and hasattr(config, "inputs"):  # input files are read now, not mid-crawl
        config.inputs()
    return config


def check_project_settings(settings: Any) -> None:
    """Every setting as declared, then what one setting alone cannot tell (the storage
    backend ``mongodb`` without a URI): SettingsError in one line."""
    check_settings(settings)
    backend(settings)


def one_line(error: BaseException) -> str:
    """The error's message as one line (its reason for CloseSpider)."""
    text = str(getattr(error, "reason", None) or error)
    return " ".join(part.strip() for part in text.splitlines() if part.strip())
