"""purge: unavailable records leave the JSON Lines outputs (atomically) and MongoDB, with
what hangs off them; one audit line per run, counts only."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import mongomock
import pytest
from crawling import env_for_subprocess, read_jsonl
from inprocess import run_crawl_inprocess

from tiktok_scrapy.purge import (
    append_audit,
    files_to_purge,
    purge_files,
    purge_mongodb,
    refers_to_gone,
    rewrite_without,
)

V1, V2, V3 = 7300000000000000001, 7300000000000000002, 7300000000000000003
C1, C2, C3, C4 = 7310000000000000001, 7310000000000000002, 7310000000000000003, 7310000000000000004
GONE = {"video": {V1}, "comment": {C3}}


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _output_folder(root: Path) -> Path:
    _write(root / "videos" / "videos.jsonl", [{"id": V1}, {"id": V2}, {"id": V3}])
    _write(
        root / "comments" / "comments.jsonl",
        [
            {"id": C1, "video_id": V1, "text": "of a gone video"},
            {"id": C2, "video_id": V2, "text": "stays"},
            {"id": C3, "video_id": V2, "text": "gone"},
            {"id": C4, "video_id": V3, "text": "stays"},
        ],
    )
    _write(root / "videos" / "user_videos.jsonl", [{"id": V1, "account": "a"}, {"id": V3}])
    _write(
        root / "videos" / "invalid_items.jsonl",
        [{"collection": "videos", "item": {"id": V1}}, {"collection": "users", "item": {}}],
    )
    return root


def test_rows_that_are_or_hang_off_gone_records():
    assert refers_to_gone({"id": V1}, "video", GONE)
    assert refers_to_gone({"id": str(V1)}, "video", GONE)  # ids stored as strings too
    assert not refers_to_gone({"id": V2}, "video", GONE)
    assert refers_to_gone({"id": C1, "video_id": V1}, "comment", GONE)
    assert refers_to_gone({"id": C3, "video_id": V2}, "comment", GONE)
    assert refers_to_gone({"collection": "comments", "item": {"id": C3}}, "quarantined", GONE)
    assert not refers_to_gone({"collection": "users", "item": {"id": V1}}, "quarantined", GONE)


def test_a_folder_is_purged_to_exactly_the_available_records(tmp_path):
    root = _output_folder(tmp_path / "data")
    files = files_to_purge({}, root)
    removed = purge_files(files, GONE)
    assert [r["id"] for r in read_jsonl(root / "videos" / "videos.jsonl")] == [V2, V3]
    assert [r["id"] for r in read_jsonl(root / "comments" / "comments.jsonl")] == [C2, C4]
    assert [r["id"] for r in read_jsonl(root / "videos" / "user_videos.jsonl")] == [V3]
    assert len(read_jsonl(root / "videos" / "invalid_items.jsonl")) == 1
    assert sum(removed.values()) == 1 + 2 + 1 + 1
    assert not list(root.rglob("*.tmp")) and not list(root.rglob("*.orig"))


def test_originals_are_kept_only_when_asked(tmp_path):
    path = tmp_path / "videos.jsonl"
    _write(path, [{"id": V1}, {"id": V2}])
    before = path.read_bytes()
    assert rewrite_without(path, lambda row: row["id"] == V1, keep_original=True) == 1
    [original] = tmp_path.glob("videos.jsonl.*.orig")
    assert original.read_bytes() == before
    assert read_jsonl(path) == [{"id": V2}]


def test_a_file_with_nothing_gone_is_not_rewritten(tmp_path):
    path = tmp_path / "videos.jsonl"
    path.write_text('{"id": 1}\nnot json\n')
    stat = path.stat()
    assert rewrite_without(path, lambda row: False) == 0
    assert path.stat().st_ino == stat.st_ino and path.read_text() == '{"id": 1}\nnot json\n'


def test_mongodb_keeps_exactly_the_available_records_and_what_hangs_off_them():
    db = mongomock.MongoClient()["purge"]
    db.videos.insert_many([{"id": V1}, {"id": V2}, {"id": V3}])
    db.videos_snapshots.insert_many([{"id": V1, "crawl_id": "a"}, {"id": V2, "crawl_id": "a"}])
    db.comments.insert_many(
        [{"id": C1, "video_id": V1}, {"id": C2, "video_id": V2}, {"id": C3, "video_id": V2}]
    )
    db.comments_snapshots.insert_many([{"id": C1}, {"id": C2}, {"id": C3}])
    db.user_videos.insert_many([{"id": V1, "account": "a", "relation": "liked"}, {"id": V2}])
    db.playlists.insert_one({"playlist_id": 9, "playlist_video_ids": [V1, V2]})
    db.invalid_items.insert_one({"collection": "comments", "item": {"id": C3}})

    counts = purge_mongodb(db, GONE)
    assert sorted(d["id"] for d in db.videos.find()) == [V2, V3]
    assert sorted(d["id"] for d in db.comments.find()) == [C2]
    assert [d["id"] for d in db.videos_snapshots.find()] == [V2]
    assert [d["id"] for d in db.comments_snapshots.find()] == [C2]
    assert [d["id"] for d in db.user_videos.find()] == [V2]
    assert db.playlists.find_one()["playlist_video_ids"] == [V2]
    assert db.invalid_items.count_documents({}) == 0
    assert counts["videos"] == 1 and counts["comments"] == 2


def test_audit_lines_are_appended(tmp_path):
    path = tmp_path / "audit" / "purge_audit.jsonl"
    append_audit(path, {"deleted_total": 3})
    append_audit(path, {"deleted_total": 0})
    assert [e["deleted_total"] for e in read_jsonl(path)] == [3, 0]


PURGE_BIG_FILE = """
import sys
from pathlib import Path
from tiktok_scrapy.purge import rewrite_without
rewrite_without(Path(sys.argv[1]), lambda row: row["id"] % 2 == 0)
"""


def _temp_size(folder: Path) -> int:
    sizes = []
    for tmp in folder.glob(".videos.jsonl.purge-*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            sizes.append(tmp.stat().st_size)
    return max(sizes, default=0)


def test_kill_9_during_a_purge_leaves_the_old_file_or_the_new_one(tmp_path):
    path = tmp_path / "videos.jsonl"
    rows = [{"id": i, "text": "x" * 200} for i in range(60_000)]
    old = "".join(json.dumps(r) + "\n" for r in rows).encode()
    new = "".join(json.dumps(r) + "\n" for r in rows if r["id"] % 2).encode()
    outcomes = set()
    for written in (0, len(new) // 2, len(new)):  # kill as the temp file reaches this size
        path.write_bytes(old)
        proc = subprocess.Popen(
            [sys.executable, "-c", PURGE_BIG_FILE, str(path)], env=env_for_subprocess()
        )
        deadline = time.monotonic() + 30
        while proc.poll() is None and _temp_size(tmp_path) < max(1, written):
            assert time.monotonic() < deadline
            time.sleep(0.001)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        content = path.read_bytes()
        assert content in (old, new)
        outcomes.add("old" if content == old else "new")
        for tmp in tmp_path.glob(".videos.jsonl.purge-*.tmp"):
            tmp.unlink()  # what a killed purge leaves behind is a temp file, never the data
    assert "old" in outcomes


@pytest.mark.integration
def test_refresh_with_purge_cleans_jsonl_outputs(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process()
    day = {"start_date": "2024-01-10", "end_date": "2024-01-10"}
    data = tmp_path / "data"
    query = {"and": [{"field_name": "region_code", "operation": "EQ", "field_values": ["US"]}]}
    videos = run_crawl_inprocess("videos", {"query": query, **day}, sandbox.url, data / "v")
    assert videos.returncode == 0, videos.log[-3000:]
    video_ids = [v["id"] for v in videos.of("videos")]
    picked = [v["id"] for v in videos.of("videos") if 0 < v.get("comment_count", 0) < 50][:3]
    comments = run_crawl_inprocess("comments", {"video_ids": picked}, sandbox.url, data / "c")
    assert comments.returncode == 0, comments.log[-3000:]
    comment_rows = comments.of("comments")
    gone_videos = [picked[0], next(i for i in video_ids if i not in picked)]
    gone_comments = [c["id"] for c in comment_rows if c["video_id"] == picked[1]][:1]
    sandbox.delete(videos=gone_videos, comments=gone_comments)

    config = {"from_output": str(data), "older_than_days": 0, "purge": True}
    settings = {"TIKTOK_COMPLIANCE_POLL_INTERVAL": "0.01"}
    result = run_crawl_inprocess("refresh", config, sandbox.url, tmp_path / "r", settings=settings)
    assert result.returncode == 0, result.log[-3000:]

    left_videos = [r["id"] for r in read_jsonl(videos.outdir / "videos.jsonl")]
    assert left_videos == [i for i in video_ids if i not in gone_videos]
    left_comments = {r["id"] for r in read_jsonl(comments.outdir / "comments.jsonl")}
    assert left_comments == {
        c["id"]
        for c in comment_rows
        if c["id"] not in gone_comments and c["video_id"] not in gone_videos
    }
    [audit] = read_jsonl(result.outdir / "purge_audit.jsonl")
    assert audit["checked"] == {"video": len(video_ids), "comment": len(comment_rows)}
    of_gone_video = [c for c in comment_rows if c["video_id"] == picked[0]]
    assert audit["unavailable"] == {"video": 2, "comment": 1 + len(of_gone_video)}
    assert audit["deleted_total"] == len(video_ids) - len(left_videos) + len(comment_rows) - len(
        left_comments
    )
    text = json.dumps(audit)
    assert str(gone_videos[0]) not in text and "text" not in audit  # counts only
    assert not list(data.rglob("*.orig"))


@pytest.mark.integration
def test_refresh_with_purge_cleans_mongodb(make_sandbox, tmp_path):
    sandbox = make_sandbox()
    env = env_for_subprocess()
    if os.environ.get("MONGODB_URI"):
        env["MONGODB_URI"] = os.environ["MONGODB_URI"]
    script = Path(__file__).parent / "helpers" / "mongo_refresh_purge.py"
    database = f"tiktok_scrapy_test_{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(
        [sys.executable, str(script), sandbox.url, str(tmp_path), database],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = json.loads(proc.stdout.strip().splitlines()[-1])
    assert s["deleted_videos"] and s["deleted_comments"] and s["comments_of_deleted_video"]
    assert s["videos_left"] == sorted(set(s["videos"]) - set(s["deleted_videos"]))
    gone_comments = set(s["deleted_comments"]) | set(s["comments_of_deleted_video"])
    assert s["comments_left"] == sorted(set(s["comments"]) - gone_comments)
    assert set(s["video_snapshots_left"]) == set(s["videos_left"])
    assert set(s["comment_snapshots_left"]) == set(s["comments_left"])
    [audit] = s["audit"]
    assert audit["unavailable"] == {"video": 3, "comment": len(gone_comments)}
    assert audit["source"] == "mongodb"
    assert json.loads(s["audit_file"])["deleted_total"] == audit["deleted_total"]
