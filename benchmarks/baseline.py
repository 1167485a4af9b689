"""``--baseline REF``: CPU per video of this checkout and of commit REF, in the same run.

A change that should not cost CPU (a refactoring) is judged by two rows measured side by
side, not against a number from another day: REF is checked out into a temporary git
worktree (nothing installed: the same virtualenv, the worktree first on ``PYTHONPATH``),
and the throughput crawl of this checkout and of REF run in turn, ``rounds`` times each,
against the one sandbox. Each side keeps its run with the least CPU (other processes only
ever add to it), less its own start-up cost (an idle crawl), and the table prints both
and their ratio.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO, Crawl, Sandbox, run_crawl, scratch


def bench_baseline(
    sandbox: Sandbox,
    table: Any,
    ref: str,
    config: dict[str, Any],
    idle_config: dict[str, Any],
    rounds: int = 3,
) -> None:
    sandbox.admin("/admin/options", {"latency_ms": 0})
    print(f"baseline: CPU per video, this checkout against {ref}", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="tiktok-bench-baseline-"))
    worktree = folder / "code"
    added = subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(worktree), ref],
        capture_output=True,
        text=True,
    )
    if added.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        detail = (added.stderr.strip().splitlines() or ["git worktree add failed"])[-1]
        raise SystemExit(f"--baseline {ref}: {detail} (give a commit, tag or branch of this repo)")
    try:
        sides = {"this checkout": REPO, ref: worktree}
        best: dict[str, Crawl] = {}
        idle: dict[str, float] = {}
        for name, code in sides.items():
            idle[name] = run_crawl(sandbox, idle_config, scratch("idle"), code=code).cpu
            run_crawl(sandbox, config, scratch("warm"), {"CLOSESPIDER_ITEMCOUNT": 1}, code=code)
        for _ in range(rounds):
            for name, code in sides.items():
                crawl = run_crawl(sandbox, config, scratch("baseline"), code=code)
                if crawl.returncode != 0 or not crawl.items:
                    raise SystemExit(f"baseline crawl ({name}) failed:\n{crawl.log[-2000:]}")
                if name not in best or crawl.cpu < best[name].cpu:
                    best[name] = crawl
        rates = {
            name: crawl.items / max(crawl.cpu - idle[name], 1e-9) for name, crawl in best.items()
        }
        ours, theirs = rates["this checkout"], rates[ref]
        for name, rate in rates.items():
            crawl = best[name]
            table.add(
                f"CPU per video, {name}",
                f"{crawl.items} videos in {crawl.cpu - idle[name]:.2f} crawler CPU-s "
                f"(best of {rounds}, runs alternated)",
                f"{rate:,.0f} videos per crawler CPU-s",
            )
        table.add(
            f"CPU per video: this checkout / {ref}",
            f"{ours:,.0f} / {theirs:,.0f} videos per CPU-s",
            f"this checkout costs {theirs / ours:.2f}x {ref}'s CPU per video",
        )
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(worktree)],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)
