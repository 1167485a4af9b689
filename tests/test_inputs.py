"""Inputs from files and earlier outputs: formats, de-duplication, exact 64-bit ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tiktok_scrapy.config import ConfigError, load_config
from tiktok_scrapy.inputs import InputError, has_comments, read_output, read_values, to_ids

BIG = 7312345678901234567  # above 2**53: a float would change it


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_text_file_skips_blanks_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_text("# accounts to crawl\nalice\n\n  bob  \n# carol\n")
    assert read_values(path, "username") == ["alice", "bob"]


def test_csv_takes_the_column(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("id,username\n1,alice\n2,\n3,bob\n")
    assert read_values(path, "username") == ["alice", "bob"]
    with pytest.raises(InputError, match=r'no column "user" \(columns: id, username\)'):
        read_values(path, "user")


def test_jsonl_ids_stay_exact(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "videos.jsonl", [{"id": BIG}, {"id": BIG + 1}, {"other": 1}])
    assert read_values(path, "id") == [BIG, BIG + 1]


def test_bad_jsonl_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "videos.jsonl"
    path.write_text('{"id": 1}\n{"id": \n')
    with pytest.raises(InputError, match=r"videos.jsonl:2: not a JSON line"):
        read_values(path, "id")


def test_output_folder_is_searched_for_the_right_file(tmp_path: Path) -> None:
    jsonl(tmp_path / "videos" / "job1" / "videos.jsonl", [{"id": 1, "username": "a"}])
    jsonl(tmp_path / "videos" / "job2" / "videos.jsonl", [{"id": 2, "username": "b"}])
    assert read_output(tmp_path / "videos", "username") == ["a", "b"]
    assert read_output(tmp_path / "videos", "video_id") == [1, 2]


def test_follow_edges_give_sources_unless_told_otherwise(tmp_path: Path) -> None:
    edges = [{"source": "f1", "target": "x"}, {"source": "f2", "target": "x"}]
    jsonl(tmp_path / "followers" / "j" / "follow_edges.jsonl", edges)
    assert read_output(tmp_path / "followers", "username") == ["f1", "f2"]
    assert read_output(tmp_path / "followers", "username", column="target") == ["x", "x"]


def test_output_without_a_fitting_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no videos\.jsonl"):
        read_output(tmp_path, "video_id")
    with pytest.raises(InputError, match="no such file or folder"):
        read_output(tmp_path / "missing", "video_id")


def test_only_with_comments_keeps_unknown_counts(tmp_path: Path) -> None:
    rows = [{"id": 1, "comment_count": 0}, {"id": 2, "comment_count": 5}, {"id": 3}]
    path = jsonl(tmp_path / "videos.jsonl", rows)
    assert read_values(path, "id", has_comments) == [2, 3]


def test_to_ids_refuses_floats_and_text() -> None:
    assert to_ids([BIG, str(BIG), " 12 "], "x") == [BIG, BIG, 12]
    for bad in (1.0, "12a", True):
        with pytest.raises(InputError, match="not a numeric id"):
            to_ids([bad], "ids.txt")


def test_usernames_from_every_source_deduplicated_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "names.txt").write_text("bob\n@carol\nalice\n")
    jsonl(
        tmp_path / "data" / "videos" / "j" / "videos.jsonl",
        [{"username": "carol"}, {"username": "dave"}, {"username": "dave"}],
    )
    config = load_config(
        "users",
        json.dumps(
            {
                "usernames": ["@alice", "bob"],
                "usernames_file": "names.txt",
                "from_output": "data/videos",
            }
        ),
    )
    assert config.inputs() == ["alice", "bob", "carol", "dave"]


def test_comment_inputs_are_video_and_comment_pairs(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{BIG}\n12\n")
    out = jsonl(
        tmp_path / "videos.jsonl", [{"id": 12, "comment_count": 1}, {"id": 13, "comment_count": 0}]
    )
    config = load_config(
        "comments",
        json.dumps(
            {
                "video_ids": [12],
                "video_ids_file": str(ids),
                "from_output": str(out),
                "only_with_comments": True,
                "comment_ids": [BIG, BIG],
            }
        ),
    )
    assert config.inputs() == [("video_id", 12), ("video_id", BIG), ("comment_id", BIG)]


def test_comment_inputs_from_a_csv_column(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text(f"video_id,n\n{BIG},1\n")
    config = load_config(
        "comments", json.dumps({"video_ids_file": str(path), "column": "video_id"})
    )
    assert config.inputs() == [("video_id", BIG)]


def test_non_numeric_video_id_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_text("12\nabc\n")
    config = load_config("comments", json.dumps({"video_ids_file": str(path)}))
    with pytest.raises(ConfigError, match=r"ids.txt:2: \"abc\" is not a numeric id"):
        config.inputs()


def test_playlist_ids_from_videos_skip_videos_without_one(tmp_path: Path) -> None:
    jsonl(
        tmp_path / "v" / "videos.jsonl",
        [{"id": 1, "playlist_id": BIG}, {"id": 2}, {"id": 3, "playlist_id": BIG}],
    )
    config = load_config(
        "playlists", json.dumps({"from_output": str(tmp_path / "v"), "playlist_ids": [5]})
    )
    assert config.inputs() == [5, BIG]


def test_empty_inputs_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_text("# nothing yet\n")
    config = load_config("followers", json.dumps({"usernames_file": str(path)}))
    with pytest.raises(ConfigError, match="no usernames found in usernames_file"):
        config.inputs()
