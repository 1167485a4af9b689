"""report.html and methods.md: written at the end of a crawl, from bounded counters."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date

import pytest
from inprocess import run_crawl_inprocess

from tiktok_scrapy.extensions.report import MAX_TALLY, CrawlReport
from tiktok_scrapy.reporting import charts

TAGS = ["flood", "storm"]
CONFIG = {
    "hashtags": ["flood", "storm"],
    "start_date": "2024-01-05",
    "end_date": "2024-01-08",
    "max_count": 20,
    "window_days": 1,  # four chains, several pages of requests to fail
}


@pytest.mark.integration
def test_a_faulty_crawl_reports_its_errors_their_cost_and_the_verdict(
    make_sandbox_process, tmp_path
):
    sandbox = make_sandbox_process(error_rate=0.5, fault_seed=1)
    result = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    sent = [r for r in sandbox.requests() if r["endpoint"] == "videos"]
    five_hundreds = sum(1 for r in sent if r["status"] == 500)
    assert five_hundreds >= 3, sent  # the seed makes this a faulty crawl
    text = (result.outdir / "report.html").read_text()
    methods = (result.outdir / "methods.md").read_text()
    # Every 500 shows, with the quota it cost, though each was retried to success.
    cells = r"<td>HTTP 500 internal_error</td><td class=n>(\d+)</td><td class=n>(\d+)"
    row = re.search(cells, text)
    assert row and int(row.group(1)) == int(row.group(2)) == five_hundreds
    assert f"{five_hundreds} of {len(sent)} requests" in text
    assert "No error responses" not in text
    assert f"| HTTP 500 internal_error | {five_hundreds} | {five_hundreds} |" in methods
    # Quota against the daily limit, per family and per day.
    assert f"<td>main</td><td class=n>{len(sent)}</td><td class=n>{five_hundreds}</td>" in text
    assert "daily limit" in text and "1000" in text
    # The crawl's verdict (retried to success: complete), as the crawl recorded it.
    assert "Verdict: <strong>complete</strong>" in text and "Verdict: **complete**" in methods
    # The exact query sent, the windows and the caveats.
    assert '"hashtag_name"' in html.unescape(text) and "<td>2024-01-05.." in text
    assert "48 hours" in methods and "10 days" in methods and "registered" in methods
    truth = sandbox.dataset.truth_videos(
        {"and": [{"field_name": "hashtag_name", "operation": "IN", "field_values": TAGS}]},
        date(2024, 1, 5),
        date(2024, 1, 8),
    )
    assert f"{len(truth)} videos" in text
    assert "<title>2024-01-05: " in text and "<title>flood: " in text
    assert not re.search(r"""(?:src|href)\s*=\s*['"]?(?:https?:)?//""", text)  # offline


@pytest.mark.integration
def test_expected_outcomes_are_not_errors(sandbox, tmp_path):
    hidden = sorted(sandbox.dataset.hidden_users)[:2]
    config = {"usernames": [*hidden, "user_56cfd741"]}
    result = run_crawl_inprocess("users", config, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    text = (result.outdir / "report.html").read_text()
    assert "No error responses." in text
    assert "<td>user_level</td>" in text.split("Expected outcomes")[1]


def test_verdict_is_shown_when_the_crawl_records_one():
    from tiktok_scrapy.reporting.methods import verdict_block

    facts = type("F", (), {"verdict": "incomplete", "verdict_reason": "failed_chains"})()
    block = verdict_block(facts)
    assert "incomplete" in block.text and "failed_chains" in block.text
    assert "incomplete" in block.css


def test_tallies_stay_bounded():
    report = CrawlReport.__new__(CrawlReport)
    report.items_per_day, report.items_by_type = Counter(), Counter()
    report.hashtags, report.regions = Counter(), Counter()
    for n in range(3 * MAX_TALLY):
        report.count({"hashtag_names": [f"tag{n}", "common"], "create_time": 0})
    assert len(report.hashtags) <= MAX_TALLY and report.hashtags.most_common(1)[0][0] == "common"


def test_charts_are_valid_svg_with_titled_axes():
    bars = charts.bar_chart(["a", "b"], [("n", [1, 3], "#000")], x_title="X", y_title="Y")
    for svg in (bars, charts.hbar_chart([("x<y", 2), ("z", 1)])):
        root = ET.fromstring(svg)
        assert root.tag == "svg" and len(root.findall("rect")) == 2
        assert root.get("viewBox") and root.get("width") == "100%"  # scales, never scrolls
    texts = [t.text for t in ET.fromstring(bars).iter("text")]
    assert "X" in texts and "Y" in texts


@pytest.mark.parametrize(
    ("duration", "width"), [(1.5, 0.1), (12, 0.5), (90, 2), (3600, 120), (86400 * 3, 7200)]
)
def test_time_bins_are_readable(duration, width):
    assert charts.bin_width(duration) == width
    assert 8 <= duration / width <= 48


def test_day_chart_shows_empty_days_and_weeks_for_long_spans():
    svg = charts.day_chart({"2024-01-01": 3, "2024-01-04": 1}, y_what="records", x_what="day")
    assert len(ET.fromstring(svg).findall("rect")) == 2  # four days, two of them empty
    assert ">2024-01-02<" in svg and ">2024-01-03<" in svg
    assert svg.count("<title>") == 2
    long = charts.day_chart({"2024-01-01": 1, "2024-12-31": 1}, y_what="r", x_what="day")
    assert "per week" in long
