"""``scrapy settings``: Scrapy's, showing the project's defaults (default_settings.py) too."""

from __future__ import annotations

from scrapy.commands.settings import Command as ScrapySettingsCommand

from tiktok_scrapy.commands import ProjectDefaults


class Command(ProjectDefaults, ScrapySettingsCommand):
    pass
