"""``scrapy export --input``: flat, de-duplicated CSV and Parquet from a crawl's JSON Lines."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scrapy.settings import Settings

from tiktok_scrapy.commands.export import Command
from tiktok_scrapy.storage.tables import flatten

BIG = 7320768196569599275  # above 2**53: a double would make it 7320768196569599000
BIGGER = 2**64 + 1  # above int64 (a compliance task id can be)


def video(vid: int, likes: int, crawl: str, **extra) -> dict:
    return {
        "id": vid,
        "create_time": 1704499200,
        "like_count": likes,
        "hashtag_names": ["flood", "storm"],
        "effect_ids": ["123", "456"],
        "hashtag_info_list": [{"hashtag_id": BIG, "hashtag_name": "flood"}],
        "music_id": BIG + 5,
        "_crawl": {"crawl_id": crawl, "page": 0, "window": "2024-01-06..2024-01-06"},
        **extra,
    }


@pytest.fixture
def crawl_dir(tmp_path: Path) -> Path:
    out = tmp_path / "data" / "videos" / "job"
    out.mkdir(parents=True)
    lines = [
        video(BIG, 1, "c1"),
        video(BIG + 1, 2, "c1", is_stem_verified=True),
        video(BIG, 10, "c2"),  # the same video, crawled again: this copy wins
    ]
    text = "".join(json.dumps(v) + "\n" for v in lines) + '{"id": 1, "trunc'  # a killed write
    (out / "videos.jsonl").write_text(text)
    users = [{"username": "a", "follower_count": 1}, {"username": "a", "follower_count": 2}]
    (out / "users.jsonl").write_text("".join(json.dumps(u) + "\n" for u in users))
    (out / "pages.jsonl").write_text(json.dumps({"chain": "x", "status": 500}) + "\n")
    return out


def run(*argv: str) -> Command:
    command = Command()
    command.settings = Settings()
    parser = argparse.ArgumentParser()
    command.add_options(parser)
    command.run([], parser.parse_args(list(argv)))
    return command


def test_folder_to_csv_is_flat_exact_and_deduplicated(crawl_dir, tmp_path, capsys):
    command = run("--input", str(crawl_dir), "-o", str(tmp_path / "tables"))
    assert command.exitcode == 0
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["users.csv", "videos.csv"]
    rows = list(csv.DictReader((tmp_path / "tables" / "videos.csv").open(encoding="utf-8")))
    assert [(r["id"], r["like_count"]) for r in rows] == [(str(BIG + 1), "2"), (str(BIG), "10")]
    first = rows[1]
    assert first["music_id"] == str(BIG + 5)
    assert first["hashtag_names"] == "flood|storm" and first["effect_ids"] == "123|456"
    assert json.loads(first["hashtag_info_list"])[0]["hashtag_id"] == BIG
    assert first["_crawl.crawl_id"] == "c2" and first["_crawl.window"].startswith("2024-01-06")
    assert rows[0]["is_stem_verified"] == "true" and first["is_stem_verified"] == ""
    header = next(csv.reader((tmp_path / "tables" / "videos.csv").open()))
    assert header[0] == "id" and header[-1].startswith("_crawl.")
    users = list(csv.DictReader((tmp_path / "tables" / "users.csv").open()))
    assert [(u["username"], u["follower_count"]) for u in users] == [("a", "2")]
    err = capsys.readouterr().err
    assert "2 videos" in err and "1 older duplicate(s) dropped" in err
    assert "1 unreadable line(s) skipped" in err


def test_folder_to_parquet_keeps_ids_as_strings(crawl_dir, tmp_path):
    command = run("--input", str(crawl_dir), "-o", str(tmp_path / "t"), "--format", "csv,parquet")
    assert command.exitcode == 0
    table = pq.read_table(tmp_path / "t" / "videos.parquet")
    assert table.schema.field("id").type == pa.string()
    assert table.schema.field("music_id").type == pa.string()
    assert table.schema.field("like_count").type == pa.int64()
    assert table.schema.field("is_stem_verified").type == pa.bool_()
    assert table.column("id").to_pylist() == [str(BIG + 1), str(BIG)]
    assert table.column("_crawl.crawl_id").to_pylist() == ["c1", "c2"]
    assert (tmp_path / "t" / "videos.csv").exists()


def test_one_file_and_values_beyond_int64(tmp_path):
    source = tmp_path / "playlists.jsonl"
    rows = [{"playlist_id": BIGGER, "playlist_video_ids": [BIG, BIG + 1], "n": BIGGER}]
    source.write_text(json.dumps(rows[0]) + "\n")
    assert run("--input", str(source), "-o", str(tmp_path / "p.parquet")).exitcode == 0
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.column("playlist_id").to_pylist() == [str(BIGGER)]
    assert table.column("playlist_video_ids").to_pylist() == [f"{BIG}|{BIG + 1}"]
    assert table.schema.field("n").type == pa.string()  # too big for int64: text, exact


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--input", "nowhere", "-o", "t/"), "does not exist"),
        (("--input", "{dir}", "-o", "x.csv"), "give -o a folder"),
        (("--input", "{dir}", "-o", "t/", "--format", "xlsx"), "unknown format 'xlsx'"),
    ],
)
def test_errors_are_one_line(crawl_dir, tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    command = run(*(a.replace("{dir}", str(crawl_dir)) for a in argv))
    err = capsys.readouterr().err.strip()
    assert command.exitcode == 1 and message in err and "\n" not in err


def test_flatten():
    assert flatten({"a": {"b": {"c": 1}}, "l": [1, None, 2], "e": []}) == {
        "a.b.c": 1,
        "l": "1|2",
        "e": "",
    }
