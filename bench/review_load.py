"""Load benchmark of the review app: N simulated reviewers work the queue over HTTP for D seconds.

The real app (``python -m translation_review serve --workers W --threads T``) runs in a subprocess against
SQLite or a fresh PostgreSQL database. The reviewers are asyncio tasks in this process (aiohttp, one keep-alive connection each:
light enough that the client does not starve the server of the machine's cores), each logged in through the
login form with its own server-side session (cookie, and the CSRF token on writes; checked against the store on
every request), looping: claim next (the response carries the item) → read the item (the page load) → think → decide (approve,
or an edit one time in four). Think time: uniform in ``--think LO-HI`` seconds (a fixed value if one number;
0 = flat out, a stress test, not a reviewer); each reviewer starts after a random fraction of one think.

Reported: p50/p95 per request and per kind, errors, items given to two reviewers, lost decisions (acknowledged
with 200 but absent from the store, or stored with other content or another reviewer). ``--profile DIR`` attaches
py-spy to the server processes for the run and writes its raw stacks there. Not a timed test.

    .venv/bin/python bench/review_load.py --reviewers 50 --seconds 60 --think 1-5 --backend sqlite postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import aiohttp
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "review"))
from review_samples import PASSWORD, make_item

from translation_review.service import ReviewService

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

ADMIN_URL = os.environ.get("BIMED_TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(port: int, server: subprocess.Popen, log) -> None:
    for _ in range(300):
        if server.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the server exited: {log.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


class Reviewers:
    """The simulated team and what it observed."""

    def __init__(self, base: str, names: list[str], seconds: float, think: tuple[float, float]):
        self.base, self.names, self.seconds, self.think = base, names, seconds, think
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.given: dict[str, set[int]] = defaultdict(set)
        self.acknowledged: dict[str, tuple[str, str | None]] = {}  # item → (reviewer, edited answer)

    def _think(self) -> float:
        return random.uniform(*self.think)

    async def _call(self, http: aiohttp.ClientSession, kind: str, method: str, path: str, **kw):
        start = time.perf_counter()
        try:
            async with http.request(method, self.base + path, **kw) as response:
                status = response.status
                json = response.content_type == "application/json"
                body = await response.json() if status == 200 and json else await response.text()
        except aiohttp.ClientError as exc:  # counted, not fatal: a dropped connection is an error too
            status, body = 599, repr(exc)
        self.latencies[kind].append((time.perf_counter() - start) * 1000)
        if status >= 400:
            self.errors.append(f"{kind} {status} {str(body)[:120]}")
        return status, body

    async def reviewer(self, n: int, logged_in: asyncio.Barrier) -> None:
        connector = aiohttp.TCPConnector(limit=1)  # one browser, one keep-alive connection
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                         timeout=aiohttp.ClientTimeout(total=60)) as http:
            # A team logs in once at the start of a shift: the logins (argon2, ~0.1 s of CPU each) happen
            # before the measured window, and are reported on their own.
            await self._login(http, self.names[n])
            await logged_in.wait()
            self.started = self.started or time.monotonic()
            stop = self.started + self.seconds
            await asyncio.sleep(random.uniform(0, 1) * self._think())
            done = 0
            while time.monotonic() < stop:
                status, item = await self._call(http, "claim", "POST", "/api/claims/next", json={})
                if status != 200:
                    await asyncio.sleep(0.2)
                    continue
                self.given[item["item_id"]].add(n)
                await self._call(http, "read", "GET", f"/api/items/{item['item_id']}")
                await asyncio.sleep(self._think())
                body, answer = {"version": item["version"], "action": "approve"}, None
                if done % 4 == 3:
                    answer = f"تعديل {n}-{done}: 500 mg"
                    body = {**body, "action": "edit", "translation": {**item["best_translation"], "answer": answer}}
                status, decision = await self._call(http, "decide", "POST",
                                                    f"/api/items/{item['item_id']}/decision", json=body)
                if status == 200:
                    self.acknowledged[decision["item_id"]] = (f"load{n}", answer)
                done += 1

    async def _login(self, http: aiohttp.ClientSession, name: str) -> None:
        """As a browser does: the login form (CSRF token, name, password), then the queue page for the session's
        CSRF token, which every API write of a cookie session sends."""
        _, page = await self._call(http, "login", "GET", "/login")
        form = {"csrf_token": _CSRF.search(page).group(1), "username": name, "password": PASSWORD}
        _, page = await self._call(http, "login", "POST", "/login", data=form)
        http.headers["X-CSRF-Token"] = _CSRF.search(page).group(1)  # the queue page, after the redirect

    async def run(self) -> float:
        """Seconds of the measured window (after every reviewer has logged in)."""
        self.started = 0.0
        logged_in = asyncio.Barrier(len(self.names))
        await asyncio.gather(*(self.reviewer(n, logged_in) for n in range(len(self.names))))
        return time.monotonic() - self.started


def run(url: str, reviewers: int, seconds: float, items: int, think: tuple[float, float], workers: int,
        server_args: list[str], profile: Path | None, label: str) -> dict:
    service = ReviewService(url)
    service.import_items(make_item(f"load-{n:06d}", source=("medqa", "pubmedqa")[n % 2]) for n in range(items))
    names = [service.create_reviewer(f"load{n}", PASSWORD).username for n in range(reviewers)]
    port = _port()
    env = {**os.environ, "BIMED_REVIEW_SECRET": uuid.uuid4().hex * 2}
    with tempfile.TemporaryFile() as log:  # not a pipe: a full pipe would stall the server
        server = subprocess.Popen([sys.executable, "-m", "translation_review", "--db", url, "serve", "--port",
                                   str(port), "--workers", str(workers), *server_args], env=env, stdout=subprocess.DEVNULL,
                                  stderr=log)
        spy = None
        try:
            _wait_until_up(port, server, log)
            time.sleep(2)  # let every worker finish starting
            if profile:
                profile.mkdir(parents=True, exist_ok=True)
                spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
                                        str(server.pid), "--subprocesses", "--rate", "50", "--duration",
                                        str(int(seconds)), "--format", "raw", "--output", str(profile / f"{label}.txt")],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            team = Reviewers(f"http://127.0.0.1:{port}", names, seconds, think)
            elapsed = asyncio.run(team.run())
        finally:
            if spy:
                spy.wait(30)
            server.terminate()
            server.wait(30)
    stored = {d.item_id: d for d in service.decisions_since(0, limit=10**9)}
    doubles = [item_id for item_id, who in team.given.items() if len(who) > 1]
    double_sample = [(item_id, sorted(team.given[item_id]),
                      [(e["actor"], e["action"], str(e["at"])) for e in reversed(service.audit_log(item_id))])
                     for item_id in doubles[:3]]
    service.engine.dispose()
    lost = sum(1 for item_id, (who, answer) in team.acknowledged.items()
               if item_id not in stored or stored[item_id].reviewer != who
               or (answer is not None and (stored[item_id].translation or {}).get("answer") != answer))
    # A login (argon2, once a session) is reported on its own: the work of a reviewer is the rest.
    everything = [v for kind, values in team.latencies.items() if kind != "login" for v in values]

    def pct(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else float("nan")

    return {"requests": len(everything), "rps": len(everything) / elapsed, "decisions": len(stored),
            "p50": pct(everything, 50), "p95": pct(everything, 95),
            **{f"p95_{k}": pct(team.latencies[k], 95) for k in ("claim", "read", "decide", "login")},
            "errors": len(team.errors), "error_sample": team.errors[:3],
            "double_assigned": len(doubles), "double_sample": double_sample, "lost": lost}


def _think(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--think", default="1-5", help="seconds on an item: LO-HI uniform, or one value (0: flat out)")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--threads", type=int, default=8, help="server threads per process (serve --threads)")
    parser.add_argument("--backend", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"])
    parser.add_argument("--profile", type=Path, help="write py-spy raw stacks of the server here")
    args = parser.parse_args()
    think = _think(args.think)
    for backend in args.backend:
        common = (args.reviewers, args.seconds, args.items, think, args.workers, ["--threads", str(args.threads)],
                  args.profile, backend)
        if backend == "sqlite":
            result = run(f"sqlite:///{Path(tempfile.mkdtemp()) / 'review.sqlite'}", *common)
        else:
            name = f"bimed_review_load_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            try:
                result = run(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", *common)
            finally:
                with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                    admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
        print(f"{backend}: " + ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                                         for k, v in result.items()), flush=True)
        print(f"| {backend} | {args.think} s | {args.workers} × {args.threads} | {result['rps']:.1f} | {result['p50']:.1f} | "
              f"{result['p95']:.1f} | {result['p95_claim']:.0f} / {result['p95_read']:.0f} / "
              f"{result['p95_decide']:.0f} | {result['errors']} | {result['double_assigned']} | {result['lost']} |",
              flush=True)


if __name__ == "__main__":
    main()
