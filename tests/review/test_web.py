"""The web app over the real service (SQLite): login, CSRF, escaping, roles, rate limit, the JSON API."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from review_samples import make_item

from translation_review.service import ReviewService
from translation_review.web import api, pages
from translation_review.web.app import create_app
from translation_review.web.security import LoginLimiter

SECRET = "x" * 40
XSS_EN = '<script>alert("en")</script><img src=x onerror=alert(1)>'
XSS_AR = 'الجرعة <script>alert("ar")</script> <b onmouseover="x()">٥٠٠</b>'


@pytest.fixture
def service(tmp_path):
    svc = ReviewService(f"sqlite:///{tmp_path / 'review.sqlite'}")
    svc.create_reviewer("amal", "amber-falcon-42-tide")
    svc.create_reviewer("root", "amber-falcon-42-tide", "admin")
    svc.import_items([make_item("x1", question=XSS_EN, arabic_answer=XSS_AR), make_item("x2")])
    yield svc
    svc.engine.dispose()


@pytest.fixture
def app(service):
    return create_app(service, SECRET, limiter=LoginLimiter(failures=3, window=60))


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client: TestClient, username: str = "amal", password: str = "amber-falcon-42-tide"):
    token = _csrf(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       follow_redirects=False)


def test_everything_needs_a_login(app):
    client = TestClient(app)
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/items/x1", follow_redirects=False).status_code == 303
    assert client.get("/admin", follow_redirects=False).status_code == 303
    assert client.get("/api/items").status_code == 401
    assert client.post("/api/claims/next", json={}).status_code == 401
    assert client.get("/api/items", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_login_review_and_decide(app, service):
    client = TestClient(app)
    assert login(client).status_code == 303
    queue = client.get("/")
    assert "x1" in queue.text and "x2" in queue.text
    opened = client.post("/next", data={"csrf_token": _csrf(queue.text)}, follow_redirects=True)
    assert opened.url.path == "/items/x1" and 'dir="rtl"' in opened.text and "lease" in opened.text
    page = opened.text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    done = client.post("/items/x1/decide", data={"csrf_token": _csrf(page), "version": version, "action": "approve",
                                                  "field:answer": "نص مُعدَّل 500 mg"}, follow_redirects=True)
    assert done.url.path == "/items/x2"  # lands on the next item
    decision = service.decisions_since(0)[0]
    assert (decision.action, decision.translation["answer"]) == ("edit", "نص مُعدَّل 500 mg")


def test_payloads_are_escaped_in_english_and_arabic(app):
    client = TestClient(app)
    login(client)
    page = client.get("/items/x1").text
    assert "<script>alert" not in page and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;alert(&#34;en&#34;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#34;ar&#34;)&lt;/script&gt;" in page
    assert '<b onmouseover' not in page
    assert "script-src 'self'" in client.get("/items/x1").headers["content-security-policy"]


def test_forms_need_the_csrf_token(app, service):
    client = TestClient(app)
    login(client)
    assert client.post("/next", data={}).status_code == 403
    assert client.post("/next", data={"csrf_token": "forged"}).status_code == 403
    # the same holds for cookie-authenticated API writes
    assert client.post("/api/claims/next", json={}).status_code == 403
    token = _csrf(client.get("/").text)
    assert client.post("/api/claims/next", json={}, headers={"X-CSRF-Token": token}).status_code == 200
    # and for the login form
    assert TestClient(app).post("/login", data={"username": "amal", "password": "amber-falcon-42-tide"}).status_code == 403


def test_reviewers_cannot_reach_admin(app, service):
    client = TestClient(app)
    login(client)
    assert client.get("/admin").status_code == 403
    assert client.get("/api/admin/reviewers").status_code == 403
    token = _csrf(client.get("/").text)
    assert client.post("/admin/reviewers", data={"csrf_token": token, "username": "eve", "password": "amber-falcon-42-tide",
                                                 "role": "admin"}).status_code == 403
    admin = TestClient(app)
    login(admin, "root")
    assert "amal" in admin.get("/admin").text
    assert admin.get("/api/admin/reviewers").status_code == 200


def test_login_attempts_are_throttled_without_locking_the_user_out(service):
    app = create_app(service, SECRET, limiter=LoginLimiter(failures=3, window=60, address_failures=20))
    attacker = TestClient(app, client=("203.0.113.9", 5000))
    for _ in range(3):
        assert login(attacker, password="wrong-password").status_code == 401
    assert login(attacker).status_code == 429  # this name from this address, until the window passes
    for _ in range(17):  # 20 failures from the address in all
        assert login(attacker, "root", password="wrong-password").status_code in (401, 429)
    assert login(TestClient(app, client=("203.0.113.9", 5001)), "root").status_code == 429  # the address is
    # blocked; the user is not: a login from another address works at once
    assert login(TestClient(app, client=("198.51.100.7", 5000))).status_code == 303
    # and a forged X-Forwarded-For does not change the address the throttle counts
    spoofed = TestClient(app, client=("203.0.113.9", 5002), headers={"X-Forwarded-For": "192.0.2.1"})
    assert login(spoofed).status_code == 429


def test_api_with_a_token(app, service):
    client = TestClient(app, headers={"Authorization": f"Bearer {service.issue_token('amal')}"})
    item = client.post("/api/claims/next", json={"source": "medqa"}).json()
    other = ReviewService(service.engine, migrate=False)
    other.import_items([make_item(item["item_id"], arabic_answer="أحدث", rounds=3)])  # re-translated meanwhile
    stale = client.post(f"/api/items/{item['item_id']}/decision", json={"version": item["version"], "action": "approve"})
    assert stale.status_code == 409 and stale.json()["error"] == "StaleVersion"
    fresh = client.get(f"/api/items/{item['item_id']}").json()
    ok = client.post(f"/api/items/{item['item_id']}/decision", json={"version": fresh["version"], "action": "approve"})
    assert ok.status_code == 200
    assert [d["item_id"] for d in client.get("/api/decisions?since=0").json()] == [item["item_id"]]
    assert client.get("/api/progress").json()["decided"] == 1
    assert "/api/claims/next" in client.get("/openapi.json").json()["paths"]


# -- the security list, route by route ---------------------------------------------------------------------

# And the /static mount (style sheet and script, no data). Logging out needs only the CSRF token (tested below).
PUBLIC = {"/login", "/logout"}


def _routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route of the app, path parameters filled with an existing item."""
    out = []
    for route in [*pages.router.routes, *api.router.routes, *app.routes]:
        methods = getattr(route, "methods", None)
        if methods is None or route.path in PUBLIC:
            continue
        out += [(m, route.path.replace("{item_id}", "x1")) for m in sorted(methods - {"HEAD"})]
    return out


