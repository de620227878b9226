"""Over real HTTP: logout and an admin's revocation end a session and a token at once in every server process
(two ``serve`` processes on one store, SQLite and PostgreSQL); every class of malformed input answers 4xx."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient
from review_samples import PASSWORD, make_item

from translation_review.service import ReviewService
from translation_review.web.app import MAX_BODY, create_app

SECRET = "p" * 40
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def _server(url: str):
    """One ``serve`` process (its own port) on the store at ``url``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "BIMED_REVIEW_SECRET": SECRET}
    process = subprocess.Popen([sys.executable, "-m", "translation_review", "--db", url, "serve", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/login", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(30)


def _login(client: httpx.Client, name: str = "amal") -> str:
    token = CSRF.search(client.get("/login").text).group(1)
    assert client.post("/login", data={"csrf_token": token, "username": name, "password": PASSWORD}).status_code == 303
    return CSRF.search(client.get("/").text).group(1)


def test_logout_and_revocation_take_effect_at_once_across_processes(db_url):
    service = ReviewService(db_url)
    service.create_reviewer("amal", PASSWORD)
    service.create_reviewer("root", PASSWORD, "admin")
    service.import_items([make_item("h1")])
    amal_token, root_token = service.issue_token("amal"), service.issue_token("root")
    service.engine.dispose()
    with _server(db_url) as a, _server(db_url) as b:
        browser = httpx.Client(base_url=a, timeout=30)
        csrf = _login(browser)
        copied = httpx.Client(base_url=b, cookies=browser.cookies, timeout=30)  # the cookie, stolen
        assert copied.get("/api/me").json()["username"] == "amal"
        assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 303
        assert copied.get("/api/me").status_code == 401  # the other process knows at once
        assert copied.get("/", follow_redirects=False).headers["location"] == "/login"

        browser = httpx.Client(base_url=a, timeout=30)
        _login(browser)
        assert browser.get("/api/me").status_code == 200
        assert httpx.get(f"{a}/api/me", headers={"Authorization": f"Bearer {amal_token}"}).status_code == 200
        admin = {"Authorization": f"Bearer {root_token}"}
        revoked = httpx.post(f"{b}/api/admin/reviewers/amal/revoke", headers=admin, timeout=30)
        assert revoked.status_code == 200 and revoked.json()["sessions_ended"] == 1
        assert browser.get("/api/me").status_code == 401
        assert httpx.get(f"{a}/api/me", headers={"Authorization": f"Bearer {amal_token}"}).status_code == 401

        browser = httpx.Client(base_url=a, timeout=30)
        _login(browser)
        assert httpx.post(f"{b}/api/admin/reviewers/amal/disable", headers=admin, timeout=30).status_code == 200
        assert browser.get("/api/me").status_code == 401
        fresh = httpx.Client(base_url=a, timeout=30)
        token = CSRF.search(fresh.get("/login").text).group(1)
        refused = fresh.post("/login", data={"csrf_token": token, "username": "amal", "password": PASSWORD})
        assert refused.status_code == 401


@pytest.fixture
def client(tmp_path):
    service = ReviewService(f"sqlite:///{tmp_path / 'review.sqlite'}")
    service.create_reviewer("amal", PASSWORD)
    service.import_items([make_item("m1")])
    client = TestClient(create_app(service, SECRET), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {service.issue_token('amal')}"
    yield client
    service.engine.dispose()


def test_every_malformed_input_class_answers_4xx(client):
    item = client.post("/api/claims/next", json={}).json()
    decision = f"/api/items/{item['item_id']}/decision"
    version = item["version"]
    edit = {**item["best_translation"]}
    cases = {
        "bad UTF-8 JSON": client.post(decision, content=b'{"version": 1, "action": "reject", "reason": "\xff\xfe"}',
                                      headers={"Content-Type": "application/json"}),
        "lone surrogate": client.post(decision, content=b'{"version": %d, "action": "edit", "translation": '
                                      b'{"question": "\\ud800", "answer": "x"}}' % version,
                                      headers={"Content-Type": "application/json"}),
        "surrogate in a reason": client.post(decision, content=b'{"version": %d, "action": "reject", '
                                             b'"reason": "\\udc00"}' % version,
                                             headers={"Content-Type": "application/json"}),
        "unknown field": client.post(decision, json={"version": version, "action": "approve", "admin": True}),
        "wrong type in the translation": client.post(decision, json={"version": version, "action": "edit",
                                                                     "translation": {**edit, "answer": 5}}),
        "unknown field in the translation": client.post(decision, json={"version": version, "action": "edit",
                                                                        "translation": {**edit, "x": "y"}}),
        "oversized edit": client.post(decision, json={"version": version, "action": "edit",
                                                      "translation": {**edit, "answer": "ا" * 30_000}}),
        "oversized reason": client.post(decision, json={"version": version, "action": "reject", "reason": "x" * 3000}),
        "10 MB body": client.post(decision, content=b"{" + b" " * (10 * MAX_BODY) + b"}",
                                  headers={"Content-Type": "application/json"}),
        "negative limit": client.get("/api/items?limit=-1"),
        "huge limit": client.get("/api/items?limit=100000000"),
        "negative offset": client.get("/api/items?offset=-5"),
        "unknown band": client.get("/api/items?band=nope"),
        "unknown query parameter": client.get("/api/items?sourse=medqa"),
        "negative cursor": client.get("/api/decisions?since=-1"),
        "not JSON": client.post(decision, content=b"version=1", headers={"Content-Type": "application/json"}),
    }
    for name, response in cases.items():
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:200])
        assert response.json()["detail"], name
    assert client.get("/api/progress").json()["decided"] == 0  # nothing was written


def test_malformed_forms_answer_4xx(tmp_path):
    service = ReviewService(f"sqlite:///{tmp_path / 'review.sqlite'}")
    service.create_reviewer("amal", PASSWORD)
    service.import_items([make_item("f1")])
    client = TestClient(create_app(service, SECRET), raise_server_exceptions=False)
    token = CSRF.search(client.get("/login").text).group(1)
    client.post("/login", data={"csrf_token": token, "username": "amal", "password": PASSWORD})
    csrf = CSRF.search(client.get("/").text).group(1)
    client.post("/next", data={"csrf_token": csrf})
    page = client.get("/items/f1").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    base = {"csrf_token": csrf, "version": version, "action": "approve"}
    for odd in ({"field:question.x": "y"}, {"field:__class__": "y"}, {"field:turns.9.content": "y"},
                {"version": "abc"}):
        response = client.post("/items/f1/decide", data={**base, **odd}, follow_redirects=False)
        assert response.status_code < 500, (odd, response.status_code)
    surrogate = client.post("/items/f1/decide", content=f"csrf_token={csrf}&field%3Aanswer=%ED%A0%80".encode(),
                            headers={"Content-Type": "application/x-www-form-urlencoded"}, follow_redirects=False)
    assert surrogate.status_code < 500
    assert service.progress()["decided"] == 0
    service.engine.dispose()


def test_headers_on_every_response(client):
    for path in ("/login", "/api/me", "/docs", "/openapi.json"):
        response = client.get(path, follow_redirects=False)
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        assert response.headers["cache-control"] == "no-store", path
    assert "no-store" not in client.get("/static/review.css").headers.get("cache-control", "")
    docs = client.get("/docs")
    assert docs.status_code in (200, 303)


def test_hsts_with_https_only(tmp_path):
    service = ReviewService(f"sqlite:///{tmp_path / 'review.sqlite'}")
    response = TestClient(create_app(service, SECRET, https_only=True)).get("/login")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in TestClient(create_app(service, SECRET)).get("/login").headers
    service.engine.dispose()
