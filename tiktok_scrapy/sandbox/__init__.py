"""A local emulator of TikTok's Research API, for tests, demos and benchmarks.

Same protocol as the real API (token, nine data endpoints, envelopes, cursors, quotas),
a deterministic generated dataset, a movable clock and injectable faults. Run it with
``python -m tiktok_scrapy.sandbox`` or in-process (``SandboxServer``, ``SandboxThread``);
see docs/sandbox.md.
"""

from tiktok_scrapy.sandbox.app import create_app
from tiktok_scrapy.sandbox.options import OptionsError, SandboxOptions
from tiktok_scrapy.sandbox.runner import SandboxServer, SandboxThread

__all__ = ["OptionsError", "SandboxOptions", "SandboxServer", "SandboxThread", "create_app"]
