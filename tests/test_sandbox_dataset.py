"""The sandbox dataset: determinism, shapes, faults, users and the query evaluator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from tiktok_scrapy.sandbox.dataset import Dataset, UserError, day_of_id
from tiktok_scrapy.sandbox.query_eval import compile_query, video_length_category

ALL = {"and": []}
FINGERPRINT = """
import hashlib, json
from tiktok_scrapy.sandbox.dataset import Dataset
d = Dataset.generate(seed=7, scale=0.5)
celeb = max(d.usernames, key=lambda u: len(d._graph[0][d.usernames.index(u)]))
parts = [d.search({"and": []}, d.start, d.end), d.usernames, sorted(d.private_users),
         sorted(d.hidden_users), d.followers(celeb), d.comments(d.many_comments_video_ids[0]),
         [d.playlist(p) for p in d.playlist_ids]]
print(hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest())
"""


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return Dataset.generate()


def cond(field: str, op: str, *values: object) -> dict:
    return {"field_name": field, "operation": op, "field_values": list(values)}


def ids(videos: list[dict]) -> list[int]:
    return [v["id"] for v in videos]


# --- determinism -----------------------------------------------------------------------


def test_same_seed_same_data_and_other_seed_differs():
    a, b, c = Dataset.generate(seed=3), Dataset.generate(seed=3), Dataset.generate(seed=4)
    assert a.search(ALL, a.start, a.end) == b.search(ALL, b.start, b.end)
    assert a.usernames == b.usernames and a.private_users == b.private_users
    assert a.followers(a.usernames[0]) == b.followers(b.usernames[0])
    vid = a.many_comments_video_ids[0]
    assert a.comments(vid) == b.comments(vid)
    assert ids(a.search(ALL, a.start, a.end)) != ids(c.search(ALL, c.start, c.end))


def test_same_data_across_processes_with_different_hash_seeds():
    digests = set()
    for hash_seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", FINGERPRINT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1 and len(digests.pop()) == 64


# --- videos ------------------------------------------------------------------------------


def test_volume_order_and_id_layout(ds):
    videos = ds.search(ALL, ds.start, ds.end)
    assert 3000 <= len(videos) <= 4500  # ~40 a day over 91 days
    assert ids(videos) == sorted(ids(videos), reverse=True)
    assert len(set(ids(videos))) == len(videos)
    for v in videos:
        assert 2**53 < v["id"] < 2**63 and v["id"] >> 32 == v["create_time"]
        assert 2**53 < v["music_id"] < 2**63
        assert all(isinstance(e, str) and 2**53 < int(e) < 2**63 for e in v.get("effect_ids", ()))
        assert ds.start <= day_of_id(v["id"]) <= ds.end
        assert v["_date"] == datetime.fromtimestamp(v["create_time"], UTC).strftime("%Y%m%d")
    assert ds.video(videos[123]["id"]) is videos[123]
    assert ds.video(videos[0]["id"] + 1) is None
    assert ds.video(1) is None and ds.video(2**70) is None and ds.video(-5) is None


def test_window_is_inclusive_utc_days(ds):
    day = date(2024, 2, 10)
    videos = ds.search(ALL, day, day)
    assert videos
    lo = int(datetime(2024, 2, 10, tzinfo=UTC).timestamp())
    assert all(lo <= v["create_time"] < lo + 86400 for v in videos)
    week = ds.search(ALL, day, day + timedelta(days=6))
    assert len(week) == sum(
        len(ds.search(ALL, day + timedelta(days=i), day + timedelta(days=i))) for i in range(7)
    )


def test_variety_for_researchers(ds):
    videos = ds.truth_videos(ALL, ds.start, ds.end)
    regions = Counter(v["region_code"] for v in videos)
    assert {"US", "GB", "DE", "FR", "BR", "IN", "ID", "JP", "MX", "TR", "NG", "PH", "IQ"} <= set(
        regions
    )
    tags = Counter(t for v in videos for t in v.get("hashtag_names", ()))
    assert len(tags) >= 55 and tags["fyp"] > tags["flood"] / 10
    with_tags = [v for v in videos if v.get("hashtag_names")]
    assert all(
        f"#{t}" in v["video_description"] and len(v["hashtag_info_list"]) == len(v["hashtag_names"])
        for v in with_tags
        for t in v["hashtag_names"]
    )
    share = {
        k: sum(k in v for v in videos) / len(videos)
        for k in ("effect_ids", "playlist_id", "voice_to_text", "video_label")
    }
    assert all(0 < s < 0.5 for s in share.values()), share
    assert {video_length_category(v["video_duration"]) for v in videos} == {
        "SHORT",
        "MID",
        "LONG",
        "EXTRA_LONG",
    }
    assert all(isinstance(v["is_stem_verified"], bool) for v in videos)


def test_every_day_has_flood_or_storm_and_flood_bursts_in_one_region(ds):
    query = {"or": [cond("hashtag_name", "IN", "flood", "storm")]}
    per_day = Counter(v["_date"] for v in ds.truth_videos(query, ds.start, ds.end))
    assert len(per_day) == ds.ndays and min(per_day.values()) >= 2
    floods = ds.truth_videos({"and": [cond("hashtag_name", "EQ", "flood")]}, ds.start, ds.end)
    ((_region, count),) = Counter(v["region_code"] for v in floods).most_common(1)
    assert count > len(floods) / 3
    peak_day, peak = Counter(v["_date"] for v in floods).most_common(1)[0]
    assert peak > 5 * len(floods) / ds.ndays, (peak_day, peak)


def test_deleted_videos_take_slots_but_are_not_truth(ds):
    everything = ds.search(ALL, ds.start, ds.end)
    truth = ds.truth_videos(ALL, ds.start, ds.end)
    deleted = [v for v in everything if v.get("_deleted")]
    assert 0.01 < len(deleted) / len(everything) < 0.035
    assert len(truth) == len(everything) - len(deleted)
    assert not any(v.get("_deleted") for v in truth)
    gone = next(v for v in deleted if v["comment_count"])
    assert ds.video(gone["id"]) is gone and ds.comments(gone["id"]) == []


def test_create_date_query_on_dataset_matches_window(ds):
    query = {"and": [cond("create_date", "GTE", "20240305"), cond("create_date", "LT", "20240308")]}
    assert ids(ds.search(query, ds.start, ds.end)) == ids(
        ds.search(ALL, date(2024, 3, 5), date(2024, 3, 7))
    )


def test_data_faults_nul_bytes_rtl_and_huge_counts(ds):
    videos = ds.search(ALL, ds.start, ds.end)
    nul_users = [v for v in videos if "\u0000" in v["username"]]
    assert nul_users and all("\u0000" in v["video_description"] for v in nul_users)
    assert any("\u0600" <= ch <= "\u06ff" for ch in nul_users[0]["video_description"])
    assert any(v["view_count"] > 2**31 for v in videos)
    assert any(v["like_count"] > 2**31 for v in videos)
    assert ds.user(nul_users[0]["username"])["username"] == nul_users[0]["username"]


# --- query evaluation --------------------------------------------------------------------

V = {
    "id": 7320768196569599275,
    "create_time": 1704499196,
    "username": "user_a",
    "region_code": "US",
    "video_description": "Sample Flooding today #Cats #duet",
    "music_id": 7159460238003800066,
    "hashtag_names": ["Cats", "duet"],
    "effect_ids": ["9007199254740999", "9007199254741111"],  # strings, as the API sends them
    "video_duration": 45,
    "view_count": 120,
    "comment_count": 3,
}  # 2024-01-05 23:59:56 UTC


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (cond("create_date", "EQ", "20240105"), True),
        (cond("create_date", "GT", "20240105"), False),
        (cond("create_date", "GTE", "20240105"), True),
        (cond("create_date", "LT", "20240106"), True),
        (cond("create_date", "LTE", "20240104"), False),
        (cond("username", "IN", "x", "user_a"), True),
        (cond("username", "EQ", "user_b"), False),
        (cond("region_code", "IN", "gb", "us"), True),
        (cond("region_code", "EQ", "GB"), False),
        (cond("video_id", "EQ", "7320768196569599275"), True),
        (cond("video_id", "EQ", 7320768196569599274), False),
        (cond("hashtag_name", "EQ", "cats"), True),
        (cond("hashtag_name", "IN", "dogs", "DUET"), True),
        (cond("hashtag_name", "EQ", "cat"), False),
        (cond("keyword", "EQ", "flood"), True),
        (cond("keyword", "IN", "storm", "TODAY"), True),
        (cond("keyword", "EQ", "storm"), False),
        (cond("music_id", "EQ", "7159460238003800066"), True),
        (cond("music_id", "EQ", "7159460238003800067"), False),
        (cond("effect_id", "EQ", "9007199254741111"), True),
        (cond("effect_id", "IN", "1", "2"), False),
        (cond("video_length", "EQ", "MID"), True),
        (cond("video_length", "IN", "SHORT", "LONG"), False),
        (cond("view_count", "GT", "119"), True),
        (cond("view_count", "GT", "120"), False),
        (cond("view_count", "GTE", 120), True),
        (cond("view_count", "LT", "120"), False),
        (cond("comment_count", "LTE", "3"), True),
        (cond("comment_count", "EQ", "4"), False),
    ],
)
def test_each_field_and_operation(condition, expected):
    assert compile_query({"and": [condition]})(V) is expected


# Copied from /work/shared/api-samples/video_query_nul_bytes.json (recorded from the real API).
REAL_VIDEO = {
    "create_time": 1731190453,
    "like_count": 49,
    "region_code": "IQ",
    "video_description": "#الباشا👑 #تيم_الرافدين #تيك_توك #ابوجبل ",
    "view_count": 401,
    "comment_count": 11,
    "hashtag_names": ["ابوجبل", "تيك_توك", "تيم_الرافدين", "الباشا👑"],
    "id": 7435406205763226897,
    "music_id": 7375579229523643153,
    "share_count": 0,
    "username": "مستخدم\u0000\u0000\u0000\u0000\u0000\u00004",
}


def test_real_api_sample_video_evaluates():
    # No internal keys here: create_date is derived from create_time.
    assert compile_query(
        {
            "and": [
                cond("create_date", "EQ", "20241109"),
                cond("hashtag_name", "EQ", "تيك_توك"),
                cond("username", "EQ", REAL_VIDEO["username"]),
                cond("region_code", "EQ", "iq"),
            ]
        }
    )(REAL_VIDEO)
    # Absent keys (effect_ids, video_duration) match nothing rather than failing.
    assert compile_query(
        {"not": [cond("effect_id", "EQ", "1"), cond("video_length", "EQ", "SHORT")]}
    )(REAL_VIDEO)


def test_video_length_boundaries():
    assert [video_length_category(s) for s in (14, 15, 60, 61, 300, 301)] == [
        "SHORT",
        "MID",
        "MID",
        "LONG",
        "LONG",
        "EXTRA_LONG",
    ]


def test_and_or_not_combine():
    yes, no = cond("username", "EQ", "user_a"), cond("username", "EQ", "nobody")
    assert compile_query({"and": [yes, yes]})(V)
    assert not compile_query({"and": [yes, no]})(V)
    assert compile_query({"or": [no, yes]})(V)
    assert not compile_query({"or": [no, no]})(V)
    assert compile_query({"not": [no]})(V)
    assert not compile_query({"not": [no, yes]})(V)
    assert not compile_query({"and": [yes], "or": [no], "not": []})(V)
    assert compile_query({"and": [yes], "or": [], "not": [no]})(V)


def test_dataset_query_matches_brute_force(ds):
    query = {
        "and": [cond("region_code", "IN", "US", "BR")],
        "or": [cond("hashtag_name", "EQ", "fyp"), cond("video_length", "EQ", "SHORT")],
        "not": [cond("view_count", "LT", "50")],
    }
    start, end = date(2024, 1, 10), date(2024, 1, 20)
    got = ds.search(query, start, end)
    expected = [
        v
        for v in ds.search(ALL, start, end)
        if v["region_code"] in ("US", "BR")
        and ("fyp" in v.get("hashtag_names", ()) or v["video_duration"] < 15)
        and v["view_count"] >= 50
    ]
    assert got and ids(got) == ids(expected)


# --- comments ---------------------------------------------------------------------------


def test_comments_over_a_thousand_and_replies_match(ds):
    assert len(ds.many_comments_video_ids) >= 2
    for vid in ds.many_comments_video_ids:
        comments = ds.comments(vid)
        assert 1200 <= len(comments) == ds.video(vid)["comment_count"] <= 2500
        assert all(c["parent_comment_id"] == c["video_id"] == vid for c in comments)
        assert all(2**53 < c["id"] < 2**63 and c["id"] >> 32 == c["create_time"] for c in comments)
    comments = ds.comments(ds.many_comments_video_ids[0])
    assert any(c["text"] == "" for c in comments) and any("*" in c["text"] for c in comments)
    with_replies = [c for c in comments if c["reply_count"]]
    assert with_replies
    for c in with_replies[:20]:
        replies = ds.replies(c["id"])
        assert len(replies) == c["reply_count"]
        assert all(
            r["parent_comment_id"] == c["id"] and r["video_id"] == c["video_id"] for r in replies
        )
    assert ds.replies(comments[0]["id"] + 1) == []


def test_small_videos_have_matching_comment_counts(ds):
    videos = ds.truth_videos(ALL, date(2024, 3, 1), date(2024, 3, 1))
    assert sorted(v["comment_count"] for v in videos)[len(videos) // 2] < 20
    for v in videos[:10]:
        assert len(ds.comments(v["id"])) == v["comment_count"]


# --- users ------------------------------------------------------------------------------


def test_every_author_exists_and_user_objects_are_complete(ds):
    from tiktok_scrapy.api.endpoints import USER_FIELDS

    authors = {v["username"] for v in ds.search(ALL, ds.start, ds.end)}
    assert authors <= set(ds.usernames)
    assert len(authors) >= 250 and len(ds.usernames) <= 700
    public = next(u for u in ds.usernames if u not in ds.hidden_users)
    assert set(ds.user(public)) == {*USER_FIELDS, "username"}


def test_private_hidden_and_unknown_users_raise(ds):
    n = len(ds.usernames)
    assert 0.02 < len(ds.private_users) / n < 0.08 and 0.005 < len(ds.hidden_users) / n < 0.04
    private = sorted(ds.private_users)[0]
    for method in (ds.followers, ds.following, ds.liked_videos, ds.reposted_videos):
        with pytest.raises(UserError, match="is private"):
            method(private)
    ds.user(private)  # user info of a private account is still served
    likes_private = sorted(ds.likes_private_users)[0]
    with pytest.raises(UserError, match="liked videos list is private"):
        ds.liked_videos(likes_private)
    assert isinstance(ds.followers(likes_private), list)
    hidden = sorted(ds.hidden_users)[0]
    with pytest.raises(UserError, match="API cannot return this user's information") as err:
        ds.user(hidden)
    assert err.value.status == 400
    for method in (
        ds.user,
        ds.followers,
        ds.following,
        ds.liked_videos,
        ds.pinned_videos,
        ds.reposted_videos,
    ):
        with pytest.raises(UserError, match="cannot be found"):
            method("no_such_user_x")


def test_follower_graph(ds):
    users = [u for u in ds.usernames if u not in ds.private_users]
    sizes = {u: len(ds.followers(u)) for u in users}
    assert max(sizes.values()) > 300 and sorted(sizes.values())[-5] >= 100
    for u in users:
        following = ds.following(u)
        assert len(following) <= 40
        for edges in (following, ds.followers(u)):
            times = [t for t, _ in edges]
            assert times == sorted(set(times), reverse=True)  # unique, newest first
    celeb = max(sizes, key=sizes.get)
    follower = ds.followers(celeb)[0][1]
    assert set(follower) == {"display_name", "username"}
    if follower["username"] not in ds.private_users:
        assert celeb in {e["username"] for _, e in ds.following(follower["username"])}
    assert ds.user(celeb)["follower_count"] == sizes[celeb]


def test_liked_pinned_reposted_and_playlists_reference_real_videos(ds):
    users = [
        u for u in ds.usernames if u not in ds.private_users and u not in ds.likes_private_users
    ]
    liked = [ds.liked_videos(u) for u in users[:80]]
    assert max(map(len, liked)) > 30 and all(len(x) <= 60 for x in liked)
    for likes in liked:
        times = [t for t, _ in likes]
        assert times == sorted(set(times), reverse=True)
        assert all(ds.video(v["id"]) is v and t >= v["create_time"] for t, v in likes)
    reposted = [ds.reposted_videos(u) for u in users[:80]]
    assert max(map(len, reposted)) > 10 and all(len(x) <= 30 for x in reposted)
    pinned = [(u, ds.pinned_videos(u)) for u in ds.usernames]
    assert any(p for _, p in pinned)
    assert all(len(p) <= 3 and all(v["username"] == u for v in p) for u, p in pinned)
    assert 25 <= len(ds.playlist_ids) <= 40
    for pid in ds.playlist_ids:
        playlist = ds.playlist(pid)
        assert playlist["playlist_id"] == pid and 1 <= len(playlist["playlist_video_ids"]) <= 250
        assert all(ds.video(i) is not None for i in playlist["playlist_video_ids"])
    assert ds.playlist(12345) is None


# --- laziness ---------------------------------------------------------------------------


def test_create_date_conditions_narrow_the_days_walked():
    lazy = Dataset.generate(seed=2, scale=50)
    query = {
        "and": [
            cond("create_date", "GT", "20240209"),
            cond("create_date", "LTE", "20240211"),
            cond("hashtag_name", "IN", "flood", "storm"),
        ]
    }
    found = lazy.search(query, date(2024, 1, 1), date(2024, 1, 30) + timedelta(days=30))
    assert lazy.generated_days() == [date(2024, 2, 10), date(2024, 2, 11)]
    assert found and {v["_date"] for v in found} == {"20240210", "20240211"}
    assert (
        lazy.search(
            {"and": [cond("create_date", "EQ", "20240301")]}, date(2024, 1, 1), date(2024, 1, 31)
        )
        == []
    )


def test_scale_300_generates_only_the_days_queried():
    big = Dataset.generate(seed=1, scale=300)
    day = date(2024, 2, 1)
    found = big.search({"and": [cond("hashtag_name", "EQ", "flood")]}, day, day)
    assert big.days_generated == 1 and big.generated_days() == [day]
    assert len(big.search(ALL, day, day)) >= 9000 and found
    assert big.days_generated == 1  # second walk over the same day hits the cache
    assert big.video(found[0]["id"]) is found[0]
    assert big.user(big.usernames[0])["username"] == big.usernames[0]
    assert big.days_generated == 1  # users never force video generation
    assert len(big.usernames) < 20_000


def test_day_cache_is_bounded():
    small = Dataset(cache_videos=200)
    small.search(ALL, small.start, small.end)
    assert len(small.generated_days()) <= 5
    again = small.search(ALL, date(2024, 1, 1), date(2024, 1, 1))
    fresh = Dataset().search(ALL, date(2024, 1, 1), date(2024, 1, 1))
    assert ids(again) == ids(fresh)
