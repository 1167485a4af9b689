"""``make bench``: the crawler against the standalone sandbox, as ratios to its limits.

    python -m benchmarks [--quick | --full] [--only speed,quota,throughput,memory,validation]
                         [--top 15] [--results FILE.md] [--keep] [--baseline REF]

Four measurements, each printed as a row with its goal and PASS/FAIL (see docs/benchmarks.md):
1. speed: a 30-day query, daily windows, ~10 pages a window at 200 ms latency, for
   CONCURRENT_REQUESTS 1/4/16 with TIKTOK_MAX_REQUESTS_PER_SECOND=0; wall time over the
   critical path (longest chain x latency) and over total pages x latency / concurrency.
2. quota: sandbox requests / pages needed, clean and killed (SIGKILL) + resumed 3 times.
3. throughput: videos/s at zero latency through parse + validation + JSONL (+ MongoDB with
   MONGODB_URI), per crawler CPU-second too, and a cProfile of the crawl.
4. memory: peak RSS of the crawl process at ~10k, 100k (and 1M with --full) videos.
5. adaptive: default (adaptive) windows on a suite of sparse to dense queries, requests
   sent / the fewest possible; a dense 15-day query at 2 s latency against TikTok's own
   client (benchmarks/adaptive.py).
6. validation: videos/s through the codebook check alone, against 10,000/s
   (benchmarks/validation.py; a test asserted it until it flaked on loaded machines).
7. baseline (with ``--baseline REF``): CPU per video of this checkout and of git commit REF,
   alternated in the same run (benchmarks/baseline.py); ``--only baseline`` for that alone.
Default ~4-5 min, --quick < 2 min, --full (~10 min) adds 1M videos and the default rate cap.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import platform
import pstats
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import (
    REPO,
    Crawl,
    Sandbox,
    cleanup,
    env,
    run_crawl,
    scratch,
    videos_config,
)

LATENCY = 0.2
SPEED_SCALE = 25  # ~1,000 videos/day: ~10 pages of 100 a daily window
MEMORY_SCALE = 300  # ~12,000 videos/day
CRITICAL_GOAL = 1.25
QUOTA_GOAL = 1.01
THROUGHPUT_GOAL = 5000
MEMORY_GOAL = 0.20


@dataclass(frozen=True)
class Profile:
    days: int  # of the speed/quota/throughput query
    sweep: tuple[int, ...]
    rate_cap_run: bool
    # label, days at MEMORY_SCALE, max_items. At least 16 daily chains in every run, so that
    # each has CONCURRENT_REQUESTS pages in flight and only the volume differs.
    memory: tuple[tuple[str, int, int | None], ...]
    repeats: int = 2  # throughput runs; the one with the least CPU counts
    kills: int = 3


PROFILES = {
    "quick": Profile(10, (4, 16), False, (("10k", 16, 10_000), ("50k", 16, 50_000)), repeats=1),
    "default": Profile(30, (1, 4, 16), False, (("10k", 16, 10_000), ("100k", 16, 100_000))),
    "full": Profile(
        30, (1, 4, 16), True, (("10k", 16, 10_000), ("100k", 16, 100_000), ("1M", 84, None))
    ),
}


class Table:
    """Result rows: what, measured, ratio/value against the goal, PASS/FAIL or blank."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, what: str, measured: str, ratio: str = "", verdict: str = "") -> None:
        self.rows.append((what, measured, ratio, verdict))
        print(f"  {what}: {measured} {ratio} {verdict}".rstrip(), flush=True)

    def markdown(self) -> str:
        lines = ["| measurement | measured | ratio / goal | verdict |", "|---|---|---|---|"]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in self.rows]
        return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _later(offset: int) -> str:
    from datetime import date, timedelta

    return (date(2024, 1, 1) + timedelta(days=offset)).isoformat()


def period(days: int) -> tuple[str, str]:
    return _later(0), _later(days - 1)


def chain_pages(crawl: Crawl) -> Counter[str]:
    """Pages per chain, from the crawl's page records."""
    counts: Counter[str] = Counter()
    path = crawl.outdir / "pages.jsonl" if crawl.outdir else None
    if path and path.exists():
        for line in path.read_text().splitlines():
            counts[json.loads(line)["chain"]] += 1
    return counts


