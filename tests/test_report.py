"""report.html: written at the end of a crawl, from bounded counters."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date

import pytest
from crawling import run_crawl

from tiktok_scrapy.extensions.report import MAX_TALLY, CrawlReport, bar_chart, hbar_chart


@pytest.mark.integration
def test_a_crawl_writes_its_report(make_sandbox, tmp_path):
    sandbox = make_sandbox(error_rate=0.2)
    config = {
        "hashtags": ["flood", "storm"],
        "start_date": "2024-01-05",
        "end_date": "2024-01-08",
        "max_count": 20,
    }
    result = run_crawl("videos", config, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    text = (result.outdir / "report.html").read_text()
    assert text.count("<svg") >= 5
    for day in ("2024-01-05", "2024-01-08"):
        assert f"<title>{day}: " in text  # a bar per creation day
    truth = sandbox.dataset.truth_videos(
        {
            "and": [
                {
                    "field_name": "hashtag_name",
                    "operation": "IN",
                    "field_values": ["flood", "storm"],
                }
            ]
        },
        date(2024, 1, 5),
        date(2024, 1, 8),
    )
    assert "<title>flood: " in text and "Errors by kind" in text
    assert "Requests over time — main quota" in text
    assert f"{len(truth)} videos" in text


def test_tallies_stay_bounded():
    report = CrawlReport.__new__(CrawlReport)
    report.items_per_day, report.items_by_type = Counter(), Counter()
    report.hashtags, report.regions = Counter(), Counter()
    for n in range(3 * MAX_TALLY):
        report.count({"hashtag_names": [f"tag{n}", "common"], "create_time": 0})
    assert len(report.hashtags) <= MAX_TALLY and report.hashtags.most_common(1)[0][0] == "common"


def test_charts_are_valid_svg():
    for svg in (bar_chart(["a", "b"], [1, 3]), hbar_chart([("x<y", 2), ("z", 1)])):
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg") and len(root.findall("{*}rect")) == 2
