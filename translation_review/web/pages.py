"""Server-rendered pages: login, queue, review, admin. Every form posts a CSRF token; errors come back as a
flash message on the page the reviewer was on."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bimed_assets import text_safety
from translation_review.service import (
    BANDS,
    ChecksFailed,
    NotClaimed,
    QueueFilter,
    ReviewError,
    ReviewerView,
    ReviewService,
    StaleVersion,
)
from translation_review.web import render
from translation_review.web.security import check_csrf, client_address, csrf_token, page_admin, page_reviewer

router = APIRouter(include_in_schema=False)
Reviewer = Annotated[ReviewerView, Depends(page_reviewer)]
Admin = Annotated[ReviewerView, Depends(page_admin)]
FILTERS = ("source", "task", "band", "check")


def _service(request: Request) -> ReviewService:
    return request.app.state.service


def render_page(request: Request, template: str, reviewer: ReviewerView | None, status: int = 200,
                **context: Any) -> HTMLResponse:
    html = request.app.state.templates.get_template(template).render(
        request=request, me=reviewer, csrf=csrf_token(request), flash=request.session.pop("flash", None),
        **context)
    return HTMLResponse(html, status_code=status)


async def _form(request: Request) -> dict[str, str]:
    """The form's text fields (a file part is ignored); CSRF-checked; invalid text refused (a lone surrogate
    from a percent-escape cannot be stored or shown)."""
    form = {k: v for k, v in (await request.form(max_files=0, max_fields=200)).items() if isinstance(v, str)}
    check_csrf(request, form.get("csrf_token"))
    if any(text_safety.has_surrogate(k) or text_safety.has_surrogate(v) for k, v in form.items()):
        raise HTTPException(400, "the form contains invalid text")
    return form


def _redirect(url: str, flash: str | None = None, request: Request | None = None) -> RedirectResponse:
    if flash and request is not None:
        request.session["flash"] = flash
    return RedirectResponse(url, status_code=303)


def _filter(values: dict[str, Any]) -> QueueFilter:
    return QueueFilter(**{k: values.get(k) or None for k in FILTERS})


# -- login -------------------------------------------------------------------------------------------------

@router.get("/login")
def login_page(request: Request) -> HTMLResponse:
    return render_page(request, "login.html", None)


@router.post("/login")
async def login(request: Request):
    form = await _form(request)
    username, limiter = form.get("username", "").strip()[:64], request.app.state.limiter
    address = client_address(request)
    if limiter.blocked(username, address):
        return render_page(request, "login.html", None, 429, error="Too many failed attempts. Wait a few minutes.")
    reviewer = _service(request).authenticate(username, form.get("password", "")[:256])
    if reviewer is None:
        limiter.failed(username, address)
        return render_page(request, "login.html", None, 401, error="Wrong username or password.", username=username)
    request.session.clear()  # a fresh session (and CSRF token) on login: no fixation
    request.session["sid"] = _service(request).start_session(reviewer.id)
    return _redirect("/")


@router.post("/logout")
async def logout(request: Request):
    await _form(request)
    if isinstance(request.session.get("sid"), str):
        _service(request).end_session(request.session["sid"])  # a copy of the cookie stops working too
    request.session.clear()
    return _redirect("/login")


# -- queue -------------------------------------------------------------------------------------------------

@router.get("/")
def queue(request: Request, reviewer: Reviewer) -> HTMLResponse:
    params = dict(request.query_params)
    service, chosen = _service(request), _filter(params)
    search, mine = params.get("q", "")[:200], params.get("mine") == "1"
    request.session["filter"] = {k: v for k, v in vars(chosen).items() if v}
    items = service.list_items(chosen, "decided" if mine else "pending", limit=200, search=search,
                               decided_by=reviewer.id if mine else None)
    return render_page(request, "queue.html", reviewer, chosen=vars(chosen), facets=service.facets(),
                       counts=service.progress(chosen), items=items, search=search, mine=mine)


@router.post("/next")
async def next_item(request: Request, reviewer: Reviewer):
    form = await _form(request)
    service = _service(request)
    skip = [form["skip"]] if form.get("skip") else []
    if skip:
        _keep_draft(service, skip[0], reviewer, form)  # typed work survives a skip
        service.release(skip[0], reviewer.id)
    claimed = service.claim_next(reviewer.id, _filter(request.session.get("filter", {})), skip)
    if claimed is None:
        return _redirect("/", "Nothing left to review with these filters.", request)
    return _redirect(f"/items/{claimed.item_id}")


# -- review ------------------------------------------------------------------------------------------------

@router.get("/items/{item_id}")
def review(request: Request, item_id: str, reviewer: Reviewer) -> HTMLResponse:
    return _review_page(request, item_id, reviewer)


def _review_page(request: Request, item_id: str, reviewer: ReviewerView, status: int = 200,
                 edits: dict[str, Any] | None = None, check_failures: list | None = None) -> HTMLResponse:
    """The review page. The Arabic fields hold, in order: ``edits`` (a refused save shown again), the
    reviewer's draft, or the machine translation; a draft made on an older version opens the merge view."""
    service = _service(request)
    try:
        item = service.get_item(item_id)
    except ReviewError as exc:
        return render_page(request, "message.html", reviewer, 404, message=str(exc))
    mine = item.claimed_by == reviewer.username and item.status == "pending"
    remaining = int((item.lease_expires - service.clock()).total_seconds()) if item.lease_expires else 0
    draft = service.get_draft(item_id, reviewer.id) if item.status == "pending" else None
    machine = render.fields(item.document, item.best_translation)
    shown = edits or (draft.translation if draft else None)
    fields = render.fields(item.document, shown) if shown else machine
    merge = bool(draft and draft.item_version != item.version)
    return render_page(
        request, "review.html", reviewer, status, item=item, mine=mine, remaining=max(remaining, 0),
        fields=fields, machine={f.path: f.arabic for f in machine}, draft=draft, merge=merge,
        reason=(draft.reason if draft else "") or "",
        failures=render.failures_by_field(check_failures or [], item.document),
        signals=render.signals_by_field(item.document, shown or item.best_translation),
        best=next((a for a in item.attempts if a.get("round") == item.best_round), {}),
        decided_fields=render.fields(item.document, item.decision.translation)
        if item.decision and item.decision.translation else [],
        rounds=render.round_diffs(item.document, item.attempts), counts=service.progress())