def schedule_pages(lengths: list[int], slots: int) -> int:
    """Pages of latency to run chains of ``lengths`` pages, in that order, each started on
    the first of ``slots`` to come free (a chain's pages are sequential)."""
    free = [0] * max(1, min(slots, len(lengths)))
    for length in lengths:
        heapq.heappush(free, heapq.heappop(free) + length)
    return max(free)


def check(crawl: Crawl, what: str, reasons: tuple[str, ...] = ("finished",)) -> None:
    from tiktok_scrapy.verdict import exit_status

    reason = crawl.stats.get("finish_reason")
    expected = exit_status(reason, crawl.stats.get("tiktok/verdict"))
    if crawl.returncode != expected or reason not in reasons:
        sys.exit(
            f"{what}: crawl failed (exit {crawl.returncode}, "
            f"{crawl.stats.get('finish_reason')}):\n{crawl.log}"
        )


# --- 1. speed ------------------------------------------------------------------------------
def bench_speed(sandbox: Sandbox, profile: Profile, table: Table) -> Crawl:
    print(
        f"speed: {profile.days}-day query, daily windows, {LATENCY * 1000:.0f} ms latency, "
        "TIKTOK_MAX_REQUESTS_PER_SECOND=0",
        flush=True,
    )
    config = videos_config(*period(profile.days))
    clean: Crawl | None = None
    for concurrency in profile.sweep:
        sandbox.reset()
        crawl = run_crawl(
            sandbox,
            config,
            scratch(f"speed{concurrency}"),
            {
                "CONCURRENT_REQUESTS": concurrency,
                "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
                "TIKTOK_MAX_REQUESTS_PER_SECOND": 0,
            },
        )
        check(crawl, f"speed c={concurrency}")
        pages = chain_pages(crawl)
        total, longest = sum(pages.values()), max(pages.values())
        critical = longest * LATENCY
        spread = total * LATENCY / concurrency
        bound = max(critical, spread)
        ratio = crawl.elapsed / bound
        table.add(
            f"speed c={concurrency}: wall / max(critical path, pages x latency / c)",
            f"{crawl.elapsed:.2f} s crawl ({crawl.wall:.2f} s process, {crawl.cpu:.1f} CPU-s), "
            f"{total} pages, longest chain {longest}",
            f"{crawl.elapsed / critical:.2f}x critical ({critical:.1f} s), "
            f"{crawl.elapsed / spread:.2f}x pages/c ({spread:.1f} s); "
            f"{ratio:.2f}x bound (goal <= {CRITICAL_GOAL})"
            if concurrency == 16
            else f"{crawl.elapsed / critical:.2f}x critical ({critical:.1f} s), "
            f"{crawl.elapsed / spread:.2f}x pages/c ({spread:.1f} s)",
            verdict(ratio <= CRITICAL_GOAL) if concurrency == 16 else "",
        )
        if concurrency == 16:
            clean = crawl
            # No crawler knows how many pages a window holds before it ends. Chains taken
            # in config order by whichever slot is free, plus the token fetch every request
            # waits for, is what a perfect crawler with that knowledge gap could do.
            ordered = [pages[c] for c in sorted(pages)]
            in_order = (1 + schedule_pages(ordered, concurrency)) * LATENCY
            longest_first = 1 + schedule_pages(sorted(ordered, reverse=True), concurrency)
            table.add(
                "speed c=16: wall / a perfect schedule (token + chains in config order, "
                "each on the first free slot)",
                f"{in_order:.2f} s in order; {longest_first * LATENCY:.2f} s if window sizes "
                "were known (longest first)",
                f"{crawl.elapsed / in_order:.2f}x in order, "
                f"{crawl.elapsed / (longest_first * LATENCY):.2f}x longest first",
            )
            needed_rate = crawl.items / (CRITICAL_GOAL * bound)
            table.add(
                "speed c=16: what the goal needs",
                f"{crawl.items} videos in <= {CRITICAL_GOAL * bound:.1f} s",
                f">= {needed_rate:,.0f} videos/s on the crawler's one event-loop core "
                "(compare the throughput row)",
            )
            cap_floor = total / 8.0
            table.add(
                "default cap 8 req/s (implied)",
                f"floor {cap_floor:.1f} s = {total} pages / 8",
                f"{cap_floor / bound:.1f}x the c=16 bound: the cap, not latency, "
                "sets the pace above 8 x latency = 1.6 requests in flight",
            )
    if profile.rate_cap_run:
        sandbox.reset()
        crawl = run_crawl(
            sandbox, config, scratch("speedcap"), {"TIKTOK_MAX_REQUESTS_PER_SECOND": 8}
        )
        check(crawl, "speed with default cap")
        total = sum(chain_pages(crawl).values())
        table.add(
            "speed c=16, default cap 8 req/s (measured)",
            f"{crawl.elapsed:.2f} s crawl",
            f"{crawl.elapsed / (total / 8.0):.2f}x pages / 8",
        )
    if clean is None:
        sandbox.reset()
        clean = run_crawl(sandbox, config, scratch("clean"), {"TIKTOK_MAX_REQUESTS_PER_SECOND": 0})
        check(clean, "clean run")
    return clean


