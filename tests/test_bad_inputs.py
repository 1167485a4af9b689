"""Every bad input gets one line: a corpus of past crashes and silent surprises (issue 18).

Each case runs through :func:`tiktok_scrapy.preflight.preflight`, the function ``scrapy
crawl`` calls before anything starts, and must raise a one-line ConfigError/SettingsError
naming the problem. A handful run as real ``scrapy crawl`` processes for the contract:
exit status 2, exactly one line on stderr, no traceback, no request sent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from crawling import SANDBOX_KEY, SANDBOX_SECRET, env_for_subprocess
from scrapy.settings import Settings
from settings_fixture import project_settings

from tiktok_scrapy import settings as settings_module
from tiktok_scrapy.api import windows as windows_module
from tiktok_scrapy.config import SPIDER_CONFIGS
from tiktok_scrapy.default_settings import DEFAULTS
from tiktok_scrapy.preflight import BAD_INPUT, preflight
from tiktok_scrapy.sandbox import SandboxOptions
from tiktok_scrapy.sandbox.app import answer
from tiktok_scrapy.sandbox.dataset import Dataset
from tiktok_scrapy.sandbox.state import SandboxState
from tiktok_scrapy.settings_check import check_settings
from tiktok_scrapy.settings_spec import PREFIXES, SETTINGS, reference_markdown

ROOT = Path(__file__).resolve().parents[1]
GOOD = {"hashtags": ["flood"], "start_date": "2024-01-01", "end_date": "2024-01-07"}
GOOD_YAML = "start_date: 2024-01-01\nend_date: 2024-01-07\n"
FULLWIDTH_123 = "\uff11\uff12\uff13"
SUPERSCRIPT_2 = "\u00b2"
ZWSP = "\u200b"
BOM = "\ufeff"


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(windows_module, "utc_today", lambda: date(2024, 6, 1))


def rejected(
    spider: str = "videos",
    config: str | None = None,
    args: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
) -> str:
    """The one-line message preflight gives; fails if the input is accepted."""
    spargs = {**({"config": config} if config is not None else {}), **(args or {})}
    try:
        preflight(spider, spargs, project_settings(**(settings or {})), SPIDER_CONFIGS)
    except BAD_INPUT as error:
        message = str(error)
    else:
        raise AssertionError(f"accepted: {spider} {spargs} {settings}")
    assert "\n" not in message and "Traceback" not in message, message
    assert len(message) <= 600, message
    return message


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def alias_bomb() -> str:
    """The 482-byte "billion laughs" of the fuzzing report: 9 levels of 9 aliases."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# --- configs ----------------------------------------------------------------------------

