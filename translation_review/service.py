"""The review service: every operation of the queue, over SQLAlchemy, with no web imports.

Concurrency: a claim is one statement per dialect that can only take a free lease (PostgreSQL: SELECT … FOR
UPDATE SKIP LOCKED then UPDATE; SQLite: one conditional UPDATE … RETURNING under BEGIN IMMEDIATE). A decision
checks the item version the reviewer saw (optimistic concurrency) and that the reviewer still holds the lease.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
from sqlalchemy import Engine, Text, and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bimed_assets import text_safety
from bimed_assets.translation import documents, fidelity
from translation_review import db, passwords, queue_file, usernames
from translation_review.models import (
    AuditEntry,
    Claim,
    Decision,
    Draft,
    Item,
    ItemCheck,
    LoginSession,
    Reviewer,
)

ROLES = ("reviewer", "admin")
ACTIONS = ("approve", "edit", "reject")
# Score bands of the queue filter: [low, high) of the best round's combined score; "unscored" when fidelity
# failed in every round (the scorers are skipped then).
BANDS: dict[str, tuple[float, float] | None] = {
    "unscored": None, "below 60": (0, 60), "60–75": (60, 75), "75 and above": (75, 1000),
}
# A login session ends this long after the login, whatever the activity: a copied cookie cannot be kept alive.
SESSION_LIFETIME = timedelta(hours=12)
# Caps on what a reviewer sends: a field of a medical text is a few thousand characters at most.
MAX_FIELD_CHARS = 20_000
MAX_REASON_CHARS = 2_000
DECISION_LOCK = 7_202_613  # PostgreSQL advisory lock key: decisions commit in id order (the sensor cursor)


class ReviewError(Exception):
    """A refused operation; the message is meant for the reviewer."""


class NotFound(ReviewError):
    pass


class StaleVersion(ReviewError):
    pass


class NotClaimed(ReviewError):
    pass


class AlreadyDecided(ReviewError):
    pass


class InvalidDecision(ReviewError):
    pass


class InvalidInput(ReviewError):
    """A username, password or text that breaks a rule; the message says which."""


class ChecksFailed(ReviewError):
    """An edit failed the pipeline's clinical-fidelity checks; saving it needs an explicit confirmation."""

    def __init__(self, failures: Sequence[fidelity.Failure]):
        self.failures = list(failures)
        super().__init__("the edit fails the fidelity checks: " + "; ".join(map(str, self.failures))
                         + " — correct it, or confirm that it is right")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # naive UTC everywhere: SQLite keeps no time zone


@dataclass(frozen=True)
class QueueFilter:
    source: str | None = None
    task: str | None = None
    band: str | None = None
    check: str | None = None

    def conditions(self, item=Item) -> list:
        conds = []
        if self.source:
            conds.append(item.source == self.source)
        if self.task:
            conds.append(item.task == self.task)
        if self.band:
            if self.band not in BANDS:
                raise ReviewError(f"unknown score band {self.band!r}; one of {', '.join(BANDS)}")
            band = BANDS[self.band]
            conds.append(item.best_score.is_(None) if band is None
                         else and_(item.best_score >= band[0], item.best_score < band[1]))
        if self.check:
            conds.append(exists().where(ItemCheck.item_id == item.item_id, ItemCheck.check == self.check))
        return conds


@dataclass(frozen=True)
class ReviewerView:
    id: int
    username: str
    role: str


@dataclass(frozen=True)
class DecisionView:
    id: int
    item_id: str
    source: str
    task: str
    action: str
    document: dict
    translation: dict | None
    reason: str | None
    reviewer: str
    item_version: int
    decided_at: datetime


@dataclass(frozen=True)
class ItemView:
    item_id: str
    source: str
    task: str
    document: dict
    attempts: list
    rounds: int
    best_round: int
    best_score: float | None
    best_translation: dict
    reasons: list
    failed_checks: list
    status: str
    version: int
    claimed_by: str | None = None
    lease_expires: datetime | None = None
    decision: DecisionView | None = None


@dataclass(frozen=True)
class DraftView:
    item_id: str
    item_version: int
    translation: dict
    reason: str | None
    updated_at: datetime


@dataclass
class ImportResult:
    added: int = 0
    replaced: int = 0  # re-translated items that were still pending
    unchanged: int = 0
    kept_decided: int = 0  # re-translated items already decided: the decision stands
    item_ids: list[str] = field(default_factory=list, repr=False)


