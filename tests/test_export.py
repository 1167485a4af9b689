"""``scrapy export`` and the export logic against mongomock."""

from __future__ import annotations

import argparse
import builtins
import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mongomock
import pytest
from scrapy.settings import Settings

from tiktok_scrapy.commands.export import Command
from tiktok_scrapy.storage.export import ExportError, csv_cell, export, parse_query

BIG = 7320768196569599275  # above 2**53: a float would print 7320768196569599000


@pytest.fixture
def server() -> mongomock.MongoClient:
    client = mongomock.MongoClient()
    client["tiktok_research"]["videos"].insert_many(
        [
            {
                "id": BIG,
                "region_code": "US",
                "hashtag_names": ["cats", "قطط"],
                "like_count": 6,
                "create_datetime": datetime(2024, 1, 6, tzinfo=UTC),
                "_queries": [{"query_id": "q", "crawl_id": "c1"}],
            },
            {"id": BIG + 1, "region_code": "US", "like_count": 1},
            {"id": 5, "region_code": "IQ", "username": "مستخدم4"},
        ]
    )
    return client


def run(server: Any, *argv: str) -> tuple[Command, argparse.Namespace]:
    command = Command()
    command.settings = Settings(
        {
            "MONGODB_URI": "mongodb://u:pw@h",
            "MONGODB_CLIENT_CLASS": lambda uri, **kw: server,
            "LOG_LEVEL": "INFO",
        }
    )
    parser = argparse.ArgumentParser()
    command.add_options(parser)
    opts = parser.parse_args(list(argv))
    command.run([], opts)
    return command, opts


def test_csv_with_query_keeps_ids_as_exact_digits(server: Any, tmp_path: Path) -> None:
    out = tmp_path / "us.csv"
    command, _ = run(
        server, "--collection", "videos", "--query", '{"region_code": "US"}', "-o", str(out)
    )
    assert command.exitcode == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == [str(BIG), str(BIG + 1)]
    assert rows[0]["hashtag_names"] == "cats|قطط"  # flat: list values joined
    assert rows[0]["create_datetime"].startswith("2024-01-06T00:00:00")
    assert "_id" not in rows[0]


def test_jsonl_with_fields_and_limit(server: Any, tmp_path: Path) -> None:
    out = tmp_path / "v.jsonl"
    run(server, "--collection", "videos", "--fields", "id,username", "--limit", "2", "-o", str(out))
    docs = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert docs == [{"id": BIG}, {"id": BIG + 1}]


def test_export_function_writes_unicode_and_dates(server: Any, tmp_path: Path) -> None:
    out = tmp_path / "all.jsonl"
    count = export(server["tiktok_research"]["videos"], str(out), query={"id": 5})
    assert count == 1
    assert json.loads(out.read_text("utf-8")) == {
        "id": 5,
        "region_code": "IQ",
        "username": "مستخدم4",
    }


def test_parquet_without_pyarrow_is_one_line_error(
    server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real_import = builtins.__import__

    def no_pyarrow(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    command, _ = run(server, "--collection", "videos", "-o", str(tmp_path / "v.parquet"))
    assert command.exitcode == 1
    err = capsys.readouterr().err.strip()
    assert err == "export: Parquet output needs pyarrow: pip install pyarrow"
    assert not (tmp_path / "v.parquet").exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("-o", "x.xlsx"), "name it .csv, .jsonl or .parquet"),
        (("-o", "x.csv", "--query", "{bad"), "--query is not valid JSON"),
        (("-o", "x.csv", "--query", "[1]"), "must be a JSON object"),
    ],
)
def test_usage_errors_are_one_line(
    server: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: tuple,
    needle: str,
) -> None:
    argv = tuple(str(tmp_path / a) if a.startswith("x.") else a for a in argv)
    command, _ = run(server, "--collection", "videos", *argv)
    assert command.exitcode == 1
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_missing_uri(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("MONGODB_URI", raising=False)
    command = Command()
    command.settings = Settings({})
    parser = argparse.ArgumentParser()
    command.add_options(parser)
    command.run([], parser.parse_args(["--collection", "v", "-o", str(tmp_path / "a.csv")]))
    assert command.exitcode == 1 and "MONGODB_URI is not set" in capsys.readouterr().err


def test_csv_cells() -> None:
    assert csv_cell(BIG) == "7320768196569599275"
    assert csv_cell(None) == "" and csv_cell(True) == "true"
    assert csv_cell({"a": [1]}) == '{"a": [1]}'


def test_parse_query_extended_json() -> None:
    query = parse_query('{"create_datetime": {"$gte": {"$date": "2024-01-01T00:00:00Z"}}}')
    assert isinstance(query["create_datetime"]["$gte"], datetime)
    with pytest.raises(ExportError):
        parse_query("nope")
