"""refresh with batch compliance tasks: videos and comments crawled, some deleted on the
sandbox, the refresh lists exactly those — with task calls only, resumable mid-task."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import date

import pytest
from crawling import collect, crawl_command, env_for_subprocess, read_jsonl, run_crawl
from inprocess import run_crawl_inprocess

pytestmark = pytest.mark.integration

DAY = date(2024, 1, 10)
QUERY = {"and": [{"field_name": "region_code", "operation": "IN", "field_values": ["US", "BR"]}]}
FAST_POLLS = {"TIKTOK_COMPLIANCE_POLL_INTERVAL": "0.01", "TIKTOK_COMPLIANCE_POLL_MAX": "0.05"}
OLD = {"older_than_days": 0}


@pytest.fixture
def crawled(make_sandbox_process, tmp_path):
    """A sandbox, a videos crawl and a comments crawl of some of those videos."""
    sandbox = make_sandbox_process()
    videos = run_crawl_inprocess(
        "videos",
        {"query": QUERY, "start_date": str(DAY), "end_date": str(DAY)},
        sandbox.url,
        tmp_path / "videos",
    )
    assert videos.returncode == 0, videos.log[-3000:]
    with_comments = [v["id"] for v in videos.of("videos") if 0 < v.get("comment_count", 0) < 60]
    comments = run_crawl_inprocess(
        "comments", {"video_ids": with_comments[:6]}, sandbox.url, tmp_path / "comments"
    )
    assert comments.returncode == 0, comments.log[-3000:]
    assert len(videos.of("videos")) >= 10 and len(comments.of("comments")) >= 10
    return sandbox, videos, comments


def _task_requests(sandbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for request in sandbox.requests():
        counts[request["endpoint"]] = counts.get(request["endpoint"], 0) + 1
    return counts


def test_deleted_videos_and_comments_are_listed_exactly(crawled, tmp_path):
    sandbox, videos, comments = crawled
    video_ids = [v["id"] for v in videos.of("videos")]
    comment_ids = [c["id"] for c in comments.of("comments")]
    deleted_videos, deleted_comments = video_ids[1:4], comment_ids[2:5]
    sandbox.delete(videos=deleted_videos, comments=deleted_comments)
    sandbox.reset()  # count the refresh's requests only

    for kind, result_of, deleted in (
        ("video", videos, deleted_videos),
        ("comment", comments, deleted_comments),
    ):
        config = {"from_output": str(result_of.outdir / f"{kind}s.jsonl"), **OLD}
        result = run_crawl_inprocess(
            "refresh", config, sandbox.url, tmp_path / kind, settings=FAST_POLLS
        )
        assert result.returncode == 0, result.log[-3000:]
        unavailable = read_jsonl(result.outdir / "unavailable.jsonl")
        expected = set(deleted)
        if kind == "comment":  # a comment of a deleted video is gone with it
            expected |= {
                c["id"] for c in comments.of("comments") if c["video_id"] in deleted_videos
            }
        assert {u["id"] for u in unavailable} == expected
        assert {u["category"] for u in unavailable} == {kind}
        assert all(u["unavailable_since"] for u in unavailable)
        stored = {r["id"] for r in result_of.of(f"{kind}s")}
        assert result.stats["tiktok/refresh/checked"] == len(stored)

    counts = _task_requests(sandbox)
    assert "videos" not in counts and "comments" not in counts  # no video or comment query
    assert counts["validation_task_create"] == 2  # one task per file of <= 10,000 ids
    assert counts["validation_task_download"] == 2
    assert counts["validation_task_status"] >= 2


def test_deleted_items_disappear_from_the_sandbox_answers(crawled, tmp_path):
    sandbox, videos, _ = crawled
    gone = videos.of("videos")[0]["id"]
    sandbox.delete(videos=[gone])
    again = run_crawl_inprocess(
        "videos",
        {"query": QUERY, "start_date": str(DAY), "end_date": str(DAY)},
        sandbox.url,
        tmp_path / "again",
    )
    assert again.returncode == 0, again.log[-3000:]
    assert gone not in {v["id"] for v in again.of("videos")}
    assert len(again.of("videos")) == len(videos.of("videos")) - 1


def test_one_create_call_per_10000_ids(crawled, tmp_path):
    sandbox, videos, _ = crawled
    ids = [v["id"] for v in videos.of("videos")]
    sandbox.reset()
    settings = {**FAST_POLLS, "TIKTOK_COMPLIANCE_BATCH_IDS": "4"}  # small files, same rule
    config = {"from_output": str(videos.outdir / "videos.jsonl"), **OLD}
    result = run_crawl_inprocess("refresh", config, sandbox.url, tmp_path / "r", settings=settings)
    assert result.returncode == 0, result.log[-3000:]
    creates = sandbox.requests("validation_task_create")
    assert len(creates) == -(-len(ids) // 4)
    assert sum(int(r["body"]["file_data"].split()[0]) for r in creates) == len(ids)
    assert read_jsonl(result.outdir / "unavailable.jsonl") == []


def test_a_failed_task_is_created_again(crawled, tmp_path):
    sandbox, videos, _ = crawled
    sandbox.set_options(task_failed_rate=1.0)
    sandbox.reset()
    config = {"from_output": str(videos.outdir / "videos.jsonl"), **OLD}
    settings = {**FAST_POLLS, "TIKTOK_COMPLIANCE_TASK_RETRIES": "1"}
    result = run_crawl_inprocess("refresh", config, sandbox.url, tmp_path / "r", settings=settings)
    assert len(sandbox.requests("validation_task_create")) == 2  # the first try and one more
    assert result.stats["tiktok/refresh/tasks_failed"] == 2
    assert "compliance task failed 2 times" in result.log
    assert read_jsonl(result.outdir / "unavailable.jsonl") == []  # nothing concluded


@pytest.mark.parametrize(
    ("name", "rows", "category", "message"),
    [
        ("users.jsonl", [{"username": "a", "follower_count": 3}], None, "not a video or comment"),
        ("ids.txt", None, None, "add category: video or category: comment"),
        (
            "mixed.jsonl",
            [
                {"id": 7312345678901234567, "create_time": 1, "username": "a"},
                {"id": 7312345678901234568, "video_id": 1, "text": "x"},
            ],
            None,
            "a file must hold one kind",
        ),
        (
            "comments.jsonl",
            [{"id": 7312345678901234568, "video_id": 1, "text": "x"}],
            "video",
            "a comment among videos",
        ),
    ],
)
def test_input_of_the_wrong_kind_is_refused_in_one_line(
    sandbox, tmp_path, name, rows, category, message
):
    path = tmp_path / name
    if rows is None:
        path.write_text("7312345678901234567\n")
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {"from_output": str(path), **({"category": category} if category else {})}
    result = run_crawl("refresh", config, sandbox.url, tmp_path / "r")
    assert result.returncode == 2, result.log[-2000:]
    errors = [line for line in result.log.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.log[-2000:]


def test_killed_while_processing_resumes_the_same_task(crawled, tmp_path):
    sandbox, _, comments = crawled
    deleted = [c["id"] for c in comments.of("comments")][:2]
    sandbox.delete(comments=deleted)
    sandbox.set_options(task_processing_polls=0, task_processing_seconds=3600)
    sandbox.reset()
    work = tmp_path / "work"
    work.mkdir()
    settings = {**FAST_POLLS, "JOBDIR": str(work / "job")}
    stored = comments.outdir / "comments.jsonl"
    before = stored.read_bytes()
    config = {"from_output": str(stored), "purge": True, **OLD}
    command, outdir = crawl_command("refresh", config, sandbox.url, work, settings)
    with (work / "run1.log").open("w") as log:
        proc = subprocess.Popen(
            command, cwd=work, env=env_for_subprocess(), stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while len(sandbox.requests("validation_task_status")) < 2:  # polled while Processing
        assert proc.poll() is None, (work / "run1.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "no status poll within 60 s"
        time.sleep(0.01)
    proc.kill()  # kill -9
    proc.wait(timeout=30)
    assert len(sandbox.requests("validation_task_create")) == 1
    assert stored.read_bytes() == before  # nothing purged before every check is done

    sandbox.advance_clock(3600)  # the task is done by now
    resumed = subprocess.run(
        command, cwd=work, env=env_for_subprocess(), capture_output=True, text=True, timeout=120
    )
    result = collect(resumed.returncode, resumed.stderr + resumed.stdout, outdir)
    assert resumed.returncode == 0, result.log[-3000:]
    assert len(sandbox.requests("validation_task_create")) == 1  # picked up, not created again
    assert {u["id"] for u in result.of("unavailable")} == set(deleted)
    assert result.stats["finish_reason"] == "finished"
    left = {c["id"] for c in read_jsonl(stored)}
    assert left == {c["id"] for c in comments.of("comments")} - set(deleted)
    [audit] = read_jsonl(outdir / "purge_audit.jsonl")
    assert audit["unavailable"] == {"comment": 2} and audit["deleted_total"] == 2


def test_an_all_gone_result_is_downloaded_twice_before_it_is_believed(crawled, tmp_path):
    sandbox, videos, _ = crawled
    ids = [v["id"] for v in videos.of("videos")]
    sandbox.delete(videos=ids)
    sandbox.reset()
    config = {"from_output": str(videos.outdir / "videos.jsonl"), **OLD}
    result = run_crawl_inprocess(
        "refresh", config, sandbox.url, tmp_path / "r", settings=FAST_POLLS
    )
    assert result.returncode == 0, result.log[-3000:]
    assert {u["id"] for u in result.of("unavailable")} == set(ids)
    assert len(sandbox.requests("validation_task_download")) == 2
    assert "check the input is what you think it is" in result.log
