"""Cost planning: how many requests a crawl needs, before any is sent. No Scrapy imports.

Honest bounds only. Some chains have a fixed cost (user info, pinned videos: one request;
a random video sample: one), some a hard cap (comments: the API serves the top 1,000, so
at most ceil(1000 / max_count) pages), and some none at all (a video window, a follower
list: as long as the data is). The plan prints the minimum (one request per chain) and an
upper bound where one exists; ``max_requests`` (which counts retries too) bounds any crawl.
Bounds from chain caps exclude retries (500s cost quota): the crawl's own limit does not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from tiktok_scrapy.api.endpoints import COMMENT_CAP, ENDPOINTS

NO_BOUND: dict[str, str] = {
    "videos": "a window's size is known only once crawled; adaptive windows spend about "
    "1 request per sparse window, results/100 + 1 per chain of a dense one: set "
    "max_requests for a bound",
    "validation_task_create": "a compliance task is a create, status polls until TikTok is "
    "done (their number depends on it) and a download: set max_requests for a bound",
}


@dataclass
class FamilyEstimate:
    """Requests one quota family needs: at least ``minimum``, at most ``bound`` (None: no
    bound is known)."""

    family: str
    chains: int = 0
    minimum: int = 0
    bound: int | None = 0
    note: str = ""


def pages_bound(
    endpoint: str, max_count: int, *, is_random: bool = False, ids: int | None = None
) -> int | None:
    """At most this many pages per chain, or None when only the data decides."""
    if not ENDPOINTS[endpoint].paged or (endpoint == "videos" and is_random):
        return 1
    if endpoint == "comments":
        return math.ceil(COMMENT_CAP / max_count)
    if endpoint == "videos" and ids is not None:  # refresh: the ids fit one page
        return math.ceil(ids / max_count) + 1  # + a trailing empty page some APIs send
    return None


def estimate(chains: Iterable[tuple[str, int | None]]) -> dict[str, FamilyEstimate]:
    """Per quota family, from ``(endpoint, pages bound)`` per chain."""
    families: dict[str, FamilyEstimate] = {}
    for endpoint, bound in chains:
        family = ENDPOINTS[endpoint].family.value
        entry = families.setdefault(family, FamilyEstimate(family))
        entry.chains += 1
        entry.minimum += 1
        if entry.bound is not None and bound is not None:
            entry.bound += bound
        elif bound is None:
            entry.bound = None
            entry.note = NO_BOUND.get(endpoint, f"{endpoint} lists have no fixed length")
    return families


def network_estimate(
    seeds: int,
    depth: int,
    directions: int,
    max_users_per_level: int | None,
    max_edges_per_user: int | None,
    max_count: int,
) -> dict[str, FamilyEstimate]:
    """A snowball's cost: user info per node, follow lists per node above the last level."""
    nodes_per_level = [seeds] + [max_users_per_level] * depth if max_users_per_level else None
    page = min(max_count, max_edges_per_user or max_count)
    per_list = math.ceil(max_edges_per_user / page) if max_edges_per_user else None
    main = FamilyEstimate(
        "main", seeds, seeds, None, "levels are uncapped: set max_users_per_level for a bound"
    )
    follow = FamilyEstimate(
        "follow",
        seeds * directions,
        seeds * directions,
        None,
        "lists are uncapped: set max_edges_per_user for a bound",
    )
    if nodes_per_level is not None:
        main.bound, main.note = sum(nodes_per_level), "one user-info request per account"
        main.chains = main.bound
        lists = sum(nodes_per_level[:depth]) * directions
        follow.chains = lists
        if per_list is not None:
            follow.bound, follow.note = lists * per_list, f"<= {per_list} page(s) per list"
    return {"main": main, "follow": follow}


def total_bound(families: dict[str, FamilyEstimate], max_requests: int | None) -> int | None:
    """All families together, capped by the crawl's own ``max_requests``."""
    bounds = [f.bound for f in families.values()]
    summed = None if any(b is None for b in bounds) else sum(b or 0 for b in bounds)
    if max_requests is None:
        return summed
    return max_requests if summed is None else min(summed, max_requests)


def format_plan(
    spider: str,
    chain_ids: list[str],
    windows: list[str],
    families: dict[str, FamilyEstimate],
    remaining: dict[str, int | None],
    max_requests: int | None,
    notes: list[str] | None = None,
) -> str:
    """The text ``scrapy plan`` prints; its last line is ``total: min N, bound M|none``.

    ``notes`` (daily mode's days, chains a JOBDIR already finished) follow the chain count.
    """
    lines = [
        f"Plan for `scrapy crawl {spider}` (nothing is sent):",
        f"  chains: {len(chain_ids)}"
        + (
            f"  ({', '.join(chain_ids[:5])}{', ...' if len(chain_ids) > 5 else ''})"
            if chain_ids
            else ""
        ),
    ]
    lines += [f"  {note}" for note in notes or ()]
    if windows:
        lines.append(f"  windows: {len(windows)}, {windows[0]} ... {windows[-1]}")
    for family, entry in sorted(families.items()):
        bound = "no bound" if entry.bound is None else f"at most {entry.bound}"
        left = remaining.get(family)
        left_text = "unknown (no client key)" if left is None else str(left)
        warn = "  <-- more than remains today" if left is not None and entry.minimum > left else ""
        lines.append(
            f"  {family:<6} quota: at least {entry.minimum}, {bound} requests"
            f"{f' ({entry.note})' if entry.note else ''}; left today: "
            f"{left_text}{warn}"
        )
    total = total_bound(families, max_requests)
    if max_requests:
        lines.append(f"  max_requests: {max_requests} (the crawl stops there, retries included)")
    elif total is not None:
        lines.append("  bounds exclude retries: each 500 costs one more request")
    minimum = sum(f.minimum for f in families.values())
    if warning := budget_warning(minimum, total_bound(families, None), max_requests):
        lines.append(f"  {warning}")
    if max_requests:
        minimum = min(minimum, max_requests)
    lines.append(f"total: min {minimum}, bound {total if total is not None else 'none'}")
    return "\n".join(lines)


def budget_warning(minimum: int, bound: int | None, max_requests: int | None) -> str | None:
    """What ``max_requests`` cannot cover, or None."""
    if not max_requests:
        return None
    if max_requests < minimum:
        return (
            f"warning: max_requests {max_requests} is below the minimum of {minimum} requests: "
            "the crawl will stop before every chain has its first page (raise it, or resume "
            "with the same JOBDIR and a higher max_requests)"
        )
    if bound is None:
        return (
            f"note: max_requests {max_requests} may end the crawl before the data does "
            "(no upper bound is known); the verdict will say so, and a JOBDIR resumes it"
        )
    if max_requests < bound:
        return (
            f"warning: max_requests {max_requests} is below the bound of {bound}: the crawl "
            "may stop before it is complete"
        )
    return None
