"""The codebook: what is valid, what normalisation does, and how fast it is."""

from __future__ import annotations

import json

import pytest
from crawling import SAMPLES

from tiktok_scrapy.schemas import Codebook, normalise, strip_nul


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))["data"]


@pytest.fixture(scope="module")
def codebook() -> Codebook:
    return Codebook()


def test_real_short_page_is_valid_and_keeps_ids_exact(codebook: Codebook) -> None:
    videos = sample("video_query_short_page.json")["videos"]
    assert len(videos) == 27
    for video in videos:
        checked = codebook.check("videos", video)
        assert checked.reason is None
        assert checked.value["id"] == video["id"] and type(checked.value["id"]) is int
        assert checked.unknown_keys == ()
    assert codebook.check("videos", videos[0]).value["id"] == 7320768196569599275


def test_nul_bytes_stripped_original_kept_rtl_untouched(codebook: Codebook) -> None:
    video = sample("video_query_nul_bytes.json")["videos"][0]
    value = codebook.check("videos", video).value
    assert value["username"] == "مستخدم4"
    assert value["_original"] == {"username": "مستخدم\x00\x00\x00\x00\x00\x004"}
    assert value["video_description"] == video["video_description"]  # RTL text as sent
    assert value["hashtag_names"] == video["hashtag_names"]
    assert value["create_datetime"] == "2024-11-09T22:14:13Z"
    assert "\x00" in video["username"]  # the input is not modified


def test_empty_comment_texts_are_valid(codebook: Codebook) -> None:
    comments = sample("comment_list.json")["comments"]
    values = [codebook.check("comments", c).value for c in comments]
    assert all(v is not None for v in values)
    assert values[0]["text"] == "" and values[0]["parent_comment_id"] == 7385291383449439519


@pytest.mark.parametrize(
    ("collection", "obj", "needle"),
    [
        ("videos", {"id": 7.320768196569599e18}, "id: Input should be a valid integer"),
        ("videos", {"id": "12ab"}, "id:"),
        ("videos", {"like_count": 3}, "missing required key(s): id"),
        ("videos", {"id": 1, "hashtag_names": "cats"}, "hashtag_names"),
        ("comments", {"id": 1}, "missing required key(s): video_id"),
        ("users", {"username": ""}, "missing required key(s): username"),
        ("users", {"username": "a", "follower_count": "many"}, "follower_count"),
        ("follow_edges", {"source": "a"}, "target"),
        ("user_videos", {"id": 1, "account": "a", "relation": "shared"}, "relation"),
        ("playlists", {"playlist_id": 1, "playlist_video_ids": [1.5]}, "playlist_video_ids"),
        ("nowhere", {"id": 1}, "no codebook schema"),
    ],
)
def test_invalid_objects_name_the_field(
    codebook: Codebook, collection: str, obj: dict, needle: str
) -> None:
    checked = codebook.check(collection, obj)
    assert checked.value is None
    assert needle in checked.reason


def test_digit_string_ids_become_ints(codebook: Codebook) -> None:
    value = codebook.check("comments", {"id": "7386111312293610270", "video_id": 5}).value
    assert value["id"] == 7386111312293610270


def test_effect_ids_are_strings_as_in_the_codebook(codebook: Codebook) -> None:
    value = codebook.check("videos", {"id": 1, "effect_ids": ["63960564", 7]}).value
    assert value["effect_ids"] == ["63960564", "7"]


def test_ids_as_strings() -> None:
    value = (
        Codebook(ids_as_strings=True)
        .check("playlists", {"playlist_id": 7, "playlist_video_ids": [1, 2]})
        .value
    )
    assert value["playlist_id"] == "7" and value["playlist_video_ids"] == ["1", "2"]


def test_unknown_keys_are_kept_and_reported(codebook: Codebook) -> None:
    checked = codebook.check("users", {"username": "a", "new_thing": {"x": 1}, "zz": 2})
    assert checked.value["new_thing"] == {"x": 1}
    assert checked.unknown_keys == ("new_thing", "zz")


def test_every_item_type_has_a_valid_example(codebook: Codebook) -> None:
    crawl = {"crawl_id": "c1", "chain": "ch", "page": 0, "crawled_at": "2024-01-01T00:00:00Z"}
    examples = {
        "users": {
            "username": "u",
            "display_name": "U",
            "is_verified": False,
            "follower_count": 2**40,
        },
        "follow_edges": {"source": "a", "target": "b", "display_name": "B"},
        "user_videos": {"id": 1, "account": "a", "relation": "pinned", "like_count": 3},
        "playlists": {
            "playlist_id": 7,
            "playlist_name": "p",
            "playlist_video_ids": [1, 2],
            "playlist_item_total": 2,
            "playlist_last_updated": 1700000000,
        },
        "pages": {
            "crawl_id": "c1",
            "chain": "ch",
            "endpoint": "videos",
            "page": 0,
            "status": 200,
            "error": {"code": "ok"},
            "has_more": True,
            "items": 27,
            "latency": 0.4,
            "outcome": "ok",
            "at": "2024-01-01T00:00:00Z",
        },
    }
    for collection, obj in examples.items():
        provenance = {} if collection == "pages" else {"_crawl": crawl}
        checked = codebook.check(collection, {**obj, **provenance})
        assert checked.reason is None, (collection, checked.reason)
        assert checked.unknown_keys == ()


def test_strip_nul_returns_same_object_when_clean() -> None:
    clean = {"a": ["x", {"b": "y"}]}
    assert strip_nul(clean) is clean
    assert strip_nul({"a": ["x\x00"]}) == {"a": ["x"]}


def test_normalise_ignores_out_of_range_create_time() -> None:
    obj = normalise({"id": 1, "create_time": 10**20})
    assert "create_datetime" not in obj


def test_every_video_of_a_large_batch_passes_the_codebook(codebook: Codebook) -> None:
    """The 10,800 videos the validation benchmark times (benchmarks/validation.py, ``make
    bench``): here only that each passes; the rate is a benchmark's ratio, not a test."""
    videos = sample("video_query_short_page.json")["videos"] * 400
    assert all(codebook.check("videos", video).value is not None for video in videos)