# --- 2. quota --------------------------------------------------------------------------------
def video_ids(outdir: Path) -> tuple[int, int]:
    """Lines and distinct ids in videos.jsonl."""
    path = outdir / "videos.jsonl"
    ids = [json.loads(line)["id"] for line in path.read_text().splitlines() if line]
    return len(ids), len(set(ids))


def bench_quota(sandbox: Sandbox, profile: Profile, clean: Crawl, table: Table) -> None:
    needed = int(clean.stats.get("tiktok/pages_needed", 0))
    ratio = clean.requests / needed
    table.add(
        "quota clean: requests / pages needed",
        f"{clean.requests} / {needed}",
        f"{ratio:.3f} (goal <= {QUOTA_GOAL})",
        verdict(ratio <= QUOTA_GOAL),
    )
    print(f"quota: SIGKILL and resume {profile.kills} times with JOBDIR", flush=True)
    sandbox.reset()
    work = scratch("resume")
    settings = {"JOBDIR": str(work / "job"), "TIKTOK_MAX_REQUESTS_PER_SECOND": 0}
    config = videos_config(*period(profile.days))
    runs = 0
    for k in range(1, profile.kills + 1):
        threshold = needed * k // (profile.kills + 1)
        crawl = run_crawl(
            sandbox, config, work, settings, kill_when=lambda t=threshold: sandbox.requests() >= t
        )
        runs += 1
        if crawl.returncode == 0:
            break  # finished before the kill
    final = run_crawl(sandbox, config, work, settings)
    check(final, "resumed crawl")
    sent = sandbox.requests()
    lines, distinct = video_ids(work / "out")
    _, clean_distinct = video_ids(clean.outdir)
    ratio = sent / needed
    # A kill costs at most one page per chain in flight (tests/test_resume.py checks it per
    # chain). In flight means sent, or received with its items not all handed on, so it can
    # be every unfinished chain, not only CONCURRENT_REQUESTS of them.
    chains = len(chain_pages(clean))
    bound = needed + runs * chains
    table.add(
        f"quota killed x{runs} + resumed: requests / pages needed",
        f"{sent} / {needed}; {distinct}/{clean_distinct} distinct videos, "
        f"{lines - distinct} duplicates; {(sent - needed) / max(runs, 1):.0f} pages a kill",
        f"{ratio:.3f} (<= 1 + {runs} kills x {chains} chains / {needed} = {bound / needed:.3f})",
        verdict(distinct == clean_distinct and sent <= bound),
    )


# --- 3. throughput ------------------------------------------------------------------------
# A query that matches nothing: one request, no items (start-up and shutdown cost).
IDLE_CONFIG = videos_config(
    "2024-01-01",
    "2024-01-01",
    {"and": [{"field_name": "hashtag_name", "operation": "EQ", "field_values": ["nosuchtag"]}]},
)


