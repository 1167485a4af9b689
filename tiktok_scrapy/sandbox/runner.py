"""Ways to run the sandbox: inside a running asyncio loop, or in a thread of its own.

``SandboxServer`` suits code that already runs an event loop (Scrapy's asyncio reactor,
async tests). ``SandboxThread`` gives blocking code (pytest fixtures, benchmarks, scripts)
a sandbox on its own loop in a daemon thread, with helpers that read and move its state
safely from the calling thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from aiohttp import web

from tiktok_scrapy.sandbox.app import DATASET, STATE, create_app
from tiktok_scrapy.sandbox.dataset import Dataset
from tiktok_scrapy.sandbox.options import SandboxOptions
from tiktok_scrapy.sandbox.state import SandboxState

T = TypeVar("T")


class SandboxServer:
    """The sandbox on the current event loop: ``url = await server.start()``."""

    def __init__(
        self,
        options: SandboxOptions | dict[str, Any] | None = None,
        dataset: Dataset | None = None,
    ) -> None:
        if not isinstance(options, SandboxOptions):
            options = SandboxOptions.from_dict(options)
        self.options = options
        self._dataset = dataset
        self._runner: web.AppRunner | None = None
        self.app: web.Application | None = None
        self.url: str | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: a free port) and return the base URL."""
        self.app = create_app(self.options, dataset=self._dataset)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=1024)
        await site.start()
        sockname = self._runner.addresses[0]
        self.url = f"http://{host}:{sockname[1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def state(self) -> SandboxState:
        assert self.app is not None, "start the sandbox first"
        return self.app[STATE]

    @property
    def dataset(self) -> Dataset:
        assert self.app is not None, "start the sandbox first"
        return self.app[DATASET]


class SandboxThread:
    """The sandbox on its own event loop in a daemon thread: ``url = sandbox.start()``."""

    def __init__(
        self,
        options: SandboxOptions | dict[str, Any] | None = None,
        dataset: Dataset | None = None,
        **changes: Any,
    ) -> None:
        if not isinstance(options, SandboxOptions):
            options = SandboxOptions.from_dict(options)
        self.server = SandboxServer(options.replace(**changes) if changes else options, dataset)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tiktok-sandbox", daemon=True
        )
        self._thread.start()
        return self._await(self.server.start(host, port))

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._await(self.server.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> SandboxThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- state, read and moved on the sandbox's loop -----------------------------------
    @property
    def url(self) -> str:
        assert self.server.url is not None, "start the sandbox first"
        return self.server.url

    @property
    def state(self) -> SandboxState:
        return self.server.state

    @property
    def dataset(self) -> Dataset:
        return self.server.dataset

    @property
    def options(self) -> SandboxOptions:
        return self.server.state.options

    def stats(self) -> dict[str, Any]:
        """Same as ``GET /admin/stats``."""
        return self._call(self.state.stats)

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """Same as ``GET /admin/requests``: every data request, oldest first."""
        log = self._call(lambda: list(self.state.log))
        return [r for r in log if r["endpoint"] == endpoint] if endpoint else log

    def reset(self) -> None:
        self._call(self.state.reset)

    def advance_clock(self, seconds: float) -> None:
        self._call(lambda: self.state.clock.advance(seconds))

    def set_options(self, **changes: Any) -> SandboxOptions:
        return self._call(lambda: self.state.set_options(**changes))

    def delete(self, videos: Any = (), comments: Any = ()) -> dict[str, int]:
        """Same as ``POST /admin/delete``: these videos and comments are gone from now on."""
        return self._call(lambda: self.dataset.delete(videos, comments))

    def _call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return self._await(run())

    def _await(self, coro: Any) -> Any:
        assert self._loop is not None, "start the sandbox first"
        future: Future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=120)
