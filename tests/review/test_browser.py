"""A reviewer's round trip in headless Chromium: log in, open an item, edit the Arabic, approve, land on the
next item. The review page's screenshot is kept in var/test-artifacts/review/review_page.png."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from review_samples import PASSWORD, make_item

from translation_review.service import ReviewService
from translation_review.web.app import create_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "review" / "review_page.png"


@contextmanager
def _serving(service: ReviewService):
    """The app over ``service`` on a free port, in a thread of this process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(create_app(service, "s" * 40), host="127.0.0.1", port=port,
                                       log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(10)
        service.engine.dispose()


@pytest.fixture
def server(tmp_path):
    service = ReviewService(f"sqlite:///{tmp_path / 'review.sqlite'}")
    service.create_reviewer("amal", "amber-falcon-42-tide")
    service.import_items([
        make_item("medqa-0001", question="A 45-year-old man takes metformin 500 mg. What is the maximum daily dose?",
                  answer="The maximum dose of metformin is 2550 mg per day, given with meals.",
                  arabic_answer="الجرعة القصوى من الميتفورمين (metformin) هي 2550 mg يوميًا، تُعطى مع الوجبات.", rounds=3),
        make_item("medqa-0002"),
    ])
    with _serving(service) as base:
        yield base, service


def test_review_round_trip_in_chromium(server):
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    base, service = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.goto(f"{base}/login")
        page.fill('input[name="username"]', "amal")
        page.fill('input[name="password"]', "amber-falcon-42-tide")
        page.click("button.primary")
        page.wait_for_url(f"{base}/")
        page.keyboard.press("n")  # start reviewing
        page.wait_for_url(f"{base}/items/medqa-0001")
        answer = page.locator('textarea[name="field:answer"]')
        assert answer.get_attribute("dir") == "rtl"
        assert page.locator(".countdown").inner_text().startswith("14:") or "15:" in page.locator(".countdown").inner_text()
        assert page.locator("#edit-state").inner_text().startswith("Unchanged")
        answer.fill("الجرعة القصوى من الميتفورمين (metformin) هي 2550 mg يوميًا، مقسّمة على الوجبات.")
        assert page.locator("#edit-state").inner_text().startswith("1 field edited")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        page.locator("body").click(position={"x": 5, "y": 200})
        page.keyboard.press("a")  # approve (with the edit)
        page.wait_for_url(f"{base}/items/medqa-0002")
        assert "Saved medqa-0001 (edit)" in page.locator(".flash").inner_text()
        page.keyboard.press("n")  # skip the last one: released, and nothing else is left
        page.wait_for_url(f"{base}/")
        assert "Nothing left" in page.locator(".flash").inner_text()
        browser.close()
    decision, = service.decisions_since(0)
    assert decision.action == "edit" and "مقسّمة" in decision.translation["answer"]
    assert service.get_item("medqa-0002").claimed_by is None  # the skipped item went back to the queue


RLO = "\u202e"


def _login(page, base: str, name: str = "amal") -> None:
    page.goto(f"{base}/login")
    page.fill('input[name="username"]', name)
    page.fill('input[name="password"]', PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{base}/")


@pytest.fixture
def safety_server(tmp_path, clock):
    """A server whose clock the test moves (leases lapse without waiting)."""
    service = ReviewService(f"sqlite:///{tmp_path / 'review.sqlite'}", clock=clock)
    service.create_reviewer("amal", PASSWORD)
    service.create_reviewer("root", PASSWORD, "admin")
    service.import_items([
        make_item("bidi-1", answer="Give 5.0 mg of warfarin.", arabic_answer=f"أعط 5.0{RLO} mg من الوارفارين."),
        make_item("num-1", answer="Give 65 mg, then 30 mg.", arabic_answer="أعط 65 mg، ثم 30 mg."),
        make_item("lease-1"), make_item("stale-1"),
    ])
    with _serving(service) as base:
        yield base, service, clock


def _shot(page, name: str) -> None:
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT.with_name(name)), full_page=True)


