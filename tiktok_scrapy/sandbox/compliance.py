"""The sandbox's batch compliance endpoints: tasks that say which stored ids are still valid.

- ``validation_task/create/`` takes ``multipart/form-data``: ``file_data`` (a file part, ids
  one a line; at most 10,000) and ``category`` (``video`` | ``comment``); answers a task id
  above 2**63, as the API's own example does.
- ``validation_task_status/get/`` (JSON ``{"task_id"}``) answers ``Processing`` until the
  task has been polled ``task_processing_polls`` times and ``task_processing_seconds`` of
  sandbox time have passed, then ``Completed`` — or ``Failed`` for a share
  ``task_failed_rate`` of tasks (drawn at creation).
- ``validation_task/download/`` (JSON ``{"task_id"}``) answers, once Completed, a
  ``text/plain`` file of the ids still valid, one a line; errors are JSON envelopes.

Validity is the dataset's (``Dataset.is_valid``). ``POST /admin/delete`` with
``{"videos": [...], "comments": [...]}`` deletes things after a crawl, so tests can check
that a refresh finds exactly them. Auth, quota (main family) and server faults work as on
every data endpoint.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tiktok_scrapy.api.endpoints import (
    COMPLIANCE_CATEGORIES,
    COMPLIANCE_MAX_IDS,
    ENDPOINTS,
    TASK_COMPLETED,
    TASK_FAILED,
    TASK_PROCESSING,
    Endpoint,
)
from tiktok_scrapy.sandbox import faults
from tiktok_scrapy.sandbox.app import (
    DATASET,
    STATE,
    ApiError,
    admin_json,
    envelope,
    error_response,
    gate,
    json_response,
    parse_body,
)
from tiktok_scrapy.sandbox.dataset import Dataset
from tiktok_scrapy.sandbox.state import SandboxState

SEPARATORS = re.compile(r"[\s,]+")


@dataclass(slots=True)
class Task:
    """One compliance task: the ids asked about and how far it has got."""

    task_id: int
    category: str
    ids: list[int]
    created_at: float  # sandbox Unix time
    fails: bool  # drawn at creation from task_failed_rate
    polls: int = 0  # status polls answered Processing
    status: str = TASK_PROCESSING
    valid: list[int] | None = None  # the ids still valid, once Completed


def parse_id_file(content: bytes) -> list[int]:
    """The ids of an uploaded file: one a line (commas and blanks tolerated)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError("Invalid file_data: the file is not UTF-8 text.") from None
    tokens = [t for t in SEPARATORS.split(text) if t]
    bad = next((t for t in tokens if not t.isdigit()), None)
    if bad is not None:
        raise ApiError(f"Invalid file_data: {bad[:40]!r} is not an id; send one id a line.")
    if not tokens:
        raise ApiError("Invalid file_data: the file holds no ids.")
    if len(tokens) > COMPLIANCE_MAX_IDS:
        raise ApiError(
            f"Invalid file_data: {len(tokens)} ids; at most {COMPLIANCE_MAX_IDS} a task."
        )
    return [int(t) for t in tokens]


async def read_form(request: web.Request) -> tuple[str, list[int]]:
    """(category, ids) from a create request's multipart body."""
    if not request.content_type.startswith("multipart/form-data"):
        raise ApiError(
            "Invalid request: send multipart/form-data with a file_data file and a category."
        )
    try:
        form = await request.post()
    except ValueError:
        raise ApiError("Invalid request: the multipart body cannot be parsed.") from None
    file_data = form.get("file_data")
    if not isinstance(file_data, web.FileField):
        raise ApiError("Missing file_data: attach a text file of ids as a file part.")
    category = str(form.get("category") or "").strip().lower()
    if category not in COMPLIANCE_CATEGORIES:
        raise ApiError(
            f"Invalid category {form.get('category')!r}: use one of "
            f"{', '.join(COMPLIANCE_CATEGORIES)}."
        )
    return category, parse_id_file(file_data.file.read())


def new_task_id(state: SandboxState) -> int:
    while True:  # above 2**63, like the API's example: clients must keep it exact
        task_id = 2**63 + secrets.randbelow(2**63)
        if task_id not in state.tasks:
            return task_id


def find_task(state: SandboxState, body: dict[str, Any]) -> Task:
    value = body.get("task_id")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError("Missing or invalid task_id: give the id the create call answered.")
    task = state.tasks.get(value)
    if task is None:
        raise ApiError(f"Invalid task_id: task {value} does not exist.")
    return task


