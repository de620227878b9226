"""JSON API: the same operations as the pages, for scripts and tools. Errors: ``{"detail", "error"}``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from translation_review.service import BANDS, MAX_REASON_CHARS, QueueFilter, ReviewerView, ReviewService
from translation_review.web.security import api_admin, api_reviewer

router = APIRouter(prefix="/api", tags=["review"])
Reviewer = Annotated[ReviewerView, Depends(api_reviewer)]
Admin = Annotated[ReviewerView, Depends(api_admin)]


def service(request: Request) -> ReviewService:
    return request.app.state.service


Name = Annotated[str, Field(max_length=64)]
ItemId = Annotated[str, Field(max_length=255)]
Band = Literal[tuple(BANDS)]  # type: ignore[valid-type]


class Strict(BaseModel):
    """Unknown fields are refused (422), not silently dropped: a misspelt field is the caller's bug."""

    model_config = ConfigDict(extra="forbid")


class Filter(BaseModel):
    source: Name | None = None
    task: Name | None = None
    band: Band | None = None
    check: Name | None = None

    def queue(self) -> QueueFilter:
        return QueueFilter(self.source, self.task, self.band, self.check)


class FilterQuery(Filter, Strict):
    """The filter as query parameters: an unknown (misspelt) parameter is refused rather than ignored."""


class ItemsQuery(FilterQuery):
    status: Literal["pending", "decided"] = "pending"
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class NextRequest(Filter, Strict):
    skip: list[ItemId] = Field(default_factory=list, max_length=100,
                               description="item ids not to be given (e.g. just skipped)")


Reason = Annotated[str, Field(max_length=MAX_REASON_CHARS)]


class DecisionRequest(Strict):
    version: int = Field(ge=1, description="the item version the decision was made on (from GET /api/items/{id})")
    action: Literal["approve", "edit", "reject"]
    translation: dict[str, Any] | None = Field(None, description="the edited Arabic document (edit)")
    reason: Reason | None = Field(None, description="why (required to reject)")
    confirm_checks: bool = Field(False, description="save an edit that fails the fidelity checks (audited)")


class DraftRequest(Strict):
    version: int = Field(ge=1)
    translation: dict[str, Any]
    reason: Reason | None = None


class NewReviewer(Strict):
    username: Name
    password: Annotated[str, Field(max_length=256)]
    role: Literal["reviewer", "admin"] = "reviewer"


class NewPassword(Strict):
    password: Annotated[str, Field(max_length=256)]


@router.get("/me")
def me(reviewer: Reviewer) -> dict:
    return {"id": reviewer.id, "username": reviewer.username, "role": reviewer.role}


@router.get("/progress")
def progress(request: Request, _: Reviewer, f: Annotated[FilterQuery, Query()]) -> dict:
    return service(request).progress(f.queue())


@router.get("/items")
def items(request: Request, _: Reviewer, q: Annotated[ItemsQuery, Query()]) -> list[dict]:
    return service(request).list_items(q.queue(), q.status, q.limit, q.offset)


@router.get("/items/{item_id}")
def item(request: Request, item_id: str, _: Reviewer) -> dict:
    return _item(service(request).get_item(item_id))


@router.post("/claims/next", responses={204: {"description": "nothing left to review"}})
def claim_next(request: Request, body: NextRequest, reviewer: Reviewer):
    claimed = service(request).claim_next(reviewer.id, body.queue(), body.skip)
    return _item(claimed) if claimed else Response(status_code=204)


@router.post("/items/{item_id}/claim")
def claim(request: Request, item_id: str, reviewer: Reviewer) -> dict:
    return _item(service(request).claim(item_id, reviewer.id))


@router.post("/items/{item_id}/release")
def release(request: Request, item_id: str, reviewer: Reviewer) -> dict:
    return {"released": service(request).release(item_id, reviewer.id)}


@router.post("/items/{item_id}/decision", responses={409: {"description": "stale version, decided or lease lost"}})
def decide(request: Request, item_id: str, body: DecisionRequest, reviewer: Reviewer) -> dict:
    decision = service(request).decide(item_id, reviewer.id, body.version, body.action, body.translation,
                                       body.reason, body.confirm_checks)
    return vars(decision)


@router.post("/items/{item_id}/renew", responses={409: {"description": "the lease was lost"}})
def renew(request: Request, item_id: str, reviewer: Reviewer) -> dict:
    """Extends the caller's lease on the item (the review page calls this while the reviewer is active)."""
    svc = service(request)
    expires = svc.renew(item_id, reviewer.id)
    return {"lease_expires": expires, "seconds_left": int((expires - svc.clock()).total_seconds())}


@router.put("/items/{item_id}/draft")
def save_draft(request: Request, item_id: str, body: DraftRequest, reviewer: Reviewer) -> dict:
    """Keeps the caller's unsaved work on the item (kept when the lease lapses; dropped by a decision)."""
    return vars(service(request).save_draft(item_id, reviewer.id, body.version, body.translation, body.reason))


@router.get("/items/{item_id}/draft", responses={204: {"description": "no draft"}})
def get_draft(request: Request, item_id: str, reviewer: Reviewer):
    draft = service(request).get_draft(item_id, reviewer.id)
    return vars(draft) if draft else Response(status_code=204)


@router.get("/decisions")
def decisions(request: Request, _: Reviewer, since: int = Query(0, ge=0),
              limit: int = Query(1000, ge=1, le=10000)) -> list[dict]:
    return [vars(d) for d in service(request).decisions_since(since, limit)]


@router.get("/admin/reviewers")
def reviewers(request: Request, _: Admin) -> list[dict]:
    return service(request).reviewers()


@router.post("/admin/reviewers", status_code=201)
def create_reviewer(request: Request, body: NewReviewer, admin: Admin) -> dict:
    return vars(service(request).create_reviewer(body.username, body.password, body.role, actor=admin.username))


@router.post("/admin/reviewers/{username}/disable")
def disable(request: Request, username: str, admin: Admin) -> dict:
    """Cuts the reviewer off at once: sessions ended, token revoked, leases freed, no login."""
    service(request).set_disabled(username, True, actor=admin.username)
    return {"username": username, "disabled": True}


@router.post("/admin/reviewers/{username}/enable")
def enable(request: Request, username: str, admin: Admin) -> dict:
    service(request).set_disabled(username, False, actor=admin.username)
    return {"username": username, "disabled": False}


@router.post("/admin/reviewers/{username}/password")
def reset_password(request: Request, username: str, body: NewPassword, admin: Admin) -> dict:
    """A new password (the policy applies); every session of the reviewer ends."""
    service(request).reset_password(username, body.password, actor=admin.username)
    return {"username": username}


@router.post("/admin/reviewers/{username}/revoke")
def revoke(request: Request, username: str, admin: Admin) -> dict:
    """Revokes the reviewer's API token and ends their sessions, at once in every server process."""
    service(request).revoke_token(username, actor=admin.username)
    return {"username": username, "sessions_ended": service(request).end_sessions(username, actor=admin.username)}


@router.get("/admin/audit")
def audit(request: Request, _: Admin, item_id: str | None = None,
          limit: int = Query(200, ge=1, le=5000)) -> list[dict]:
    return service(request).audit_log(item_id, limit)


def _item(view) -> dict:
    out = vars(view).copy()
    out["decision"] = vars(view.decision) if view.decision else None
    return out