def test_what_a_reviewer_sees_is_what_is_stored_and_typed_work_is_kept(safety_server):
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    base, service, clock = safety_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})

        # A spoofed username is refused on the admin page.
        _login(page, base, "root")
        page.goto(f"{base}/admin")
        page.evaluate("document.querySelector('input[name=username]').removeAttribute('pattern')")
        page.fill('input[name="username"]', f"{RLO}toor")
        page.fill('form[action="/admin/reviewers"] input[name="password"]', "another-long-passphrase-7")
        page.click("text=Add reviewer")
        assert "username" in page.locator(".flash").inner_text() and "refused" in page.locator(".flash").inner_text()
        page.fill('input[name="username"]', "r0ot")  # reads as "root"
        page.fill('form[action="/admin/reviewers"] input[name="password"]', "another-long-passphrase-7")
        page.click("text=Add reviewer")
        assert "reads like the existing 'root'" in page.locator(".flash").inner_text()
        page.click("text=Log out")

        # The bidi-spoofed dose renders as stored, with a visible marker, and the field is its own isolate.
        _login(page, base)
        page.goto(f"{base}/items/bidi-1")
        page.click("text=Claim this item")
        shown = page.locator(".pair .shown").first
        assert "5.0" in shown.inner_text() and "RLO" in shown.inner_text()
        marker = shown.locator("bdi.invisible")
        assert marker.get_attribute("title") == "U+202E RIGHT-TO-LEFT OVERRIDE"
        assert RLO not in page.locator('textarea[name="field:answer"]').input_value()
        assert page.locator(".invisible-note").count() == 1
        _shot(page, "bidi_marker.png")

        # An edit that changes numbers gets the fidelity warning in place; saving needs the confirmation.
        page.goto(f"{base}/items/num-1")
        page.click("text=Claim this item")
        page.locator('textarea[name="field:answer"]').fill("أعط 56 mg، ثم 300 mg.")
        page.click('button[value="approve"]')
        warning = page.locator(".check-warning")
        assert "fails the fidelity checks" in warning.inner_text()
        assert "65" in page.locator(".pair.failed .field-failure").first.inner_text()
        assert page.locator('textarea[name="field:answer"]').input_value() == "أعط 56 mg، ثم 300 mg."
        _shot(page, "check_warning.png")
        page.check('input[name="confirm_checks"]')
        page.click('button[value="approve"]')
        page.wait_for_selector(".flash")
        assert "Saved num-1 (edit)" in page.locator(".flash").inner_text()

        # A lost lease keeps the draft: typed, the lease lapses, another reviewer takes the item, save fails.
        page.goto(f"{base}/items/lease-1")
        if page.locator("text=Claim this item").count():
            page.click("text=Claim this item")
        page.locator('textarea[name="field:answer"]').fill("مسودة لن تضيع 500 mg")
        page.wait_for_selector('#edit-state[data-saved="draft saved"]', state="attached")  # the autosave
        clock.advance(minutes=16)
        huda = service.create_reviewer("huda", PASSWORD).id
        service.claim("lease-1", huda)
        page.click('button[value="approve"]')
        page.wait_for_selector(".flash")
        assert "Not saved" in page.locator(".flash").inner_text()
        assert page.locator('textarea[name="field:answer"]').input_value() == "مسودة لن تضيع 500 mg"
        assert service.get_draft("lease-1", service.authenticate("amal", PASSWORD).id) is not None
        _shot(page, "lost_lease_draft.png")

        # A stale version opens the merge view with both the reviewer's edit and the new translation.
        page.goto(f"{base}/items/stale-1")
        if page.locator("text=Claim this item").count():
            page.click("text=Claim this item")
        page.locator('textarea[name="field:answer"]').fill("تعديلي أنا 500 mg مرتين")
        service.import_items([make_item("stale-1", arabic_answer="ترجمة جديدة 500 mg", rounds=3)])
        page.click('button[value="approve"]')
        page.wait_for_selector(".merge-note")
        assert "changed since you began" in page.locator(".merge-note").inner_text()
        assert page.locator('textarea[name="field:answer"]').input_value() == "تعديلي أنا 500 mg مرتين"
        assert "جديدة" in page.locator('.pair:has(textarea[name="field:answer"]) .merge').inner_text()
        _shot(page, "merge_view.png")
        page.click('button[value="approve"]')  # saved on the new version, with the reviewer's text
        page.wait_for_selector(".flash")
        assert "Saved stale-1" in page.locator(".flash").inner_text()
        browser.close()
    decision = next(d for d in service.decisions_since(0) if d.item_id == "stale-1")
    assert decision.translation["answer"] == "تعديلي أنا 500 mg مرتين"


def test_the_negation_signal_is_visible_beside_its_field(tmp_path):
    """The reviewer sees, under the field whose translation lost the source's negation, a note to verify it;
    markup in the Arabic stays text (no script runs)."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    service = ReviewService(f"sqlite:///{tmp_path / 'review.sqlite'}")
    service.create_reviewer("amal", PASSWORD)
    service.import_items([make_item("neg-1", question="Which drug should not be given in pregnancy?",
                                    arabic_answer='500 mg مرتين <img src=x onerror="document.title=1"> يوميًا.')])
    with _serving(service) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page()
        page.goto(f"{base}/login")
        page.fill('input[name="username"]', "amal")
        page.fill('input[name="password"]', PASSWORD)
        page.click("button.primary")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/items/neg-1")
        signal = page.locator(".pair:has(textarea[name='field:question']) .field-signal")
        assert signal.is_visible() and "Verify negation: the source negates" in signal.inner_text()
        assert page.locator(".pair:has(textarea[name='field:answer']) .field-signal").count() == 0
        assert page.title() != "1" and page.locator("img[src=x]").count() == 0
        browser.close()
