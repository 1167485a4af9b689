"""Project settings module (SCRAPY_SETTINGS_MODULE): only what Scrapy reads before add-ons.

Every default of this project lives in ``tiktok_scrapy/default_settings.py`` (our own
settings are declared, with their defaults, in ``settings_spec.py``; docs/settings.md is
generated from it). The project's add-on, registered below, applies them at "addon"
priority when a crawl starts, so anything set here, in a spider's ``custom_settings``, with
``-s NAME=value`` or in a scrapyd job overrides them — put your own values here.

What stays here, and why: the bot's name and where its spiders and commands are (read by
the ``scrapy`` command line before any crawl); ``ADDONS`` (what applies the rest); the
reactor and the log level (installed and configured when the process starts, before any
add-on runs); ``SPIDER_CONTRACTS`` (``scrapy check`` reads it without building a crawl).
"""

from __future__ import annotations

from tiktok_scrapy.default_settings import LOG_LEVEL, SPIDER_CONTRACTS, TWISTED_REACTOR

BOT_NAME = "tiktok_scrapy"
SPIDER_MODULES = ["tiktok_scrapy.spiders"]
NEWSPIDER_MODULE = "tiktok_scrapy.spiders"
COMMANDS_MODULE = "tiktok_scrapy.commands"

ADDONS = {
    # The project's defaults (default_settings.py), then the settings a crawl derives from
    # its spider and config: the sandbox (TIKTOK_SANDBOX), the output folder, the default
    # per-item-type JSON Lines feeds, the config's limits.
    "tiktok_scrapy.addons.TikTokAddon": 0,
    # CASSETTE_MODE=record|replay: HTTP cache storage that records/replays cassettes.
    "tiktok_scrapy.cassettes.CassetteAddon": 10,
}

__all__ = ["LOG_LEVEL", "SPIDER_CONTRACTS", "TWISTED_REACTOR"]