def bench_throughput(sandbox: Sandbox, profile: Profile, table: Table, top: int) -> None:
    sandbox.admin("/admin/options", {"latency_ms": 0})
    print("throughput: zero latency, parse + validation + JSONL", flush=True)
    config = videos_config(*period(profile.days))
    idle = run_crawl(
        sandbox,
        IDLE_CONFIG,
        scratch("idle"),
    )
    fixed_cpu = idle.cpu  # start-up + shutdown, paid once per process
    if idle.returncode != 0:
        sys.exit(f"idle crawl failed:\n{idle.log}")
    runs = [("JSONL", {})]
    floor: tuple[int, float] | None = None
    best_rate = 1.0
    uri = os.environ.get("MONGODB_URI")
    database = f"tiktok_bench_{uuid.uuid4().hex[:8]}"
    if uri:
        runs.append(("MongoDB", {"MONGODB_URI": uri, "MONGODB_DATABASE": database}))
    for label, settings in runs:
        run_crawl(sandbox, config, scratch("warm"), {"CLOSESPIDER_ITEMCOUNT": 1})
        # Best of `repeats` by CPU time: other processes on the machine only ever add to it.
        crawls = [
            run_crawl(sandbox, config, scratch("throughput"), settings)
            for _ in range(profile.repeats)
        ]
        for crawl in crawls:
            check(crawl, f"throughput {label}")
        crawl = min(crawls, key=lambda c: c.cpu)
        rate = crawl.items / crawl.elapsed
        crawler_cpu = max(crawl.cpu - fixed_cpu, 1e-9)
        per_core = crawl.items / crawler_cpu
        if label == "JSONL":
            best_rate = per_core
        if label == "JSONL":
            floor = scrapy_floor(crawl)
        table.add(
            f"throughput {label}: videos/s at 0 ms",
            f"{crawl.items} videos in {crawl.elapsed:.2f} s = {rate:,.0f}/s; crawler "
            f"{crawler_cpu:.2f} CPU-s (+{fixed_cpu:.1f} start-up), sandbox "
            f"{crawl.sandbox_cpu:.2f} CPU-s",
            f"{per_core:,.0f} videos per crawler CPU-s (goal >= {THROUGHPUT_GOAL:,})",
            verdict(per_core >= THROUGHPUT_GOAL),
        )
    if floor is not None:
        items, cpu = floor
        floor_rate = items / cpu
        table.add(
            "Scrapy's floor: a bare spider, the same videos as dicts, JSON Lines feed",
            f"{items} videos in {cpu:.2f} CPU-s = {floor_rate:,.0f} per CPU-s "
            "(nothing of ours; benchmarks/floor.py)",
            f"ours costs {floor_rate / best_rate:.2f}x the floor's CPU per video",
        )
    if uri:
        import pymongo

        pymongo.MongoClient(uri).drop_database(database)
    else:
        print("  (set MONGODB_URI to add a MongoDB row)")
    if top:
        profile_crawl(sandbox, config, top)


