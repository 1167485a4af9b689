"""The sandbox as a subprocess that prints its URL, the way Scrapy's tests run their mockserver.

``python -m tiktok_scrapy.sandbox --port 0`` prints ``... listening on http://127.0.0.1:N``
as its first line; :class:`SandboxProcess` starts it, reads that line, and offers the same
helpers as :class:`~tiktok_scrapy.sandbox.SandboxThread` (``url``, ``stats()``,
``requests()``, ``reset()``, ``advance_clock()``, ``set_options()``, ``delete()``) through
the sandbox's admin endpoints. An in-process crawl then has the process (and the GIL) to
itself. ``dataset`` is a twin generated here from the same options (the data is
deterministic; ``delete()`` deletes in both), for the truth a crawl is checked against.
What only the live object can give (``state``, a custom ``Dataset``) stays with
``SandboxThread``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tiktok_scrapy.sandbox import OptionsError, SandboxOptions
from tiktok_scrapy.sandbox.dataset import Dataset

REPO = Path(__file__).resolve().parents[1]
# Admin calls go straight to 127.0.0.1, whatever http_proxy the shell has.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
START_TIMEOUT = 60.0


def cli_flags(
    options: SandboxOptions | dict[str, Any] | None, changes: dict[str, Any]
) -> list[str]:
    """Command-line flags for these options (checked here first, so a bad option fails
    in the test with the sandbox's own message)."""
    if isinstance(options, SandboxOptions):
        defaults = SandboxOptions().to_dict()
        given = {k: v for k, v in options.to_dict().items() if v != defaults[k]}
    else:
        given = dict(options or {})
    given.update(changes)
    checked = SandboxOptions.from_dict(given).to_dict()
    flags: list[str] = []
    for name in given:
        value = checked[name]
        flags += ["--" + name.replace("_", "-"), "none" if value is None else str(value)]
    return flags


class SandboxProcess:
    """``with SandboxProcess(error_rate=0.2) as sandbox: sandbox.url``."""

    def __init__(
        self, options: SandboxOptions | dict[str, Any] | None = None, **changes: Any
    ) -> None:
        self.flags = cli_flags(options, changes)
        given = (
            options if isinstance(options, SandboxOptions) else SandboxOptions.from_dict(options)
        )
        self.start_options = given.replace(**changes) if changes else given
        self._dataset: Dataset | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._path: Path | None = None
        self._url: str | None = None

    def start(self) -> str:
        # Output to a file, never a pipe that could fill up. The sandbox appends (O_APPEND)
        # through its own handle and this process reads through another: no shared offset.
        fd, name = tempfile.mkstemp(prefix="sandbox-", suffix=".log")
        os.close(fd)
        self._path = Path(name)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TIKTOK_", "MONGODB_"))}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        with self._path.open("ab") as writer:
            self.proc = subprocess.Popen(
                [sys.executable, "-u", "-m", "tiktok_scrapy.sandbox", "--port", "0", *self.flags],
                stdout=writer,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with self._path.open("rb") as reader:
                first = reader.readline().decode(errors="replace")
            if " listening on " in first and first.endswith("\n"):
                self._url = first.rsplit(" ", 1)[1].strip()
                return self._url
            if self.proc.poll() is not None or time.monotonic() > deadline:
                output = self.output
                self.stop()
                raise RuntimeError(f"the sandbox did not start: {output.strip()}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None

    def __enter__(self) -> SandboxProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def output(self) -> str:
        """What the sandbox printed so far."""
        if self._path is None or not self._path.exists():
            return ""
        return self._path.read_bytes().decode(errors="replace")

    # --- the admin endpoints ---------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._url is not None, "start the sandbox first"
        return self._url

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with _OPENER.open(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code != 400:
                raise
            raise OptionsError(json.loads(error.read()).get("error", "")) from None

    @property
    def options(self) -> SandboxOptions:
        return SandboxOptions.from_dict(self.admin("/admin/options"))

    def stats(self) -> dict[str, Any]:
        return self.admin("/admin/stats")

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        query = "?" + urlencode({"endpoint": endpoint}) if endpoint else ""
        return self.admin("/admin/requests" + query)

    def reset(self) -> None:
        self.admin("/admin/reset", {})

    def advance_clock(self, seconds: float) -> None:
        self.admin("/admin/clock", {"advance_seconds": seconds})

    def set_options(self, **changes: Any) -> SandboxOptions:
        body = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in changes.items()}
        return SandboxOptions.from_dict(self.admin("/admin/options", body))

    def delete(self, videos: Any = (), comments: Any = ()) -> dict[str, int]:
        videos, comments = list(videos), list(comments)
        deleted = self.admin("/admin/delete", {"videos": videos, "comments": comments})
        self.dataset.delete(videos, comments)
        return deleted["deleted"]

    @property
    def dataset(self) -> Dataset:
        """The sandbox's data, generated here from the same options."""
        if self._dataset is None:
            o = self.start_options
            self._dataset = Dataset.generate(seed=o.seed, scale=o.scale, start=o.start, end=o.end)
        return self._dataset

    @property
    def state(self) -> Any:
        raise AttributeError(
            "a sandbox subprocess has no state object here: use its admin helpers "
            "(stats, requests, set_options, advance_clock) or a SandboxThread"
        )