def advance(state: SandboxState, dataset: Dataset, task: Task) -> None:
    """One status poll: Processing until polled and aged enough, then Completed/Failed."""
    if task.status != TASK_PROCESSING:
        return
    options = state.options
    aged = state.clock.now() - task.created_at >= options.task_processing_seconds
    if task.polls < options.task_processing_polls or not aged:
        task.polls += 1
        return
    if task.fails:
        task.status = TASK_FAILED
        return
    task.status = TASK_COMPLETED
    task.valid = [i for i in task.ids if dataset.is_valid(task.category, i)]


# --- handlers ------------------------------------------------------------------------------
Serve = Callable[[web.Request, SandboxState, Dataset], Awaitable[tuple[web.Response, Any]]]


async def create(
    request: web.Request, state: SandboxState, dataset: Dataset
) -> tuple[web.Response, Any]:
    category, ids = await read_form(request)
    task = Task(
        new_task_id(state),
        category,
        ids,
        state.clock.now(),
        fails=state.chance(state.options.task_failed_rate),
    )
    state.tasks[task.task_id] = task
    body = envelope(state, {"task_id": task.task_id})
    return json_response(200, faults.non_json(state, body)), {
        "category": category,
        "file_data": f"{len(ids)} ids",
    }


async def status(
    request: web.Request, state: SandboxState, dataset: Dataset
) -> tuple[web.Response, Any]:
    body = parse_body(await request.read())
    task = find_task(state, body)
    advance(state, dataset, task)
    answer = envelope(state, {"task_status": task.status})
    return json_response(200, faults.non_json(state, answer)), body


async def download(
    request: web.Request, state: SandboxState, dataset: Dataset
) -> tuple[web.Response, Any]:
    body = parse_body(await request.read())
    task = find_task(state, body)
    if task.status != TASK_COMPLETED or task.valid is None:
        raise ApiError(
            f"Invalid task_id: task {task.task_id} is {task.status}, not Completed; poll "
            "validation_task_status/get/ until it is."
        )
    text = "".join(f"{i}\n" for i in task.valid)
    return web.Response(status=200, text=text, content_type="text/plain"), body


SERVERS: dict[str, Serve] = {
    "validation_task_create": create,
    "validation_task_status": status,
    "validation_task_download": download,
}


def task_handler(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    serve = SERVERS[endpoint.name]

    async def handle(request: web.Request) -> web.StreamResponse:
        state, dataset = request.app[STATE], request.app[DATASET]
        state.in_flight += 1
        logged: Any = None
        try:
            client = state.client_for(request.headers.get("Authorization"))
            await faults.delay(state)
            response = await _answer(request, state, dataset, endpoint, client, serve)
            if isinstance(response, tuple):
                response, logged = response
            state.record(endpoint.name, response.status, logged, request.query_string, client)
        finally:
            state.in_flight -= 1
        return response

    return handle


async def _answer(
    request: web.Request,
    state: SandboxState,
    dataset: Dataset,
    endpoint: Endpoint,
    client: str | None,
    serve: Serve,
) -> web.Response | tuple[web.Response, Any]:
    if (refused := gate(state, endpoint, client)) is not None:
        return refused
    try:
        return await serve(request, state, dataset)
    except ApiError as exc:
        return error_response(state, exc.status, exc.code, exc.message)


async def admin_delete(request: web.Request) -> web.StreamResponse:
    """``{"videos": [ids], "comments": [ids]}``: delete them (see ``Dataset.delete``)."""
    try:
        body = json.loads(await request.read() or b"{}")
        if not isinstance(body, dict) or set(body) - {"videos", "comments"}:
            raise ValueError
        deleted = request.app[DATASET].delete(body.get("videos", ()), body.get("comments", ()))
    except (ValueError, TypeError):
        return admin_json({"error": 'Send {"videos": [ids], "comments": [ids]}.'}, 400)
    return admin_json({"deleted": deleted})


def add_routes(app: web.Application) -> None:
    """The three compliance endpoints and ``/admin/delete``."""
    for name in SERVERS:
        endpoint = ENDPOINTS[name]
        app.router.add_post(endpoint.path, task_handler(endpoint))
    app.router.add_post("/admin/delete", admin_delete)
