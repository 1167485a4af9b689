"""refresh, method requery: stored videos asked back by id; the deleted ones end up in
unavailable.jsonl (the compliance-task method: test_refresh_compliance.py)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from inprocess import run_crawl_inprocess

from tiktok_scrapy.api.windows import Window
from tiktok_scrapy.spiders.refresh import batches, day_of_id

pytestmark = pytest.mark.integration

QUERY = {
    "and": [{"field_name": "hashtag_name", "operation": "IN", "field_values": ["fyp", "foryou"]}]
}


def test_deleted_videos_are_listed_and_live_ones_refreshed(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process()
    start, end = date(2024, 1, 20), date(2024, 2, 25)  # more than one 30-day window
    everything = sandbox.dataset.search(QUERY, start, end)
    live = sandbox.dataset.truth_videos(QUERY, start, end)
    live_ids = {v["id"] for v in live}
    deleted = [v["id"] for v in everything if v["id"] not in live_ids]
    assert len(deleted) >= 3
    stored = tmp_path / "stored" / "videos.jsonl"
    stored.parent.mkdir()
    old = {"crawled_at": "2024-01-01T00:00:00+00:00"}
    rows = [{"id": v["id"], "_crawl": old} for v in live[:150]] + [
        {"id": i, "_crawl": old} for i in deleted
    ]
    rows.append({"id": live[-1]["id"], "_crawl": {"crawled_at": "2999-01-01T00:00:00+00:00"}})
    stored.write_text("".join(json.dumps(r) + "\n" for r in rows))

    config = {"from_output": str(stored), "method": "requery"}
    result = run_crawl_inprocess("refresh", config, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    assert {u["id"] for u in result.of("unavailable")} == set(deleted)
    assert {u["category"] for u in result.of("unavailable")} == {"video"}
    assert {v["id"] for v in result.of("videos")} == {v["id"] for v in live[:150]}
    assert result.stats["tiktok/refresh/unavailable"] == len(deleted)
    assert result.stats["tiktok/refresh/checked"] == 150 + len(deleted)  # not the recent one
    assert f"{len(deleted)} no longer available" in result.log
    for request in sandbox.requests():
        body = json.loads(request["body"]) if isinstance(request["body"], str) else request["body"]
        assert len(body["query"]["and"][0]["field_values"]) <= 100


def test_batches_hold_at_most_100_ids_within_30_days():
    base = 1704067200 << 32  # 2024-01-01
    ids = [base + (day * 86400 << 32) + n for day in range(0, 70, 3) for n in range(9)]
    cut = batches(ids)
    assert sorted(i for _, batch in cut for i in batch) == sorted(ids)
    for window, batch in cut:
        assert len(batch) <= 100 and window.days <= 30
        assert all(window.start <= day_of_id(i) <= window.end for i in batch)
    assert cut[0][0] == Window(date(2024, 1, 1), date(2024, 1, 28))
