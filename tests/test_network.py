"""The network spider end to end: a snowball crawl equals the sandbox's graph within caps."""

from __future__ import annotations

from collections import Counter

import pytest
from inprocess import run_crawl_inprocess

from tiktok_scrapy.sandbox.dataset import Dataset, UserError

pytestmark = pytest.mark.integration

SEEDS = ["user_56cfd741", "user_373e2190"]
CONFIG = {
    "seeds": SEEDS,
    "direction": "following",
    "depth": 2,
    "max_users_per_level": 12,
    "max_edges_per_user": 15,
}


def _clean(name: str) -> str:
    return name.replace("\x00", "")  # the validation pipeline strips NUL bytes


def expected_network(dataset: Dataset, config: dict, levels_out: dict | None = None) -> tuple:
    """(edges, nodes) of a breadth-first snowball with the config's caps, from the truth;
    ``levels_out`` receives each node's level."""
    kinds = ["followers", "following"] if config["direction"] == "both" else [config["direction"]]
    levels, known, edges = [list(config["seeds"])], set(config["seeds"]), set()
    for level in range(config["depth"]):
        found: list[str] = []
        for username in sorted(levels[level]):
            for kind in kinds:
                try:
                    listed = getattr(dataset, kind)(username)[: config["max_edges_per_user"]]
                except UserError:
                    listed = []
                for _, account in listed:
                    other = account["username"]
                    edges.add((other, username) if kind == "followers" else (username, other))
                    if other not in known and other not in found:
                        found.append(other)
        levels.append(found[: config["max_users_per_level"]])
        known.update(levels[-1])
    if levels_out is not None:
        levels_out.update({_clean(n): i for i, level in enumerate(levels) for n in level})
    return {(_clean(s), _clean(t)) for s, t in edges}, {_clean(n) for n in known}


def _got(result) -> tuple[set, set]:
    edges = {(e["source"], e["target"]) for e in result.of("follow_edges")}
    return edges, {u["username"] for u in result.of("users")}


def test_depth_2_crawl_is_the_sandbox_graph_within_the_caps(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process()
    result = run_crawl_inprocess("network", CONFIG, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    edges, nodes = expected_network(sandbox.dataset, CONFIG)
    got_edges, got_users = _got(result)
    assert got_edges == edges
    assert len(result.of("follow_edges")) == len(edges)  # each edge once
    hidden = {_clean(n) for n in sandbox.dataset.hidden_users}
    assert got_users == nodes - hidden  # user info for every node that has it
    assert len(nodes) == 2 + 12 + 12  # both capped levels were filled
    per_endpoint = {}
    for request in sandbox.requests():
        per_endpoint[request["endpoint"]] = per_endpoint.get(request["endpoint"], 0) + 1
    assert per_endpoint == {"users": 26, "following": 14}  # 2+12 lists, one page each
    assert result.stats["tiktok/network/level_2/users"] == 12
    assert (result.outdir / "report.html").exists()
    levels = {u["username"]: u["level"] for u in result.of("users")}
    assert {levels[s] for s in SEEDS if s in levels} == {0}
    assert sorted(Counter(levels.values())) == [0, 1, 2]
    expected_levels: dict[str, int] = {}
    expected_network(sandbox.dataset, CONFIG, expected_levels)
    assert levels == {name: expected_levels[name] for name in levels}


def test_budget_stop_then_resume_completes_the_same_graph(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process()
    config = {**CONFIG, "direction": "both", "max_requests": 20}
    jobdir = {"JOBDIR": str(tmp_path / "job")}
    first = run_crawl_inprocess("network", config, sandbox.url, tmp_path, settings=jobdir)
    assert first.stats["finish_reason"] == "max_requests", first.log[-3000:]
    second = run_crawl_inprocess(
        "network", {**config, "max_requests": 1000}, sandbox.url, tmp_path, settings=jobdir
    )
    assert second.returncode == 0 and second.stats["finish_reason"] == "finished"
    edges, nodes = expected_network(sandbox.dataset, config)
    got_edges, got_users = _got(second)  # both runs append to the same output folder
    assert got_edges == edges
    assert got_users == nodes - {_clean(n) for n in sandbox.dataset.hidden_users}
