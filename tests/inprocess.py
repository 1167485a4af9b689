"""Run project spiders in the test process, on Scrapy's asyncio reactor.

A ``scrapy crawl`` subprocess costs a Python start, Scrapy's imports and the project's
(about a second each, more on a loaded machine) before the first request. Here the
Twisted ``AsyncioSelectorReactor`` is installed once for the test session, on an event
loop of its own, and started without ``reactor.run()``: each crawl runs that loop until
the crawl is over (``loop.run_until_complete``), so crawls run one after another in one
process, each with a fresh ``Crawler`` (Scrapy's ``AsyncCrawlerRunner``).

:func:`run_crawl_inprocess` takes the arguments of :func:`tests.crawling.run_crawl` and
returns the same :class:`~tests.crawling.CrawlResult`: the exit status ``scrapy crawl``
would have given (from the crawl's verdict), the log it would have printed, the items and
page records it wrote, and the stats from ``crawler.stats.get_stats()`` (as plain JSON
values, like ``stats.json``; ``stats_file`` is ``stats.json`` itself, which adds up the
runs of a resumed job). Tests about the command line itself (exit status of bad input,
``-a`` parsing, signals, log files, scrapyd) keep the subprocess.

The reactor's loop only runs during a crawl. Async tests (pytest-asyncio) run on loops of
their own, as before; a crawl must not be started from inside one.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crawling import CrawlResult, collect, crawl_settings
from scrapy.crawler import AsyncCrawlerRunner, Crawler
from scrapy.settings import Settings
from scrapy.utils.log import _get_handler

REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
SETTINGS_MODULE = "tiktok_scrapy.settings"

_loop: asyncio.AbstractEventLoop | None = None


class CrawlLeakWarning(UserWarning):
    """Something a crawl left behind that the next crawl in this process would see."""


def install_reactor() -> asyncio.AbstractEventLoop:
    """Install and start the asyncio reactor once; return its event loop."""
    global _loop
    if _loop is not None:
        return _loop
    from scrapy.utils.reactor import (
        install_reactor as scrapy_install_reactor,
    )
    from scrapy.utils.reactor import (
        is_asyncio_reactor_installed,
        is_reactor_installed,
    )

    if not is_reactor_installed():
        previous = _current_loop()
        asyncio.set_event_loop(asyncio.new_event_loop())
        scrapy_install_reactor(REACTOR)
        asyncio.set_event_loop(previous)
    elif not is_asyncio_reactor_installed():
        raise RuntimeError("in-process crawls need the asyncio reactor; another is installed")
    from twisted.internet import reactor

    # What reactor.run() does before it runs the loop forever: the startup triggers (the
    # thread pool, "running"). The loop is then run by each crawl.
    if not reactor.running:  # type: ignore[attr-defined]
        reactor.startRunning(installSignalHandlers=False)  # type: ignore[attr-defined]
    _loop = reactor._asyncioEventloop  # type: ignore[attr-defined]
    _loop.run_until_complete(asyncio.sleep(0))  # let the startup triggers run
    return _loop


def stop_reactor() -> None:
    """Fire the reactor's shutdown triggers (its thread pool stops); end of the session."""
    global _loop
    if _loop is None:
        return
    from twisted.internet import reactor

    loop, _loop = _loop, None
    with contextlib.suppress(Exception):
        reactor.stop()  # type: ignore[attr-defined]
        for _ in range(10):
            loop.run_until_complete(asyncio.sleep(0.01))
            if not reactor.running:  # type: ignore[attr-defined]
                break


def _current_loop() -> asyncio.AbstractEventLoop | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            return None


def crawl_settings_object(values: dict[str, Any]) -> Settings:
    """The settings ``scrapy crawl -s K=V ...`` would run with, in the project."""
    settings = Settings()
    settings.setmodule(SETTINGS_MODULE, priority="project")
    settings.setdict(values, priority="cmdline")
    return settings


@contextlib.contextmanager
def _as_a_subprocess_would(tmp: Path) -> Iterator[None]:
    """The working folder and environment ``run_crawl`` gives its subprocess."""
    saved_env = dict(os.environ)
    cwd = Path.cwd()
    for key in [k for k in os.environ if k.startswith(("TIKTOK_", "MONGODB_"))]:
        del os.environ[key]
    os.environ["SCRAPY_SETTINGS_MODULE"] = SETTINGS_MODULE
    os.chdir(tmp)
    try:
        yield
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved_env)