CONFIG_CASES: list[tuple[str, str, str, list[str]]] = [
    # (id, file name, content, expected parts of the message)
    (
        "impossible-yaml-date",
        "c.yaml",
        "hashtags: [flood]\nstart_date: 2024-02-30\nend_date: 2024-03-01\n",
        ["start_date", "2024-02-30", "not a day on the calendar"],
    ),
    (
        "year-9999",
        "c.yaml",
        "hashtags: [flood]\nstart_date: 9999-12-01\nend_date: 9999-12-31\n",
        ["start_date", "9999-12-01", "more than a year ahead"],
    ),
    (
        "before-the-archive",
        "c.yaml",
        "hashtags: [flood]\nstart_date: 1999-01-01\nend_date: 1999-01-31\n",
        ["1999-01-01", "2016-01-01"],
    ),
    (
        "lone-surrogate",
        "c.json",
        '{"hashtags": ["\\ud800"], "start_date": "2024-01-01", "end_date": "2024-01-02"}',
        ["hashtags[0]", "U+D800"],
    ),
    (
        "json-5000-deep",
        "c.json",
        '{"hashtags": ' + "[" * 5000 + "]" * 5000 + "}",
        ["nested more than"],
    ),
    (
        "yaml-5000-deep",
        "c.yaml",
        "hashtags: " + "[" * 5000 + "]" * 5000 + "\n",
        ["nested more than"],
    ),
    (
        "superscript-music-id",
        "c.yaml",
        f'music_ids: ["{SUPERSCRIPT_2}"]\n' + GOOD_YAML,
        ["music_ids[0]", "not a numeric id", "0-9"],
    ),
    (
        "fullwidth-music-id",
        "c.yaml",
        f"music_ids: [{FULLWIDTH_123}]\n" + GOOD_YAML,
        ["music_ids[0]", "not a numeric id"],
    ),
    (
        "superscript-in-raw-query",
        "c.json",
        json.dumps(
            {
                "query": {
                    "and": [{"field_name": "music_id", "operation": "EQ", "field_values": ["²"]}]
                },
                "start_date": "2024-01-01",
                "end_date": "2024-01-02",
            }
        ),
        ["query.and[0].field_values[0]", "not a numeric id"],
    ),
    (
        "duplicate-yaml-key",
        "c.yaml",
        "hashtags: [flood]\nhashtags: [storm]\n" + GOOD_YAML,
        ["line 2", "`hashtags` appears twice", "line 1"],
    ),
    (
        "duplicate-json-key",
        "c.json",
        '{"hashtags": ["flood"], "hashtags": ["storm"], "start_date": "2024-01-01", '
        '"end_date": "2024-01-02"}',
        ["`hashtags` appears twice"],
    ),
    (
        "comma-in-one-hashtag",
        "c.yaml",
        "hashtags: flood, storm\n" + GOOD_YAML,
        ["hashtags[0]", "holds a comma", "hashtags: [flood, storm]"],
    ),
    (
        "comma-in-one-region",
        "c.yaml",
        "hashtags: [flood]\nregions: US, GB\n" + GOOD_YAML,
        ["regions[0]", "holds a comma"],
    ),
    (
        "hash-in-flow-list",
        "c.yaml",
        "hashtags: [#flood]\n" + GOOD_YAML,
        ["line 1", "# starts a comment", '"#flood"'],
    ),
    (
        "hash-as-value",
        "c.yaml",
        "hashtags: #flood\n" + GOOD_YAML,
        ["line 1", "`hashtags` is empty", "comment"],
    ),
    (
        "hash-as-list-item",
        "c.yaml",
        "hashtags:\n  - #flood\n" + GOOD_YAML,
        ["line 2", "empty", "comment"],
    ),
    (
        "zero-width-space-in-hashtag",
        "c.yaml",
        f"hashtags: [flo{ZWSP}od]\n" + GOOD_YAML,
        ["line 1 column 15", "U+200B", "ZERO WIDTH SPACE"],
    ),
    (
        "escaped-zero-width-space",
        "c.json",
        '{"usernames": ["ali\\u200bce"], "start_date": "2024-01-01", "end_date": "2024-01-02"}',
        ["usernames[0]", "U+200B"],
    ),
    (
        "space-inside-a-hashtag",
        "c.yaml",
        "hashtags: [climate change]\n" + GOOD_YAML,
        ["hashtags[0]", "holds a space"],
    ),
    (
        "daily-lag-overflows-dates",
        "c.yaml",
        "hashtags: [flood]\nmode: daily\nlag_days: 1000000000000\n",
        ["`lag_days`", "at most 3650"],
    ),
    (
        "endless-minutes",
        "c.yaml",
        "hashtags: [flood]\nmax_minutes: .inf\n" + GOOD_YAML,
        ["`max_minutes`", "finite"],
    ),
    (
        "huge-value-echoed-briefly",
        "c.yaml",
        "hashtags: [flood]\nwindow_days: " + "9" * 5000 + "\n" + GOOD_YAML,
        ["line 2", "5,000 digits"],
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [pytest.param(c[1], c[2], c[3], id=c[0]) for c in CONFIG_CASES],
)
def test_bad_config_is_one_line(tmp_path: Path, name: str, content: str, expected: list[str]):
    message = rejected(config=write(tmp_path, name, content))
    for part in expected:
        assert part in message, message


def test_utf16_config_is_one_line(tmp_path: Path) -> None:
    text = "hashtags: [flood]\n" + GOOD_YAML
    message = rejected(config=write(tmp_path, "c.yaml", text.encode("utf-16")))
    assert "UTF-16" in message and "save it as UTF-8" in message


def test_utf16_without_bom_and_latin1_are_one_line(tmp_path: Path) -> None:
    text = "hashtags: [flood]\n" + GOOD_YAML
    assert "not UTF-8" in rejected(config=write(tmp_path, "a.yaml", text.encode("utf-16-le")))
    latin1 = "hashtags: [caf\u00e9]\n" + GOOD_YAML
    message = rejected(config=write(tmp_path, "b.yaml", latin1.encode("latin-1")))
    assert "line 1" in message and "not UTF-8" in message


def test_a_leading_bom_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", BOM + "hashtags: [flood]\n" + GOOD_YAML)
    config = preflight("videos", {"config": path}, project_settings())
    assert config.hashtags == ["flood"]


def test_an_empty_value_with_a_note_is_not_the_hash_trap(tmp_path: Path) -> None:
    text = "hashtags: [flood]\nrecrawl_after_days:  # off for now\n" + GOOD_YAML
    config = preflight("videos", {"config": write(tmp_path, "c.yaml", text)}, project_settings())
    assert config.recrawl_after_days is None


def test_invisible_characters_in_comments_are_fine(tmp_path: Path) -> None:
    text = "# pasted\u00a0from a web page\u200b\nhashtags: [flood]  # note\u200b\n" + GOOD_YAML
    config = preflight("videos", {"config": write(tmp_path, "c.yaml", text)}, project_settings())
    assert config.hashtags == ["flood"]


def test_alias_bomb_fails_fast_in_little_memory(tmp_path: Path) -> None:
    path = write(tmp_path, "bomb.yaml", alias_bomb())
    tracemalloc.start()
    message = rejected(config=path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "expands to more than" in message and "aliases" in message
    # Fails fast: refused before expanding (the peak memory shows it, whatever the machine's
    # load; a wall-clock bound did not add to that and could fail on a busy machine).
    assert peak < 20_000_000 and len(message) < 300


def test_alias_within_limits_still_works(tmp_path: Path) -> None:
    text = "hashtags: &tags [flood, storm]\nkeywords: *tags\n" + GOOD_YAML
    config = preflight("videos", {"config": write(tmp_path, "c.yaml", text)}, project_settings())
    assert config.keywords == ["flood", "storm"]


def test_huge_inline_config_is_refused_before_parsing() -> None:
    message = rejected(config="{" + " " * 2_000_000 + "}")
    assert "at most 1,000,000" in message


def test_timestamps_inside_a_raw_query_do_not_crash(tmp_path: Path) -> None:
    text = (
        "query:\n  and:\n    - field_name: create_date\n      operation: EQ\n"
        "      field_values: [2024-02-30]\n" + GOOD_YAML
    )
    assert "create_date" in rejected(config=write(tmp_path, "c.yaml", text))


# --- -a values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spider", "args", "expected"),
    [
        ("videos", {"music_ids": SUPERSCRIPT_2}, ["music_ids[0]", "not a numeric id"]),
        ("videos", {"start_date": "9999-12-31"}, ["-a start_date=9999-12-31", "a year ahead"]),
        ("videos", {"hashtags": f"flo{ZWSP}od"}, ["-a hashtags=", "U+200B"]),
        ("videos", {"hashtags": "\udcff"}, ["U+DCFF"]),  # undecodable argv byte
        ("videos", {"dry_run": "maybe"}, ["-a dry_run=maybe", "true or false"]),
        ("videos", {"force": "perhaps"}, ["-a force=perhaps", "true or false"]),
        ("videos", {"window_days": "x" * 10_000}, ["window_days"]),
        ("comments", {"video_ids": FULLWIDTH_123}, ["video_ids", "not a numeric id"]),
        ("users", {"usernames": "a, b c"}, ["usernames[1]", "holds a space"]),
        ("users", {"from_output": "9" * 5000}, ["from_output", "not found"]),
        ("users", {"usernames_file": "~nobody/names.txt"}, ["usernames_file", "not found"]),
    ],
)
def test_bad_argument_is_one_line(spider: str, args: dict, expected: list[str]) -> None:
    config = json.dumps(GOOD) if spider == "videos" else json.dumps({"from_output": "x"})
    message = rejected(spider, config, args)
    for part in expected:
        assert part in message, message


def test_unknown_spider_lists_close_matches() -> None:
    message = rejected("video", json.dumps(GOOD))
    assert 'no spider "video" (did you mean "videos"?)' in message and "comments" in message


# --- input files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spider", "key", "content", "expected"),
    [
        ("users", "usernames_file", f"alice\n{BOM}bob\n", [":2:", "byte-order mark"]),
        ("users", "usernames_file", f"alice\nb{ZWSP}ob\n", [":2 column 2", "U+200B"]),
        ("users", "usernames_file", "alice\nbob#note\n", [":2:", 'holds a "#"']),
        ("users", "usernames_file", "alice\nbob smith\n", [":2:", "holds a space"]),
        ("network", "seeds_file", "a\u2028b\n", [":1 column 2", "U+2028"]),
        ("comments", "video_ids_file", f"12\n{FULLWIDTH_123}\n", [":2:", "not a numeric id"]),
        ("comments", "video_ids_file", f"12\n{SUPERSCRIPT_2}\n", [":2:", "not a numeric id"]),
        ("playlists", "playlist_ids_file", "12\n1.5\n", [":2:", "not a numeric id"]),
        ("playlists", "playlist_ids_file", "9" * 5000 + "\n", [":1:", "not a numeric id"]),
        ("comments", "video_ids_file", "18446744073709551616\n", [":1:", "not a numeric id"]),
    ],
)
def test_bad_input_file_is_one_line_with_file_and_line(
    tmp_path: Path, spider: str, key: str, content: str, expected: list[str]
) -> None:
    path = write(tmp_path, "list.txt", content)
    message = rejected(spider, json.dumps({key: path}))
    assert message.startswith(f"inline config: {key}: {path}"), message
    for part in expected:
        assert part in message, message