def test_every_page_and_api_call_needs_a_session_or_token(app):
    routes = _routes(app)
    assert ("GET", "/docs") in routes and ("POST", "/api/items/x1/decision") in routes  # the list is the app's
    client = TestClient(app)
    for method, path in routes:
        response = client.request(method, path, follow_redirects=False)
        if path.startswith("/api") or path == "/openapi.json":
            assert response.status_code == 401, (method, path)
        else:
            assert (response.status_code, response.headers.get("location")) == (303, "/login"), (method, path)


def test_every_form_needs_the_csrf_token(app):
    client = TestClient(app)
    login(client, "root")  # an admin, so that the admin forms are reached too
    forms = [(m, p) for m, p in _routes(app) if m == "POST" and not p.startswith("/api")]
    assert ("POST", "/admin/reviewers") in forms and ("POST", "/items/x1/decide") in forms
    for method, path in forms:
        assert client.request(method, path, data={"csrf_token": "forged"}).status_code == 403, path
        assert client.request(method, path, data={}).status_code == 403, path
    assert client.post("/logout", data={}).status_code == 403
    assert TestClient(app).post("/login", data={"username": "root", "password": "amber-falcon-42-tide"}).status_code == 403


def test_reviewers_cannot_reach_any_admin_function(app, service):
    admin_routes = [(m, p) for m, p in _routes(app) if "/admin" in p]
    assert len(admin_routes) >= 4
    by_session = TestClient(app)
    login(by_session)
    csrf = _csrf(by_session.get("/").text)
    by_token = TestClient(app, headers={"Authorization": f"Bearer {service.issue_token('amal')}"})
    for method, path in admin_routes:
        kw = {"data": {"csrf_token": csrf}} if method == "POST" and not path.startswith("/api") else {}
        if method == "POST" and path.startswith("/api"):
            kw = {"json": {"username": "eve", "password": "amber-falcon-42-tide", "role": "admin"},
                  "headers": {"X-CSRF-Token": csrf}}
        assert by_session.request(method, path, **kw).status_code == 403, (method, path)
        if path.startswith("/api"):
            assert by_token.request(method, path, **{k: v for k, v in kw.items() if k == "json"}).status_code == 403
    assert "eve" not in [r["username"] for r in service.reviewers()]


_RAW_TAG = re.compile(r"<(?!/?(?:bdi|del|ins)\b)[^>]*\bon\w+\s*=|<img|<iframe", re.IGNORECASE)


