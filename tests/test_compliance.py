"""compliance.py: what refresh checks (and refuses), task files, multipart bodies, results."""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path

import pytest

from tiktok_scrapy.compliance import (
    multipart_body,
    poll_delay,
    read_stored,
    row_kind,
    task_batches,
    valid_ids,
)
from tiktok_scrapy.inputs import InputError

BIG = 12345678910987654321  # above 2**63, as in TikTok's example


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rows_are_told_apart_by_provenance_then_shape():
    assert row_kind({"id": 1, "_crawl": {"endpoint": "videos"}}) == "video"
    assert row_kind({"id": 1, "_crawl": {"endpoint": "liked_videos"}}) == "video"
    assert row_kind({"id": 1, "_crawl": {"endpoint": "comments"}}) == "comment"
    assert row_kind({"username": "a", "_crawl": {"endpoint": "users"}}) == "users"
    assert row_kind({"id": 1, "video_id": 2, "text": ""}) == "comment"
    assert row_kind({"id": 1, "create_time": 3}) == "video"
    assert row_kind({"username": "a", "bio_description": ""}) == "users"
    assert row_kind({"id": 1}) is None


def test_outputs_folders_and_id_lists(tmp_path):
    _jsonl(tmp_path / "v" / "videos.jsonl", [{"id": 1}, {"id": 2, "create_time": 5}])
    _jsonl(tmp_path / "c" / "comments.jsonl", [{"id": 3, "video_id": 1, "text": "x"}])
    stored = read_stored(tmp_path)
    assert {k: sorted(v) for k, v in stored.ids.items()} == {"video": [1, 2], "comment": [3]}
    assert set(read_stored(tmp_path, "comment").ids) == {"comment"}
    listed = tmp_path / "ids.txt"
    listed.write_text(f"# comments to check\n{BIG}\n4\n")
    assert sorted(read_stored(listed, "comment").ids["comment"]) == [4, BIG]
    csv_file = tmp_path / "ids.csv"
    csv_file.write_text("video_id,note\n5,a\n6,b\n")
    assert sorted(read_stored(csv_file, "video").ids["video"]) == [5, 6]


def test_the_latest_crawl_time_of_an_id_counts(tmp_path):
    path = _jsonl(
        tmp_path / "videos.jsonl",
        [
            {"id": 1, "_crawl": {"crawled_at": "2024-01-01T00:00:00+00:00"}},
            {"id": 1, "_crawl": {"crawled_at": "2024-03-01T00:00:00Z"}},
        ],
    )
    [seen] = read_stored(path).ids["video"].values()
    assert seen is not None and seen.month == 3


@pytest.mark.parametrize(
    ("rows", "name", "category", "message"),
    [
        ([{"username": "a", "follower_count": 1}], "users.jsonl", None, "not a video or comment"),
        ([{"source": "a", "target": "b"}], "follow_edges.jsonl", None, "follow_edges"),
        ([{"id": 1}], "mine.jsonl", None, "unknown kind"),
        ([{"id": 1, "video_id": 2, "text": ""}], "comments.jsonl", "video", "category: video"),
        (
            [{"id": 1, "create_time": 2}, {"id": 3, "video_id": 1, "text": ""}],
            "x.jsonl",
            None,
            "one kind",
        ),
        ([{"id": "abc", "create_time": 2}], "videos.jsonl", None, "no numeric id"),
    ],
)
def test_the_wrong_kind_of_input_is_refused(tmp_path, rows, name, category, message):
    path = _jsonl(tmp_path / name, rows)
    with pytest.raises(InputError, match=message) as error:
        read_stored(path, category)
    assert "\n" not in str(error.value)


def test_an_id_list_needs_a_category_and_a_folder_needs_outputs(tmp_path):
    listed = tmp_path / "ids.txt"
    listed.write_text("1\n")
    with pytest.raises(InputError, match="category"):
        read_stored(listed)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no videos\.jsonl"):
        read_stored(tmp_path / "empty")


def test_task_files_hold_at_most_10000_distinct_ids():
    ids = [*range(25_000, 0, -1), 7]
    cut = task_batches(ids)
    assert [len(b) for b in cut] == [10_000, 10_000, 5_000]
    assert cut[0][0] == 1 and sorted(i for b in cut for i in b) == list(range(1, 25_001))
    assert [len(b) for b in task_batches(ids, 50_000)] == [10_000, 10_000, 5_000]


def test_the_multipart_body_is_what_a_form_parser_reads():
    body, content_type = multipart_body("comment", [BIG, 2])
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
    assert parts["file_data"].get_filename() == "ids.txt"
    assert parts["file_data"].get_payload(decode=True) == f"{BIG}\n2\n".encode()
    assert parts["category"].get_payload() == "comment"
    assert multipart_body("comment", [BIG, 2]) == (body, content_type)  # resends identical


def test_result_files_and_poll_delays():
    assert valid_ids(f"{BIG}\n2\r\n\n3".encode()) == {BIG, 2, 3}
    assert valid_ids(b"") == set()
    assert [poll_delay(n, 10, 300) for n in range(7)] == [10, 20, 40, 80, 160, 300, 300]
    assert poll_delay(100, 0, 300) == 0