def test_input_file_bom_comments_and_utf16(tmp_path: Path) -> None:
    text = "# accounts\nalice  # met at the conference\n\n@bob\n"
    for encoding, prefix in (("utf-8", BOM), ("utf-16", "")):
        path = tmp_path / f"{encoding}.txt"
        path.write_bytes((prefix + text).encode(encoding))
        spargs = {"config": json.dumps({"usernames_file": str(path)})}
        config = preflight("users", spargs, project_settings())
        assert config.inputs() == ["alice", "bob"]


def test_csv_cells_are_checked_with_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", f"id,username\n1,alice\n2,bo{ZWSP}b\n")
    message = rejected("users", json.dumps({"usernames_file": path}))
    assert "a.csv:3 column 3" in message and "U+200B" in message


def test_undecodable_input_file_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "names.txt", b"alice\n\xff\xfeb\x00o\x00b\x00" + b"\xc3(\n")
    assert "not UTF-8" in rejected("users", json.dumps({"usernames_file": path}))


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TIKTOK_RETRY_TIMES", "1.5", "a whole number from 0 to 100"),
        ("TIKTOK_QUOTA_DAILY_REQUESTS", "abc", "not valid JSON"),
        ("TIKTOK_QUOTA_DAILY_REQUESTS", '{"main": "x"}', "main: x is not a whole number"),
        ("TIKTOK_QUOTA_DAILY_REQUESTS", '{"mian": 5}', 'did you mean "main"'),
        ("TIKTOK_QUOTA_DAILY_REQUESTS", '{"main": -1}', "out of range"),
        ("TIKTOK_RETRY_BACKOFF_BASE", "abc", "a number from 0 to 3600"),
        ("TIKTOK_RETRY_BACKOFF_MAX", "nan", "a number"),
        ("TIKTOK_TOKEN_REFRESH_MARGIN", "abc", "a number"),
        ("TIKTOK_TOKEN_RETRY_TIMES", "abc", "a whole number"),
        ("TIKTOK_QUOTA_WAIT_MARGIN", "abc", "a number"),
        ("TIKTOK_PROGRESS_INTERVAL", "abc", "a number"),
        ("TIKTOK_SANDBOX", "maybe", "true or false"),
        ("TIKTOK_REPORT_ENABLED", "maybe", "true or false"),
        ("TIKTOK_QUOTA_ENABLED", "yes", "true or false"),  # Scrapy's getbool would raise
        ("TIKTOK_SANDBOX_OPTIONS", '{"sed": 1}', "Unknown sandbox option 'sed'"),
        ("TIKTOK_SANDBOX_OPTIONS", '{"error_rate": 2}', "is a rate"),
        ("TIKTOK_SANDBOX_OPTIONS", "[1]", "not an object"),
        ("TIKTOK_OUTPUT_DIR", "data/{nope}", "unknown placeholder {nope}"),
        ("TIKTOK_OUTPUT_DIR", "data/{spider", "unbalanced"),
        ("TIKTOK_STATE_DIR", "state/{spider}", "unknown placeholder {spider}"),
        ("TIKTOK_STALL_EMPTY_PAGES", "abc", "a whole number from 1"),
        ("TIKTOK_STALL_EMPTY_PAGES", "0", "a whole number from 1"),
        ("TIKTOK_MAX_REQUESTS_PER_SECOND", "1e-300", "from 0.01 to 1000 (0: off)"),
        ("TIKTOK_MAX_REQUESTS_PER_SECOND", "-1", "from 0.01"),
        ("TIKTOK_QUOTA_ON_EXHAUSTED", "sleep", "one of stop, wait"),
        ("TIKTOK_WINDOW_SPLIT_FIELD", "hashtag_name", "video_length, region_code"),
        ("TIKTOK_TODAY", "10/03/2024", "YYYY-MM-DD"),
        ("TIKTOK_TODAY", "9999-12-31", "a year ahead"),
        ("TIKTOK_API_URL", "open.tiktokapis.com", "http:// or https://"),
        ("TIKTOK_RETRY_TIME", "3", 'no such setting (did you mean "TIKTOK_RETRY_TIMES"?)'),
        ("MONGODB_URI", "localhost:27017", "mongodb://"),
        ("MONGODB_BATCH_SIZE", "0", "a whole number from 1"),
        ("MONGODB_DATABASE", "my.db", "database name"),
        ("CASSETTE_MODE", "replay-all", "record, replay, off"),
        ("CONCURRENT_REQUESTS", "abc", "a whole number from 1"),
        ("LOG_LEVEL", "LOUD", "one of CRITICAL"),
        ("LOG_LEVEL", "info", "one of CRITICAL"),  # logging wants capitals
    ],
)
def test_bad_setting_is_one_line(name: str, value: str, expected: str) -> None:
    message = rejected(config=json.dumps(GOOD), settings={name: value})
    assert message.startswith(f"-s {name}="), message
    assert expected in message, message