@contextlib.contextmanager
def _captured_log(settings: Settings, out: io.StringIO, err: io.StringIO) -> Iterator[None]:
    """Scrapy's root log handler (as ``scrapy crawl`` installs it), writing to ``err``;
    ``print`` to stdout and stderr captured too."""
    handler = _get_handler(settings)
    if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
        handler.setStream(err)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.NOTSET)
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def run_crawl_inprocess(
    spider: str,
    config: dict | str,
    url: str,
    tmp: Path,
    settings: dict[str, Any] | None = None,
    args: dict[str, str] | None = None,
    timeout: float = 180,
) -> CrawlResult:
    """Like :func:`tests.crawling.run_crawl`, in this process."""
    values, outdir = crawl_settings(url, tmp, settings)
    spargs = {"config": config if isinstance(config, str) else json.dumps(config)}
    spargs.update(args or {})
    return crawl_inprocess(spider, spargs, values, tmp, outdir, timeout)


def crawl_inprocess(
    spider: str,
    spargs: dict[str, str],
    values: dict[str, Any],
    cwd: Path,
    outdir: Path,
    timeout: float = 180,
) -> CrawlResult:
    """``scrapy crawl SPIDER -a K=V... -s K=V...`` (``spargs``, ``values``) run from ``cwd``,
    in this process; the result is read from ``outdir`` and the crawler's stats."""
    from tiktok_scrapy.commands.crawl import check_jobdir, crawl_exit_status
    from tiktok_scrapy.default_settings import apply_defaults
    from tiktok_scrapy.preflight import BAD_INPUT, one_line, preflight
    from tiktok_scrapy.verdict import EXIT_ERROR, EXIT_USAGE

    loop = install_reactor()
    cwd.mkdir(parents=True, exist_ok=True)
    crawl_settings_ = crawl_settings_object(values)
    out, err = io.StringIO(), io.StringIO()
    with _as_a_subprocess_would(cwd):
        try:  # what `scrapy crawl` checks before it starts (see tiktok_scrapy/commands/crawl.py)
            apply_defaults(crawl_settings_)  # as the command does; the add-on applies them too
            preflight(spider, spargs, crawl_settings_)
            check_jobdir(crawl_settings_, overwrite=False)
        except BAD_INPUT as error:
            return CrawlResult(EXIT_USAGE, f"error: {one_line(error)}\n", outdir)
        runner = AsyncCrawlerRunner(crawl_settings_)
        crawler = runner.create_crawler(spider)
        returncode = 0
        with _captured_log(crawl_settings_, out, err):
            try:
                loop.run_until_complete(_crawl(runner, crawler, spargs, timeout))
            except TimeoutError:
                raise
            except Exception:
                logging.getLogger(__name__).exception("The crawl failed to start or end")
                returncode = EXIT_ERROR
            _drain(loop)
        if returncode == 0:
            returncode = crawl_exit_status(crawler)
    result = collect(returncode, err.getvalue() + out.getvalue(), outdir)
    result.stats_file, result.stats = result.stats, _plain(crawler.stats.get_stats())
    _check_leaks(loop, spider)
    return result


async def _crawl(
    runner: AsyncCrawlerRunner, crawler: Crawler, spargs: dict[str, Any], timeout: float
) -> None:
    task = asyncio.ensure_future(runner.crawl(crawler, **spargs))
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        await crawler.stop_async()
        await task
        raise TimeoutError(f"the crawl took over {timeout} s; stopped")
    task.result()


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Let callbacks scheduled by the crawl's last steps run (a few loop iterations)."""
    for _ in range(3):
        loop.run_until_complete(asyncio.sleep(0))


def _plain(stats: dict[str, Any]) -> dict[str, Any]:
    """The stats as ``stats.json`` holds them (datetimes as strings)."""
    return json.loads(json.dumps(stats, default=str))


def _check_leaks(loop: asyncio.AbstractEventLoop, spider: str) -> None:
    from tiktok_scrapy import closing

    left = []
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if tasks:
        left.append(f"{len(tasks)} asyncio task(s): {[_describe(t) for t in tasks[:3]]}")
    if closing._CLOSE_TASKS:
        left.append(f"{len(closing._CLOSE_TASKS)} close task(s) in closing._CLOSE_TASKS")
    from twisted.internet import reactor

    calls = [c for c in reactor.getDelayedCalls() if c.active()]  # type: ignore[attr-defined]
    if calls:
        left.append(f"{len(calls)} pending reactor call(s): {calls[:3]}")
    # The crawl is over: what it left running would otherwise run during the next crawl.
    for task in tasks:
        task.cancel()
    for call in calls:
        call.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    if left:
        warnings.warn(
            f"the {spider} crawl left behind: " + "; ".join(left), CrawlLeakWarning, stacklevel=3
        )


def _describe(task: asyncio.Task[Any]) -> str:
    """The task, and for a looping call the function it repeats (whose component leaked)."""
    frame = getattr(task.get_coro(), "cr_frame", None)
    owner = frame.f_locals.get("self") if frame is not None else None
    func = getattr(owner, "_func", None)
    return f"{task!r}" + (f" repeating {func!r}" if func is not None else "")