class ReviewService:
    def __init__(self, engine: Engine | str | None = None, *, lease: timedelta = timedelta(minutes=15),
                 clock: Callable[[], datetime] = utcnow, migrate: bool = True):
        self.engine = engine if isinstance(engine, Engine) else db.make_engine(engine)
        self.lease = lease
        self.clock = clock
        self.postgres = self.engine.dialect.name == "postgresql"
        self._writer = self.engine.execution_options(write=True)
        self._writers = db.writer_lock(self.engine)
        # id → reviewer for the acting reviewer of a write: names and roles never change, and a reviewer is
        # never deleted. Who may act is decided per request, uncached (see reviewer_for_session).
        self._names: dict[int, ReviewerView] = {}
        self._names_lock = threading.Lock()
        if migrate:
            db.migrate(self.engine)

    # -- sessions ---------------------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engine) as session, session.begin():
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._writers(), Session(self._writer) as session, session.begin():
            yield session

    def _audit(self, session: Session, actor: str, action: str, item_id: str | None = None,
               before: Mapping | None = None, after: Mapping | None = None) -> None:
        session.add(AuditEntry(at=self.clock(), actor=actor, action=action, item_id=item_id,
                               before=_jsonable(before), after=_jsonable(after)))

    # -- reviewers --------------------------------------------------------------------------------------

    def create_reviewer(self, username: str, password: str, role: str = "reviewer",
                        actor: str = "cli") -> ReviewerView:
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        try:
            usernames.check(username)
            passwords.check_policy(password, username)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        skeleton = usernames.skeleton(username)
        try:
            with self._write() as s:
                taken = s.scalar(select(Reviewer.username).where(Reviewer.skeleton == skeleton))
                if taken is not None:
                    raise InvalidInput(f"username {username!r} refused: it reads like the existing {taken!r}")
                reviewer = Reviewer(username=username, password_hash=passwords.hash_password(password),
                                    role=role, created_at=self.clock(), skeleton=skeleton)
                s.add(reviewer)
                s.flush()
                self._audit(s, actor, "create_reviewer", after={"username": reviewer.username, "role": role})
                return _reviewer(reviewer)
        except IntegrityError:  # a concurrent creation of the same (or a look-alike) name
            raise InvalidInput(f"username {username!r} refused: it exists, or reads like one that does") from None

    def authenticate(self, username: str, password: str) -> ReviewerView | None:
        """The reviewer if the password is right and the account is enabled (the hash is verified either way:
        the time taken does not tell which names exist or are disabled)."""
        with self._read() as s:
            reviewer = s.scalar(select(Reviewer).where(Reviewer.username == username))
            ok = passwords.verify(reviewer.password_hash if reviewer else None, password)
            return _reviewer(reviewer) if ok and reviewer.disabled_at is None else None

    def start_session(self, reviewer_id: int) -> str:
        """A new login session; returns the id the cookie carries (only its hash is stored)."""
        session_id = passwords.new_token()
        now = self.clock()
        with self._write() as s:
            s.add(LoginSession(id=passwords.token_hash(session_id), reviewer_id=reviewer_id, created_at=now,
                               expires_at=now + SESSION_LIFETIME))
            # Housekeeping while the lock is held anyway: lapsed sessions of this reviewer go.
            s.execute(delete(LoginSession).where(LoginSession.reviewer_id == reviewer_id,
                                                 LoginSession.expires_at <= now))
        return session_id

    def end_session(self, session_id: str) -> None:
        with self._write() as s:
            s.execute(delete(LoginSession).where(LoginSession.id == passwords.token_hash(session_id)))

    def reviewer_for_session(self, session_id: str) -> ReviewerView | None:
        """Who holds this live session, if enabled. Looked up on every request (one primary-key read, no
        cache): a logout, an ended session or a disabled account takes effect at once in every process."""
        with self._read() as s:
            reviewer = s.scalar(select(Reviewer).join(LoginSession, LoginSession.reviewer_id == Reviewer.id).where(
                LoginSession.id == passwords.token_hash(session_id), LoginSession.expires_at > self.clock(),
                Reviewer.disabled_at.is_(None)))
            return _reviewer(reviewer) if reviewer else None

    def reviewer_for_token(self, token: str) -> ReviewerView | None:
        """Who holds this API token, if enabled; uncached, like sessions."""
        with self._read() as s:
            reviewer = s.scalar(select(Reviewer).where(Reviewer.token_hash == passwords.token_hash(token),
                                                       Reviewer.disabled_at.is_(None)))
            return _reviewer(reviewer) if reviewer else None

    def issue_token(self, username: str, actor: str = "cli") -> str:
        """A new API token for the reviewer (replacing any previous one at once); only its hash is stored."""
        token = passwords.new_token()
        with self._write() as s:
            reviewer = self._by_name(s, username)
            reviewer.token_hash = passwords.token_hash(token)
            self._audit(s, actor, "issue_token", after={"username": username})
        return token

    def revoke_token(self, username: str, actor: str = "cli") -> None:
        with self._write() as s:
            self._by_name(s, username).token_hash = None
            self._audit(s, actor, "revoke_token", after={"username": username})

    def end_sessions(self, username: str, actor: str = "cli") -> int:
        """Ends every login session of the reviewer; returns how many."""
        with self._write() as s:
            reviewer = self._by_name(s, username)
            ended = s.execute(delete(LoginSession).where(LoginSession.reviewer_id == reviewer.id)).rowcount
            self._audit(s, actor, "end_sessions", after={"username": username, "sessions": ended})
            return ended

    def set_disabled(self, username: str, disabled: bool, actor: str = "cli") -> None:
        """Disabling cuts the reviewer off at once: sessions ended, token revoked, no login, leases freed."""
        with self._write() as s:
            reviewer = self._by_name(s, username)
            reviewer.disabled_at = self.clock() if disabled else None
            if disabled:
                reviewer.token_hash = None
                s.execute(delete(LoginSession).where(LoginSession.reviewer_id == reviewer.id))
                s.execute(update(Claim).where(Claim.reviewer_id == reviewer.id)
                          .values(reviewer_id=None, claimed_at=None, expires_at=None))
            self._audit(s, actor, "disable" if disabled else "enable", after={"username": username})

    def reset_password(self, username: str, password: str, actor: str = "cli") -> None:
        """A new password (the policy applies); every session of the reviewer ends."""
        try:
            passwords.check_policy(password, username)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        with self._write() as s:
            reviewer = self._by_name(s, username)
            reviewer.password_hash = passwords.hash_password(password)
            s.execute(delete(LoginSession).where(LoginSession.reviewer_id == reviewer.id))
            self._audit(s, actor, "reset_password", after={"username": username})

    def get_reviewer(self, reviewer_id: int) -> ReviewerView | None:
        with self._names_lock:
            found = self._names.get(reviewer_id)
        if found is None:
            with self._read() as s:
                reviewer = s.get(Reviewer, reviewer_id)
                found = _reviewer(reviewer) if reviewer else None
            if found is not None:
                with self._names_lock:
                    self._names[reviewer_id] = found
        return found

    def _by_name(self, s: Session, username: str) -> Reviewer:
        reviewer = s.scalar(select(Reviewer).where(Reviewer.username == username))
        if reviewer is None:
            raise NotFound(f"no reviewer {username!r}")
        return reviewer

    def reviewers(self) -> list[dict[str, Any]]:
        """Every reviewer with their decision counts, for the admin page."""
        with self._read() as s:
            counts = dict(s.execute(select(Decision.reviewer_id, func.count()).group_by(Decision.reviewer_id)).all())
            return [{"id": r.id, "username": r.username, "role": r.role, "decisions": counts.get(r.id, 0),
                     "created_at": r.created_at, "disabled": r.disabled_at is not None}
                    for r in s.scalars(select(Reviewer).order_by(Reviewer.username))]

    # -- import -----------------------------------------------------------------------------------------

    def import_queue(self, path: str | Path, actor: str = "import") -> ImportResult:
        return self.import_items(queue_file.read_queue(path), actor)

    def import_items(self, records: Iterable[Mapping[str, Any]], actor: str = "import") -> ImportResult:
        """Idempotent: an unchanged item is left alone; a re-translated one (new attempts) replaces it while
        pending, and never once decided."""
        result = ImportResult()
        now = self.clock()
        with self._write() as s:
            for record in records:
                values = _item_values(record)
                result.item_ids.append(values["item_id"])
                item = s.scalar(select(Item).where(Item.item_id == values["item_id"]))
                if item is None:
                    s.add(Item(**values, status="pending", version=1, imported_at=now, updated_at=now))
                    s.flush()
                    s.add(Claim(item_id=values["item_id"]))
                    s.add_all(ItemCheck(item_id=values["item_id"], check=c) for c in values["failed_checks"])
                    self._audit(s, actor, "import", values["item_id"], after=_summary(values, 1))
                    result.added += 1
                elif item.fingerprint == values["fingerprint"]:
                    result.unchanged += 1
                elif item.status == "decided":
                    result.kept_decided += 1
                else:
                    before = _summary(_columns(item), item.version)
                    for key, value in values.items():
                        setattr(item, key, value)
                    item.version += 1
                    item.updated_at = now
                    s.execute(ItemCheck.__table__.delete().where(ItemCheck.item_id == item.item_id))
                    s.add_all(ItemCheck(item_id=item.item_id, check=c) for c in values["failed_checks"])
                    self._audit(s, actor, "reimport", item.item_id, before, _summary(values, item.version))
                    result.replaced += 1
        return result

    # -- claims -----------------------------------------------------------------------------------------

    def claim_next(self, reviewer_id: int, queue: QueueFilter = QueueFilter(),
                   skip: Sequence[str] = ()) -> ItemView | None:
        """The reviewer's own live claim if any, else a newly claimed pending item (queue order); None when
        nothing is left. Never gives an item whose lease another reviewer holds."""
        reviewer = self._known(reviewer_id)
        with self._write() as s:
            now = self.clock()
            held = s.scalar(select(Claim.item_id).join(Item, Item.item_id == Claim.item_id).where(
                Claim.reviewer_id == reviewer_id, Claim.expires_at > now, Item.status == "pending",
                Item.item_id.not_in(skip), *queue.conditions()).order_by(Item.id).limit(1))
            item_id = held or self._take_free(s, reviewer_id, now, queue, skip)
            if item_id is None:
                return None
            if held:
                s.execute(update(Claim).where(Claim.item_id == held).values(expires_at=now + self.lease))
            else:
                self._audit(s, reviewer.username, "claim", item_id,
                            after={"expires_at": now + self.lease})
            # Built here rather than by get_item: one transaction per claim. Pending items have no decision.
            return _view(self._item(s, item_id), reviewer.username, now + self.lease)

    def _take_free(self, s: Session, reviewer_id: int, now: datetime, queue: QueueFilter,
                   skip: Sequence[str]) -> str | None:
        # Core tables, not ORM entities: this runs on every claim and the ORM's statement adaptation showed
        # in the profile. The aliases let the SQLite subquery read the table its UPDATE writes.
        claims, claim, item = Claim.__table__, Claim.__table__.alias("c"), Item.__table__.alias("i")
        free = or_(claim.c.reviewer_id.is_(None), claim.c.expires_at <= now)
        candidate = (select(claim.c.item_id).join(item, item.c.item_id == claim.c.item_id)
                     .where(item.c.status == "pending", free, item.c.item_id.not_in(skip),
                            *queue.conditions(item.c))
                     .order_by(item.c.id).limit(1))
        values = {"reviewer_id": reviewer_id, "claimed_at": now, "expires_at": now + self.lease}
        if self.postgres:
            # Both rows are locked, so that PostgreSQL re-checks both against their latest versions: locking
            # the claim alone, a scan that began before another reviewer claimed and then decided an item
            # re-read that claim (free again) with the item row of its own snapshot (still pending), and gave
            # out the decided item a second time (seen once in the no-think stress benchmark).
            item_id = s.scalar(candidate.with_for_update(skip_locked=True, key_share=True, of=[claim, item]))
            if item_id is not None:
                s.execute(update(claims).where(claims.c.item_id == item_id).values(**values))
            return item_id
        # SQLite: the WHERE repeats the free test, so the UPDATE can only ever take a free lease.
        taken = update(claims).where(claims.c.item_id == candidate.scalar_subquery(),
                                     or_(claims.c.reviewer_id.is_(None), claims.c.expires_at <= now))
        return s.scalar(taken.values(**values).returning(claims.c.item_id))

    def claim(self, item_id: str, reviewer_id: int) -> ItemView:
        """Claim (or renew) one given item: refused while another reviewer's lease is live."""
        reviewer = self._known(reviewer_id)
        with self._write() as s:
            now = self.clock()
            item = self._item(s, item_id, lock=True)  # decide locks it too: no claim on an item being decided
            if item.status == "decided":
                raise AlreadyDecided(f"item {item_id} is already decided")
            taken = s.execute(update(Claim).where(
                Claim.item_id == item_id,
                or_(Claim.reviewer_id.is_(None), Claim.expires_at <= now, Claim.reviewer_id == reviewer_id),
            ).values(reviewer_id=reviewer_id, claimed_at=now, expires_at=now + self.lease))
            if taken.rowcount != 1:
                raise NotClaimed(f"item {item_id} is being reviewed by someone else")
            self._audit(s, reviewer.username, "claim", item_id, after={"expires_at": now + self.lease})
        return self.get_item(item_id)

    def release(self, item_id: str, reviewer_id: int) -> bool:
        reviewer = self._known(reviewer_id)
        with self._write() as s:
            freed = s.execute(update(Claim).where(Claim.item_id == item_id, Claim.reviewer_id == reviewer_id)
                              .values(reviewer_id=None, claimed_at=None, expires_at=None)).rowcount
            if freed:
                self._audit(s, reviewer.username, "release", item_id)
            return bool(freed)

    def expire_leases(self) -> int:
        """Free every lapsed lease (claims also treat them as free, so this is housekeeping)."""
        with self._write() as s:
            now = self.clock()
            lapsed = s.execute(select(Claim.item_id, Reviewer.username).join(Reviewer).where(
                Claim.expires_at <= now)).all()
            for item_id, username in lapsed:
                s.execute(update(Claim).where(Claim.item_id == item_id, Claim.expires_at <= now)
                          .values(reviewer_id=None, claimed_at=None, expires_at=None))
                self._audit(s, "system", "lease_expired", item_id, before={"reviewer": username})
            return len(lapsed)

    # -- decisions --------------------------------------------------------------------------------------

    def decide(self, item_id: str, reviewer_id: int, version: int, action: str,
               translation: Mapping[str, Any] | None = None, reason: str | None = None,
               confirm_checks: bool = False) -> DecisionView:
        """Record the reviewer's decision on the version of the item they saw. Refused (nothing written) if
        the item changed since (``StaleVersion``), was decided (``AlreadyDecided``), the reviewer no longer
        holds its lease (``NotClaimed``), or an edit fails the fidelity checks and ``confirm_checks`` is not
        set (``ChecksFailed``; a confirmed edit records the failures it was saved with in the audit log).
        Invisible formatting characters are removed from what is stored, and the audit says which."""
        if action not in ACTIONS:
            raise InvalidDecision(f"action must be one of {', '.join(ACTIONS)}")
        reason = _checked_reason(reason)
        translation, removed = _checked_translation(translation) if translation is not None else (None, None)
        reviewer = self._known(reviewer_id)
        with self._write() as s:
            now = self.clock()
            item = self._item(s, item_id, lock=True)
            if item.status == "decided":
                raise AlreadyDecided(f"item {item_id} was already decided; your decision was not saved")
            if item.version != version:
                raise StaleVersion(
                    f"item {item_id} changed since you opened it (it is now version {item.version}, you saw "
                    f"version {version}); reload it and redo your decision")
            claim = s.get(Claim, item_id)
            if claim.reviewer_id != reviewer_id or claim.expires_at is None or claim.expires_at <= now:
                raise NotClaimed(f"your lease on item {item_id} has expired or was released; claim it again")
            final = _final_translation(item, action, translation, reason)
            if action == "approve":  # a machine translation with a bidi control is stored without it
                final, removed = text_safety.strip_document(final)
            failures = _new_failures(item, final) if action == "edit" else []
            if failures and not confirm_checks:
                raise ChecksFailed(failures)
            before = {"status": item.status, "version": item.version, "translation": item.best_translation}
            item.status, item.version, item.updated_at = "decided", item.version + 1, now
            claim.reviewer_id = claim.claimed_at = claim.expires_at = None
            s.flush()  # these rows are this item's (locked above): written before the shared lock below
            if self.postgres:
                # Held to the commit: only the decision and its audit entry are written while every other
                # decision waits (under the stress benchmark this lock was the decisions' bottleneck).
                s.execute(select(func.pg_advisory_xact_lock(DECISION_LOCK)))
            decision = Decision(item_id=item_id, reviewer_id=reviewer_id, action=action, translation=final,
                                reason=(reason or "").strip() or None, item_version=version, decided_at=now)
            s.add(decision)
            s.flush()
            s.execute(delete(Draft).where(Draft.item_id == item_id))
            after = {"status": "decided", "version": item.version, "decision_id": decision.id,
                     "translation": final, "reason": decision.reason}
            if failures:
                after["confirmed_check_failures"] = [str(f) for f in failures]
            if removed:
                after["removed_invisible"] = text_safety.summary(removed)
            self._audit(s, reviewer.username, f"decide:{action}", item_id, before, after)
            return _decision(decision, item, reviewer.username)

    def renew(self, item_id: str, reviewer_id: int) -> datetime:
        """Extends the reviewer's live lease (the page calls this while the reviewer is active)."""
        with self._write() as s:
            now = self.clock()
            renewed = s.execute(update(Claim).where(Claim.item_id == item_id, Claim.reviewer_id == reviewer_id,
                                                    Claim.expires_at > now)
                                .values(expires_at=now + self.lease)).rowcount
        if not renewed:
            raise NotClaimed(f"your lease on item {item_id} has expired or was released; your draft is kept")
        return now + self.lease

    # -- drafts -----------------------------------------------------------------------------------------

    def save_draft(self, item_id: str, reviewer_id: int, version: int, translation: Mapping[str, Any],
                   reason: str | None = None) -> DraftView:
        """Keeps the reviewer's unsaved work, whether or not they still hold the lease."""
        reason = _checked_reason(reason)
        translation, _ = _checked_translation(translation, strip=False)  # kept as typed; shown with markers
        with self._write() as s:
            now = self.clock()
            item = self._item(s, item_id)
            if item.status == "decided":
                raise AlreadyDecided(f"item {item_id} is already decided")
            draft = s.get(Draft, (item_id, reviewer_id))
            if draft is None:
                draft = Draft(item_id=item_id, reviewer_id=reviewer_id)
                s.add(draft)
            draft.item_version, draft.translation, draft.reason, draft.updated_at = version, translation, reason, now
            return _draft(draft)

    def get_draft(self, item_id: str, reviewer_id: int) -> DraftView | None:
        with self._read() as s:
            draft = s.get(Draft, (item_id, reviewer_id))
            return _draft(draft) if draft else None

    def discard_draft(self, item_id: str, reviewer_id: int) -> None:
        with self._write() as s:
            s.execute(delete(Draft).where(Draft.item_id == item_id, Draft.reviewer_id == reviewer_id))

    def decisions_since(self, cursor: int = 0, limit: int = 1000) -> list[DecisionView]:
        """Decisions with id > cursor, in id order; the last id is the next cursor (for a Dagster sensor)."""
        with self._read() as s:
            rows = s.execute(select(Decision, Item, Reviewer.username).join(Item, Item.item_id == Decision.item_id)
                             .join(Reviewer, Reviewer.id == Decision.reviewer_id)
                             .where(Decision.id > cursor).order_by(Decision.id).limit(limit)).all()
            return [_decision(d, i, u) for d, i, u in rows]

    def export_decisions(self, path: str | Path, cursor: int = 0) -> int:
        """Every decision after ``cursor`` to ``.parquet`` or ``.jsonl``; returns how many."""
        rows = [{"decision_id": d.id, "item_id": d.item_id, "source": d.source, "task": d.task,
                 "action": d.action, "document": d.document, "translation": d.translation, "reason": d.reason,
                 "reviewer": d.reviewer, "item_version": d.item_version, "decided_at": d.decided_at}
                for d in self.decisions_since(cursor, limit=10**9)]
        return queue_file.write_export(rows, path)

    # -- reading ----------------------------------------------------------------------------------------

    def get_item(self, item_id: str) -> ItemView:
        with self._read() as s:
            item = self._item(s, item_id)
            claim = s.execute(select(Claim.expires_at, Reviewer.username).join(Reviewer).where(
                Claim.item_id == item_id, Claim.expires_at > self.clock())).first()
            row = s.execute(select(Decision, Reviewer.username).join(Reviewer)
                            .where(Decision.item_id == item_id).order_by(Decision.id.desc()).limit(1)).first()
            decision = _decision(row[0], item, row[1]) if row else None
            return _view(item, claim.username if claim else None, claim.expires_at if claim else None, decision)

    def list_items(self, queue: QueueFilter = QueueFilter(), status: str = "pending", limit: int = 100,
                   offset: int = 0, search: str | None = None,
                   decided_by: int | None = None) -> list[dict[str, Any]]:
        """Queue rows (no documents): id, source, task, score, checks, status, who holds the lease. ``search``:
        words that the item id or its English text contain (case-insensitive); ``decided_by``: only items that
        reviewer decided ("my decisions")."""
        now = self.clock()
        extra = []
        for word in (search or "").split()[:5]:
            pattern = "%" + word.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
            extra.append(or_(func.lower(Item.item_id).like(pattern),
                             func.lower(Item.document.cast(Text)).like(pattern)))
        if decided_by is not None:
            extra.append(exists().where(Decision.item_id == Item.item_id, Decision.reviewer_id == decided_by))
        with self._read() as s:
            rows = s.execute(
                select(Item.item_id, Item.source, Item.task, Item.best_score, Item.rounds, Item.failed_checks,
                       Item.status, Item.version, Reviewer.username, Claim.expires_at)
                .join(Claim, Claim.item_id == Item.item_id)
                .outerjoin(Reviewer, and_(Reviewer.id == Claim.reviewer_id, Claim.expires_at > now))
                .where(Item.status == status, *queue.conditions(), *extra).order_by(Item.id).limit(limit).offset(offset)
            ).all()
            return [{"item_id": r.item_id, "source": r.source, "task": r.task, "best_score": r.best_score,
                     "rounds": r.rounds, "failed_checks": r.failed_checks, "status": r.status,
                     "version": r.version, "claimed_by": r.username,
                     "lease_expires": r.expires_at if r.username else None} for r in rows]

    def progress(self, queue: QueueFilter = QueueFilter()) -> dict[str, Any]:
        """Counts: pending (free and in review), decided by action, and per source."""
        now = self.clock()
        conds = queue.conditions()
        with self._read() as s:
            by_status = dict(s.execute(select(Item.status, func.count()).where(*conds).group_by(Item.status)).all())
            in_review = s.scalar(select(func.count()).select_from(Item).join(Claim, Claim.item_id == Item.item_id)
                                 .where(Item.status == "pending", Claim.expires_at > now, *conds))
            by_action = dict(s.execute(select(Decision.action, func.count()).join(Item, Item.item_id == Decision.item_id)
                                       .where(*conds).group_by(Decision.action)).all())
            by_source = {src: {"pending": 0, "decided": 0} for src in s.scalars(select(Item.source).distinct())}
            for src, status, n in s.execute(select(Item.source, Item.status, func.count()).where(*conds)
                                            .group_by(Item.source, Item.status)):
                by_source[src][status] = n
        pending = by_status.get("pending", 0)
        return {"total": pending + by_status.get("decided", 0), "pending": pending, "in_review": in_review,
                "decided": by_status.get("decided", 0), **{a: by_action.get(a, 0) for a in ACTIONS},
                "by_source": {k: v for k, v in sorted(by_source.items()) if v["pending"] or v["decided"]}}

    def facets(self) -> dict[str, list[str]]:
        """The values the queue filters can take."""
        with self._read() as s:
            return {"source": list(s.scalars(select(Item.source).distinct().order_by(Item.source))),
                    "task": list(s.scalars(select(Item.task).distinct().order_by(Item.task))),
                    "band": list(BANDS),
                    "check": list(s.scalars(select(ItemCheck.check).distinct().order_by(ItemCheck.check)))}

    def audit_log(self, item_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        with self._read() as s:
            query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            if item_id:
                query = query.where(AuditEntry.item_id == item_id)
            return [{"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "item_id": e.item_id,
                     "before": e.before, "after": e.after} for e in s.scalars(query)]

    # -- helpers ----------------------------------------------------------------------------------------

    def _known(self, reviewer_id: int) -> ReviewerView:
        """The acting reviewer (cached, and looked up before a write transaction: reviewers are never
        deleted, and the lock is not held for a lookup)."""
        reviewer = self.get_reviewer(reviewer_id)
        if reviewer is None:
            raise NotFound(f"no reviewer with id {reviewer_id}")
        return reviewer

    def _item(self, s: Session, item_id: str, lock: bool = False) -> Item:
        query = select(Item).where(Item.item_id == item_id)
        item = s.scalar(query.with_for_update() if lock else query)
        if item is None:
            raise NotFound(f"no item {item_id!r}")
        return item


def _item_values(record: Mapping[str, Any]) -> dict[str, Any]:
    document, attempts = record["document"], record["attempts"]
    fingerprint = hashlib.sha256(json.dumps([document, attempts], sort_keys=True, ensure_ascii=False)
                                 .encode()).hexdigest()
    best = _best_attempt(attempts, record["best_round"], record["best_score"])
    best_round = best["round"] if best else record["best_round"]
    # Notes on the whole item (e.g. why a benchmark item is reviewed) stay; round feedback is the shown round's.
    feedback = {reason for a in attempts for reason in _feedback(a)}
    notes = [reason for reason in record["reasons"] or [] if reason not in feedback]
    return {"item_id": record["item_id"], "source": record["source"], "task": record["task"],
            "document": document, "attempts": attempts, "rounds": record["rounds"],
            "best_round": best_round, "best_score": record["best_score"],
            "best_translation": (best or {}).get("translation") or record["best_translation"],
            # the feedback of the round that is shown and pre-filled, not of another one
            "reasons": [*notes, *_feedback(best)] if best else list(record["reasons"] or []),
            "failed_checks": queue_file.failed_checks(attempts, best_round),
            "fingerprint": fingerprint}


def _feedback(attempt: Mapping[str, Any]) -> list[str]:
    return [*(attempt.get("fidelity") or []), *(attempt.get("judge_errors") or [])]


def _best_attempt(attempts: Sequence[Mapping[str, Any]], best_round: int,
                  best_score: float | None) -> Mapping[str, Any] | None:
    """The round a reviewer starts from: the pipeline's best scored one; when no round was scored (each failed
    a fidelity check), the one with the fewest failures, the latest on a tie."""
    if best_score is None and attempts:
        return min(reversed(attempts), key=lambda a: len(a.get("fidelity") or []))
    return next((a for a in attempts if a["round"] == best_round), None)


def _view(item: Item, claimed_by: str | None, lease_expires: datetime | None,
          decision: DecisionView | None = None) -> ItemView:
    return ItemView(**_columns(item), status=item.status, version=item.version, claimed_by=claimed_by,
                    lease_expires=lease_expires, decision=decision)


def _columns(item: Item) -> dict[str, Any]:
    return {name: getattr(item, name) for name in (
        "item_id", "source", "task", "document", "attempts", "rounds", "best_round", "best_score",
        "best_translation", "reasons", "failed_checks")}


def _summary(values: Mapping[str, Any], version: int) -> dict[str, Any]:
    return {"version": version, "rounds": values["rounds"], "best_round": values["best_round"],
            "best_score": values["best_score"], "failed_checks": values["failed_checks"]}


def _final_translation(item: Item, action: str, translation: Mapping[str, Any] | None,
                       reason: str | None) -> dict | None:
    if action == "reject":
        if not (reason or "").strip():
            raise InvalidDecision("a rejection needs a reason")
        return None
    if action == "approve":
        return item.best_translation
    if translation is None:
        raise InvalidDecision("an edit needs the edited translation")
    try:
        jsonschema.validate(translation, documents.schema(item.document))
    except jsonschema.ValidationError as exc:
        raise InvalidDecision(f"the edited translation does not have the document's shape: {exc.message}") from None
    roles = [t["role"] for t in item.document.get("turns", [])]
    if roles != [t["role"] for t in translation.get("turns", [])]:
        raise InvalidDecision("the edited dialogue must keep the turns and their roles in order")
    if any(not text.strip() for text in _strings(translation)):
        raise InvalidDecision("a field of the edited translation is empty")
    return dict(translation)


def _strings(value: Any) -> Iterator[Any]:
    """The leaves of a translation but its roles: text, or anything else a malformed request put there."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key != "role":
                yield from _strings(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _strings(inner)
    else:
        yield value


def _new_failures(item: Item, edited: Mapping[str, Any]) -> list[fidelity.Failure]:
    """The pipeline's fidelity failures of an edit that the machine translation did not already have (those
    are on the page as the item's failed checks; a reviewer fixing one field is not held up by another)."""
    known = {str(f) for f in fidelity.check_item(item.document, item.best_translation)}
    return [f for f in fidelity.check_item(item.document, edited) if str(f) not in known]


def _checked_reason(reason: str | None) -> str | None:
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"the reason is longer than {MAX_REASON_CHARS} characters")
    if reason is not None and text_safety.has_surrogate(reason):
        raise InvalidInput("the reason contains an invalid character (a lone UTF-16 surrogate)")
    return reason


