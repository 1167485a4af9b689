"""docs/recipes.md's event recipe, run as written: videos → comments → users → followers.

The four sandbox commands are read from the document itself and run in a scratch folder
against one sandbox (instead of one in-process sandbox each), so the recipe a researcher
copies is the recipe that is tested. Each step is checked against the dataset's truth.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from crawling import REPO, SANDBOX_KEY, SANDBOX_SECRET, CrawlResult, collect, env_for_subprocess

from tiktok_scrapy.config import VideosConfig, load_config
from tiktok_scrapy.sandbox import SandboxThread
from tiktok_scrapy.sandbox.dataset import Dataset, UserError

pytestmark = pytest.mark.integration

RECIPES = REPO / "docs" / "recipes.md"
SANDBOX_FLAG = "-s TIKTOK_SANDBOX=true"


def recipe_commands(marker: str) -> list[str]:
    """The ``scrapy crawl`` lines of the code block after ``<!-- recipe:<marker> -->``."""
    text = RECIPES.read_text(encoding="utf-8")
    block = re.search(rf"<!-- recipe:{marker} -->\s*```sh\n(.*?)```", text, re.DOTALL)
    assert block, f"docs/recipes.md has no recipe:{marker} block"
    return [
        line.strip()
        for line in block.group(1).splitlines()
        if line.strip().startswith("scrapy crawl")
    ]


def run_step(command: str, url: str, tmp: Path) -> CrawlResult:
    """One documented command, pointed at the test's sandbox; its job folder's results."""
    argv = shlex.split(command.replace(SANDBOX_FLAG, ""))
    spider = argv[2]
    settings = {
        "TIKTOK_API_URL": url,
        "TIKTOK_CLIENT_KEY": SANDBOX_KEY,
        "TIKTOK_CLIENT_SECRET": SANDBOX_SECRET,
        "TIKTOK_QUOTA_LEDGER": str(tmp / "quota.sqlite"),
        "TIKTOK_MAX_REQUESTS_PER_SECOND": "0",
    }
    extra = [arg for key, value in settings.items() for arg in ("-s", f"{key}={value}")]
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", *argv[1:], *extra],
        cwd=tmp,
        env=env_for_subprocess(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    jobs = sorted((tmp / "data" / "flood" / spider).glob("*"))
    assert len(jobs) == 1, f"{spider}: expected one job folder, got {jobs}\n{proc.stderr[-3000:]}"
    return collect(proc.returncode, proc.stderr + proc.stdout, jobs[0])


def sent(item: dict, key: str) -> object:
    """A field as the API sent it (the pipeline strips NUL bytes, keeping the original)."""
    return item.get("_original", {}).get(key, item.get(key))


def public_followers(ds: Dataset, names: set[str]) -> tuple[Counter, set[str]]:
    """(follow edges a perfect crawl yields, accounts whose followers are private)."""
    edges: Counter = Counter()
    refused: set[str] = set()
    for name in names:
        try:
            edges.update((f["username"], name) for _, f in ds.followers(name))
        except UserError:
            refused.add(name)
    return edges, refused


def test_the_real_api_recipe_is_the_sandbox_recipe_without_the_switch() -> None:
    sandbox_steps = recipe_commands("sandbox")
    assert [c.split()[2] for c in sandbox_steps] == ["videos", "comments", "users", "followers"]
    assert all(SANDBOX_FLAG in c for c in sandbox_steps)
    assert recipe_commands("real") == [c.replace(" " + SANDBOX_FLAG, "") for c in sandbox_steps]


def test_recipe_chain_on_the_sandbox(make_sandbox, tmp_path: Path) -> None:
    sandbox: SandboxThread = make_sandbox()
    ds = sandbox.dataset
    steps = recipe_commands("sandbox")

    # 1. videos: the quickstart config's query over its dates
    videos = run_step(steps[0], sandbox.url, tmp_path)
    assert videos.returncode == 0, videos.log[-3000:]
    config = load_config("videos", "quickstart")
    assert isinstance(config, VideosConfig)
    truth = ds.truth_videos(config.query, config.start_date, config.end_date)
    assert len(truth) > 20
    assert Counter(v["id"] for v in videos.of("videos")) == Counter(v["id"] for v in truth)

    # 2. comments of every video that has some, read from the videos folder
    comments = run_step(steps[1], sandbox.url, tmp_path)
    assert comments.returncode == 0, comments.log[-3000:]
    with_comments = [v["id"] for v in truth if v["comment_count"] > 0]
    assert 0 < len(with_comments) < len(truth)  # only_with_comments skips some
    expected = Counter(c["id"] for v in with_comments for c in ds.comments(v)[:1000])
    assert Counter(c["id"] for c in comments.of("comments")) == expected
    assert {p["input"] for p in comments.pages} == set(with_comments)

    # 3. users: every author once; withheld accounts are outcomes
    users = run_step(steps[2], sandbox.url, tmp_path)
    assert users.returncode == 0, users.log[-3000:]
    authors = {v["username"] for v in truth}
    found = {sent(u, "username") for u in users.of("users")}
    assert found == authors - ds.hidden_users
    assert len(users.of("users")) == len(found)
    assert users.stats.get("tiktok/outcomes/user_level", 0) == len(authors & ds.hidden_users)

    # 4. followers of the accounts the users step found
    followers = run_step(steps[3], sandbox.url, tmp_path)
    assert followers.returncode == 0, followers.log[-3000:]
    edges, refused = public_followers(ds, found)
    got = Counter((sent(e, "source"), sent(e, "target")) for e in followers.of("follow_edges"))
    assert got == edges
    assert sum(edges.values()) > 200  # several pages for some accounts
    assert followers.stats.get("tiktok/outcomes/user_level", 0) == len(refused)
    assert followers.stats["tiktok/quota/requests/follow"] == len(followers.pages)
    assert all(p["status"] == 200 for p in videos.pages + comments.pages + users.pages)
