"""Who is calling (server-side session or API token), CSRF tokens, and the login throttle."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

from fastapi import HTTPException, Request

from translation_review.service import ReviewerView, ReviewService


class LoginRequired(Exception):
    """Raised for pages; the app answers with a redirect to the login page."""


def caller(request: Request) -> ReviewerView | None:
    service: ReviewService = request.app.state.service
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        request.state.by_token = True
        return service.reviewer_for_token(header[7:].strip())
    request.state.by_token = False
    session_id = request.session.get("sid")
    return service.reviewer_for_session(session_id) if isinstance(session_id, str) else None


def api_reviewer(request: Request) -> ReviewerView:
    reviewer = caller(request)
    if reviewer is None:
        raise HTTPException(401, "log in or send an API token (Authorization: Bearer …)")
    if request.method not in ("GET", "HEAD", "OPTIONS") and not request.state.by_token:
        check_csrf(request, request.headers.get("x-csrf-token"))  # cookie-authenticated writes
    return reviewer


def api_admin(request: Request) -> ReviewerView:
    reviewer = api_reviewer(request)
    if reviewer.role != "admin":
        raise HTTPException(403, "admins only")
    return reviewer


def page_reviewer(request: Request) -> ReviewerView:
    reviewer = caller(request) if not request.headers.get("authorization") else None
    if reviewer is None:
        raise LoginRequired()
    return reviewer


def page_admin(request: Request) -> ReviewerView:
    reviewer = page_reviewer(request)
    if reviewer.role != "admin":
        raise HTTPException(403, "admins only")
    return reviewer


def csrf_token(request: Request) -> str:
    """The session's CSRF token (synchronizer token: every form and cookie-authenticated API write sends it)."""
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(32)
    return request.session["csrf"]


def check_csrf(request: Request, sent: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def client_address(request: Request) -> str:
    """The peer address. ``X-Forwarded-For`` is read by uvicorn only from the proxies that ``serve
    --trusted-proxy`` names (none by default): a client cannot choose its address to reset its count."""
    return request.client.host if request.client else "?"


class LoginLimiter:
    """A login throttle that slows guessing without letting anyone lock a reviewer out.

    Failures are counted per (username, address) and per address, never per username alone: ``failures``
    wrong passwords for one name from one address block that name *from that address*, and
    ``address_failures`` from one address block the address, for ``window`` seconds. A reviewer logging in
    from elsewhere is never refused because of someone else's failures. In-process: behind several workers
    each keeps its own count, which still bounds guessing per worker.
    """

    def __init__(self, failures: int = 5, window: float = 300.0, address_failures: int = 20):
        self.failures, self.window, self.address_failures = failures, window, address_failures
        self._seen: dict[tuple[str, ...], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        seen = self._seen[key]
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if not seen:
            del self._seen[key]  # bounded by the recent failures, not by every address ever seen
            return deque()
        return seen

    def blocked(self, username: str, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return (len(self._recent(("pair", username.lower(), address), now)) >= self.failures
                    or len(self._recent(("address", address), now)) >= self.address_failures)

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (("pair", username.lower(), address), ("address", address)):
                self._seen[key].append(now)
