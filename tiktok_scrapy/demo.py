"""``make demo``: the quickstart crawl against the in-process sandbox, then a summary.

Needs no credentials and no database: ``scrapy crawl videos -a config=quickstart
-s TIKTOK_SANDBOX=true``, writing JSON Lines under ``data/demo/<time>/``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    config = (argv or sys.argv[1:] or ["quickstart"])[0]
    outdir = Path("data/demo") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "videos",
        "-a",
        f"config={config}",
        "-s",
        "TIKTOK_SANDBOX=true",
        "-s",
        f"TIKTOK_OUTPUT_DIR={outdir}",
        "-s",
        "LOG_LEVEL=INFO",
    ]
    print("$", " ".join(command), flush=True)
    status = subprocess.call(command)
    if status:
        print(f"The demo crawl failed (exit status {status}); see the log above.")
        return status
    videos = _read(outdir / "videos.jsonl")
    pages = _read(outdir / "pages.jsonl")
    regions = Counter(v.get("region_code") for v in videos).most_common(3)
    hashtags = Counter(h for v in videos for h in v.get("hashtag_names", [])).most_common(5)
    files = ", ".join(sorted(p.name for p in outdir.iterdir())) if outdir.exists() else ""
    print(f"\nOutput: {outdir}/ ({files}); open report.html in a browser for the plots.")
    print(
        f"Summary: {len(videos)} videos from {len(pages)} API pages; "
        f"top regions {[r for r, _ in regions]}; top hashtags {[h for h, _ in hashtags]}."
    )
    print(next_steps())
    return 0


def next_steps() -> str:
    """What to type next (README.md, "From the demo to your own crawl")."""
    return (
        "\nNext, your own query (README.md, 'From the demo to your own crawl'):\n"
        "  source .venv/bin/activate      # the `scrapy` command (or type .venv/bin/scrapy)\n"
        "  cp examples/quickstart.yaml my_query.yaml   # edit hashtags, dates, name\n"
        "  scrapy plan videos -a config=my_query.yaml -s TIKTOK_SANDBOX=true\n"
        "  scrapy crawl videos -a config=my_query.yaml -s TIKTOK_SANDBOX=true "
        "-s JOBDIR=crawls/my_query\n"
        "  scrapy export --input data/videos/my_query -o tables/"
    )


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


if __name__ == "__main__":
    sys.exit(main())
