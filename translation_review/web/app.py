"""The FastAPI application: server-rendered pages (``pages``) and the JSON API (``api``, OpenAPI at /docs)."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from translation_review.service import (
    AlreadyDecided,
    ChecksFailed,
    InvalidDecision,
    InvalidInput,
    NotClaimed,
    NotFound,
    ReviewError,
    ReviewerView,
    ReviewService,
    StaleVersion,
)
from translation_review.web import api, pages
from translation_review.web.render import environment
from translation_review.web.security import LoginLimiter, LoginRequired, api_reviewer, page_reviewer

STATIC = Path(__file__).resolve().parent / "static"
STATUS = {NotFound: 404, StaleVersion: 409, AlreadyDecided: 409, NotClaimed: 409, InvalidDecision: 422,
          InvalidInput: 422, ChecksFailed: 422}
# Everything is served from this origin: no inline script, no third-party resources, no framing.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
# The largest request body: a whole edited document is tens of kilobytes; a 10 MB "edit" is an attack.
MAX_BODY = 1 << 20


class SecurityHeaders:
    """CSP and friends on every response, ``no-store`` on all but the static files (pages and API answers
    hold reviewers' work and must not stay in a shared cache or the back button), HSTS over HTTPS only.
    Plain ASGI: ``@app.middleware("http")`` (BaseHTTPMiddleware) runs each request through an extra task and
    stream, a measurable share of a small API call."""

    def __init__(self, app: ASGIApp, https_only: bool = False):
        self.app, self.https_only = app, https_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                if not static:
                    headers["Cache-Control"] = "no-store"
                if self.https_only:
                    headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuses a request body over ``MAX_BODY`` with 413 before it is read into memory (announced length),
    or as soon as a chunked one passes it."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > MAX_BODY:
            return await _too_large(scope, receive, send)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise _TooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _too_large(scope, receive, send)


class _TooLarge(Exception):
    pass


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({"detail": f"request body larger than {MAX_BODY} bytes", "error": "TooLarge"}, 413)
    await response(scope, receive, send)


def secret_from_env() -> str:
    secret = os.environ.get("BIMED_REVIEW_SECRET", "")
    if len(secret) < 32:
        raise RuntimeError("set BIMED_REVIEW_SECRET to a random string of 32+ characters (signs session cookies)")
    return secret


def create_app(service: ReviewService, secret: str | None = None, *, https_only: bool = False,
               limiter: LoginLimiter | None = None, threads: int | None = None) -> FastAPI:
    """``threads``: how many requests run the (synchronous) service at once in this process (anyio's
    default is 40). Fewer threads compete less for the GIL while one of them holds a database lock."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if threads:
            anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    # The schema and Swagger UI are served by the routes below, behind a login like every other page.
    app = FastAPI(title="BiMed translation review", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.service = service
    app.state.templates = environment()
    app.state.limiter = limiter or LoginLimiter()
    app.add_middleware(SessionMiddleware, secret_key=secret or secret_from_env(), session_cookie="bimed_review",
                       same_site="lax", https_only=https_only, max_age=12 * 3600)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)

    app.add_middleware(SecurityHeaders, https_only=https_only)
    app.add_middleware(BodyLimit)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_: Annotated[ReviewerView, Depends(api_reviewer)]) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request, reviewer: Annotated[ReviewerView, Depends(page_reviewer)]) -> HTMLResponse:
        """The API reference, rendered here from the schema: no third-party script, the same CSP as any page."""
        return pages.render_page(request, "docs.html", reviewer, schema=app.openapi())

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        # FastAPI's own answer would echo the input back, which may be megabytes or invalid text.
        problems = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in exc.errors()[:10])
        problems = problems.encode("utf-8", "backslashreplace").decode()  # a lone surrogate in a field name
        return JSONResponse({"detail": problems, "error": "InvalidRequest"}, status_code=422)

    @app.exception_handler(UnicodeError)
    async def bad_text(request: Request, _exc: UnicodeError):
        return JSONResponse({"detail": "the request is not valid UTF-8 text", "error": "InvalidText"},
                            status_code=400)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired):
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(ReviewError)
    async def review_error(request: Request, exc: ReviewError):
        body = {"detail": str(exc), "error": type(exc).__name__}
        if isinstance(exc, ChecksFailed):
            body["failures"] = [{"check": f.check, "field": f.field, "detail": f.detail} for f in exc.failures]
        return JSONResponse(body, status_code=STATUS.get(type(exc), 400))

    return app


def app_from_env() -> FastAPI:
    """The app of one ``serve --workers N`` process: store from ``BIMED_REVIEW_DB``, secret from the environment."""
    # `serve` migrated the store before starting the workers: N workers need not race to do it again.
    return create_app(ReviewService(migrate=False), https_only=os.environ.get("BIMED_REVIEW_HTTPS_ONLY") == "1",
                      threads=int(os.environ.get("BIMED_REVIEW_THREADS") or 0) or None)