def _own_scripts_only(html: str) -> None:
    assert html.count("<script") == 1 and '<script src="/static/review.js" defer>' in html
    assert not _RAW_TAG.search(html), _RAW_TAG.search(html).group()


def test_llm_feedback_round_diffs_and_names_are_escaped(app, service):
    """The text that reaches the page through the hand-built markup (bidi isolation, word diffs) and the admin
    tables: judge feedback, fidelity messages and every round's Arabic come from an LLM, usernames from people."""
    record = make_item("x3", rounds=3)
    record["attempts"][0]["fidelity"] = [f"numbers: {XSS_EN}"]
    record["attempts"][1]["translation"]["answer"] = XSS_AR
    record["attempts"][2]["translation"]["answer"] = XSS_AR.replace("٥٠٠", '<iframe src="//evil">')
    record["attempts"][2]["judge_errors"] = [XSS_AR, XSS_EN]
    record["reasons"] = record["attempts"][2]["judge_errors"]
    record["best_translation"] = record["attempts"][2]["translation"]
    service.import_items([record])
    admin = TestClient(app)
    login(admin, "root")
    page = admin.get("/items/x3").text
    assert "<del>" in page or "<ins>" in page  # the round diff is rendered, around escaped words
    assert "&lt;iframe" in page and "&lt;script&gt;alert(&#34;ar&#34;)" in page
    for html in (page, admin.get("/").text, admin.get("/admin").text):
        _own_scripts_only(html)


def test_a_replaced_token_stops_working_at_once(app, service):
    old = service.issue_token("amal")
    assert TestClient(app).get("/api/me", headers={"Authorization": f"Bearer {old}"}).status_code == 200
    new = service.issue_token("amal")
    assert TestClient(app).get("/api/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert TestClient(app).get("/api/me", headers={"Authorization": f"Bearer {new}"}).json()["username"] == "amal"


def test_the_cookie_secret_comes_from_the_environment(service, monkeypatch):
    monkeypatch.delenv("BIMED_REVIEW_SECRET", raising=False)
    with pytest.raises(RuntimeError, match="BIMED_REVIEW_SECRET"):
        create_app(service)
    monkeypatch.setenv("BIMED_REVIEW_SECRET", "short")
    with pytest.raises(RuntimeError):
        create_app(service)
    monkeypatch.setenv("BIMED_REVIEW_SECRET", "k" * 40)
    assert TestClient(create_app(service)).get("/login").status_code == 200


def test_serve_with_two_worker_processes(tmp_path):
    """``serve --workers 2``: each process builds its app from the environment, on the same store."""
    url = f"sqlite:///{tmp_path / 'review.sqlite'}"
    service = ReviewService(url)
    service.create_reviewer("amal", "amber-falcon-42-tide")
    service.import_items([make_item("w1"), make_item("w2")])
    token = service.issue_token("amal")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "BIMED_REVIEW_SECRET": "w" * 40}
    server = subprocess.Popen([sys.executable, "-m", "translation_review", "--db", url, "serve", "--port", str(port),
                               "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 60
        while True:
            try:
                claimed = httpx.post(f"http://127.0.0.1:{port}/api/claims/next", json={}, headers=headers, timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
                time.sleep(0.2)
        assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "amal"
        item = claimed.json()
        decided = httpx.post(f"http://127.0.0.1:{port}/api/items/{item['item_id']}/decision", headers=headers,
                             json={"version": item["version"], "action": "approve"}, timeout=5)
        assert decided.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=False).headers["location"] == "/login"
    finally:
        server.terminate()
        server.wait(30)
    assert [d.item_id for d in service.decisions_since(0)] == [item["item_id"]]


def test_the_negation_signal_is_shown_to_the_reviewer_escaped(service):
    """A negation in the source that the shown translation lacks is flagged beside the field, as something to
    verify (not a failed check); the field's untrusted text stays escaped."""
    item = make_item("neg", question="Which drug should not be given in pregnancy?",
                     arabic_answer='500 mg مرتين <img src=x onerror=alert(1)> يوميًا.')
    service.import_items([item])
    client = TestClient(create_app(service, SECRET, limiter=LoginLimiter(failures=3, window=60)))
    login(client)
    page = client.get("/items/neg").text
    signal = re.search(r'<p class="field-signal"[^>]*>(.*?)</p>', page, re.DOTALL)
    assert signal and "Verify negation: the source negates" in signal.group(1)
    question = page.index('name="field:question"')
    assert page.index('class="field-signal"') > question  # under the question, whose translation lost it
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "field-signal" not in client.get("/items/x2").text  # nothing to verify there
