"""The sandbox's data: a deterministic, seeded imitation of what the Research API holds.

Everything derives from ``seed`` through ``random.Random`` instances seeded with blake2b
digests (never ``hash()``, which is salted per process), so two processes with the same seed
serve identical data. Videos are generated lazily per UTC day and kept in a bounded LRU,
so a benchmark dataset of ~1M videos (``scale=300``) is never materialised at once and a
query walks only the days of its window. The user pool is made up front and independent of
the days; the follower graph, liked/pinned/reposted lists, playlists and comments are built
on first use. Faults that live in the data are always on: deleted videos (~2%), NUL bytes
and right-to-left text, counts above 2**31, videos with more than 1,000 comments.

Returned dicts are the cached objects: treat them as read-only. Keys starting with ``_``
are internal (``_deleted``, ``_date``) and never served.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from random import Random
from typing import Any

from tiktok_scrapy.sandbox.query_eval import compile_query, date_bounds

DEFAULT_START = date(2024, 1, 1)
DEFAULT_END = date(2024, 3, 31)
VIDEOS_PER_DAY = 32  # ordinary videos at scale 1.0; event videos bring the mean to ~40
AUTHORS_AT_SCALE_1 = 300  # users who post; as many again only follow and like
DELETED_RATE = 0.02
MANY_COMMENTS = (1200, 2500)
FEED_DAYS = 7  # liked/pinned/reposted/playlists reference videos of <= this many days
PLAYLISTS = 30
MIN_ID = 2**53 + 1

REGIONS: dict[str, int] = {  # region -> weight
    "US": 20,
    "GB": 6,
    "DE": 5,
    "FR": 5,
    "BR": 10,
    "IN": 6,
    "ID": 10,
    "JP": 5,
    "MX": 8,
    "TR": 6,
    "NG": 5,
    "PH": 7,
    "IQ": 4,
}
EVENT_TAGS = ("flood", "earthquake", "wildfire", "hurricane", "storm", "tornado", "heatwave")
HASHTAGS: dict[str, int] = {  # tag -> weight
    "fyp": 60,
    "foryou": 45,
    "foryoupage": 30,
    "viral": 30,
    "trending": 15,
    "cats": 14,
    "cat": 12,
    "dogs": 12,
    "pets": 8,
    "food": 16,
    "recipe": 9,
    "cooking": 9,
    "travel": 10,
    "music": 12,
    "dance": 12,
    "comedy": 12,
    "funny": 14,
    "fashion": 8,
    "beauty": 7,
    "makeup": 7,
    "fitness": 7,
    "gym": 6,
    "sports": 6,
    "football": 8,
    "soccer": 6,
    "basketball": 4,
    "gaming": 9,
    "art": 6,
    "diy": 5,
    "books": 3,
    "booktok": 4,
    "science": 3,
    "stem": 3,
    "learnontiktok": 4,
    "history": 3,
    "news": 5,
    "politics": 4,
    "election": 3,
    "climate": 3,
    "climatechange": 2,
    "nature": 5,
    "weather": 3,
    "rain": 3,
    "disaster": 1,
    "rescue": 1,
    "prayfor": 1,
    "help": 3,
    "family": 6,
    "love": 9,
    "duet": 6,
    "tutorial": 5,
    "asmr": 5,
    "vlog": 6,
    "cars": 5,
    "ramadan": 2,
    "kpop": 5,
    "anime": 6,
    "flood": 1,
    "earthquake": 1,
    "wildfire": 1,
    "hurricane": 1,
    "storm": 1,
    "tornado": 1,
    "heatwave": 1,
}
WORDS = (
    "today",
    "my",
    "new",
    "best",
    "day",
    "life",
    "when",
    "you",
    "this",
    "is",
    "how",
    "to",
    "make",
    "the",
    "city",
    "home",
    "friends",
    "watch",
    "wait",
    "for",
    "end",
    "first",
    "time",
    "trying",
    "again",
    "morning",
    "night",
    "weekend",
    "school",
    "work",
    "love",
    "so",
    "good",
)
EVENT_WORDS = {
    "flood": ("flooding", "water", "river", "rain", "street", "evacuation"),
    "storm": ("wind", "rain", "thunder", "power", "outage"),
    "earthquake": ("shaking", "building", "aftershock", "safe"),
    "wildfire": ("smoke", "fire", "evacuation", "sky"),
    "hurricane": ("wind", "landfall", "shelter", "coast"),
    "tornado": ("siren", "basement", "wind"),
    "heatwave": ("heat", "hot", "temperature", "water"),
}
ARABIC_WORDS = ("اليوم", "الحمد_لله", "بغداد", "صباح_الخير", "حبيبي", "مطر")
ARABIC_TAGS = ("الباشا👑", "تيم_الرافدين", "تيك_توك", "ابوجبل")
FIRST_NAMES = (
    "Ana",
    "Ben",
    "Chen",
    "Dara",
    "Emre",
    "Fatima",
    "Gabriel",
    "Hana",
    "Ivan",
    "Jun",
    "Kemi",
    "Lucas",
    "Maria",
    "Noor",
    "Olu",
    "Priya",
    "Quinn",
    "Rafael",
    "Sofia",
    "Tom",
    "Umar",
    "Valentina",
    "Wei",
    "Yuki",
    "Zeynep",
    "Ali",
    "Mehmet",
    "Ayu",
    "Jose",
    "Lea",
)
COMMENT_TEXTS = (
    "",
    "",
    "lol",
    "so cute",
    "first!",
    "where is this?",
    "stay safe everyone",
    "🙏🙏🙏",
    "this is so true",
    "omg",
    "😂😂",
    "need the recipe",
    "who's here in 2024?",
    "love this",
    "call me at ***-***-****",
    "my insta is @*******",
    "email me *****@*****.com",
)
LABELS = ("Participants in this video were paid", "Sensitive content", "Unverified content")


class UserError(Exception):
    """A user-level API error: the server answers HTTP ``status`` with error.code
    "invalid_params" and this ``message``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def derive(seed: int, *parts: object) -> int:
    """A stable 64-bit seed for one part of the data (same in every process)."""
    key = repr((seed, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def _big_id(value: int) -> int:
    """Fold any int into (2**53, 2**63): above float precision, within a signed int64."""
    return MIN_ID + value % (2**63 - MIN_ID)


def unix(day: date) -> int:
    """Unix seconds of 00:00 UTC on ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def day_of_id(video_id: int) -> date:
    """The UTC day a video id was created on (create_time sits in the upper 32 bits)."""
    return datetime.fromtimestamp(video_id >> 32, UTC).date()


def _cum(weights: Mapping[str, int]) -> tuple[list[str], list[int]]:
    names, cum, total = list(weights), [], 0
    for name in names:
        total += weights[name]
        cum.append(total)
    return names, cum


_TAG_NAMES, _TAG_CUM = _cum(HASHTAGS)
_REGION_NAMES, _REGION_CUM = _cum(REGIONS)
_TAG_COUNTS = (0, 1, 2, 3, 4, 5, 6)
_TAG_COUNT_CUM = (10, 30, 55, 75, 87, 95, 100)


def _hashtag_info(tag: str) -> dict[str, Any]:
    return {"hashtag_id": _big_id(derive(0, "hashtag", tag)), "hashtag_name": tag}


_HASHTAG_INFO: dict[str, dict[str, Any]] = {t: _hashtag_info(t) for t in HASHTAGS}


@dataclass(slots=True)
class _User:
    index: int
    username: str
    region: str
    display_name: str
    author: bool  # posts videos (the rest only follow, like and repost)


@dataclass
class Dataset:
    """Deterministic sandbox data; see the module docstring."""

    seed: int = 0
    scale: float = 1.0
    start: date = DEFAULT_START
    end: date = DEFAULT_END
    # LRU bound on cached videos (~1 kB each; whole days are evicted): a 30-day window at
    # scale 300 fits, so re-querying it does not regenerate it.
    cache_videos: int = 400_000

    usernames: list[str] = field(init=False, repr=False, compare=False)
    private_users: set[str] = field(init=False, repr=False, compare=False)
    likes_private_users: set[str] = field(init=False, repr=False, compare=False)
    hidden_users: set[str] = field(init=False, repr=False, compare=False)
    playlist_ids: list[int] = field(init=False, repr=False, compare=False)
    ndays: int = field(init=False, repr=False, compare=False)
    days_generated: int = field(init=False, default=0, repr=False, compare=False)

    @classmethod
    def generate(
        cls,
        seed: int = 0,
        scale: float = 1.0,
        start: date = DEFAULT_START,
        end: date = DEFAULT_END,
    ) -> Dataset:
        return cls(seed=seed, scale=scale, start=start, end=end)

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"dataset end {self.end} is before start {self.start}")
        self.ndays = (self.end - self.start).days + 1
        self._days: OrderedDict[int, tuple[list[dict], dict[int, dict]]] = OrderedDict()
        self._cached_count = 0
        self._comments: OrderedDict[int, list[dict]] = OrderedDict()
        self._comment_parents: dict[int, tuple[int, int, int]] = {}
        self._comment_videos: dict[int, int] = {}  # comment id -> video id, once produced
        self.deleted: set[int] = set()  # videos and comments deleted after generation
        self._playlists: dict[int, dict] = {}
        self._make_users()
        pool = Random(derive(self.seed, "pools"))
        n_music = max(50, round(400 * math.sqrt(self.scale)))
        self._music_ids = [pool.randrange(MIN_ID, 2**63) for _ in range(n_music)]
        # Effect ids are strings of digits in the codebook (and in real clients' databases).
        self._effect_ids = [str(pool.randrange(MIN_ID, 2**63)) for _ in range(60)]
        self.playlist_ids = sorted(pool.randrange(MIN_ID, 2**63) for _ in range(PLAYLISTS))
        self._events = self._schedule_events()

    # ------------------------------------------------------------------ users ----------
    def _make_users(self) -> None:
        """The user pool, made up front: authors first (the prolific ones lowest)."""
        rng = Random(derive(self.seed, "users"))
        n_authors = max(20, round(AUTHORS_AT_SCALE_1 * math.sqrt(self.scale)))
        users: list[_User] = []
        seen: set[str] = set()
        for i in range(2 * n_authors):
            name = f"user_{rng.getrandbits(32):08x}"
            while name in seen:
                name = f"user_{rng.getrandbits(32):08x}"
            seen.add(name)
            region = rng.choices(_REGION_NAMES, cum_weights=_REGION_CUM)[0]
            display = f"{rng.choice(FIRST_NAMES)} {rng.choice('ABCDEFGHIJKLMNOPRSTVWZ')}."
            users.append(_User(i, name, region, display, i < n_authors))
        # Data faults: usernames with NUL bytes and right-to-left script (as observed).
        for k in range(3):
            name = "مستخدم" + "\u0000" * (6 - k) + str(k + 4)
            users.append(_User(len(users), name, "IQ", "مستخدم\u0000" + str(k), True))
        self._users = users
        self._by_name = {u.username: u for u in users}
        self.usernames = [u.username for u in users]
        authors = [u for u in users if u.author and "\u0000" not in u.username]
        self._authors = authors
        self._authors_by_region: dict[str, list[_User]] = {r: [] for r in REGIONS}
        for u in authors:
            self._authors_by_region[u.region].append(u)
        for region, members in self._authors_by_region.items():
            if not members:  # tiny scales: every region still has an author
                members.append(authors[derive(self.seed, "region", region) % len(authors)])
        self._celebrities = [u.index for u in authors[:5]]
        self._classify_users(rng)

    def _classify_users(self, rng: Random) -> None:
        """~5% private, ~5% likes-private, ~2% hidden; celebrities stay public."""
        self.private_users, self.likes_private_users, self.hidden_users = set(), set(), set()
        candidates = [u for u in self._users if u.index not in self._celebrities]
        for u in candidates:
            roll = rng.random()
            if roll < 0.05:
                self.private_users.add(u.username)
            elif roll < 0.10:
                self.likes_private_users.add(u.username)
            elif roll < 0.12:
                self.hidden_users.add(u.username)
        for kind in (self.private_users, self.likes_private_users, self.hidden_users):
            if not kind:  # always at least one of each, whatever the scale
                taken = self.private_users | self.likes_private_users | self.hidden_users
                kind.add(next(u.username for u in reversed(candidates) if u.username not in taken))

    def _get_user(self, username: str) -> _User:
        user = self._by_name.get(username)
        if user is None:
            raise UserError("The user cannot be found (cannot find the user)")
        return user

    def _public(self, username: str, what: str) -> _User:
        user = self._get_user(username)
        if username in self.private_users:
            raise UserError(f"The user's {what} list is private")
        return user

    def user(self, username: str) -> dict[str, Any]:
        """The user info object (all USER_FIELDS + username)."""
        u = self._get_user(username)
        if username in self.hidden_users:
            raise UserError("API cannot return this user's information")
        rng = Random(derive(self.seed, "user", u.index))
        followers, following = self._graph
        celebrity = u.index in self._celebrities
        return {
            "username": u.username,
            "display_name": u.display_name,
            "bio_description": rng.choice(("", "", "📍 " + u.region, "just vibes", "DM me")),
            "bio_url": rng.choice(("", "", "", f"https://example.org/{u.index}")),
            "avatar_url": f"https://p16-sign.tiktokcdn.example/avatar/{u.index}.jpeg",
            "is_verified": celebrity or rng.random() < 0.02,
            "follower_count": len(followers[u.index]),
            "following_count": len(following[u.index]),
            "likes_count": int(rng.lognormvariate(6, 2.5)) * (1000 if celebrity else 1),
            "video_count": rng.randint(1, 400) if u.author else 0,
        }

    @cached_property
    def _graph(self) -> tuple[list[list[tuple[int, int]]], list[list[tuple[int, int]]]]:
        """Directed follow graph: (followers, following) per user index, newest first.

        Each user follows 0-40 others; five celebrities are followed by hundreds. Follow
        times are unique within every list, so a time cursor never splits a tie.
        """
        rng = Random(derive(self.seed, "graph"))
        n = len(self._users)
        out: list[set[int]] = [set() for _ in range(n)]
        for rank, celeb in enumerate(self._celebrities):
            wanted = min(n - 1, round((340 - 60 * rank) * math.sqrt(self.scale)))
            for a in rng.sample(range(n), min(n, wanted + 1)):
                if a != celeb:
                    out[a].add(celeb)
        for a in range(n):
            k = rng.randint(0, 40)
            while len(out[a]) < k:
                b = rng.randrange(n)
                if b != a:
                    out[a].add(b)
        lo, hi = unix(self.start) - 730 * 86400, unix(self.end)
        used_out: list[set[int]] = [set() for _ in range(n)]
        used_in: list[set[int]] = [set() for _ in range(n)]
        followers: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        following: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for a in range(n):
            for b in sorted(out[a]):
                t = rng.randrange(lo, hi)
                while t in used_out[a] or t in used_in[b]:
                    t -= 1
                used_out[a].add(t)
                used_in[b].add(t)
                following[a].append((t, b))
                followers[b].append((t, a))
        for lists in (followers, following):
            for entries in lists:
                entries.sort(reverse=True)
        return followers, following

    def _edges(self, entries: list[tuple[int, int]]) -> list[tuple[int, dict]]:
        users = self._users
        return [
            (t, {"display_name": users[i].display_name, "username": users[i].username})
            for t, i in entries
        ]

    def followers(self, username: str) -> list[tuple[int, dict]]:
        """(follow time, {display_name, username}) of the user's followers, newest first."""
        user = self._public(username, "followers")
        return self._edges(self._graph[0][user.index])

    def following(self, username: str) -> list[tuple[int, dict]]:
        """(follow time, {display_name, username}) of the accounts the user follows."""
        user = self._public(username, "following")
        return self._edges(self._graph[1][user.index])

    # -------------------------------------------------- lists referencing videos -------
    @cached_property
    def _feed(self) -> list[dict]:
        """Served videos of a few days spread over the range: what users like and repost."""
        # Fewer days at large scale: one day is then thousands of videos already.
        count = max(1, min(FEED_DAYS, round(FEED_DAYS / math.sqrt(self.scale))))
        span = self.ndays - 1
        days = sorted({round(i * span / max(1, count - 1)) for i in range(count)})
        return [v for i in days for v in self._day(i)[0] if not v.get("_deleted")]

    @cached_property
    def _feed_by_author(self) -> dict[str, list[dict]]:
        by_author: dict[str, list[dict]] = {}
        for v in self._feed:
            by_author.setdefault(v["username"], []).append(v)
        return by_author

    def liked_videos(self, username: str) -> list[tuple[int, dict]]:
        """(like time, video) newest first; UserError if the user's likes are private."""
        user = self._public(username, "liked videos")
        if username in self.likes_private_users:
            raise UserError("The user's liked videos list is private")
        rng = Random(derive(self.seed, "liked", user.index))
        picks = rng.sample(self._feed, min(rng.randint(0, 60), len(self._feed)))
        horizon, used, liked = unix(self.end) + 86400, set(), []
        for v in picks:
            t = rng.randrange(v["create_time"], horizon)
            while t in used:
                t -= 1
            used.add(t)
            liked.append((t, v))
        liked.sort(key=lambda pair: pair[0], reverse=True)
        return liked

    def reposted_videos(self, username: str) -> list[dict]:
        user = self._public(username, "reposted videos")
        rng = Random(derive(self.seed, "reposted", user.index))
        return rng.sample(self._feed, min(rng.randint(0, 30), len(self._feed)))

    def pinned_videos(self, username: str) -> list[dict]:
        """Up to three of the user's own videos (from the feed days)."""
        user = self._get_user(username)
        own = self._feed_by_author.get(user.username, [])
        rng = Random(derive(self.seed, "pinned", user.index))
        return rng.sample(own, min(rng.randint(0, 3), len(own)))

    def playlist(self, playlist_id: int) -> dict | None:
        """The playlist's own videos (those naming it) topped up to 1-250 feed videos."""
        if playlist_id not in self.playlist_ids:
            return None
        if playlist_id not in self._playlists:  # served page by page: build once
            self._playlists[playlist_id] = self._make_playlist(playlist_id)
        return self._playlists[playlist_id]

    def _make_playlist(self, playlist_id: int) -> dict:
        rng = Random(derive(self.seed, "playlist", playlist_id))
        size = rng.randint(1, 250)
        members = [v["id"] for v in self._feed if v.get("playlist_id") == playlist_id]
        others = [v["id"] for v in self._feed if v.get("playlist_id") != playlist_id]
        members += rng.sample(others, max(0, min(size - len(members), len(others))))
        return {
            "playlist_id": playlist_id,
            "playlist_name": f"{rng.choice(WORDS)} {rng.choice(_TAG_NAMES)} part {size % 9 + 1}",
            "playlist_video_ids": members,
            "playlist_last_updated": rng.randrange(unix(self.start), unix(self.end)),
        }

    # ----------------------------------------------------------------- videos ----------
    def search(self, query: Mapping[str, Any], start: date, end: date) -> list[dict]:
        """Every video matching ``query`` created in [start, end] (UTC), newest id first,
        deleted ones included (they take a cursor slot but are never served)."""
        predicate = compile_query(query)
        first, last = date_bounds(query)
        start, end = max(start, first or start), min(end, last or end)
        return [v for v in self._walk(start, end) if predicate(v)]

    def truth_videos(self, query: Mapping[str, Any], start: date, end: date) -> list[dict]:
        """What a perfect crawl returns: search() minus deleted videos."""
        return [v for v in self.search(query, start, end) if not v.get("_deleted")]

    def video(self, video_id: int) -> dict | None:
        """The video with this id (deleted ones included), or None."""
        if not MIN_ID <= video_id < 2**63:  # ids come from requests: anything is possible
            return None
        index = (day_of_id(video_id) - self.start).days
        if not 0 <= index < self.ndays:
            return None
        return self._day(index)[1].get(video_id)

    def _walk(self, start: date, end: date) -> Iterator[dict]:
        first = max(0, (start - self.start).days)
        last = min(self.ndays - 1, (end - self.start).days)
        for index in range(last, first - 1, -1):
            yield from self._day(index)[0]

    def _day(self, index: int) -> tuple[list[dict], dict[int, dict]]:
        """One day's videos (newest id first) and their id index, via the LRU."""
        cached = self._days.get(index)
        if cached is not None:
            self._days.move_to_end(index)
            return cached
        videos = self._generate_day(index)
        self.days_generated += 1
        for video in videos:
            if video["id"] in self.deleted:
                video["_deleted"] = True
        entry = (videos, {v["id"]: v for v in videos})
        self._days[index] = entry
        self._cached_count += len(videos)
        while self._cached_count > self.cache_videos and len(self._days) > 1:
            _, (old, _) = self._days.popitem(last=False)
            self._cached_count -= len(old)
        return entry

    def generated_days(self) -> list[date]:
        """Days currently held in the cache (for tests and the admin view)."""
        return [self.start + timedelta(days=i) for i in sorted(self._days)]

    def _schedule_events(self) -> dict[int, list[tuple[str, str, int]]]:
        """Event bursts per day index: (hashtag, region, extra videos).

        A flood season hits one region for a few consecutive days; other events strike at
        random. Cheap: decided per day from the seed, without generating any video.
        """
        rng = Random(derive(self.seed, "events"))
        flood_region = rng.choice(("BR", "ID", "PH", "IN", "NG"))
        flood_start = rng.randrange(self.ndays)
        events: dict[int, list[tuple[str, str, int]]] = {}
        for offset, weight in enumerate((20, 45, 60, 35, 15)):
            index = flood_start + offset
            if index < self.ndays:
                events.setdefault(index, []).append(("flood", flood_region, weight))
        for index in range(self.ndays):
            if rng.random() < 0.15:
                tag = rng.choice(EVENT_TAGS)
                region = rng.choice(_REGION_NAMES)
                events.setdefault(index, []).append((tag, region, rng.randint(8, 40)))
        return events

    def _generate_day(self, index: int) -> list[dict]:
        day = self.start + timedelta(days=index)
        rng = Random(derive(self.seed, "day", day.toordinal()))
        maker = _VideoMaker(self, rng, unix(day), day.strftime("%Y%m%d"))
        scale = self.scale
        videos = [maker.regular() for _ in range(max(1, round(VIDEOS_PER_DAY * scale)))]
        # Every day has flood/storm videos somewhere, so any week-long query finds some.
        for _ in range(max(3, round(rng.randint(3, 6) * scale))):
            tag = rng.choice(("flood", "storm"))
            videos.append(maker.event(tag, rng.choice(_REGION_NAMES)))
        for tag, region, extra in self._events.get(index, ()):
            videos.extend(maker.event(tag, region) for _ in range(max(1, round(extra * scale))))
        self._add_faults(index, maker, videos)
        ids: set[int] = set()
        unique = []
        for v in videos:
            if v["id"] not in ids:
                ids.add(v["id"])
                unique.append(v)
        unique.sort(key=lambda v: v["id"], reverse=True)
        return unique

    def _many_comment_days(self) -> list[int]:
        return sorted({min(1, self.ndays - 1), self.ndays // 2, max(0, self.ndays - 2)})

    def _add_faults(self, index: int, maker: _VideoMaker, videos: list[dict]) -> None:
        """Always-on data faults at fixed days, so tests and demos can rely on them."""
        rng = maker.rng
        if index % 5 == 0:
            videos.append(maker.nul_video())
        if index % 11 == 3:
            v = videos[0]
            v["view_count"] = 2**31 + rng.randrange(2**33)
            v["like_count"] = 2**31 + rng.randrange(2**31)
        days = self._many_comment_days()
        if index in days:
            for v in videos[: 1 if len(days) > 1 else 2]:
                v["comment_count"] = rng.randint(*MANY_COMMENTS)
                v.pop("_deleted", None)

    @cached_property
    def many_comments_video_ids(self) -> list[int]:
        """Videos with more than 1,000 comments (at least two)."""
        return sorted(
            v["id"]
            for i in self._many_comment_days()
            for v in self._day(i)[0]
            if v["comment_count"] > 1000
        )

    # ---------------------------------------------------------------- comments ---------
    def comments(self, video_id: int) -> list[dict]:
        """All top-level comments (comment_count of them), most liked first; none for an
        unknown or deleted video."""
        cached = self._comments.get(video_id)
        if cached is not None:
            self._comments.move_to_end(video_id)
            return cached
        video = self.video(video_id)
        if video is None or video.get("_deleted"):
            return []
        rng = Random(derive(self.seed, "comments", video_id))
        made = [
            _comment(rng, video_id, video_id, video["create_time"])
            for _ in range(video["comment_count"])
        ]
        made = list({c["id"]: c for c in made}.values())
        made.sort(key=lambda c: (c["like_count"], c["id"]), reverse=True)
        self._register_comments(made)
        for c in made:
            if c["reply_count"]:
                self._comment_parents[c["id"]] = (video_id, c["reply_count"], c["create_time"])
        self._comments[video_id] = made
        if len(self._comments) > 512:
            self._comments.popitem(last=False)
        return made

    def replies(self, comment_id: int) -> list[dict]:
        """Replies to a top-level comment (reply_count of them), oldest first.

        A comment id does not say which video it belongs to, so only comments already
        produced by comments() in this process have replies; others get none.
        """
        parent = self._comment_parents.get(comment_id)
        if parent is None:
            return []
        video_id, count, create_time = parent
        rng = Random(derive(self.seed, "replies", comment_id))
        made = [_comment(rng, video_id, comment_id, create_time, reply=True) for _ in range(count)]
        made = list({c["id"]: c for c in made}.values())
        made.sort(key=lambda c: c["id"])
        self._register_comments(made)
        return made

    def _register_comments(self, comments: list[dict]) -> None:
        for c in comments:
            self._comment_videos[c["id"]] = c["video_id"]
            if c["id"] in self.deleted:
                c["_deleted"] = True

    # ---------------------------------------------------------------- deletions --------
    def delete(self, video_ids: Iterable[Any] = (), comment_ids: Iterable[Any] = ()) -> dict:
        """Delete videos and comments after the fact, as their authors would: from now on
        they are absent from every answer and invalid to a batch compliance task (a
        deleted video takes its comments with it)."""
        videos, comments = {int(i) for i in video_ids}, {int(i) for i in comment_ids}
        self.deleted |= videos | comments
        for video_id in videos:
            video = self.video(video_id)
            if video is not None:
                video["_deleted"] = True
            self._comments.pop(video_id, None)
        for video in self.__dict__.get("_feed", ()):  # liked/reposted/pinned lists, if made
            if video["id"] in videos:
                video["_deleted"] = True
        for cached in self._comments.values():
            for c in cached:
                if c["id"] in comments:
                    c["_deleted"] = True
        return {"videos": len(videos), "comments": len(comments)}

    def is_valid(self, category: str, item_id: int) -> bool:
        """Whether a video or comment id is still available (what a compliance task checks).

        A comment id does not say which video it belongs to, so only comments produced in
        this process are known; others count as not available.
        """
        if category == "video":
            video = self.video(item_id)
            return video is not None and not video.get("_deleted")
        video_id = self._comment_videos.get(item_id)
        return (
            video_id is not None
            and item_id not in self.deleted
            and self.is_valid("video", video_id)
        )


def _comment(
    rng: Random, video_id: int, parent_id: int, after: int, reply: bool = False
) -> dict[str, Any]:
    create_time = after + int(rng.expovariate(1 / 20000)) + 1
    roll = rng.random()
    if reply:
        replies = 0
    elif roll < 0.01:
        replies = rng.randint(20, 120)
    elif roll < 0.12:
        replies = rng.randint(1, 8)
    else:
        replies = 0
    return {
        "id": create_time << 32 | rng.getrandbits(32),
        "video_id": video_id,
        "text": rng.choice(COMMENT_TEXTS),
        "like_count": int(rng.paretovariate(1.3)) - 1,
        "reply_count": replies,
        "parent_comment_id": parent_id,
        "create_time": create_time,
    }


class _VideoMaker:
    """Makes one day's videos from that day's RNG; kept lean (≈10k videos/day at scale)."""

    def __init__(self, dataset: Dataset, rng: Random, day_start: int, day_str: str) -> None:
        self.ds = dataset
        self.rng = rng
        self.day_start = day_start
        self.day_str = day_str
        self.authors = dataset._authors

    def _author(self) -> _User:
        # Skewed: low-index authors post much more (a few prolific accounts).
        return self.authors[int(len(self.authors) * self.rng.random() ** 1.8)]

    def regular(self) -> dict[str, Any]:
        rng = self.rng
        count = rng.choices(_TAG_COUNTS, cum_weights=_TAG_COUNT_CUM)[0]
        tags = list(dict.fromkeys(rng.choices(_TAG_NAMES, cum_weights=_TAG_CUM, k=count)))
        return self._video(self._author(), tags, ())

    def event(self, tag: str, region: str) -> dict[str, Any]:
        rng = self.rng
        author = rng.choice(self.ds._authors_by_region[region])
        extra = rng.choice(("disaster", "prayfor", "rescue", "weather", "news", "fyp", "rain"))
        tags = list(dict.fromkeys((tag, extra, *rng.sample(("fyp", "viral", "help"), 1))))
        return self._video(author, tags, EVENT_WORDS.get(tag, ()))

    def nul_video(self) -> dict[str, Any]:
        """A video as recorded from the real API: NUL bytes, Arabic, emoji in hashtags."""
        rng = self.rng
        author = self.ds._users[-1 - rng.randrange(3)]
        tags = list(ARABIC_TAGS)
        video = self._video(author, tags, ())
        video["video_description"] = " ".join("#" + t for t in tags) + " \u0000" + "بغداد"
        return video

    def _video(self, author: _User, tags: list[str], theme: tuple[str, ...]) -> dict[str, Any]:
        rng = self.rng
        ds = self.ds
        create_time = self.day_start + rng.randrange(86400)
        vocabulary = ARABIC_WORDS if author.region == "IQ" else WORDS
        words = [rng.choice(vocabulary) for _ in range(rng.randint(1, 5))]
        if theme:
            words[rng.randrange(len(words))] = rng.choice(theme)
        views = int(rng.lognormvariate(5, 2))
        likes = int(views * rng.random() * 0.15)
        duration = rng.choices((5, 30, 120, 600), cum_weights=(35, 75, 95, 100))[0]
        video: dict[str, Any] = {
            "id": create_time << 32 | rng.getrandbits(32),
            "create_time": create_time,
            "username": author.username,
            "region_code": author.region,
            "video_description": " ".join(words + ["#" + t for t in tags]),
            "music_id": rng.choice(ds._music_ids),
            "like_count": likes,
            "comment_count": _comment_count(rng),
            "share_count": int(likes * rng.random() * 0.2),
            "view_count": views,
            "favorites_count": int(likes * rng.random() * 0.3),
            "is_stem_verified": "stem" in tags or rng.random() < 0.01,
            "video_duration": max(1, int(duration * (0.3 + rng.random()))),
            "_date": self.day_str,
        }
        if tags:
            video["hashtag_names"] = tags
            video["hashtag_info_list"] = [_HASHTAG_INFO.get(t) or _hashtag_info(t) for t in tags]
        roll = rng.random()
        if roll < 0.25:
            video["effect_ids"] = [rng.choice(ds._effect_ids)]
            if roll < 0.05:
                video["effect_ids"].append(rng.choice(ds._effect_ids))
        if rng.random() < 0.06:
            video["playlist_id"] = rng.choice(ds.playlist_ids)
        if rng.random() < 0.15:
            video["voice_to_text"] = " ".join(rng.choice(WORDS) for _ in range(6))
        if rng.random() < 0.05:
            video["video_label"] = {"content": rng.choice(LABELS)}
        if rng.random() < 0.04:
            video["video_tag"] = {"number": 1, "type": "Sponsored"}
        if rng.random() < 0.05:
            video["video_mention_list"] = ["@" + rng.choice(self.authors).username]
        if rng.random() < DELETED_RATE:
            video["_deleted"] = True
        return video


def _comment_count(rng: Random) -> int:
    if rng.random() < 0.03:
        return rng.randint(20, 300)
    return min(200, int(rng.expovariate(0.3)))
