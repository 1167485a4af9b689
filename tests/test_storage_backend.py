"""TIKTOK_STORAGE_BACKEND: one function decides where a crawl's data goes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from scrapy.settings import Settings
from settings_fixture import project_settings

from tiktok_scrapy.preflight import check_project_settings
from tiktok_scrapy.settings_check import SettingsError
from tiktok_scrapy.storage import backend, mongodb_uri

URI = "mongodb://db.example:27017"
PACKAGE = Path(__file__).resolve().parent.parent / "tiktok_scrapy"


@pytest.fixture(autouse=True)
def _no_uri_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONGODB_URI", raising=False)


@pytest.mark.parametrize(
    ("values", "expected", "uri"),
    [
        ({}, "feeds", None),
        ({"MONGODB_URI": URI}, "mongodb", URI),
        ({"TIKTOK_STORAGE_BACKEND": "auto", "MONGODB_URI": URI}, "mongodb", URI),
        ({"TIKTOK_STORAGE_BACKEND": "feeds", "MONGODB_URI": URI}, "feeds", None),
        ({"TIKTOK_STORAGE_BACKEND": "mongodb", "MONGODB_URI": URI}, "mongodb", URI),
    ],
)
def test_the_backend_the_settings_name(values: dict, expected: str, uri: str | None) -> None:
    settings = Settings(values)
    assert backend(settings) == expected
    assert mongodb_uri(settings) == uri


def test_the_uri_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", URI)
    assert backend(Settings()) == "mongodb"
    assert mongodb_uri(Settings({"TIKTOK_STORAGE_BACKEND": "feeds"})) is None


def test_an_unknown_backend_is_one_line_naming_the_setting_and_the_choices() -> None:
    with pytest.raises(SettingsError) as caught:
        backend(Settings({"TIKTOK_STORAGE_BACKEND": "postgres"}))
    assert str(caught.value) == (
        "-s TIKTOK_STORAGE_BACKEND=postgres: TIKTOK_STORAGE_BACKEND takes one of auto, "
        "mongodb, feeds"
    )


def test_mongodb_without_a_uri_is_refused_before_the_crawl() -> None:
    with pytest.raises(SettingsError, match="set MONGODB_URI too"):
        check_project_settings(project_settings(TIKTOK_STORAGE_BACKEND="mongodb"))


def test_no_component_reads_mongodb_uri_but_the_backend() -> None:
    """Who asks "is MongoDB on?": tiktok_scrapy.storage.backend alone."""
    reads = re.compile(r"""(get|environ\.get|\[)\(?\s*["']MONGODB_URI["']""")
    readers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if reads.search(path.read_text(encoding="utf-8"))
    )
    assert readers == ["storage/backend.py"]
