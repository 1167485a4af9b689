"""Crawls started from the UI: one folder each, run by a local process or by scrapyd.

``<ui dir>/<job id>/`` holds everything of one crawl: ``job.json`` (spider, config, how it
runs, its runs), ``config.yaml`` (what a researcher would run by hand), ``crawl.log``,
``jobdir/`` (the checkpoints: resume = the same command again) and ``output/`` (items,
``pages.jsonl``, ``stats.json``, ``report.html``).

Locally a crawl is ``python -m scrapy crawl <spider> -a config=<json> -s JOBDIR=… -s
TIKTOK_OUTPUT_DIR=…`` in a process of its own session, so stopping the UI stops no crawl;
stop sends SIGINT once (Scrapy finishes what is in flight and closes with ``shutdown``).
Credentials reach the process through its environment, never its command line. With
``SCRAPYD_URL`` set, crawls are scheduled with ``schedule.json`` and stopped with
``cancel.json`` (``signal=INT``); the output folder must then be one this machine can read.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from tiktok_scrapy.chains.lock import JobdirLocked, check_free

# The form's sandbox box decides, per crawl (``scrapy ui -s TIKTOK_SANDBOX=true`` ticks it).
PER_CRAWL = ("TIKTOK_SANDBOX",)
# Settings passed as environment variables rather than on a command line (which any local
# user can read with ps): the crawl reads them from either (middlewares/token.py).
ENV_SETTINGS = ("TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET")


@dataclass
class Job:
    id: str
    spider: str
    config: dict[str, Any]
    sandbox: bool = False
    backend: str = "local"  # or "scrapyd"
    created: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def config_json(self) -> str:
        return json.dumps(self.config, separators=(",", ":"), default=str)


class JobStore:
    """The UI's crawls on disk, and the processes it started (by pid, in this process)."""

    def __init__(
        self,
        root: str | Path,
        *,
        settings: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        scrapyd_url: str | None = None,
        scrapyd_project: str = "tiktok_scrapy",
        cwd: str | Path | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.settings = dict(settings or {})
        self.env = dict(env or {})
        self.scrapyd_url = (scrapyd_url or "").rstrip("/") or None
        self.scrapyd_project = scrapyd_project
        self.cwd = Path(cwd or os.getcwd())
        self.processes: dict[str, subprocess.Popen] = {}

    # --- folders -----------------------------------------------------------------------

    def folder(self, job_id: str) -> Path:
        if not job_id or "/" in job_id or job_id.startswith(".") or job_id != Path(job_id).name:
            raise KeyError(job_id)
        return self.root / job_id

    def output(self, job: Job) -> Path:
        return self.folder(job.id) / "output"

    def jobdir(self, job: Job) -> Path:
        return self.folder(job.id) / "jobdir"

    def log(self, job: Job) -> Path:
        return self.folder(job.id) / "crawl.log"

    def sandbox_ledger(self) -> Path:
        """One ledger for every sandbox crawl of the UI, kept apart from the real one."""
        return self.root / "sandbox-quota.sqlite"

    def secrets(self) -> tuple[str, ...]:
        """Values never to show: the credentials the crawls get (settings or environment)."""
        names = (*ENV_SETTINGS, "SCRAPYD_PASSWORD")
        values = [self.settings.get(n) or self.env.get(n) or os.environ.get(n) for n in names]
        return tuple(v for v in values if v and len(v) >= 4)

    # --- records -----------------------------------------------------------------------

    def create(self, spider: str, config: dict[str, Any], *, sandbox: bool) -> Job:
        now = datetime.now(UTC)
        job_id = f"{now:%Y%m%d-%H%M%S}-{spider}-{secrets.token_hex(2)}"
        job = Job(
            job_id,
            spider,
            config,
            sandbox=sandbox,
            backend="scrapyd" if self.scrapyd_url else "local",
            created=now.isoformat(timespec="seconds"),
        )
        folder = self.folder(job_id)
        folder.mkdir(parents=True)
        (folder / "config.yaml").write_text(
            yaml.safe_dump({"spider": spider, **config}, sort_keys=False), encoding="utf-8"
        )
        self.save(job)
        return job

    def save(self, job: Job) -> None:
        path = self.folder(job.id) / "job.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(job), indent=1, default=str), encoding="utf-8")
        os.replace(tmp, path)

    def get(self, job_id: str) -> Job:
        try:
            data = json.loads((self.folder(job_id) / "job.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise KeyError(job_id) from None
        return Job(**data)

    def all(self) -> list[Job]:
        jobs = []
        for path in sorted(self.root.glob("*/job.json"), reverse=True):
            try:
                jobs.append(self.get(path.parent.name))
            except KeyError:
                continue
        return jobs

    # --- running -----------------------------------------------------------------------

    def command(self, job: Job) -> list[str]:
        """The crawl's command line (without credentials: those go by environment)."""
        settings = self._forwarded()
        settings.update(
            {
                "JOBDIR": str(self.jobdir(job)),
                "TIKTOK_OUTPUT_DIR": str(self.output(job)),
                "LOG_FILE": str(self.log(job)),
                "TIKTOK_PROGRESS_INTERVAL": settings.get("TIKTOK_PROGRESS_INTERVAL", "2"),
            }
        )
        if job.sandbox:
            settings["TIKTOK_SANDBOX"] = "true"
            settings.setdefault("TIKTOK_QUOTA_LEDGER", str(self.sandbox_ledger()))
        args = [sys.executable, "-m", "scrapy", "crawl", job.spider, "-a"]
        args.append(f"config={job.config_json}")
        for name, value in settings.items():
            args += ["-s", f"{name}={value}"]
        return args

    def _forwarded(self) -> dict[str, str]:
        """The ``scrapy ui -s`` settings every crawl gets (not credentials, not per-crawl)."""
        skip = (*ENV_SETTINGS, *PER_CRAWL)
        return {k: v for k, v in self.settings.items() if k not in skip}

    def start(self, job: Job) -> None:
        """Start (or resume: the same JOBDIR) the crawl; refused while it runs."""
        if self.status(job) in ("running", "stopping"):
            raise RuntimeError(f"crawl {job.id} is already running")
        run: dict[str, Any] = {"started": time.time()}
        if job.backend == "scrapyd":
            run["scrapyd_job"] = self._schedule(job)
        else:
            env = {**os.environ, **self.env}
            for name in ENV_SETTINGS:
                if name in self.settings:
                    env[name] = self.settings[name]
            log = self.log(job).open("ab")
            try:
                process = subprocess.Popen(
                    self.command(job),
                    cwd=self.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            finally:
                log.close()
            self.processes[job.id] = process
            run["pid"] = process.pid
        job.runs.append(run)
        self.save(job)

    def stop(self, job: Job) -> None:
        """Ask the crawl to stop gracefully (SIGINT once, or scrapyd's cancel with INT)."""
        if not job.runs:
            return
        run = job.runs[-1]
        if job.backend == "scrapyd":
            self._scrapyd("cancel.json", {"job": run.get("scrapyd_job", ""), "signal": "INT"})
        elif self.status(job) == "running":
            process = self.processes.get(job.id)
            if process is not None:
                process.send_signal(signal.SIGINT)
            else:
                os.kill(int(run["pid"]), signal.SIGINT)
        run["stop_requested"] = time.time()
        self.save(job)

    def status(self, job: Job) -> str:
        """``new``, ``running``, ``stopping`` or ``ended`` (the verdict says how)."""
        if not job.runs:
            return "new"
        run = job.runs[-1]
        if "returncode" in run:
            return "ended"
        if job.backend == "scrapyd":
            state = self._scrapyd_state(run.get("scrapyd_job", ""))
            if state in ("pending", "running"):
                return "stopping" if "stop_requested" in run else "running"
            return "ended"
        process = self.processes.get(job.id)
        if process is not None:
            code = process.poll()
            if code is None:
                return "stopping" if "stop_requested" in run else "running"
            run["returncode"] = code
            run["ended"] = time.time()
            self.save(job)
            return "ended"
        # Started by an earlier UI process: the JOBDIR's lock says whether it still runs.
        try:
            check_free(self.jobdir(job))
        except JobdirLocked:
            return "stopping" if "stop_requested" in run else "running"
        if time.time() - run.get("started", 0) < 10 and not self.log(job).exists():
            return "running"
        return "ended"

    def returncode(self, job: Job) -> int | None:
        return job.runs[-1].get("returncode") if job.runs else None

    # --- scrapyd -----------------------------------------------------------------------

    def _schedule(self, job: Job) -> str:
        settings = self._forwarded()
        settings.update(
            {"JOBDIR": str(self.jobdir(job)), "TIKTOK_OUTPUT_DIR": str(self.output(job))}
        )
        if job.sandbox:
            settings["TIKTOK_SANDBOX"] = "true"
            settings.setdefault("TIKTOK_QUOTA_LEDGER", str(self.sandbox_ledger()))
        fields: list[tuple[str, str]] = [
            ("project", self.scrapyd_project),
            ("spider", job.spider),
            ("config", job.config_json),
            *(("setting", f"{k}={v}") for k, v in settings.items()),
        ]
        answer = self._scrapyd("schedule.json", fields)
        return str(answer.get("jobid", ""))

    def _scrapyd_state(self, scrapyd_job: str) -> str:
        try:
            jobs = self.scrapyd_jobs()
        except OSError:
            return "unknown"
        for state in ("pending", "running", "finished"):
            if any(j.get("id") == scrapyd_job for j in jobs.get(state, [])):
                return state
        return "unknown"

    def scrapyd_jobs(self) -> dict[str, list[dict[str, Any]]]:
        answer = self._scrapyd("listjobs.json", {"project": self.scrapyd_project}, get=True)
        return {k: answer.get(k, []) for k in ("pending", "running", "finished")}

    def _scrapyd(self, endpoint: str, fields: Any, *, get: bool = False) -> dict[str, Any]:
        if not self.scrapyd_url:
            raise OSError("SCRAPYD_URL is not set")
        data = urllib.parse.urlencode(fields)
        url = f"{self.scrapyd_url}/{endpoint}"
        request = urllib.request.Request(
            f"{url}?{data}" if get else url, data=None if get else data.encode()
        )
        user, password = os.environ.get("SCRAPYD_USERNAME"), os.environ.get("SCRAPYD_PASSWORD")
        if user:
            basic = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            request.add_header("Authorization", f"Basic {basic}")
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read().decode("utf-8"))
        if answer.get("status") != "ok":
            raise OSError(f"scrapyd {endpoint}: {answer.get('message', answer)}")
        return answer
