"""Run the standalone sandbox and ``scrapy crawl`` as subprocesses and measure them.

Both run as separate processes, as in real use: the sandbox's CPU time is read from
``/proc/<pid>/stat`` around each crawl (it competes for the same cores), and each crawl is
reaped with ``os.wait4`` so that its own peak RSS and CPU time come back exactly, not mixed
with other children. All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
CLIENT_KEY = "bench"
SECRET = "sandbox-secret"
ALL_LENGTHS = {
    "and": [
        {
            "field_name": "video_length",
            "operation": "IN",
            "field_values": ["SHORT", "MID", "LONG", "EXTRA_LONG"],
        }
    ]
}


def env(code: Path = REPO) -> dict[str, str]:
    """No credentials or MongoDB from the shell leak in; the project is found by module
    (in ``code``: this checkout, or another commit's worktree for ``--baseline``)."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(("TIKTOK_", "MONGODB_"))}
    out["SCRAPY_SETTINGS_MODULE"] = "tiktok_scrapy.settings"
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), out.get("PYTHONPATH")]))
    return out


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process (fields 14 and 15 of /proc/pid/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Sandbox:
    """``python -m tiktok_scrapy.sandbox --port 0`` in a subprocess, with its admin API."""

    def __init__(self, scale: float, latency_ms: float = 0, **options: Any) -> None:
        args = [
            sys.executable,
            "-m",
            "tiktok_scrapy.sandbox",
            "--port",
            "0",
            "--scale",
            str(scale),
            "--latency-ms",
            str(latency_ms),
            # Benchmarks spend far more than a day's quota; the quota is not measured here.
            "--quota-main",
            "100000000",
            "--request-log-max",
            "10",
        ]
        for key, value in options.items():
            args += ["--" + key.replace("_", "-"), str(value)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env())
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "http://" not in line:
            self.proc.kill()
            raise RuntimeError(f"sandbox did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[1].strip()

    def admin(self, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        with urllib.request.urlopen(self.url + path, data=data, timeout=30) as answer:
            return json.loads(answer.read())

    def requests(self) -> int:
        """Video-query requests the sandbox has answered since the last reset."""
        return int(self.admin("/admin/stats")["requests"].get("videos", 0))

    def reset(self) -> None:
        self.admin("/admin/reset", {})

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Crawl:
    """One finished (or killed) crawl subprocess."""

    returncode: int
    wall: float  # process wall time, start-up included
    cpu: float  # user + system CPU seconds of the crawl process
    maxrss_mb: float  # VmHWM: the peak RSS of the crawl's own address space
    sandbox_cpu: float
    requests: int  # video-query requests the sandbox saw during this crawl
    stats: dict[str, Any] = field(default_factory=dict)
    outdir: Path | None = None
    log: str = ""

    @property
    def elapsed(self) -> float:
        """The crawl's own wall time: stats start → finish, start-up excluded."""
        start, finish = self.stats.get("start_time"), self.stats.get("finish_time")
        if not start or not finish:
            return float("nan")
        return (datetime.fromisoformat(finish) - datetime.fromisoformat(start)).total_seconds()

    @property
    def items(self) -> int:
        return int(self.stats.get("item_scraped_count", 0))


def videos_config(start: str, end: str, query: dict | None = None) -> dict[str, Any]:
    """Daily windows, 100 videos a page, every video of the period by default."""
    return {
        "name": "bench",
        "query": query or ALL_LENGTHS,
        "start_date": start,
        "end_date": end,
        "window_days": 1,
        "max_count": 100,
    }


def run_crawl(
    sandbox: Sandbox,
    config: dict[str, Any],
    workdir: Path,
    settings: dict[str, Any] | None = None,
    timeout: float = 600,
    kill_when: Callable[[], bool] | None = None,
    prefix: list[str] | None = None,
    code: Path = REPO,
) -> Crawl:
    """``scrapy crawl videos`` against ``sandbox``; ``kill_when()`` polled to SIGKILL it."""
    workdir.mkdir(parents=True, exist_ok=True)
    outdir = workdir / "out"
    base = {
        "TIKTOK_API_URL": sandbox.url,
        "TIKTOK_CLIENT_KEY": CLIENT_KEY,
        "TIKTOK_CLIENT_SECRET": SECRET,
        "TIKTOK_QUOTA_LEDGER": str(workdir / "quota.sqlite"),
        "TIKTOK_QUOTA_DAILY_REQUESTS": json.dumps({"main": 10**8}),
        "TIKTOK_OUTPUT_DIR": str(outdir),
        "LOG_LEVEL": "INFO",
        # No rate cap unless a run asks for one: the benchmarks measure the crawler.
        "TIKTOK_MAX_REQUESTS_PER_SECOND": "0",
    }
    base.update({k: str(v) for k, v in (settings or {}).items()})
    command = [
        *(prefix or [sys.executable]),
        "-m",
        "scrapy",
        "crawl",
        "videos",
        "-a",
        "config=" + json.dumps(config),
    ]
    for key, value in base.items():
        command += ["-s", f"{key}={value}"]
    log_path = workdir / "crawl.log"
    (outdir / "stats.json").unlink(missing_ok=True)
    requests0, cpu0, t0 = sandbox.requests(), sandbox.cpu(), time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command, cwd=workdir, env=env(code), stdout=log, stderr=log, start_new_session=True
        )
        status, usage, peak_kb = _wait(proc, t0 + timeout, kill_when)
    wall = time.monotonic() - t0
    stats_path = outdir / "stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    return Crawl(
        returncode=os.waitstatus_to_exitcode(status),
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        maxrss_mb=peak_kb / 1024,
        sandbox_cpu=sandbox.cpu() - cpu0,
        requests=sandbox.requests() - requests0,
        stats=stats,
        outdir=outdir,
        log=log_path.read_text()[-4000:],
    )


def peak_rss_kb(pid: int, last: int) -> int:
    """VmHWM of a live process (kB), or ``last`` once it is gone.

    Not ``ru_maxrss``: Linux carries the parent's RSS at fork over ``exec`` into the child's
    ``ru_maxrss`` (and Scrapy's ``memusage/max``), so a child of a big parent looks big.
    VmHWM belongs to the new address space only; it is a high-water mark, so polling it
    until the process exits misses nothing but its last poll interval.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return max(last, int(line.split()[1]))
    except OSError:
        pass
    return last


def _wait(
    proc: subprocess.Popen, deadline: float, kill_when: Callable[[], bool] | None
) -> tuple[int, Any, int]:
    """Reap ``proc`` with wait4 (its own rusage), killing it at ``deadline`` or on demand."""
    peak = 0
    while True:
        peak = peak_rss_kb(proc.pid, peak)
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return status, usage, peak
        if time.monotonic() > deadline or (kill_when is not None and kill_when()):
            os.killpg(proc.pid, signal.SIGKILL)
            kill_when = None
            deadline = float("inf")
        time.sleep(0.05)


SCRATCH: list[Path] = []  # removed by cleanup() (the 1M run writes ~1 GB of JSONL)


def scratch(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"tiktok-bench-{prefix}-"))
    SCRATCH.append(path)
    return path


def cleanup() -> None:
    while SCRATCH:
        shutil.rmtree(SCRATCH.pop(), ignore_errors=True)