def _checked_translation(translation: Any, strip: bool = True) -> tuple[dict, Any]:
    """A reviewer's translation within the caps, as valid text; invisible characters removed (``strip``)."""
    if not isinstance(translation, Mapping):
        raise InvalidInput("the translation must be an object of text fields")
    for text in _strings(translation):
        if not isinstance(text, str):
            raise InvalidInput("every field of the translation must be text")
        if len(text) > MAX_FIELD_CHARS:
            raise InvalidInput(f"a field of the translation is longer than {MAX_FIELD_CHARS} characters")
        if text_safety.has_surrogate(text):
            raise InvalidInput("the translation contains an invalid character (a lone UTF-16 surrogate)")
    if not strip:
        return dict(translation), None
    return text_safety.strip_document(translation)


def _draft(draft: Draft) -> DraftView:
    return DraftView(draft.item_id, draft.item_version, draft.translation, draft.reason, draft.updated_at)


def _reviewer(reviewer: Reviewer) -> ReviewerView:
    return ReviewerView(reviewer.id, reviewer.username, reviewer.role)


def _decision(d: Decision, item: Item, username: str) -> DecisionView:
    return DecisionView(d.id, d.item_id, item.source, item.task, d.action, item.document, d.translation,
                        d.reason, username, d.item_version, d.decided_at)


def _jsonable(value: Any) -> Any:
    return None if value is None else json.loads(json.dumps(value, ensure_ascii=False, default=str))
