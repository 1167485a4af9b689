"""Command-line help: a spider's config keys in ``crawl -h``, ``scrapy list`` descriptions,
and ``scrapy validate`` to check a config without planning or crawling."""

from __future__ import annotations

import subprocess
import sys

import pytest
from crawling import REPO, env_for_subprocess

from tiktok_scrapy.commands.crawl import spider_in_argv
from tiktok_scrapy.config import SPIDER_CONFIGS
from tiktok_scrapy.config_help import config_keys


def scrapy(*argv: str, cwd=REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *argv],
        cwd=cwd,
        env=env_for_subprocess(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_spider_is_found_on_the_command_line():
    assert spider_in_argv(["scrapy", "videos", "-h"]) == "videos"
    assert spider_in_argv(["scrapy", "-s", "A=1", "-a", "x=y", "users", "-h"]) == "users"
    assert spider_in_argv(["scrapy", "crawl", "network", "--help"]) == "network"
    assert spider_in_argv(["scrapy", "-h"]) is None


def test_every_key_of_every_spider_is_listed():
    for spider, model in SPIDER_CONFIGS.items():
        keys = {k for k, _, _ in config_keys(spider)}
        assert keys == set(model.model_fields) - {"warnings"}, spider
    meanings = dict((k, m) for k, _, m in config_keys("videos"))
    assert "first UTC day" in meanings["start_date"]  # from docs/configuration.md


def test_crawl_help_lists_the_spiders_config_keys():
    run = scrapy("crawl", "videos", "-h")
    assert run.returncode == 0, run.stderr
    assert "Config keys of the videos spider" in run.stdout
    assert "  hashtags " in run.stdout and "  window_days " in run.stdout
    assert "--set NAME=VALUE" in run.stdout  # Scrapy's own help is still there


def test_list_describes_spiders_but_pipes_plain_names(tmp_path):
    plain = scrapy("list")
    assert plain.returncode == 0 and "videos" in plain.stdout.split()
    assert all(" " not in line for line in plain.stdout.splitlines())  # scrapyd reads this
    long = scrapy("list", "--long")
    line = next(x for x in long.stdout.splitlines() if x.startswith("network "))
    assert "snowball" in line


@pytest.mark.parametrize(
    ("args", "status", "text"),
    [
        (["-a", "config=quickstart"], 0, "OK: a valid videos config (query id quickstart)"),
        (["-a", "config=quickstart", "-a", "max_count=500"], 2, "must be at most 100"),
        (["-a", "config=nope_no_such"], 2, "error:"),
    ],
)
def test_validate(args, status, text):
    run = scrapy("validate", "videos", *args)
    assert run.returncode == status, run.stdout + run.stderr
    assert text in run.stdout + run.stderr
    if status:
        assert len(run.stderr.strip().splitlines()) == 1