def _edits(form: dict[str, str]) -> dict[str, str]:
    return {k.removeprefix("field:"): v for k, v in form.items() if k.startswith("field:")}


def _keep_draft(service: ReviewService, item_id: str, reviewer: ReviewerView, form: dict[str, str]) -> bool:
    """Saves the form's edits as the reviewer's draft when they differ from the machine translation."""
    try:
        item = service.get_item(item_id)
        edited = render.rebuild(item.document, item.best_translation, _edits(form))
        if edited == text_safety.strip_document(item.best_translation)[0] and not form.get("reason"):
            return False
        service.save_draft(item_id, reviewer.id, int(form.get("version", item.version)), edited, form.get("reason"))
    except (ReviewError, ValueError):
        return False
    return True


@router.post("/items/{item_id}/claim")
async def claim(request: Request, item_id: str, reviewer: Reviewer):
    await _form(request)
    try:
        _service(request).claim(item_id, reviewer.id)
    except ReviewError as exc:
        return _redirect(f"/items/{item_id}", str(exc), request)
    return _redirect(f"/items/{item_id}")


@router.post("/items/{item_id}/release")
async def release(request: Request, item_id: str, reviewer: Reviewer):
    await _form(request)
    _service(request).release(item_id, reviewer.id)
    return _redirect("/", f"Released {item_id}.", request)


@router.post("/items/{item_id}/decide")
async def decide(request: Request, item_id: str, reviewer: Reviewer):
    form = await _form(request)
    service = _service(request)
    action = form.get("action", "")
    try:
        item = service.get_item(item_id)
        translation = None
        if action == "approve":
            translation = render.rebuild(item.document, item.best_translation, _edits(form))
            unchanged = translation == text_safety.strip_document(item.best_translation)[0]
            action = "approve" if unchanged else "edit"
        service.decide(item_id, reviewer.id, int(form.get("version", -1)), action, translation,
                       form.get("reason"), confirm_checks=form.get("confirm_checks") == "1")
    except ChecksFailed as exc:
        _keep_draft(service, item_id, reviewer, form)
        return _review_page(request, item_id, reviewer, 422, edits=translation, check_failures=exc.failures)
    except (StaleVersion, NotClaimed) as exc:
        kept = _keep_draft(service, item_id, reviewer, form)
        return _redirect(f"/items/{item_id}", f"Not saved: {exc}." + (" Your edits are kept below." if kept else ""),
                         request)
    except (ReviewError, ValueError, KeyError, IndexError) as exc:
        _keep_draft(service, item_id, reviewer, form)
        return _redirect(f"/items/{item_id}", f"Not saved: {exc}", request)
    claimed = service.claim_next(reviewer.id, _filter(request.session.get("filter", {})))
    done = f"Saved {item_id} ({action})."
    if claimed is None:
        return _redirect("/", done + " The queue is empty.", request)
    return _redirect(f"/items/{claimed.item_id}", done, request)


# -- admin -------------------------------------------------------------------------------------------------

@router.get("/admin")
def admin(request: Request, reviewer: Admin) -> HTMLResponse:
    service = _service(request)
    return render_page(request, "admin.html", reviewer, reviewers=service.reviewers(), counts=service.progress(),
                 audit=service.audit_log(limit=30), bands=list(BANDS))


@router.post("/admin/reviewers")
async def create_reviewer(request: Request, reviewer: Admin):
    form = await _form(request)
    try:
        created = _service(request).create_reviewer(form.get("username", ""), form.get("password", ""),
                                                    form.get("role", "reviewer"), actor=reviewer.username)
    except ReviewError as exc:
        return _redirect("/admin", f"Not created: {exc}", request)
    return _redirect("/admin", f"Created {created.role} {created.username}.", request)


@router.post("/admin/reviewers/{username}/{operation}")
async def manage_reviewer(request: Request, username: str, operation: str, reviewer: Admin):
    """disable · enable · revoke (API token and sessions) · password (reset): effective at once."""
    form = await _form(request)
    service = _service(request)
    try:
        if operation in ("disable", "enable"):
            service.set_disabled(username, operation == "disable", actor=reviewer.username)
        elif operation == "revoke":
            service.revoke_token(username, actor=reviewer.username)
            service.end_sessions(username, actor=reviewer.username)
        elif operation == "password":
            service.reset_password(username, form.get("password", ""), actor=reviewer.username)
        else:
            raise HTTPException(404, f"no operation {operation[:40]!r}")
    except ReviewError as exc:
        return _redirect("/admin", f"Not done: {exc}", request)
    return _redirect("/admin", f"{operation.capitalize()}: {username} (effective now).", request)
