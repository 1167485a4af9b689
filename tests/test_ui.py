"""The web app over HTTP (Starlette's test client): the form as a config, live checks,
plans, the token beyond loopback, CSRF, secrets kept from the browser, CSV, quota chart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy.settings import Settings
from settings_fixture import project_settings
from starlette.testclient import TestClient

from tiktok_scrapy.commands.ui import build_app
from tiktok_scrapy.quota_ledger import Client, SqliteLedger
from tiktok_scrapy.ui import forms
from tiktok_scrapy.ui.csvexport import csv_chunks, flatten
from tiktok_scrapy.ui.jobs import JobStore
from tiktok_scrapy.ui.progress import read_progress, redact
from tiktok_scrapy.ui.quota import chart_svg, last_days

ROOT = Path(__file__).resolve().parents[1]
LOCAL = "http://127.0.0.1:8642"
QUERY = {
    "spider": "videos",
    "hashtags": "flood, storm",
    "start_date": "2024-01-01",
    "end_date": "2024-01-07",
}
SECRET = "s3cret-client-secret-value"


def settings(tmp_path: Path, **extra: object) -> Settings:
    result = project_settings()
    result.set("TIKTOK_QUOTA_LEDGER", str(tmp_path / "quota.sqlite"), priority="cmdline")
    for name, value in extra.items():
        result.set(name, value, priority="cmdline")
    return result


def client(tmp_path: Path, *, token: str | None = None, loopback: bool = True, **kw) -> TestClient:
    app = build_app(settings(tmp_path), kw, str(tmp_path / "ui"), token, loopback)
    return TestClient(app, base_url=LOCAL)


def csrf_of(test_client: TestClient) -> str:
    test_client.get("/")
    return test_client.cookies["tiktok_ui_csrf"]


# --- the form as a config -------------------------------------------------------------


def test_form_becomes_the_config_the_cli_reads() -> None:
    raw = forms.form_to_config(
        "videos",
        {
            **QUERY,
            "exclude_hashtags": "fyp",
            "regions": "US\nGB",
            "max_items": "100",
            "fields": "id,username",
            "unknown": "x",
        },
    )
    assert raw == {
        "hashtags": ["flood", "storm"],
        "regions": ["US", "GB"],
        "exclude_hashtags": ["fyp"],
        "start_date": "2024-01-01",
        "end_date": "2024-01-07",
        "fields": ["id", "username"],
        "max_items": 100,
    }
    checked = forms.check("videos", raw)
    assert checked.ok, checked.errors
    assert json.loads(checked.query_json())["not"][0]["field_values"] == ["fyp"]
    assert "spider: videos" in checked.yaml()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"max_count": "150"}, "max_count", "must be at most 100"),
        ({"regions": "XX"}, "regions", 'unknown region code "XX"'),
        ({"end_date": "2023-01-01"}, "start_date", "swap them"),
        ({"hashtags": ""}, "hashtags", "no query"),
        ({"window_days": "31"}, "window_days", "at most 30"),
        ({"query": '{"and": [{"field_name": "x"}]}'}, "query", "query.and[0]"),
    ],
)
def test_an_error_is_the_clis_line_at_the_field_it_names(change, field, words) -> None:
    checked = forms.check("videos", forms.form_to_config("videos", {**QUERY, **change}))
    assert not checked.ok
    assert words in checked.errors[field]


def test_input_spiders_read_their_list_from_one_textarea() -> None:
    assert forms.input_key("comments") == "video_ids"
    assert forms.input_key("videos") is None
    raw = forms.form_to_config("comments", {"inputs": "7300000000000000001\n7300000000000000002"})
    assert raw == {"video_ids": ["7300000000000000001", "7300000000000000002"]}
    assert forms.check("comments", raw).ok
    missing = forms.check("users", {})
    assert "no input" in missing.errors["inputs"]


# --- pages and live checks ------------------------------------------------------------


def test_validate_answers_errors_by_field_and_the_query(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        token = csrf_of(c)
        bad = c.post(
            "/validate", data={**QUERY, "max_count": "150"}, headers={"X-CSRF-Token": token}
        )
        assert bad.status_code == 200
        assert "must be at most 100" in bad.json()["errors"]["max_count"]
        good = c.post("/validate", data=QUERY, headers={"X-CSRF-Token": token}).json()
        assert good["ok"] and "hashtag_name" in good["query"] and "flood" in good["yaml"]


def test_plan_is_scrapy_plans_text_and_yaml_downloads(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        token = csrf_of(c)
        page = c.post("/plan", data={**QUERY, "csrf_token": token})
        assert page.status_code == 200
        assert "Plan for `scrapy crawl videos`" in page.text and 'id="start"' in page.text
        download = c.post("/config.yaml", data={**QUERY, "csrf_token": token, "name": "floods"})
        assert download.headers["content-disposition"] == 'attachment; filename="floods.yaml"'
        assert "hashtags:" in download.text


def test_every_page_renders_without_assets_from_elsewhere(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        for path in ("/", "/crawls", "/quota", "/static/ui.js", "/static/ui.css"):
            response = c.get(path)
            assert response.status_code == 200, path
            assert "https://" not in response.text and "http://cdn" not in response.text
        assert "default-src 'self'" in c.get("/").headers["content-security-policy"]


# --- security -------------------------------------------------------------------------


def test_beyond_loopback_the_command_refuses_to_start_without_a_token() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "ui", "--host", "0.0.0.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in __import__("os").environ.items() if k != "TIKTOK_UI_TOKEN"},
    )
    assert result.returncode == 2
    assert "give a token" in result.stderr


def test_a_misspelt_setting_is_refused_before_the_ui_starts() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "ui", "-s", "TIKTOK_SANBOX=true"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "TIKTOK_SANBOX" in result.stderr and "TIKTOK_SANDBOX" in result.stderr


def test_beyond_loopback_a_request_without_the_token_is_refused(tmp_path: Path) -> None:
    app = build_app(settings(tmp_path), {}, str(tmp_path / "ui"), "let-me-in", False)
    with TestClient(app, base_url="http://10.1.2.3:8642") as c:
        assert c.get("/crawls").status_code == 401
        to_login = c.get("/quota", headers={"Accept": "text/html"}, follow_redirects=False)
        assert to_login.headers["location"] == "/login"
        assert c.get("/crawls/x/progress.json").status_code == 401
        assert c.get("/crawls", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/crawls", headers={"Authorization": "Bearer let-me-in"}).status_code == 200
        login = c.get("/login")
        assert login.status_code == 200
        token = c.cookies["tiktok_ui_csrf"]
        wrong = c.post("/login", data={"token": "nope", "csrf_token": token})
        assert wrong.status_code == 401
        right = c.post(
            "/login", data={"token": "let-me-in", "csrf_token": token}, follow_redirects=False
        )
        assert right.status_code == 303
        assert "let-me-in" not in right.headers["set-cookie"]  # a hash of it, not the token
        assert c.get("/crawls").status_code == 200


def test_on_loopback_other_host_names_are_refused(tmp_path: Path) -> None:
    app = build_app(settings(tmp_path), {}, str(tmp_path / "ui"), None, True)
    with TestClient(app, base_url="http://attacker.example:8642") as c:
        assert c.get("/").status_code == 421  # DNS rebinding: the name is not ours
    with TestClient(app, base_url="http://localhost:8642") as c:
        assert c.get("/").status_code == 200


def test_a_cross_site_post_is_refused(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        token = csrf_of(c)
        data = {**QUERY, "csrf_token": token}
        evil = c.post("/plan", data=data, headers={"Origin": "http://evil.example"})
        assert evil.status_code == 403
        site = c.post("/plan", data=data, headers={"Sec-Fetch-Site": "cross-site"})
        assert site.status_code == 403
        no_token = c.post("/crawls/start", data={"spider": "videos", "config": "{}"})
        assert no_token.status_code == 403
        wrong = c.post("/validate", data=QUERY, headers={"X-CSRF-Token": "guess"})
        assert wrong.status_code == 403
        ok = c.post("/plan", data=data, headers={"Origin": LOCAL, "Sec-Fetch-Site": "same-origin"})
        assert ok.status_code == 200
        assert not list((tmp_path / "ui").glob("*/job.json"))  # nothing was started


def test_credentials_go_to_crawls_by_environment_never_to_the_browser(tmp_path: Path) -> None:
    store = JobStore(
        tmp_path,
        settings={"TIKTOK_CLIENT_SECRET": SECRET, "LOG_LEVEL": "INFO", "TIKTOK_SANDBOX": "true"},
    )
    job = store.create("videos", {"hashtags": ["flood"]}, sandbox=False)
    command = " ".join(store.command(job))
    assert SECRET not in command and "LOG_LEVEL=INFO" in command
    assert "TIKTOK_SANDBOX" not in command  # the form's sandbox box decides, per crawl
    sandboxed = store.create("videos", {"hashtags": ["flood"]}, sandbox=True)
    assert "TIKTOK_SANDBOX=true" in store.command(sandboxed)
    with client(tmp_path, TIKTOK_CLIENT_SECRET=SECRET) as c:
        token = csrf_of(c)
        pages = [c.get(p).text for p in ("/", "/crawls", "/quota")]
        pages.append(c.post("/plan", data={**QUERY, "csrf_token": token}).text)
        assert not any(SECRET in page for page in pages)
    assert redact(f"'TIKTOK_CLIENT_SECRET': '{SECRET}'") == "'TIKTOK_CLIENT_SECRET': [hidden]"
    assert SECRET not in redact(f"Authorization: Bearer {SECRET}")


def test_a_crawls_log_lines_shown_leave_secrets_out(tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    log = tmp_path / "crawl.log"
    log.write_text(
        "x [scrapy.crawler] INFO: Overridden settings: {'TIKTOK_CLIENT_SECRET': 'abc'}\n"
        "x [tiktok] INFO: Progress: 1/4 chains done (0 failed), 3 pages, 250 items, 3 requests "
        "sent.\nx [tiktok] WARNING: token='abc' renewed\n"
    )
    progress = read_progress(output, log)
    assert (progress.done, progress.chains, progress.items) == (1, 4, 250)
    with log.open("a") as more:
        more.write(
            "x [tiktok_scrapy.extensions.progress] INFO: Progress: 3/10 chains done (30%), "
            "1 failed, 5 pages, 400 items, 6 requests; quota left today: main 994/1000; "
            "elapsed 1m02s, ETA about 2m10s.\n"
        )
    later = read_progress(output, log)
    assert (later.done, later.chains, later.failed, later.requests) == (3, 10, 1, 6)
    assert (later.quota_left, later.eta_text) == ("main 994/1000", "ETA about 2m10s")
    assert not any("abc" in line for line in progress.lines)
    assert progress.eta_seconds(10) == 30


# --- exports and quota ----------------------------------------------------------------


def test_csv_keeps_ids_exact_joins_lists_and_flattens_dicts(tmp_path: Path) -> None:
    path = tmp_path / "videos.jsonl"
    path.write_text(
        '{"id": 7300000000000000123, "hashtag_names": ["a", "b"], "_crawl": {"page": 1}}\n'
        '{"id": 7300000000000000124, "extra": {"x": null}, "ok": true}\n'
        '{"id": 73000000'  # a line cut by a kill
    )
    text = "".join(csv_chunks(path))
    assert text.splitlines() == [
        "id,hashtag_names,extra.x,ok,_crawl.page",
        "7300000000000000123,a;b,,,1",
        "7300000000000000124,,,true,",
    ]
    assert flatten({"a": {"b": {"c": 1}}}) == {"a.b.c": "1"}


def test_quota_page_shows_today_and_a_30_day_chart(tmp_path: Path) -> None:
    from tiktok_scrapy.quota_ledger import ApiClock

    ledger = SqliteLedger(tmp_path / "quota.sqlite")
    key = Client.from_key("client-key-1234")
    today = ApiClock().day()
    for _ in range(3):
        ledger.reserve(key, "main", today, 1000)
    ledger.add_records(key, "main", today, 250)
    series = last_days(ledger, ["main", "user"], today)
    assert len(series) == 30 and series[-1] == (today, {"main": 3, "user": 0})
    ledger.close()
    assert "<rect" in chart_svg(series)
    with client(tmp_path) as c:
        page = c.get("/quota").text
    assert "1234" in page and "client-key-1234" not in page  # a hint, never the key
    assert "<svg" in page and "250" in page


def test_package_data_ships_every_template_and_asset() -> None:
    import re

    setup = (ROOT / "setup.py").read_text()
    patterns = re.search(r'"tiktok_scrapy.ui": \[([^\]]*)\]', setup).group(1)
    globs = [p.strip().strip('"') for p in patterns.split(",") if p.strip()]
    ui = ROOT / "tiktok_scrapy" / "ui"
    shipped = {p for g in globs for p in ui.glob(g)}
    assets = {p for p in ui.rglob("*") if p.is_file() and p.suffix in (".html", ".css", ".js")}
    assert assets and assets <= shipped


def test_an_input_file_that_is_not_there_is_refused_before_a_crawl_starts(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        token = csrf_of(c)
        form = {"spider": "comments", "from_output": str(tmp_path / "nowhere"), "csrf_token": token}
        plan = c.post("/plan", data=form)
        assert 'id="plan-error"' in plan.text and "from_output" in plan.text
        config = json.dumps({"from_output": str(tmp_path / "nowhere")})
        start = c.post(
            "/crawls/start", data={"spider": "comments", "config": config, "csrf_token": token}
        )
        assert start.status_code == 400 and "from_output" in start.text
        assert not list((tmp_path / "ui").glob("*/job.json"))


def test_the_csv_of_an_item_file_is_scrapy_exports_table(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "ui")
    job = store.create("videos", {"hashtags": ["flood"]}, sandbox=True)
    store.output(job).mkdir(parents=True)
    (store.output(job) / "videos.jsonl").write_text(
        '{"id": 7300000000000000123, "hashtag_names": ["a", "b"], "view_count": 1}\n'
        '{"id": 7300000000000000123, "hashtag_names": ["a", "b"], "view_count": 5}\n'
    )
    with client(tmp_path) as c:
        response = c.get(f"/crawls/{job.id}/csv/videos.csv")
        assert response.status_code == 200
        assert response.text.splitlines() == [
            "id,hashtag_names,view_count",
            "7300000000000000123,a|b,5",
        ]
        assert c.get(f"/crawls/{job.id}/csv/../../etc/passwd.csv").status_code == 404
        assert c.get(f"/crawls/{job.id}/files/nothing.jsonl").status_code == 404
