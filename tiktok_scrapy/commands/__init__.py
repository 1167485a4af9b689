"""The project's ``scrapy`` commands (COMMANDS_MODULE).

A command that runs no crawl runs no add-on, so :class:`ProjectDefaults` gives its
settings the project's defaults as ``TikTokAddon`` gives a crawl's
(``tiktok_scrapy.default_settings``, at "addon" priority: ``-s`` still wins).
"""

from __future__ import annotations

import argparse
from typing import Any

from tiktok_scrapy.default_settings import apply_defaults


class ProjectDefaults:
    """Mixin for a ScrapyCommand (listed first): the project's defaults in ``self.settings``.

    Not a ScrapyCommand itself, so Scrapy does not list this module as a command.
    """

    settings: Any

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)  # type: ignore[misc]
        apply_defaults(self.settings)
