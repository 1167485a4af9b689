"""The project's defaults: one module, applied at "addon" priority, derived from the spec."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from crawling import env_for_subprocess
from scrapy.settings import Settings
from settings_fixture import project_settings

from tiktok_scrapy import settings as settings_module
from tiktok_scrapy.addons import TikTokAddon
from tiktok_scrapy.default_settings import DEFAULTS, FROM_SPEC, apply_defaults
from tiktok_scrapy.settings_spec import PREFIXES, SETTINGS

ROOT = Path(__file__).resolve().parent.parent
GATE = "tiktok_scrapy.middlewares.gate.ChainGateMiddleware"


def test_settings_module_keeps_only_what_scrapy_reads_before_add_ons() -> None:
    names = {n for n in dir(settings_module) if n.isupper()}
    assert names == {
        "ADDONS",
        "BOT_NAME",
        "COMMANDS_MODULE",
        "LOG_LEVEL",
        "NEWSPIDER_MODULE",
        "SPIDER_CONTRACTS",
        "SPIDER_MODULES",
        "TWISTED_REACTOR",
    }
    for name in names & DEFAULTS.keys():  # imported from default_settings, not restated
        assert getattr(settings_module, name) is DEFAULTS[name] or name == "LOG_LEVEL"


def test_our_defaults_are_the_spec_s() -> None:
    for spec in SETTINGS:
        if spec.name.startswith(PREFIXES):
            assert DEFAULTS[spec.name] == spec.default, spec.name
    assert FROM_SPEC["LOG_LEVEL"] == settings_module.LOG_LEVEL


def test_defaults_sit_below_every_user_setting() -> None:
    settings = Settings()
    settings.set("TIKTOK_RETRY_TIMES", 2, priority="project")  # a user's settings.py
    settings.set("TIKTOK_OUTAGE_WINDOW", 7, priority="cmdline")
    settings.set("ROBOTSTXT_OBEY", True, priority="spider")
    apply_defaults(settings)
    assert settings.getint("TIKTOK_RETRY_TIMES") == 2
    assert settings.getint("TIKTOK_OUTAGE_WINDOW") == 7
    assert settings.getbool("ROBOTSTXT_OBEY") is True
    assert settings.get("TIKTOK_OUTPUT_DIR") == DEFAULTS["TIKTOK_OUTPUT_DIR"]
    assert settings.getpriority("TIKTOK_OUTPUT_DIR") == 15  # "addon"
    assert settings.getbool("RETRY_ENABLED") is False  # Scrapy's default replaced


def test_component_dicts_in_settings_py_add_to_ours_and_on_the_command_line_replace() -> None:
    settings = Settings()
    settings.set("DOWNLOADER_MIDDLEWARES", {"my.Middleware": 10, GATE: None}, priority="project")
    apply_defaults(settings)
    apply_defaults(settings)  # idempotent (the command, then the add-on)
    middlewares = settings.getdict("DOWNLOADER_MIDDLEWARES")
    assert middlewares["my.Middleware"] == 10
    assert middlewares[GATE] is None
    assert middlewares["tiktok_scrapy.middlewares.token.TokenMiddleware"] == 560
    settings = Settings()
    settings.set("EXTENSIONS", {}, priority="cmdline")
    apply_defaults(settings)
    assert settings.getdict("EXTENSIONS") == {}


def test_the_add_on_applies_them() -> None:
    settings = Settings()
    TikTokAddon(SimpleNamespace(spider=None)).update_settings(settings)  # type: ignore[arg-type]
    assert settings.get("TIKTOK_API_URL") == DEFAULTS["TIKTOK_API_URL"]
    assert settings.getdict("DOWNLOADER_MIDDLEWARES")[GATE] == 530


def test_the_shared_fixture_is_what_a_command_sees() -> None:
    settings = project_settings(TIKTOK_RETRY_TIMES=1)
    assert settings.getint("TIKTOK_RETRY_TIMES") == 1
    assert settings.get("TIKTOK_STATE_DIR") == DEFAULTS["TIKTOK_STATE_DIR"]


def test_commands_that_run_no_crawl_see_the_defaults_too() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "scrapy", "settings", "--get", "TIKTOK_OUTPUT_DIR"],
        cwd=ROOT,
        env=env_for_subprocess(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert shown.stdout.strip() == DEFAULTS["TIKTOK_OUTPUT_DIR"]
