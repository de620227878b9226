"""The review service on SQLite and on PostgreSQL: import, claims, leases, decisions, audit, export."""

from __future__ import annotations

import json
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import polars as pl
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from review_samples import make_item
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bimed_assets.translation.tables import REVIEW_SCHEMA
from translation_review.models import Base
from translation_review.service import (
    AlreadyDecided,
    InvalidDecision,
    NotClaimed,
    QueueFilter,
    ReviewService,
    StaleVersion,
)


def _reviewers(service: ReviewService, n: int) -> list[int]:
    return [service.create_reviewer(f"rev{i}", "amber-falcon-42-tide").id for i in range(n)]


def test_migrations_create_exactly_the_models(service):
    with service.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_import_is_idempotent_and_never_overwrites_a_decision(service):
    items = [make_item(f"i{n}") for n in range(3)]
    assert service.import_items(items).added == 3
    again = service.import_items(items)
    assert (again.added, again.unchanged) == (0, 3)
    assert service.progress()["total"] == 3

    (rid,) = _reviewers(service, 1)
    first = service.claim_next(rid)
    service.decide(first.item_id, rid, first.version, "reject", reason="meaning lost")

    # Re-translated: every item has new attempts. The pending ones are replaced, the decided one is kept.
    retranslated = [make_item(f"i{n}", arabic_answer="نص جديد 500 mg", rounds=3) for n in range(3)]
    result = service.import_items(retranslated)
    assert (result.replaced, result.kept_decided) == (2, 1)
    decided = service.get_item(first.item_id)
    assert decided.status == "decided" and decided.rounds == 2 and decided.decision.action == "reject"
    replaced = service.get_item("i1")
    assert replaced.rounds == 3 and replaced.version == 2 and replaced.status == "pending"
    assert [d.item_id for d in service.decisions_since(0)] == [first.item_id]


def test_concurrent_claims_never_double_assign(service):
    service.import_items([make_item(f"c{n:02d}") for n in range(40)])
    reviewers = _reviewers(service, 12)
    given: list[tuple[int, str]] = []
    lock = threading.Lock()

    def work(rid: int) -> None:
        while (item := service.claim_next(rid)) is not None:
            with lock:
                given.append((rid, item.item_id))
            service.decide(item.item_id, rid, item.version, "approve")

    with ThreadPoolExecutor(len(reviewers)) as pool:
        list(pool.map(work, reviewers))
    items = [item_id for _, item_id in given]
    assert len(items) == len(set(items)) == 40
    decisions = service.decisions_since(0)
    assert sorted(d.item_id for d in decisions) == sorted(items)
    assert [d.id for d in decisions] == sorted(d.id for d in decisions)


def _work_in_a_process(url: str, reviewer_ids: list[int], start) -> list[tuple[int, str]]:
    """Reviewers working the queue from their own process and service (as under ``serve --workers N``)."""
    service = ReviewService(url, migrate=False)
    start.wait(60)  # both processes ready: they overlap instead of the first one emptying the queue

    def work(rid: int) -> list[tuple[int, str]]:
        given = []
        while (item := service.claim_next(rid)) is not None:
            given.append((rid, item.item_id))
            service.decide(item.item_id, rid, item.version, "approve")
        return given

    with ThreadPoolExecutor(len(reviewer_ids)) as pool:
        return [g for given in pool.map(work, reviewer_ids) for g in given]


def test_concurrent_processes_never_double_assign(service):
    service.import_items([make_item(f"p{n:02d}") for n in range(60)])
    reviewers = _reviewers(service, 8)
    url = service.engine.url.render_as_string(hide_password=False)
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, ProcessPoolExecutor(2, mp_context=spawn) as pool:
        start = manager.Barrier(2)
        parts = pool.map(_work_in_a_process, [url, url], [reviewers[:4], reviewers[4:]], [start, start])
        given = [g for part in parts for g in part]
    items = [item_id for _, item_id in given]
    assert len(items) == len(set(items)) == 60
    assert len({rid for rid, _ in given}) > 4  # both processes did work
    assert sorted(d.item_id for d in service.decisions_since(0)) == sorted(items)


def test_two_reviewers_never_hold_the_same_item(service):
    service.import_items([make_item("only")])
    a, b = _reviewers(service, 2)
    assert service.claim_next(a).item_id == "only"
    assert service.claim_next(a).item_id == "only"  # your own claim comes back, renewed
    assert service.claim_next(b) is None
    with pytest.raises(NotClaimed):
        service.claim("only", b)


def test_stale_edit_is_refused(service):
    service.import_items([make_item("s")])
    (rid,) = _reviewers(service, 1)
    seen = service.claim_next(rid)
    service.import_items([make_item("s", arabic_answer="ترجمة أحدث", rounds=3)])  # changed under the reviewer
    edited = {**seen.best_translation, "answer": "تعديل المراجع 500 mg"}
    with pytest.raises(StaleVersion, match="changed since you opened it"):
        service.decide("s", rid, seen.version, "edit", edited)
    assert service.decisions_since(0) == [] and service.get_item("s").status == "pending"
    fresh = service.get_item("s")
    decision = service.decide("s", rid, fresh.version, "edit", {**fresh.best_translation, "answer": "تعديل 500 mg"})
    assert decision.translation["answer"] == "تعديل 500 mg"
    with pytest.raises(AlreadyDecided):
        service.decide("s", rid, fresh.version + 1, "approve")


