"""docs/stats.md: every stats key the project sets, with what it means.

    .venv/bin/python tools/stats_docs.py          # rewrite docs/stats.md
    .venv/bin/python tools/stats_docs.py --check  # exit 1 if it is out of date

``STATS`` below is the reference; ``keys_in_code()`` reads every key the code sets (the
first argument of ``inc_value``/``set_value``/``max_value``/``min_value``: a string, or an
f-string whose ``{...}`` parts are written ``{name}`` here). ``tests/test_reference_docs.py``
fails when a key is set in the code but missing here, listed here but set nowhere, or the
page is stale.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from generated_page import write_or_check

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "tiktok_scrapy"
PAGE = REPO / "docs" / "stats.md"
SETTERS = frozenset({"inc_value", "set_value", "max_value", "min_value"})

# key -> what it counts or holds. {name} marks a part that varies.
STATS: dict[str, str] = {
    # --- the crawl as a whole
    "tiktok/crawl_id": "This run's id (also in page records and MongoDB provenance).",
    "tiktok/job_id": "The job's id: the JOBDIR's, or this run's when there is none.",
    "tiktok/run": "Which run of the job this is (1 for the first, +1 per resume).",
    "tiktok/verdict": "complete or incomplete (tiktok_scrapy/verdict.py); sets the exit status.",
    "tiktok/verdict/reason": "Why the crawl ended as it did, in words.",
    "tiktok/unauthorised": "The approval the client lacks for an endpoint (the crawl stops).",
    "tiktok/requests_sent": "Data requests sent (retries included).",
    "tiktok/pages_needed": "Pages this run fetched for its chains (requests without retries).",
    "tiktok/requests_per_page": "requests_sent / pages_needed: retries' overhead (1.0: none).",
    "tiktok/records_per_request": "Records returned per request sent.",
    "item_scraped_count": "Scrapy's count of items handed on, counted by the spider itself.",
    # --- chains (one paginated query each)
    "tiktok/chains/total": "Chains this crawl knows, resumed ones included.",
    "tiktok/chains/incomplete": "Chains not done at the end (a resume continues them).",
    "tiktok/chains/incomplete_ids": "Ids of (up to some of) those chains.",
    "tiktok/chains/{status}": "Chains ended with that state: done, failed or split.",
    "tiktok/chains/ended/{reason}": "Chains ended for a reason other than complete "
    "(stall, user_level, ...).",
    "tiktok/chains/failed": "Chains that ended incomplete (retried by the next run).",
    "tiktok/chains/restarted": "Chains started over (an expired search_id, unsorted pages).",
    "tiktok/chains/split_dense": "Busy windows cut into smaller chains crawled in parallel.",
    "tiktok/windows/estimated_pages": "Pages estimated for the windows that were cut.",
    "tiktok/network/level_{level}/users": "network spider: users queued at that level.",
    # --- pages and items
    "tiktok/pages/{outcome}": "API responses by outcome: ok, retry, search_id_invalid, "
    "refresh_token, quota, user_level, fatal.",
    "tiktok/pages/stale": "Responses for a page the chain had already moved past (ignored).",
    "tiktok/pages/window_mismatch": "Pages whose records fall outside the chain's window "
    "(not stored).",
    "tiktok/pages/not_newest_first": "Pages not sorted newest first (the chain starts over).",
    "tiktok/outcomes/user_level": "Inputs the API answers per user: unknown or private "
    "account, info not returned.",
    "tiktok/items": "Items yielded.",
    "tiktok/items/boundary_repeats": "Records repeated across a page boundary, dropped.",
    "tiktok/items/follow_without_username": "Follow records without a username, dropped.",
    "tiktok/validation/invalid/{collection}": "Items that failed the codebook (written to "
    "invalid_items).",
    "tiktok/validation/normalised/{collection}": "Items changed by normalisation (NUL "
    "bytes, create_datetime).",
    "tiktok/validation/unknown_keys/{collection}": "Fields the codebook does not know, kept.",
    # --- requests: gate, token, quota, retries, outage
    "tiktok/gate/dropped": "Requests dropped by the chain gate (stale or duplicate after "
    "a resume; max_requests).",
    "scheduler/delayed": "Requests held back by the scheduler until their not-before time "
    "(backoff, waits).",
    "tiktok/token/fetched": "Access tokens fetched.",
    "tiktok/token/refreshed": "Access tokens fetched again before or after expiry.",
    "tiktok/token/401": "401 answers (an access token refused).",
    "tiktok/quota/requests/{family}": "Requests booked in the quota ledger, by family.",
    "tiktok/quota/records/{family}": "Records returned, by quota family.",
    "tiktok/quota/exhausted": "Times a quota family was found spent.",
    "tiktok/quota/429": "429 answers (the API says the family is spent).",
    "tiktok/quota/waited_seconds": "Seconds waited for the daily reset "
    "(TIKTOK_QUOTA_ON_EXHAUSTED=wait).",
    "tiktok/quota/wait_cancelled": "Quota waits ended by the crawl closing.",
    "tiktok/quota/held": "Requests put back in the scheduler until the quota resets "
    "(TIKTOK_QUOTA_ON_EXHAUSTED=wait).",
    "tiktok/retry/count": "Retries of data requests.",
    "tiktok/retry/reason_count/{reason}": "Retries, by reason.",
    "tiktok/retry/max_reached": "Requests that ran out of retries.",
    "tiktok/retry/cut_on_500": "500s on a window the spider cuts instead of retrying.",
    "tiktok/outage/{event}": "Outage breaker events: opened, closed, reopened.",
    "tiktok/outage/held": "Requests held while the breaker was open.",
    "tiktok/outage/gave_up": "Set when an outage lasted longer than TIKTOK_OUTAGE_MAX_WAIT.",
    # --- storage
    "tiktok/mongodb/unavailable": "Set when MongoDB could not be written (the crawl stops).",
    "tiktok/mongodb/page_records_lost": "Page records whose MongoDB write failed.",
    "cassette/miss": "Requests a replayed cassette had no answer for (the crawl stops).",
    # --- daily mode and refresh
    "tiktok/daily/days": "Daily mode: days this run crawls.",
    "tiktok/daily/recrawl_days": "Daily mode: of those, days crawled again (late data).",
    "tiktok/daily/days_done": "Daily mode: days finished and entered in the ledger.",
    "tiktok/refresh/checked": "refresh: ids checked for availability.",
    "tiktok/refresh/checked/{category}": "refresh: ids checked, by category.",
    "tiktok/refresh/unavailable": "refresh: ids the API reports unavailable.",
    "tiktok/refresh/unavailable/{category}": "refresh: unavailable ids, by category.",
    "tiktok/refresh/tasks_created": "refresh: batch compliance tasks created.",
    "tiktok/refresh/tasks_failed": "refresh: tasks the API reported Failed.",
    "tiktok/refresh/polls": "refresh: task status polls.",
    "tiktok/refresh/purged": "refresh with purge: records deleted, by source.",
}


def shape(key: str) -> str:
    """``key`` with each ``{...}`` part written ``{}`` (names differ between code and docs)."""
    return re.sub(r"\{[^}]*\}", "{}", key)


def _key(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
    return None


def keys_in_code(package: Path = PACKAGE) -> dict[str, list[str]]:
    """Every stats key the code sets (shaped), with where: ``{"tiktok/items": ["spiders/..."]}``.

    A key that is not a string or an f-string is listed as ``"?"`` (the test refuses it).
    """
    found: dict[str, list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SETTERS
                and node.args
            ):
                key = _key(node.args[0])
                where = f"{path.relative_to(package.parent)}:{node.lineno}"
                found.setdefault("?" if key is None else shape(key), []).append(where)
    return found


def markdown() -> str:
    lines = [
        "# Stats reference",
        "",
        "Every stats key this project sets, in `stats.json` (the output folder, added up over "
        "a job's runs), the crawl's closing log and MongoDB's crawls collection. Generated "
        "by `python tools/stats_docs.py` from its table; `tests/test_reference_docs.py` "
        "fails when the code sets a key that is not here, or a key here is set nowhere. "
        "`{name}` marks a part that varies. Scrapy's own stats (`downloader/...`, "
        "`finish_reason`, ...) are not listed.",
        "",
        "| key | what it means |",
        "|---|---|",
    ]
    for key, meaning in sorted(STATS.items()):
        cell = meaning.replace("|", "\\|")
        lines.append(f"| `{key}` | {cell} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    return write_or_check(PAGE, markdown(), argv, "stats_docs.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
