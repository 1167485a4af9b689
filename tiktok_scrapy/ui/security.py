"""The UI's rules for who may ask what: a token beyond loopback, CSRF, safe headers.

- **Token**: required for every request (but the login page and static files) when one is
  configured, and ``scrapy ui`` refuses to listen beyond loopback without one. A browser
  logs in once (a form, so the token is never in a URL or an access log) and then carries
  an HttpOnly cookie holding a hash of it; scripts may send ``Authorization: Bearer``.
- **Host**: on loopback only the loopback names are answered (no DNS rebinding).
- **CSRF**: a state-changing request (POST) must be same-origin (``Sec-Fetch-Site`` and
  ``Origin`` when the browser sends them) and carry the per-session token of its cookie,
  as a form field ``csrf_token`` or the ``X-CSRF-Token`` header.
- Headers: a strict Content-Security-Policy (no inline script, nothing from elsewhere),
  no framing, no referrer to other sites.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

AUTH_COOKIE = "tiktok_ui_auth"
CSRF_COOKIE = "tiktok_ui_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
OPEN_PATHS = ("/login", "/static/")
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# report.html is a self-contained page with inline styles and SVG, and no script.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """``127.0.0.1`` of ``127.0.0.1:8642``, ``[::1]`` of ``[::1]:8642``."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.split(":", 1)[0]


def token_digest(token: str) -> str:
    return hashlib.sha256(b"tiktok-ui:" + token.encode()).hexdigest()


class Guard:
    """The checks every request goes through (a Starlette HTTP middleware)."""

    def __init__(self, token: str | None, *, loopback: bool) -> None:
        self.token = token or None
        self.loopback = loopback

    async def __call__(self, request: Request, call_next: Callable) -> Response:
        host = host_name(request.headers.get("host") or "")
        if self.loopback and host not in LOOPBACK_NAMES:
            return PlainTextResponse("Unknown host: open the UI at 127.0.0.1.", status_code=421)
        if request.method not in SAFE_METHODS and not same_origin(request):
            return PlainTextResponse("Cross-site request refused.", status_code=403)
        needs_token = self.token and not request.url.path.startswith(OPEN_PATHS)
        if needs_token and not self.authorised(request):
            if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                return RedirectResponse("/login", status_code=303)
            return JSONResponse({"error": "a token is required"}, status_code=401)
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        request.state.csrf = csrf
        response = await call_next(request)
        if request.cookies.get(CSRF_COOKIE) != csrf:
            response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Not no-referrer: with it, browsers send `Origin: null` on form posts.
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def authorised(self, request: Request) -> bool:
        assert self.token
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return hmac.compare_digest(header[7:].strip().encode(), self.token.encode())
        cookie = request.cookies.get(AUTH_COOKIE, "")
        return hmac.compare_digest(cookie.encode(), token_digest(self.token).encode())

    def check_token(self, given: str) -> bool:
        return bool(self.token) and hmac.compare_digest(given.encode(), self.token.encode())


def same_origin(request: Request) -> bool:
    """False for a request a browser says came from another site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is not None:
        expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
        return origin == expected
    return True


async def check_csrf(request: Request) -> bool:
    """The request carries its session's CSRF token (form field or header)."""
    expected = request.cookies.get(CSRF_COOKIE)
    if not expected:
        return False
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        given = str(form.get(CSRF_FIELD) or "")
    return hmac.compare_digest(given.encode(), expected.encode())