def test_edit_must_keep_the_document_shape(service):
    service.import_items([make_item("x")])
    (rid,) = _reviewers(service, 1)
    item = service.claim_next(rid)
    with pytest.raises(InvalidDecision):
        service.decide("x", rid, item.version, "edit", {"question": "سؤال"})
    with pytest.raises(InvalidDecision):
        service.decide("x", rid, item.version, "edit", {**item.best_translation, "answer": "  "})
    with pytest.raises(InvalidDecision):
        service.decide("x", rid, item.version, "reject", reason=" ")


def test_leases_expire(service, clock):
    service.import_items([make_item("l")])
    a, b = _reviewers(service, 2)
    held = service.claim_next(a)
    clock.advance(minutes=14)
    assert service.claim_next(b) is None and service.expire_leases() == 0
    clock.advance(minutes=2)
    assert service.get_item("l").claimed_by is None
    assert service.expire_leases() == 1
    assert service.claim_next(b).item_id == "l"
    with pytest.raises(NotClaimed):
        service.decide("l", a, held.version, "approve")
    service.decide("l", b, held.version, "approve")
    actions = [e["action"] for e in service.audit_log("l")]
    assert actions[:3] == ["decide:approve", "claim", "lease_expired"]


def test_release_returns_the_item(service):
    service.import_items([make_item("r1"), make_item("r2")])
    a, b = _reviewers(service, 2)
    assert service.claim_next(a).item_id == "r1"
    assert service.claim_next(a, skip=["r1"]).item_id == "r2"
    assert service.release("r1", a) and not service.release("r1", b)
    assert service.claim_next(b).item_id == "r1"


def test_audit_log_is_append_only(service):
    service.import_items([make_item("a")])
    assert service.audit_log()
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), service.engine.begin() as conn:
            conn.execute(text(statement))
    assert [e["actor"] for e in service.audit_log()] == ["import"]


def test_filters_progress_and_cursor(service):
    service.import_items([make_item("m1", source="medqa", score=80.0), make_item("p1", source="pubmedqa", score=50.0),
                          make_item("p2", source="pubmedqa", task="mcqa", score=None)])
    assert [i["item_id"] for i in service.list_items(QueueFilter(source="pubmedqa"))] == ["p1", "p2"]
    assert [i["item_id"] for i in service.list_items(QueueFilter(band="75 and above"))] == ["m1"]
    assert [i["item_id"] for i in service.list_items(QueueFilter(band="unscored"))] == ["p2"]
    assert len(service.list_items(QueueFilter(check="judge"))) == 3
    (rid,) = _reviewers(service, 1)
    item = service.claim_next(rid, QueueFilter(task="mcqa"))
    assert item.item_id == "p2"
    first = service.decide("p2", rid, item.version, "approve")
    item = service.claim_next(rid)
    second = service.decide(item.item_id, rid, item.version, "reject", reason="wrong term")
    assert [d.id for d in service.decisions_since(0)] == [first.id, second.id]
    assert [d.id for d in service.decisions_since(first.id)] == [second.id]
    progress = service.progress()
    assert (progress["pending"], progress["decided"], progress["approve"], progress["reject"]) == (1, 2, 1, 1)
    assert service.facets()["check"] == ["judge"]


def test_export_parquet_and_jsonl(service, tmp_path):
    service.import_items([make_item("e1"), make_item("e2")])
    (rid,) = _reviewers(service, 1)
    item = service.claim_next(rid)
    service.decide(item.item_id, rid, item.version, "edit", {**item.best_translation, "answer": "مُعدَّل <b> 500 mg"})
    assert service.export_decisions(tmp_path / "d.parquet") == 1
    frame = pl.read_parquet(tmp_path / "d.parquet")
    assert frame["action"].to_list() == ["edit"]
    assert json.loads(frame["translation"][0])["answer"] == "مُعدَّل <b> 500 mg"
    assert service.export_decisions(tmp_path / "d.jsonl") == 1
    row = json.loads((tmp_path / "d.jsonl").read_text().splitlines()[0])
    assert row["translation"]["answer"] == "مُعدَّل <b> 500 mg" and row["reviewer"] == "rev0"


def test_import_of_a_queue_file(service, tmp_path):
    """The Parquet the translation stage writes (REVIEW_SCHEMA, JSON columns as text)."""
    records = [make_item("q1"), make_item("q2")]
    rows = [{**r, **{k: json.dumps(r[k], ensure_ascii=False) for k in ("document", "attempts", "best_translation")}}
            for r in records]
    pl.DataFrame(rows, schema=REVIEW_SCHEMA, orient="row").write_parquet(tmp_path / "queue.parquet")
    assert service.import_queue(tmp_path / "queue.parquet").added == 2
    assert service.import_queue(tmp_path / "queue.parquet").unchanged == 2
    assert service.get_item("q1").failed_checks == ["judge"]
