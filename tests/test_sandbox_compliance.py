"""The sandbox's batch compliance endpoints, over real HTTP, as TikTok documents them:
a multipart create, JSON status polls that move Processing -> Completed (or Failed), and a
text download of the ids still valid."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import date
from typing import Any

import pytest

from tiktok_scrapy.api.endpoints import COMPLIANCE_MAX_IDS, ENDPOINTS, TOKEN_PATH
from tiktok_scrapy.api.errors import Outcome, classify_text
from tiktok_scrapy.compliance import multipart_body, valid_ids
from tiktok_scrapy.sandbox import SandboxThread

DAY = date(2024, 1, 5)
US = {"and": [{"field_name": "region_code", "operation": "EQ", "field_values": ["US"]}]}


class Client:
    def __init__(self, sandbox: SandboxThread) -> None:
        self.url = sandbox.url
        form = urllib.parse.urlencode(
            {
                "client_key": "c",
                "client_secret": "sandbox-secret",
                "grant_type": "client_credentials",
            }
        ).encode()
        status, _, raw = self.post(TOKEN_PATH, form, "application/x-www-form-urlencoded", None)
        assert status == 200, raw
        self.token = json.loads(raw)["access_token"]

    def post(
        self, path: str, body: bytes, content_type: str, token: str | None = "default"
    ) -> tuple[int, str, bytes]:
        headers = {"Content-Type": content_type}
        if token:
            headers["Authorization"] = f"Bearer {self.token if token == 'default' else token}"
        request = urllib.request.Request(self.url + path, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers.get("Content-Type", ""), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read()

    def create(self, category: str, ids: list[int]) -> tuple[int, Any]:
        body, content_type = multipart_body(category, ids)
        status, _, raw = self.post(ENDPOINTS["validation_task_create"].path, body, content_type)
        return status, json.loads(raw)

    def task(self, name: str, task_id: Any) -> tuple[int, str, bytes]:
        body = json.dumps({"task_id": task_id}).encode()
        return self.post(ENDPOINTS[name].path, body, "application/json")

    def status(self, task_id: Any) -> str:
        status, _, raw = self.task("validation_task_status", task_id)
        assert status == 200, raw
        return json.loads(raw)["data"]["task_status"]


@pytest.fixture
def live(make_sandbox):
    sandbox = make_sandbox()
    return sandbox, Client(sandbox)


def _videos(sandbox: SandboxThread) -> list[int]:
    return [v["id"] for v in sandbox.dataset.truth_videos(US, DAY, DAY)]


def test_a_task_moves_from_processing_to_completed_and_downloads_the_valid_ids(live):
    sandbox, client = live
    ids = _videos(sandbox)
    sandbox.delete(videos=ids[:2])
    unknown = 2**62 + 5
    status, answer = client.create("video", [*ids, unknown])
    assert status == 200 and answer["error"]["code"] == "ok"
    task_id = answer["data"]["task_id"]
    assert isinstance(task_id, int) and task_id >= 2**63  # exact through json, never a float

    assert client.status(task_id) == "Processing"
    status, _, raw = client.task("validation_task_download", task_id)
    assert status == 400 and json.loads(raw)["error"]["code"] == "invalid_params"
    assert client.status(task_id) == "Completed"
    status, content_type, raw = client.task("validation_task_download", task_id)
    assert status == 200 and content_type.startswith("text/plain")
    assert classify_text(status, raw).outcome is Outcome.OK
    assert valid_ids(raw) == set(ids[2:])
    assert raw.decode().splitlines()[0].isdigit()  # one id a line
    assert client.status(str(task_id)) == "Completed"  # the id as a string works too


def test_comments_are_checked_and_a_deleted_video_takes_its_comments(live):
    sandbox, client = live
    video = next(i for i in _videos(sandbox) if len(sandbox.dataset.comments(i)) >= 4)
    comments = [c["id"] for c in sandbox.dataset.comments(video)]
    sandbox.delete(comments=comments[:1])
    _, answer = client.create("comment", comments)
    task_id = answer["data"]["task_id"]
    while client.status(task_id) == "Processing":
        pass
    _, _, raw = client.task("validation_task_download", task_id)
    assert valid_ids(raw) == set(comments[1:])

    sandbox.delete(videos=[video])
    _, answer = client.create("comment", comments)
    task_id = answer["data"]["task_id"]
    while client.status(task_id) == "Processing":
        pass
    assert valid_ids(client.task("validation_task_download", task_id)[2]) == set()


def test_deleted_comments_leave_the_comment_list(live):
    sandbox, client = live
    video = next(i for i in _videos(sandbox) if len(sandbox.dataset.comments(i)) >= 3)
    first = sandbox.dataset.comments(video)[0]["id"]
    sandbox.delete(comments=[first])
    body = json.dumps({"video_id": video, "max_count": 100}).encode()
    fields = "?fields=id,video_id"
    status, _, raw = client.post(ENDPOINTS["comments"].path + fields, body, "application/json")
    assert status == 200
    assert first not in {c["id"] for c in json.loads(raw)["data"]["comments"]}


def test_time_on_the_sandbox_clock_completes_a_task(live):
    sandbox, client = live
    sandbox.set_options(task_processing_polls=0, task_processing_seconds=600)
    task_id = client.create("video", _videos(sandbox)[:3])[1]["data"]["task_id"]
    assert client.status(task_id) == "Processing"
    assert client.status(task_id) == "Processing"
    sandbox.advance_clock(600)
    assert client.status(task_id) == "Completed"


def test_failed_on_demand(live):
    sandbox, client = live
    sandbox.set_options(task_failed_rate=1.0, task_processing_polls=0)
    task_id = client.create("video", _videos(sandbox)[:3])[1]["data"]["task_id"]
    assert client.status(task_id) == "Failed"
    status, _, raw = client.task("validation_task_download", task_id)
    assert status == 400 and "Failed" in json.loads(raw)["error"]["message"]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (json.dumps({"category": "video"}).encode(), "application/json", "multipart/form-data"),
        (None, None, "at most 10000"),
        (b"", "comment-bad-category", "Invalid category"),
        (b"", "not-a-number", "is not an id"),
    ],
)
def test_bad_create_calls_are_invalid_params(live, body, content_type, message):
    _, client = live
    if body is None:  # 10,001 ids
        body, content_type = multipart_body("video", list(range(1, COMPLIANCE_MAX_IDS + 2)))
    elif content_type == "comment-bad-category":
        body, content_type = multipart_body("user", [1, 2])
    elif content_type == "not-a-number":
        body, content_type = multipart_body("video", [1])
        body = body.replace(b"1\n", b"12x\n")
    status, _, raw = client.post(ENDPOINTS["validation_task_create"].path, body, content_type)
    answer = json.loads(raw)
    assert status == 400 and answer["error"]["code"] == "invalid_params", answer
    assert message in answer["error"]["message"]


def test_unknown_task_and_missing_token(live):
    sandbox, client = live
    status, _, raw = client.task("validation_task_status", 2**63 + 1)
    assert status == 400 and "does not exist" in json.loads(raw)["error"]["message"]
    body, content_type = multipart_body("video", [1])
    path = ENDPOINTS["validation_task_create"].path
    status, _, raw = client.post(path, body, content_type, token=None)
    assert status == 401
    assert sandbox.stats()["quota"]["main"] == 1  # compliance calls count in the main family


def test_admin_delete(live):
    sandbox, client = live
    video = _videos(sandbox)[0]
    body = json.dumps({"videos": [video], "comments": []}).encode()
    status, _, raw = client.post("/admin/delete", body, "application/json", token=None)
    assert status == 200 and json.loads(raw)["deleted"] == {"videos": 1, "comments": 0}
    assert not sandbox.dataset.is_valid("video", video)
    status, _, _ = client.post("/admin/delete", b'{"users": []}', "application/json", token=None)
    assert status == 400


def test_a_deleted_video_leaves_liked_lists(live):
    sandbox, client = live
    dataset = sandbox.dataset
    owner, liked = next(
        (name, dataset.liked_videos(name))
        for name in dataset.usernames
        if name not in dataset.private_users
        and name not in dataset.hidden_users
        and name not in dataset.likes_private_users
        and len(dataset.liked_videos(name)) >= 2
    )
    gone = liked[0][1]["id"]
    sandbox.delete(videos=[gone])
    body = json.dumps({"username": owner, "max_count": 100}).encode()
    path = ENDPOINTS["liked_videos"].path + "?fields=id"
    status, _, raw = client.post(path, body, "application/json")
    assert status == 200, raw
    served = {v["id"] for v in json.loads(raw)["data"]["user_liked_videos"]}
    assert gone not in served and served
