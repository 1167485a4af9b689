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
