"""Accounts (usernames, passwords, sessions, cutting a reviewer off), edits re-checked, drafts — on SQLite and
PostgreSQL through the ``service`` fixture."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from review_samples import PASSWORD, make_item

from translation_review.service import ChecksFailed, InvalidDecision, InvalidInput, NotClaimed

RLO = "\u202e"


def test_usernames_are_a_safe_set_and_look_alikes_are_refused(service):
    service.create_reviewer("admin", PASSWORD, "admin")
    for spoof in (f"{RLO}nimda", "Admin", "аdmin", "adm in", "a", "adm1n", "adrnin", "ad.min", "admln"):
        with pytest.raises(InvalidInput, match="refused"):
            service.create_reviewer(spoof, PASSWORD)
    assert service.create_reviewer("amal", PASSWORD).username == "amal"
    assert service.create_reviewer("reviewer6", PASSWORD) and service.create_reviewer("reviewer8", PASSWORD)


@pytest.mark.parametrize("weak", ["12345678", " " * 8, " " * 16, "password1234", "amal-amal-amal", "qwertyuiopasdf"])
def test_weak_passwords_are_refused(service, weak):
    with pytest.raises(InvalidInput, match="password"):
        service.create_reviewer("amal", weak)


def test_sessions_end_on_logout_disable_reset_and_expire(service, clock):
    amal = service.create_reviewer("amal", PASSWORD)
    first, second = service.start_session(amal.id), service.start_session(amal.id)
    assert service.reviewer_for_session(first).username == "amal"
    service.end_session(first)
    assert service.reviewer_for_session(first) is None and service.reviewer_for_session(second) is not None
    assert service.end_sessions("amal", actor="root") == 1
    assert service.reviewer_for_session(second) is None

    third = service.start_session(amal.id)
    token = service.issue_token("amal")
    service.set_disabled("amal", True, actor="root")
    assert service.reviewer_for_session(third) is None and service.reviewer_for_token(token) is None
    assert service.authenticate("amal", PASSWORD) is None
    service.set_disabled("amal", False, actor="root")
    assert service.authenticate("amal", PASSWORD) is not None
    assert service.reviewer_for_token(token) is None  # disabling revoked it for good

    fourth = service.start_session(amal.id)
    service.reset_password("amal", "river-stone-lantern-9", actor="root")
    assert service.reviewer_for_session(fourth) is None and service.authenticate("amal", PASSWORD) is None

    fifth = service.start_session(amal.id)
    clock.advance(hours=12, seconds=1)  # absolute lifetime: no activity extends it
    assert service.reviewer_for_session(fifth) is None
    actions = [e["action"] for e in service.audit_log()]
    assert {"end_sessions", "disable", "enable", "reset_password"} <= set(actions)


def test_an_edit_that_changes_numbers_needs_a_confirmation_recorded_in_the_audit(service):
    service.import_items([make_item("n1", answer="Give 65 mg, then 30 mg after 6 hours.",
                                    arabic_answer="أعط 65 mg، ثم 30 mg بعد 6 ساعات.")])
    rid = service.create_reviewer("amal", PASSWORD).id
    item = service.claim_next(rid)
    edited = {**item.best_translation, "answer": "أعط 56 mg، ثم 300 mg بعد 6 ساعات."}
    with pytest.raises(ChecksFailed) as refused:
        service.decide("n1", rid, item.version, "edit", edited)
    assert {f.check for f in refused.value.failures} == {"numbers"} and "65" in str(refused.value)
    assert service.decisions_since(0) == []
    service.decide("n1", rid, item.version, "edit", edited, confirm_checks=True)
    entry = next(e for e in service.audit_log("n1") if e["action"] == "decide:edit")
    assert any("65" in failure for failure in entry["after"]["confirmed_check_failures"])


def test_invisible_characters_are_removed_from_decisions_and_an_edit_of_only_them_is_refused(service):
    service.import_items([make_item("b1", arabic_answer=f"الجرعة 5.0{RLO} mg"), make_item("b2")])
    rid = service.create_reviewer("amal", PASSWORD).id
    item = service.claim_next(rid)
    with pytest.raises(InvalidDecision, match="empty"):
        service.decide("b1", rid, item.version, "edit", {**item.best_translation, "answer": RLO})
    decision = service.decide("b1", rid, item.version, "approve")
    assert decision.translation["answer"] == "الجرعة 5.0 mg"
    entry = next(e for e in service.audit_log("b1") if e["action"] == "decide:approve")
    assert "U+202E" in entry["after"]["removed_invisible"]


def test_caps_on_edits_and_reasons(service):
    service.import_items([make_item("c1")])
    rid = service.create_reviewer("amal", PASSWORD).id
    item = service.claim_next(rid)
    with pytest.raises(InvalidInput, match="longer"):
        service.decide("c1", rid, item.version, "edit", {**item.best_translation, "answer": "ا" * 20_001})
    with pytest.raises(InvalidInput, match="longer"):
        service.decide("c1", rid, item.version, "reject", reason="x" * 2_001)
    with pytest.raises(InvalidInput, match="surrogate"):
        service.decide("c1", rid, item.version, "edit", {**item.best_translation, "answer": "\ud800"})
    with pytest.raises(InvalidInput, match="text"):
        service.decide("c1", rid, item.version, "edit", {**item.best_translation, "answer": 5})


def test_a_draft_outlives_a_lost_lease_and_goes_with_the_decision(service, clock):
    service.import_items([make_item("d1")])
    amal, huda = (service.create_reviewer(n, PASSWORD).id for n in ("amal", "huda"))
    item = service.claim_next(amal)
    draft = {**item.best_translation, "answer": "مسودة 500 mg"}
    service.save_draft("d1", amal, item.version, draft)
    clock.advance(minutes=10)
    service.renew("d1", amal)  # active: the lease runs 15 minutes from now
    clock.advance(minutes=14)
    assert service.get_item("d1").claimed_by == "amal"
    clock.advance(minutes=2)
    with pytest.raises(NotClaimed, match="draft is kept"):
        service.renew("d1", amal)
    assert service.claim_next(huda).item_id == "d1"
    assert service.get_draft("d1", amal).translation["answer"] == "مسودة 500 mg"  # lease lost, work kept
    assert service.get_draft("d1", huda) is None
    service.decide("d1", huda, item.version, "approve")
    assert service.get_draft("d1", amal) is None


def test_an_unscored_item_shows_its_best_round_with_that_rounds_feedback(service):
    record = make_item("u1", rounds=3, score=None)
    for n, attempt in enumerate(record["attempts"]):
        attempt.update(score=None, judge_score=None, chrf=None, judge_errors=[],
                       fidelity=[f"numbers: failure {k}" for k in range([10, 1, 3][n])])
    record.update(best_round=1, best_score=None, best_translation=record["attempts"][0]["translation"],
                  reasons=record["attempts"][2]["fidelity"])  # the pipeline's reasons: the last round's feedback
    service.import_items([record])
    item = service.get_item("u1")
    assert item.best_round == 2 and item.reasons == ["numbers: failure 0"]
    assert item.best_translation == record["attempts"][1]["translation"]


def test_search_and_my_decisions(service):
    service.import_items([make_item("s1", question="Which anticoagulant is enoxaparin?"), make_item("s2"),
                          make_item("s3")])
    amal, huda = (service.create_reviewer(n, PASSWORD).id for n in ("amal", "huda"))
    assert [r["item_id"] for r in service.list_items(search="ENOXAPARIN")] == ["s1"]
    assert [r["item_id"] for r in service.list_items(search="s2")] == ["s2"]
    assert service.list_items(search="100%_") == []
    for reviewer, item_id in ((amal, "s1"), (huda, "s2")):
        item = service.claim(item_id, reviewer)
        service.decide(item_id, reviewer, item.version, "approve")
    assert [r["item_id"] for r in service.list_items(status="decided", decided_by=amal)] == ["s1"]


def test_cli_cuts_a_reviewer_off(service):
    amal = service.create_reviewer("amal", PASSWORD)
    session, token = service.start_session(amal.id), service.issue_token("amal")
    url = service.engine.url.render_as_string(hide_password=False)

    def cli(*args: str, password: str = "12345678") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "translation_review", "--db", url, *args], check=False,
                              capture_output=True, text=True, env={**os.environ, "BIMED_REVIEW_PASSWORD": password})

    assert cli("end-sessions", "amal").returncode == 0 and service.reviewer_for_session(session) is None
    assert cli("revoke-token", "amal").returncode == 0 and service.reviewer_for_token(token) is None
    weak = cli("reset-password", "amal")
    assert weak.returncode == 1 and "password" in weak.stderr
    assert cli("disable", "amal").returncode == 0 and service.authenticate("amal", PASSWORD) is None
    refused = cli("add-reviewer", "arnal", password=PASSWORD)
    assert refused.returncode == 1 and "refused" in refused.stderr
