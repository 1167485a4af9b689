"""Feed files that reach the OS once a page, and the settings the add-on derives."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from scrapy.settings import Settings

from tiktok_scrapy import settings as project_settings
from tiktok_scrapy.addons import TikTokAddon
from tiktok_scrapy.config import load_config
from tiktok_scrapy.feedstorage import FLUSH_BYTES, LineBatchFile
from tiktok_scrapy.items import Video


def test_lines_reach_the_file_on_flush_whole_and_in_order(tmp_path: Path) -> None:
    path = tmp_path / "videos.jsonl"
    first, second = LineBatchFile(path, "ab"), LineBatchFile(tmp_path / "users.jsonl", "ab")
    first.write(b'{"id": 1}\n')
    first.write(b'{"id": 2}\n')
    second.write(b'{"id": 3}\n')
    assert path.read_bytes() == b""  # nothing before the page's commit asks for it
    first.flush()  # what the chain core calls before committing a checkpoint
    second.flush()
    assert path.read_bytes() == b'{"id": 1}\n{"id": 2}\n'
    assert (tmp_path / "users.jsonl").read_bytes() == b'{"id": 3}\n'
    first.write(b'{"id": 4}\n')
    first.close()
    assert path.read_bytes().endswith(b'{"id": 4}\n') and first.closed
    second.close()


def test_a_large_batch_is_written_at_a_line_boundary(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    out = LineBatchFile(path, "wb")
    line = b'{"text": "' + b"x" * 1000 + b'"}\n'
    for _ in range(FLUSH_BYTES // len(line) + 1):
        out.write(line)
    written = path.read_bytes()
    assert written and written.endswith(b"\n") and len(written) % len(line) == 0
    out.close()


def _apply_addon(**cmdline: object) -> Settings:
    settings = Settings()
    settings.setmodule(project_settings, priority="project")
    for name, value in cmdline.items():
        settings.set(name, value, priority="cmdline")
    spider = SimpleNamespace(
        name="videos", item_class=Video, config=load_config("videos", "quickstart", {})
    )
    TikTokAddon(SimpleNamespace(spider=spider)).update_settings(settings)  # type: ignore[arg-type]
    return settings


def test_items_run_one_at_a_time_without_mongodb_unless_set(tmp_path: Path) -> None:
    out = str(tmp_path / "{spider}")
    assert _apply_addon(TIKTOK_OUTPUT_DIR=out).getint("CONCURRENT_ITEMS") == 1
    # The MongoDB pipeline answers once its batch is written: it needs items in flight.
    with_mongo = _apply_addon(TIKTOK_OUTPUT_DIR=out, MONGODB_URI="mongodb://localhost:1")
    assert with_mongo.getint("CONCURRENT_ITEMS") == 100
    assert not with_mongo.getdict("FEEDS")
    chosen = _apply_addon(TIKTOK_OUTPUT_DIR=out, CONCURRENT_ITEMS=7)
    assert chosen.getint("CONCURRENT_ITEMS") == 7
