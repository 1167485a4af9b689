"""The crawl's verdict: complete, or incomplete with a reason, and the exit status for it.

A crawl is the sum of every run on one JOBDIR. It is ``complete`` only when every chain
ended the way the API ends a list (``has_more: false``) or with an expected outcome (a
private user, the comment cap, a cap the config asked for), and the last run closed
normally. Anything else is ``incomplete`` with the close reason that says why; resuming
with the same JOBDIR retries what is missing.

This module is the one table of close reasons: what each means for the researcher, and the
exit status ``scrapy crawl`` returns for it (documented in docs/resume.md). No Scrapy
imports: the crawl command, the spider, the stats file and the report all read it.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPLETE = "complete"
INCOMPLETE = "incomplete"

# The close reason a crawl gets when Scrapy would have said "finished" but chains are
# missing data (failed, stalled, a dead search_id): never "finished" when incomplete.
INCOMPLETE_CHAINS = "incomplete_chains"

# Exit statuses of `scrapy crawl` (0 complete; 1 Scrapy's own bootstrap failure).
EXIT_COMPLETE = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # bad config, settings, input or JOBDIR: fix the command
EXIT_INCOMPLETE = 3  # resumable: run the same command (same JOBDIR) again
EXIT_QUOTA = 4  # the daily quota is spent: resume after 00:00 UTC
EXIT_AUTH = 5  # credentials or API approval: fix them, then resume
EXIT_API_ERROR = 6  # the API refused a request as malformed: a bug, report it


@dataclass(frozen=True)
class CloseReason:
    exit_status: int
    meaning: str


REASONS: dict[str, CloseReason] = {
    "finished": CloseReason(EXIT_COMPLETE, "every chain ended as the API ended it"),
    "already_finished": CloseReason(EXIT_COMPLETE, "the crawl in this JOBDIR was complete"),
    INCOMPLETE_CHAINS: CloseReason(
        EXIT_INCOMPLETE, "some chains failed, stalled or lost their search_id: resume"
    ),
    "max_requests": CloseReason(EXIT_INCOMPLETE, "the config's max_requests budget is spent"),
    "closespider_itemcount": CloseReason(EXIT_INCOMPLETE, "max_items reached"),
    "closespider_timeout": CloseReason(EXIT_INCOMPLETE, "max_minutes reached"),
    "shutdown": CloseReason(EXIT_INCOMPLETE, "stopped by Ctrl-C or a signal"),
    "api_outage": CloseReason(
        EXIT_INCOMPLETE, "most requests failed (TIKTOK_OUTAGE_ON_DETECTED=stop)"
    ),
    "token_unavailable": CloseReason(EXIT_INCOMPLETE, "the token endpoint did not answer"),
    "mongodb_unavailable": CloseReason(EXIT_INCOMPLETE, "MongoDB could not be written"),
    "cassette_miss": CloseReason(EXIT_INCOMPLETE, "a request was not in the cassette"),
    "cassette_error": CloseReason(EXIT_INCOMPLETE, "the cassette could not be read"),
    "quota_exhausted": CloseReason(EXIT_QUOTA, "the daily quota is spent"),
    "missing_credentials": CloseReason(EXIT_AUTH, "no client key/secret"),
    "invalid_credentials": CloseReason(EXIT_AUTH, "the API rejected the client key/secret"),
    "auth_failed": CloseReason(EXIT_AUTH, "the API rejected a fresh access token"),
    "scope_not_authorized": CloseReason(EXIT_AUTH, "the client lacks this API's scope"),
    "api_error": CloseReason(EXIT_API_ERROR, "the API refused a request as malformed"),
    "start_error": CloseReason(EXIT_ERROR, "the crawl could not start (a bug: see the log)"),
    "config_error": CloseReason(EXIT_USAGE, "the config or an input file is wrong"),
    "config_mismatch": CloseReason(EXIT_USAGE, "the JOBDIR belongs to another config"),
    "jobdir_locked": CloseReason(EXIT_USAGE, "another crawl is using this JOBDIR"),
    "checkpoint_error": CloseReason(EXIT_USAGE, "the JOBDIR's checkpoint file is damaged"),
    "no_input": CloseReason(EXIT_USAGE, "the input holds nothing to crawl"),
}


def exit_status(reason: str | None, verdict: str | None) -> int:
    """The exit status for a crawl that closed with ``reason`` and got ``verdict``."""
    if verdict == COMPLETE:
        return EXIT_COMPLETE
    known = REASONS.get(reason or "")
    if known is None or known.exit_status == EXIT_COMPLETE:
        return EXIT_INCOMPLETE  # a reason we do not know, or "finished" with data missing
    return known.exit_status


def meaning(reason: str) -> str:
    known = REASONS.get(reason)
    return known.meaning if known else reason
