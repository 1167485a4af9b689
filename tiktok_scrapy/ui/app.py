"""The web app's routes: Starlette, Jinja2 templates, a little plain JavaScript.

Pages: the query builder (``/``), a plan (``POST /plan``), crawls (``/crawls``, one
crawl's live page ``/crawls/<id>``), quota (``/quota``). Everything the browser changes is a
POST guarded by ``security``. Config checks, plans and the ledger are the CLI's own
(``forms``, ``commands.plan.plan_text``, ``quota``); crawls run through ``jobs.JobStore``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from scrapy.exceptions import CloseSpider
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tiktok_scrapy.config import SPIDER_CONFIGS, ConfigError
from tiktok_scrapy.storage.tables import NOT_ITEMS, TableError, export_jsonl
from tiktok_scrapy.ui import forms
from tiktok_scrapy.ui.csvexport import csv_chunks
from tiktok_scrapy.ui.jobs import Job, JobStore
from tiktok_scrapy.ui.progress import read_progress
from tiktok_scrapy.ui.security import (
    AUTH_COOKIE,
    CSRF_FIELD,
    REPORT_CSP,
    Guard,
    check_csrf,
    token_digest,
)

STATIC = Path(__file__).with_name("static")
VIDEO_LENGTHS = ("SHORT", "MID", "LONG", "EXTRA_LONG")


@dataclass
class UiConfig:
    """What the app is built from (``scrapy ui`` fills it from its options and settings)."""

    settings: Any  # scrapy Settings: for plans and the quota ledger
    store: JobStore
    token: str | None = None
    loopback: bool = True
    sandbox: bool = False  # the default of the form's sandbox toggle


def create_app(ui: UiConfig) -> Starlette:
    env = Environment(
        loader=PackageLoader("tiktok_scrapy.ui", "templates"), autoescape=select_autoescape()
    )
    guard = Guard(ui.token, loopback=ui.loopback)

    def render(request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(
            csrf=request.state.csrf,
            csrf_field=CSRF_FIELD,
            scrapyd=bool(ui.store.scrapyd_url),
            authenticated=bool(ui.token),
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=code)

    async def refuse_csrf(request: Request) -> Response | None:
        if await check_csrf(request):
            return None
        return PlainTextResponse(
            "This form has expired or came from elsewhere: reload the page and try again.",
            status_code=403,
        )

    async def checked_form(request: Request) -> forms.Checked:
        form = await request.form()
        spider = str(form.get("spider") or "videos")
        raw = forms.form_to_config(spider, form)
        return await run_in_threadpool(forms.check, spider, raw)

    # --- query builder -----------------------------------------------------------------

    async def builder(request: Request) -> Response:
        return render(
            request,
            "builder.html",
            spiders=list(SPIDER_CONFIGS),
            spider_keys=json.dumps(forms.spider_keys()),
            input_keys={s: forms.input_key(s) for s in SPIDER_CONFIGS},
            lengths=VIDEO_LENGTHS,
            sandbox=ui.sandbox,
        )

    async def validate(request: Request) -> Response:
        if refused := await refuse_csrf(request):
            return refused
        checked = await checked_form(request)
        return JSONResponse(checked.as_json())

    async def config_yaml(request: Request) -> Response:
        if refused := await refuse_csrf(request):
            return refused
        checked = await checked_form(request)
        name = str(checked.raw.get("name") or checked.spider)
        safe = "".join(c for c in name if c.isalnum() or c in "-_") or "config"
        return Response(
            checked.yaml(),
            media_type="application/x-yaml",
            headers={"Content-Disposition": f'attachment; filename="{safe}.yaml"'},
        )

    async def plan(request: Request) -> Response:
        if refused := await refuse_csrf(request):
            return refused
        form = await request.form()
        checked = await checked_form(request)
        sandbox = bool(form.get("sandbox"))
        text, error = "", ""
        if checked.ok:
            try:
                text = await run_in_threadpool(plan_for, ui, checked, sandbox)
            except (ConfigError, CloseSpider) as exc:
                error = str(getattr(exc, "reason", None) or exc)
        else:
            error = "; ".join(checked.errors.values())
        return render(
            request,
            "plan.html",
            checked=checked,
            plan=text,
            error=error,
            sandbox=sandbox,
            config_json=json.dumps(checked.raw),
        )

    # --- crawls ------------------------------------------------------------------------

    async def crawls(request: Request) -> Response:
        store = ui.store
        jobs = [(job, store.status(job), read_progress(store.output(job))) for job in store.all()]
        scrapyd_jobs, scrapyd_error = None, ""
        if store.scrapyd_url:
            try:
                scrapyd_jobs = await run_in_threadpool(store.scrapyd_jobs)
            except (OSError, ValueError) as exc:
                scrapyd_error = str(exc)
        return render(
            request,
            "crawls.html",
            jobs=jobs,
            scrapyd_jobs=scrapyd_jobs,
            scrapyd_error=scrapyd_error,
        )

    async def start(request: Request) -> Response:
        if refused := await refuse_csrf(request):
            return refused
        form = await request.form()
        spider = str(form.get("spider") or "")
        try:
            raw = json.loads(str(form.get("config") or "{}"))
        except ValueError:
            return PlainTextResponse("The config could not be read.", status_code=400)
        raw = raw if isinstance(raw, dict) else {}
        checked = await run_in_threadpool(lambda: forms.check(spider, raw, read_inputs=True))
        if not checked.ok:
            return PlainTextResponse("; ".join(checked.errors.values()), status_code=400)
        job = ui.store.create(spider, checked.raw, sandbox=bool(form.get("sandbox")))
        await run_in_threadpool(ui.store.start, job)
        return RedirectResponse(f"/crawls/{job.id}", status_code=303)

    def job_or_404(request: Request) -> Job:
        return ui.store.get(request.path_params["job"])

    async def crawl(request: Request) -> Response:
        job = job_or_404(request)
        return render(request, "crawl.html", job=job, **progress_view(ui.store, job))

    async def progress_json(request: Request) -> Response:
        job = job_or_404(request)
        view = progress_view(ui.store, job)
        return JSONResponse(
            {
                "status": view["status"],
                **view["progress"].as_json(),
                "eta": view["eta"],
                "returncode": view["returncode"],
                "elapsed": view["elapsed"],
            }
        )

    async def stop(request: Request) -> Response:
        if refused := await refuse_csrf(request):
            return refused
        job = job_or_404(request)
        await run_in_threadpool(ui.store.stop, job)
        return RedirectResponse(f"/crawls/{job.id}", status_code=303)

    async def resume(request: Request) -> Response:
        if refused := await refuse_csrf(request):
            return refused
        job = job_or_404(request)
        try:
            await run_in_threadpool(ui.store.start, job)
        except RuntimeError as exc:
            return PlainTextResponse(str(exc), status_code=409)
        return RedirectResponse(f"/crawls/{job.id}", status_code=303)

    async def report(request: Request) -> Response:
        path = ui.store.output(job_or_404(request)) / "report.html"
        if not path.is_file():
            return PlainTextResponse("No report yet: it is written when the crawl ends.", 404)
        response = FileResponse(path, media_type="text/html")
        response.headers["Content-Security-Policy"] = REPORT_CSP
        return response

    def data_file(request: Request, suffix: str) -> Path:
        job = job_or_404(request)
        name = request.path_params["name"].removesuffix(suffix) + ".jsonl"
        output = ui.store.output(job)
        if name not in read_progress(output).files:
            raise KeyError(name)
        return output / name

    async def jsonl(request: Request) -> Response:
        path = data_file(request, ".jsonl")
        return FileResponse(path, media_type="application/x-ndjson", filename=path.name)

    async def csv(request: Request) -> Response:
        path = data_file(request, ".csv")
        if path.stem in NOT_ITEMS:  # page records: not a data table, a plain flat CSV
            return StreamingResponse(
                csv_chunks(path),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{path.stem}.csv"'},
            )
        try:
            table = await run_in_threadpool(items_table, path)
        except TableError as exc:
            return PlainTextResponse(str(exc), status_code=422)
        return FileResponse(table, media_type="text/csv; charset=utf-8", filename=table.name)

    # --- quota -------------------------------------------------------------------------

    async def quota(request: Request) -> Response:
        ledgers = await run_in_threadpool(quota_views, ui)
        return render(request, "quota.html", ledgers=ledgers)

    # --- login -------------------------------------------------------------------------

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return render(request, "login.html", error="")
        if refused := await refuse_csrf(request):
            return refused
        form = await request.form()
        if not guard.check_token(str(form.get("token") or "")):
            return render(request, "login.html", code=401, error="That token is not right.")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            AUTH_COOKIE, token_digest(ui.token or ""), httponly=True, samesite="strict"
        )
        return response

    async def not_found(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("Not found.", status_code=404)

    routes = [
        Route("/", builder),
        Route("/validate", validate, methods=["POST"]),
        Route("/config.yaml", config_yaml, methods=["POST"]),
        Route("/plan", plan, methods=["POST"]),
        Route("/crawls", crawls),
        Route("/crawls/start", start, methods=["POST"]),
        Route("/crawls/{job}", crawl),
        Route("/crawls/{job}/progress.json", progress_json),
        Route("/crawls/{job}/stop", stop, methods=["POST"]),
        Route("/crawls/{job}/resume", resume, methods=["POST"]),
        Route("/crawls/{job}/report", report),
        Route("/crawls/{job}/files/{name}", jsonl),
        Route("/crawls/{job}/csv/{name}", csv),
        Route("/quota", quota),
        Route("/login", login, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=guard)],
        exception_handlers={KeyError: not_found, 404: not_found},
    )


def items_table(path: Path) -> Path:
    """The CSV ``scrapy export`` makes of an item file (one row per record, ids as text),
    kept beside the output folder and made again when the crawl has written more."""
    target = path.parent.parent / "tables" / f"{path.stem}.csv"
    if not target.exists() or target.stat().st_mtime < path.stat().st_mtime:
        target.parent.mkdir(exist_ok=True)
        partial = target.with_name(f"{path.stem}.{secrets.token_hex(4)}.csv")
        try:
            export_jsonl(path, partial, ["csv"])
            os.replace(partial, target)  # a download never sees a half-written table
        finally:
            partial.unlink(missing_ok=True)
    return target


def plan_for(ui: UiConfig, checked: forms.Checked, sandbox: bool) -> str:
    """``scrapy plan``'s text for the checked config (against the sandbox's quota or ours)."""
    from tiktok_scrapy.commands.plan import plan_text

    settings = ui.settings.copy()
    if sandbox:
        # The sandbox has its own quota; today's real remaining quota does not apply.
        settings.set("TIKTOK_QUOTA_ENABLED", False, priority="cmdline")
    return plan_text(checked.spider, {"config": json.dumps(checked.raw)}, settings)


def progress_view(store: JobStore, job: Job) -> dict[str, Any]:
    status = store.status(job)
    progress = read_progress(store.output(job), store.log(job), store.secrets())
    started = job.runs[-1]["started"] if job.runs else time.time()
    ended = job.runs[-1].get("ended") if job.runs else None
    elapsed = (ended or time.time()) - started
    eta = progress.eta_seconds(elapsed) if status == "running" else None
    return {
        "status": status,
        "progress": progress,
        "elapsed": round(elapsed),
        "eta": round(eta) if eta is not None else None,
        "returncode": store.returncode(job),
    }


def quota_views(ui: UiConfig) -> list[dict[str, Any]]:
    from tiktok_scrapy.middlewares.quota import daily_limits, open_ledger
    from tiktok_scrapy.ui.quota import quota_view

    limits = daily_limits(ui.settings)
    views = []
    ledger = open_ledger(ui.settings)
    try:
        views.append({"title": "Research API", **quota_view(ledger, limits)})
    finally:
        ledger.close()
    sandbox = ui.store.sandbox_ledger()
    if sandbox.exists():
        ledger = open_ledger(ui.settings, str(sandbox))
        try:
            merged = "every sandbox run"
            views.append({"title": "Sandbox crawls", **quota_view(ledger, limits, merged=merged)})
        finally:
            ledger.close()
    return views
