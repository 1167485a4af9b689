"""Run C4D's ``tiktok-lib`` CLI (``tiktok-research-api-helper``) against a sandbox.

``python c4d_cli.py BASE_URL run …``: the arguments after the URL go to its CLI unchanged.
The client hardcodes ``https://open.tiktokapis.com`` (in module constants and inline for the
token), and has no setting for another host, so every ``requests`` call to that host is
sent to ``BASE_URL`` instead — the only change made to it.
"""

from __future__ import annotations

import sys

import requests

REAL_API = "https://open.tiktokapis.com"


def point_requests_at(base_url: str) -> None:
    send = requests.Session.request

    def request(self: requests.Session, method: str, url: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if url.startswith(REAL_API):
            url = base_url.rstrip("/") + url[len(REAL_API) :]
        return send(self, method, url, *args, **kwargs)

    requests.Session.request = request  # type: ignore[method-assign]


def main() -> None:
    point_requests_at(sys.argv.pop(1))
    from tiktok_research_api_helper.cli.main import APP

    APP(prog_name="tiktok-lib")


if __name__ == "__main__":
    main()
