"""Cybersecurity for Democracy's client (``tiktok-research-api-helper``) works against the sandbox.

A second real client beside TikTok's own: its ``tiktok-lib run`` command crawls a hashtag
query into its SQLite database exactly as it does against TikTok, and the database must
hold exactly the sandbox's videos, with the codebook's types (it stores ``effect_ids`` as
text and crashed when the sandbox sent integers). ``helpers/c4d_cli.py`` points its
hardcoded API host at the sandbox; nothing else about it is changed.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tiktok_scrapy.sandbox import SandboxThread

WRAPPER = Path(__file__).parent / "helpers" / "c4d_cli.py"
HASHTAGS = ["fyp", "viral"]
START, END = date(2024, 1, 1), date(2024, 1, 10)


def run_c4d_cli(sandbox: SandboxThread, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    (workdir / "secrets.yaml").write_text("client_key: c4d-client\nclient_secret: sandbox-secret\n")
    return subprocess.run(
        [sys.executable, str(WRAPPER), sandbox.url, "run", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC"},  # it stores create_time as naive local time
        timeout=300,
    )


def stored_videos(db: Path) -> dict[int, dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        videos = {row["id"]: dict(row) for row in conn.execute("SELECT * FROM video")}
        for video in videos.values():
            video["effect_ids"], video["hashtag_names"] = [], []
        for video_id, effect_id in conn.execute(
            "SELECT v.video_id, e.effect_id FROM videos_to_effect_ids v"
            " JOIN effect e ON e.id = v.effect_id"
        ):
            videos[video_id]["effect_ids"].append(effect_id)
        for video_id, name in conn.execute(
            "SELECT v.video_id, h.name FROM videos_to_hashtags v"
            " JOIN hashtag h ON h.id = v.hashtag_id"
        ):
            videos[video_id]["hashtag_names"].append(name)
        crawls = conn.execute("SELECT has_more, query FROM crawl").fetchall()
    assert crawls and all(not has_more for has_more, _ in crawls)  # each window said done
    return videos


def test_hashtag_query_with_its_own_cli_stores_exactly_the_sandboxs_videos(
    make_sandbox: Any, tmp_path: Path
) -> None:
    sandbox = make_sandbox()
    db = tmp_path / "c4d.db"
    result = run_c4d_cli(
        sandbox,
        tmp_path,
        START.strftime("%Y%m%d"),
        END.strftime("%Y%m%d"),
        "--db-file",
        str(db),
        "--include-any-hashtags",
        ",".join(HASHTAGS),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    sent = sandbox.requests("videos")
    query = {"and": [{"operation": "IN", "field_name": "hashtag_name", "field_values": HASHTAGS}]}
    assert sent and all(r["status"] == 200 and r["body"]["query"] == query for r in sent)
    truth = {v["id"]: v for v in sandbox.dataset.truth_videos(query, START, END)}
    assert len(truth) > 100  # more than one page of 100

    stored = stored_videos(db)
    assert sorted(stored) == sorted(truth)
    for video_id, video in stored.items():
        expected = truth[video_id]
        assert video["username"] == expected["username"].replace("\x00", "")
        assert video["region_code"] == expected["region_code"]
        assert video["like_count"] == expected["like_count"]
        assert video["view_count"] == expected["view_count"]
        assert video["music_id"] == expected["music_id"]
        assert video["playlist_id"] == expected.get("playlist_id")
        assert sorted(video["effect_ids"]) == sorted(expected.get("effect_ids", []))
        assert sorted(video["hashtag_names"]) == sorted(expected.get("hashtag_names", []))
        created = datetime.fromisoformat(video["create_time"]).replace(tzinfo=UTC)
        assert created.timestamp() == expected["create_time"]
    assert any(v["effect_ids"] for v in stored.values())
