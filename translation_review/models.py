"""The review store's tables. The Alembic migrations in ``migrations/`` create exactly these (a test checks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Reviewer(Base):
    __tablename__ = "reviewers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # reviewer | admin
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # sha256 of the API token
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # The username's confusable skeleton (usernames.skeleton): unique, so "adrnin" cannot join beside "admin".
    skeleton: Mapped[str] = mapped_column(String(64), unique=True)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)  # set: no login, no session, no token


class LoginSession(Base):
    """A server-side login session: the cookie carries a random id, the store its SHA-256. Deleting the row
    (logout, an admin ending a reviewer's sessions) ends it at once in every server process."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)  # absolute: a session is never extended


class Draft(Base):
    """A reviewer's unsaved work on an item, written as they type: kept when the lease lapses or the item
    changes under them, dropped when they decide it."""

    __tablename__ = "drafts"
    item_id: Mapped[str] = mapped_column(ForeignKey("items.item_id", ondelete="CASCADE"), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"), primary_key=True)
    item_version: Mapped[int] = mapped_column(Integer)  # the version the reviewer was editing
    translation: Mapped[dict] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Item(Base):
    __tablename__ = "items"
    # Claim-next walks the pending items in queue order: a partial index holds exactly those (without it
    # PostgreSQL walked the primary key past every decided item).
    __table_args__ = (Index("ix_items_pending", "id", postgresql_where=text("status = 'pending'"),
                            sqlite_where=text("status = 'pending'")),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # queue order
    item_id: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    task: Mapped[str] = mapped_column(String(32), index=True)
    document: Mapped[dict] = mapped_column(JSON)
    attempts: Mapped[list] = mapped_column(JSON)
    rounds: Mapped[int] = mapped_column(Integer)
    best_round: Mapped[int] = mapped_column(Integer)
    best_score: Mapped[float | None] = mapped_column(Float)
    best_translation: Mapped[dict] = mapped_column(JSON)
    reasons: Mapped[list] = mapped_column(JSON)
    failed_checks: Mapped[list] = mapped_column(JSON)  # check names of the best round, see ItemCheck
    fingerprint: Mapped[str] = mapped_column(String(64))  # of document + attempts: re-import detection
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | decided
    version: Mapped[int] = mapped_column(Integer)  # bumped on every change: optimistic concurrency
    imported_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ItemCheck(Base):
    """One row per failed check of an item's best round, so that the queue filter is an indexed EXISTS."""

    __tablename__ = "item_checks"
    item_id: Mapped[str] = mapped_column(ForeignKey("items.item_id", ondelete="CASCADE"), primary_key=True)
    check: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class Claim(Base):
    """The lease on an item: one row per item, free when ``reviewer_id`` is NULL or ``expires_at`` has passed.

    A row per item (rather than per claim) is what lets SQLite claim with one conditional UPDATE.
    """

    __tablename__ = "claims"
    __table_args__ = (Index("ix_claims_reviewer_live", "reviewer_id", "expires_at"),)  # one's own lease
    item_id: Mapped[str] = mapped_column(ForeignKey("items.item_id", ondelete="CASCADE"), primary_key=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("reviewers.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)


class Decision(Base):
    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the sensor cursor: commits in id order
    item_id: Mapped[str] = mapped_column(ForeignKey("items.item_id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    action: Mapped[str] = mapped_column(String(16))  # approve | edit | reject
    translation: Mapped[dict | None] = mapped_column(JSON)  # the accepted Arabic document; None on reject
    reason: Mapped[str | None] = mapped_column(Text)
    item_version: Mapped[int] = mapped_column(Integer)  # the version the reviewer saw
    decided_at: Mapped[datetime] = mapped_column(DateTime)


class AuditEntry(Base):
    """Append-only: database triggers refuse UPDATE and DELETE (see the initial migration)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str | None] = mapped_column(String(255), index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
