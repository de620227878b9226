"""The FastAPI application: server-rendered pages (``pages``) and the JSON API (``api``, OpenAPI at /docs)."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from translation_review.service import (
    AlreadyDecided,
    InvalidDecision,
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
STATUS = {NotFound: 404, StaleVersion: 409, AlreadyDecided: 409, NotClaimed: 409, InvalidDecision: 422}
# Everything is served from this origin: no inline script, no third-party resources, no framing.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


class SecurityHeaders:
    """CSP and friends on every response. Plain ASGI: ``@app.middleware("http")`` (BaseHTTPMiddleware) runs
    each request through an extra task and stream, a measurable share of a small API call."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        swagger = scope["path"].startswith(("/docs", "/openapi.json"))  # Swagger UI loads its own assets

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if not swagger:
                    headers["Content-Security-Policy"] = CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
            await send(message)

        await self.app(scope, receive, send_with_headers)


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

    app.add_middleware(SecurityHeaders)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_: Annotated[ReviewerView, Depends(api_reviewer)]) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(_: Annotated[ReviewerView, Depends(page_reviewer)]) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} · API")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired):
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(ReviewError)
    async def review_error(request: Request, exc: ReviewError):
        return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=STATUS.get(type(exc), 400))

    return app


def app_from_env() -> FastAPI:
    """The app of one ``serve --workers N`` process: store from ``BIMED_REVIEW_DB``, secret from the environment."""
    # `serve` migrated the store before starting the workers: N workers need not race to do it again.
    return create_app(ReviewService(migrate=False), https_only=os.environ.get("BIMED_REVIEW_HTTPS_ONLY") == "1",
                      threads=int(os.environ.get("BIMED_REVIEW_THREADS") or 0) or None)
