"""``python -m tiktok_scrapy.sandbox``: run the Research API sandbox until interrupted.

Every sandbox option is a flag (``error_rate`` -> ``--error-rate``). The first line
printed names the URL, so scripts and tests can start it with ``--port 0`` and read
the port it picked.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from dataclasses import fields

from tiktok_scrapy.sandbox.options import OptionsError, SandboxOptions
from tiktok_scrapy.sandbox.runner import SandboxServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tiktok_scrapy.sandbox",
        description="Local emulator of TikTok's Research API (see docs/sandbox.md).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one")
    defaults = SandboxOptions()
    for f in fields(SandboxOptions):
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            metavar=f.type.split(" ")[0].upper(),
            help=f"default: {getattr(defaults, f.name)}",
        )
    return parser


def options_from_args(args: argparse.Namespace) -> SandboxOptions:
    given = {f.name: getattr(args, f.name) for f in fields(SandboxOptions)}
    return SandboxOptions.from_dict({k: v for k, v in given.items() if v is not None})


async def serve(options: SandboxOptions, host: str, port: int) -> None:
    server = SandboxServer(options)
    url = await server.start(host, port)
    print(f"TikTok Research API sandbox listening on {url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        options = options_from_args(args)
    except OptionsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(options, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
