"""Shared fixtures: a Research API sandbox in a thread, one per module or made to order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tiktok_scrapy.sandbox import SandboxThread


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxThread]:
    """A sandbox with default options, shared by a test module (reset it if you count)."""
    with SandboxThread() as running:
        yield running


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxThread]]:
    """``make_sandbox(**options)`` starts a sandbox with those options; stopped after the test."""
    started: list[SandboxThread] = []

    def make(**options: Any) -> SandboxThread:
        running = SandboxThread(options)
        running.start()
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


# --- The project's settings (tests/settings_fixture.py) ----------------------------------
# One source for tests that need the project's settings or defaults, instead of a copy per
# file. Test modules that need them at import time import tests/settings_fixture.py itself.
from settings_fixture import project_settings as _project_settings  # noqa: E402
from settings_fixture import settings_dict as _settings_dict  # noqa: E402


@pytest.fixture
def project_settings() -> Callable[..., Any]:
    """``project_settings(**overrides)``: Scrapy Settings as a ``scrapy`` command sees them."""
    return _project_settings


@pytest.fixture
def settings_dict() -> Callable[..., dict[str, Any]]:
    """``settings_dict(*prefixes, **overrides)``: our defaults as a dict, for get_crawler."""
    return _settings_dict


# --- in-process crawls and the sandbox as a subprocess (issue 15) --------------------------
# A crawl test takes `sandbox_process` (one sandbox subprocess per module) or
# `make_sandbox_process(**options)` and calls `run_crawl_inprocess(...)` from
# tests/inprocess.py; see docs/testing.md.
from inprocess import stop_reactor  # noqa: E402
from sandbox_process import SandboxProcess  # noqa: E402


@pytest.fixture(scope="module")
def sandbox_process() -> Iterator[SandboxProcess]:
    """A sandbox subprocess with default options, shared by a test module."""
    with SandboxProcess() as running:
        yield running


@pytest.fixture
def make_sandbox_process() -> Iterator[Callable[..., SandboxProcess]]:
    """``make_sandbox_process(**options)``: a sandbox subprocess, stopped after the test."""
    started: list[SandboxProcess] = []

    def make(**options: Any) -> SandboxProcess:
        running = SandboxProcess(options)
        started.append(running)
        running.start()
        return running

    yield make
    for running in started:
        running.stop()


def pytest_sessionfinish(session: pytest.Session) -> None:
    stop_reactor()  # the reactor of in-process crawls, if one ran: its thread pool stops
