"""The newcomer's path, as the docs write it: README's commands run as written (sandbox),
docs/deploy.md's scrapyd.conf parses the way scrapyd parses it, recipes promise nothing
that exists already."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import pytest
from crawling import REPO, env_for_subprocess

from tiktok_scrapy.demo import next_steps

README = REPO / "README.md"
SECTION = "## From the demo to your own crawl"


def readme_commands() -> list[str]:
    """The shell lines of the README's walk-through, comments stripped, in order."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) : text.index("\n## ", text.index(SECTION) + 5)]
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line:
                lines.append(line)
    return lines


def test_the_readme_says_how_to_get_the_scrapy_command():
    commands = readme_commands()
    first_scrapy = next(i for i, c in enumerate(commands) if c.startswith("scrapy "))
    activate = commands.index("source .venv/bin/activate")
    assert commands[0] == "make demo" and activate < first_scrapy
    assert "source .venv/bin/activate" in next_steps()  # the demo says it too


@pytest.mark.integration
def test_the_readme_walkthrough_runs_as_written(tmp_path):
    """make demo has made .venv (this test runs in it); every other line runs here."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    env = {
        **env_for_subprocess(),
        "HOME": str(tmp_path / "home"),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    for command in readme_commands():
        if command in ("make demo", "source .venv/bin/activate"):
            continue
        run = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert run.returncode == 0, f"{command}\n{run.stdout[-1500:]}\n{run.stderr[-1500:]}"
        if command.startswith("scrapy crawl"):  # the same command again resumes
            assert "Spider closed (finished)" in run.stderr
    out = tmp_path / "data" / "videos" / "my_query"
    for name in ("videos.jsonl", "report.html", "methods.md", "stats.json"):
        assert (out / name).exists(), name
    assert (tmp_path / "tables" / "videos.csv").exists()


def test_the_scrapyd_conf_in_deploy_md_parses_as_scrapyd_reads_it():
    text = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    block = re.search(r"```ini\n(\[scrapyd\].*?)```", text, re.DOTALL).group(1)
    parser = ConfigParser()  # what scrapyd 1.6 uses: no inline comment prefixes
    parser.read_string(block)
    values = dict(parser["scrapyd"])
    assert values["bind_address"] == "127.0.0.1" and values["http_port"] == "6800"
    assert values["jobs_dir"] == "/srv/tiktok/jobs" and values["items_dir"] == ""
    assert not [k for k, v in values.items() if ";" in v or "#" in v]


def test_recipes_promise_no_spider_that_exists():
    text = (REPO / "docs" / "recipes.md").read_text(encoding="utf-8")
    assert not re.search(r"\bcoming\b", text)