def test_export_checks_its_mongodb_settings(capsys: pytest.CaptureFixture) -> None:
    import argparse

    from tiktok_scrapy.commands.export import Command

    command = Command()
    command.settings = Settings({"MONGODB_URI": "mongodb://h", "MONGODB_DATABASE": "a b"})
    parser = argparse.ArgumentParser()
    command.add_options(parser)
    command.run([], parser.parse_args(["--collection", "videos", "-o", "x.csv"]))
    err = capsys.readouterr().err
    assert command.exitcode == 2 and "MONGODB_DATABASE" in err and len(err.splitlines()) == 1


def test_secrets_are_never_echoed() -> None:
    message = rejected(config=json.dumps(GOOD), settings={"MONGODB_URI": "pw=hunter2"})
    assert "hunter2" not in message and "(hidden)" in message


def test_jobdir_that_is_a_file_or_under_a_file(tmp_path: Path) -> None:
    file = tmp_path / "job"
    file.write_text("")
    assert "it is a file" in rejected(config=json.dumps(GOOD), settings={"JOBDIR": str(file)})
    message = rejected(config=json.dumps(GOOD), settings={"JOBDIR": str(file / "sub")})
    assert "is a file, so the folder cannot be made" in message


def test_every_default_passes_and_every_project_setting_is_declared() -> None:
    check_settings(project_settings())
    ours = {n for n in DEFAULTS if n.startswith(PREFIXES)} | {
        n for n in dir(settings_module) if n.startswith(PREFIXES)
    }
    declared = {s.name for s in SETTINGS}
    assert ours <= declared, f"declare these in settings_spec.py: {ours - declared}"
    assert {n for n in declared if n.startswith(PREFIXES)} <= ours, "default missing"