def scrapy_floor(crawl: Crawl) -> tuple[int, float] | None:
    """Run benchmarks/floor.py over a page of this crawl's videos (as the API sent them),
    as many times as the crawl had pages: Scrapy's own CPU for the same items."""
    videos_path = crawl.outdir / "videos.jsonl" if crawl.outdir else None
    if videos_path is None or not videos_path.exists():
        return None
    videos = []
    with videos_path.open() as lines:
        for line in lines:
            video = json.loads(line)
            for added in ("_crawl", "create_datetime"):
                video.pop(added, None)
            videos.append(video)
            if len(videos) == 100:
                break
    work = scratch("floor")
    page = work / "page.json"
    page.write_text(json.dumps({"data": {"videos": videos}}))
    pages = max(1, crawl.items // len(videos))
    runs = []
    for _ in range(2):  # the lesser CPU: other processes only ever add to it
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.floor", str(page), str(pages), str(work)],
            cwd=REPO,
            env=env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            print(f"  (floor run failed: {done.stderr[-500:]})")
            return None
        result = json.loads(done.stdout.strip().splitlines()[-1])
        runs.append((result["items"], result["cpu"]))
    return min(runs, key=lambda r: r[1])


def profile_crawl(sandbox: Sandbox, config: dict, top: int) -> None:
    work = scratch("profile")
    out = work / "crawl.prof"
    crawl = run_crawl(
        sandbox, config, work, {}, prefix=[sys.executable, "-m", "cProfile", "-o", str(out)]
    )
    check(crawl, "profiled crawl")
    stats = pstats.Stats(str(out))
    total = stats.total_tt  # type: ignore[attr-defined]
    print(
        f"profile of the crawl process ({crawl.items} videos, {total:.1f} s under cProfile, {out}):"
    )
    for key, title in (("tottime", "own time"), ("cumulative", "cumulative")):
        print(f"  top {top} by {title}:")
        rows = sorted(
            stats.stats.items(),  # type: ignore[attr-defined]
            key=lambda kv: kv[1][2] if key == "tottime" else kv[1][3],
            reverse=True,
        )
        shown = 0
        for (path, line, name), (_, calls, own, cum, _) in rows:
            if key == "cumulative" and (
                cum > 0.9 * total or not ("tiktok_scrapy" in path or "scrapy/" in path)
            ):
                continue  # the call stack's outer frames say nothing
            short = path.split("site-packages/")[-1].replace(str(Path.cwd()) + "/", "")
            print(f"    {own:7.2f} {cum:7.2f} {calls:>9} {short}:{line}({name})")
            shown += 1
            if shown >= top:
                break


# --- 4. memory ---------------------------------------------------------------------------------
def bench_memory(profile: Profile, table: Table) -> None:
    print(f"memory: sandbox scale {MEMORY_SCALE} (~12k videos/day), zero latency", flush=True)
    peaks: dict[str, float] = {}
    with Sandbox(MEMORY_SCALE, 0) as sandbox:
        for label, days, max_items in profile.memory:
            config = videos_config(*period(days))
            if max_items:  # 16 days hold ~200k videos: stop at the size asked for
                config["max_items"] = max_items
            crawl = run_crawl(sandbox, config, scratch(f"mem{label}"), timeout=900)
            check(crawl, f"memory {label}", ("finished", "closespider_itemcount"))
            peaks[label] = crawl.maxrss_mb
            table.add(
                f"memory {label}: peak RSS (VmHWM)",
                f"{crawl.items:,} videos, "
                f"{crawl.maxrss_mb:.0f} MB, {crawl.items / crawl.elapsed:,.0f} videos/s",
            )
    first, last = next(iter(peaks)), list(peaks)[-1]
    growth = peaks[last] / peaks[first] - 1
    table.add(
        f"memory growth {first} -> {last}",
        f"{peaks[first]:.0f} -> {peaks[last]:.0f} MB",
        f"{growth:+.1%} (goal < {MEMORY_GOAL:.0%})"
        + ("" if last == "1M" else "; 1M only with --full"),
        verdict(growth < MEMORY_GOAL),
    )


# --- the machine -------------------------------------------------------------------------------
def machine() -> str:
    import scrapy

    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return (
        f"{os.cpu_count()} cores, {model}, {mem / 2**20:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"Scrapy {scrapy.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="< 2 minutes")
    size.add_argument("--full", action="store_true", help="adds 1M videos and the rate cap")
    parser.add_argument(
        "--only",
        default="speed,quota,throughput,memory,adaptive,validation",
        help="comma-separated subset",
    )
    parser.add_argument("--top", type=int, default=15, help="profile rows (0: no profile)")
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="also measure CPU per video at git commit REF, alternated with this checkout",
    )
    parser.add_argument("--results", type=Path, help="also write the table (markdown) here")
    parser.add_argument(
        "--keep", action="store_true", help="keep the crawl folders and the profile in /tmp"
    )
    args = parser.parse_args(argv)
    name = "quick" if args.quick else "full" if args.full else "default"
    profile = PROFILES[name]
    only = set(args.only.split(","))
    table = Table()
    print(machine(), flush=True)
    try:
        if only & {"speed", "quota", "throughput"} or args.baseline:
            with Sandbox(SPEED_SCALE, LATENCY * 1000) as sandbox:
                if only & {"speed", "quota"}:
                    clean = bench_speed(sandbox, profile, table)
                    if "quota" in only:
                        bench_quota(sandbox, profile, clean, table)
                if "throughput" in only:
                    bench_throughput(sandbox, profile, table, 0 if args.quick else args.top)
                if args.baseline:
                    from benchmarks.baseline import bench_baseline

                    config = videos_config(*period(profile.days))
                    bench_baseline(sandbox, table, args.baseline, config, IDLE_CONFIG)
        if "memory" in only:
            bench_memory(profile, table)
        if "adaptive" in only:
            from benchmarks.adaptive import bench_adaptive

            bench_adaptive(table, quick=args.quick)
        if "validation" in only:
            from benchmarks.validation import bench_validation

            bench_validation(table)
    finally:
        if not args.keep:
            cleanup()
    text = f"Machine: {machine()}\nProfile: {name}\n\n{table.markdown()}\n"
    print("\n" + text)
    if args.results:
        args.results.write_text(text)
    failed = sum(1 for row in table.rows if row[3] == "FAIL")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
