"""Chain: one paginated sequence of requests, the unit the crawl plans, commits and resumes.

A chain is an endpoint, a request body without cursor/search_id, and what it is for (its
input, a date window). Pages of one chain are strictly sequential; chains are independent.
Chains are planned from the config with stable ids, or born at run time (cuts, splits,
network levels) and then saved with their ``spec()`` so a resume can rebuild them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tiktok_scrapy.api.endpoints import ENDPOINTS, Endpoint
from tiktok_scrapy.api.windows import Window


@dataclass(frozen=True)
class Chain:
    """One paginated sequence: endpoint + body (without cursor/search_id) + its input."""

    id: str
    endpoint: Endpoint
    body: dict
    input: Any
    window: Window | None = None
    fields: tuple[str, ...] | None = None
    parent: str | None = None
    # Cuts and splits between this chain and the one the config planned. Deeper chains are
    # requested first: they hold the busiest days, so they set the crawl's wall time.
    depth: int = 0
    # What a chain's requests need beyond its body (refresh: a task's category and the ids
    # of its upload file); rebuilt from the config on resume, so not part of ``spec()``.
    extra: dict = field(default_factory=dict, compare=False)

    def spec(self) -> dict:
        """Enough to rebuild a chain that the config alone does not imply (splits)."""
        return {
            "endpoint": self.endpoint.name,
            "body": self.body,
            "input": self.input,
            "window": self.window.to_json() if self.window else None,
            "fields": list(self.fields) if self.fields else None,
            "parent": self.parent,
            "depth": self.depth,
        }

    @classmethod
    def from_spec(cls, chain_id: str, spec: dict) -> Chain:
        return cls(
            id=chain_id,
            endpoint=ENDPOINTS[spec["endpoint"]],
            body=spec["body"],
            input=spec["input"],
            window=Window.from_json(spec["window"]) if spec.get("window") else None,
            fields=tuple(spec["fields"]) if spec.get("fields") else None,
            parent=spec.get("parent"),
            depth=int(spec.get("depth") or 0),
        )


def window_chain_id(endpoint: str, start: str, end: str, suffix: str = "") -> str:
    """The id of a date-window chain (``videos:20240101-20240107``); one format for the
    spider that plans such chains and for daily mode, which reopens them by day."""
    return f"{endpoint}:{start}-{end}{suffix}"