def test_settings_reference_page_is_in_sync() -> None:
    page = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert page == reference_markdown(), (
        "docs/settings.md is stale: python -m tiktok_scrapy.settings_spec > docs/settings.md"
    )


# --- the sandbox ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> tuple[SandboxState, Dataset]:
    options = SandboxOptions(quota_main=10**9, quota_follow=10**9, end=date(2024, 1, 10))
    dataset = Dataset.generate(seed=0, scale=0.05, start=options.start, end=options.end)
    return SandboxState(options), dataset


def status_of(served: tuple, endpoint: str, body: bytes, fields: str | None = "id") -> tuple:
    from tiktok_scrapy.api.endpoints import ENDPOINTS

    state, dataset = served
    response = answer(state, dataset, ENDPOINTS[endpoint], "client", body, fields)
    return response.status, json.loads(response.body)["error"]


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        (
            "videos",
            json.dumps(
                {
                    "query": {
                        "and": [
                            {
                                "field_name": "music_id",
                                "operation": "IN",
                                "field_values": ["²"],
                            }
                        ]
                    },
                    "start_date": "20240101",
                    "end_date": "20240102",
                }
            ).encode(),
        ),
        ("comments", b'{"video_id": "\\u00b2"}'),
        ("comments", b'{"video_id": "' + FULLWIDTH_123.encode() + b'"}'),
        ("comments", b'{"video_id": "' + b"9" * 5000 + b'"}'),
        ("videos", b"[1, 2]"),
        ("videos", b'"text"'),
        ("videos", b"\xff\xfe{}"),
        ("videos", b"[" * 5000 + b"]" * 5000),
        ("users", b'{"username": 5}'),
        ("videos", b'{"query": "flood", "start_date": 20240101, "end_date": "20240102"}'),
        ("playlists", b'{"playlist_id": [1]}'),
    ],
)
def test_sandbox_answers_malformed_bodies_with_invalid_params(
    served: tuple, endpoint: str, body: bytes
) -> None:
    fields = None if endpoint == "playlists" else "id"
    if endpoint == "users":
        fields = "display_name"
    status, error = status_of(served, endpoint, body, fields)
    assert status == 400 and error["code"] == "invalid_params" and error["message"]


