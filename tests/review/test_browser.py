"""A reviewer's round trip in headless Chromium: log in, open an item, edit the Arabic, approve, land on the
next item. The review page's screenshot is kept in var/test-artifacts/review/review_page.png."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from review_samples import make_item

from translation_review.service import ReviewService
from translation_review.web.app import create_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "review" / "review_page.png"


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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(service, "s" * 40), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", service
    uv.should_exit = True
    thread.join(10)
    service.engine.dispose()


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