# --- real `scrapy crawl` processes ------------------------------------------------------------


def scrapy(
    tmp_path: Path, *argv: str, url: str = "http://127.0.0.1:9"
) -> subprocess.CompletedProcess:
    base = {
        "TIKTOK_API_URL": url,
        "TIKTOK_CLIENT_KEY": SANDBOX_KEY,
        "TIKTOK_CLIENT_SECRET": SANDBOX_SECRET,
        "TIKTOK_QUOTA_LEDGER": str(tmp_path / "quota.sqlite"),
        "TIKTOK_OUTPUT_DIR": str(tmp_path / "out"),
    }
    settings = [arg for name, value in base.items() for arg in ("-s", f"{name}={value}")]
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *argv, *settings],
        cwd=ROOT,
        env=env_for_subprocess(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_line(proc: subprocess.CompletedProcess, *expected: str) -> None:
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    for part in expected:
        assert part in lines[0], lines[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("crawl", "video"), ['no spider "video"', 'did you mean "videos"']),
        (
            ("crawl", "videos", "-a", "config=quickstart", "-s", "TIKTOK_STALL_EMPTY_PAGES=abc"),
            ["TIKTOK_STALL_EMPTY_PAGES"],
        ),
        (("crawl", "videos", "-a", "config=quickstart", "-a", "dry_run=maybe"), ["dry_run"]),
        (
            ("plan", "videos", "-a", "config=quickstart", "-s", "TIKTOK_RETRY_TIMES=1.5"),
            ["TIKTOK_RETRY_TIMES"],
        ),
        (("quota", "-s", 'TIKTOK_QUOTA_DAILY_REQUESTS={"mian": 5}'), ["mian"]),
    ],
)
def test_scrapy_commands_exit_2_with_one_line(tmp_path: Path, argv: tuple, expected: list):
    assert_one_line(scrapy(tmp_path, *argv), *expected)


def test_crawl_of_bad_configs_sends_nothing(make_sandbox: Any, tmp_path: Path) -> None:
    sandbox = make_sandbox()
    bomb = write(tmp_path, "bomb.yaml", alias_bomb())
    superscript = json.dumps({**GOOD, "music_ids": [SUPERSCRIPT_2]})
    for config, expected in ((bomb, "expands to more than"), (superscript, "music_ids[0]")):
        proc = scrapy(tmp_path, "crawl", "videos", "-a", f"config={config}", url=sandbox.url)
        assert_one_line(proc, expected)
    assert sandbox.requests() == []
