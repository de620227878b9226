"""The real Dagster UI shows the corpus lineage graph, materialized, in a real browser.

Materializes ``build_corpus`` into a throwaway instance (the repo's dagster.yaml), starts
``dagster-webserver -w workspace.yaml`` on it, and drives Debian's Chromium with Playwright over the
``sources`` asset group's lineage page. The screenshot is kept in var/test-artifacts/ui/asset_graph.png.

Why the group page and not the global lineage (``/asset-groups``): as soon as the code location has more
than one asset group, the global view collapses every group into a single box, so no asset node is shown.
The group page only draws the nodes inside the viewport, so the test first measures the graph and then
reloads with a viewport large enough to hold all of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bimed_assets.definitions import defs
from bimed_assets.sources import SOURCES
from bimed_assets.sources.checks import CHECKS

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCATION = "bimed"
GROUP = "sources"
POOLS = ("training_pool", "evaluation_sets")
SCREENSHOT = REPO / "var" / "test-artifacts" / "ui" / "asset_graph.png"
CHECKS_PASSED = re.compile(rf"Asset checks\W*{len(CHECKS)} / {len(CHECKS)} Passed")
GRAPH = 'svg[class*="AssetGraphExplorer_svgContainer"]'
# How long the UI may take to answer or draw before the test reports what is missing. Idle, the page is drawn in
# a few seconds; the bound is far above that so that a loaded 2-core machine only makes the test slower. Waits
# end as soon as their condition holds, so the bound costs nothing when the page is fine.
UI_WAIT_S = 180

# Every node of the rendered graph (a <foreignObject> with its box) and every edge (a <path> with an arrow).
# Nodes of the group carry their name in the title's tooltip; nodes of other groups are small links whose
# text is the name.
READ_GRAPH = """() => {
  const svg = document.querySelector('svg[class*="AssetGraphExplorer_svgContainer"]');
  if (!svg) return null;
  const nodes = [...svg.querySelectorAll(':scope > foreignObject')].map(fo => {
    const title = fo.querySelector('[class*="AssetNode_assetName"] [data-tooltip]');
    return {
      name: title ? title.getAttribute('data-tooltip') : fo.textContent.trim(),
      in_group: !!title,
      text: fo.textContent,
      x: +fo.getAttribute('x'), y: +fo.getAttribute('y'),
      w: +fo.getAttribute('width'), h: +fo.getAttribute('height'),
    };
  });
  const edges = [...svg.querySelectorAll(':scope > path[marker-end]')].map(p => p.getAttribute('d'));
  return {width: +svg.getAttribute('width'), height: +svg.getAttribute('height'), nodes, edges};
}"""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post_graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=UI_WAIT_S) as response:
        body = json.load(response)
    assert "errors" not in body, body
    return body["data"]


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no output)"


def _stop(process: subprocess.Popen) -> None:
    """Stop the webserver and its code-server child (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def dagster_env(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("ui")
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    env = dict(os.environ)
    env.pop("BIMED_SOURCE_ROOT", None)  # the bundled sample
    env.update(
        DAGSTER_HOME=str(home),
        BIMED_VAR_DIR=str(root / "var"),
    )
    return env


@pytest.fixture(scope="module")
def materialized(dagster_env) -> None:
    """``make run``'s command, into the throwaway instance."""
    done = subprocess.run(
        [BIN / "dagster", "job", "execute", "-m", "bimed_assets.definitions", "-j", "build_corpus"],
        check=False,
        cwd=REPO,
        env=dagster_env,
        capture_output=True,
        text=True,
    )  # no time limit of its own: pytest's per-test limit (pyproject) bounds a stuck build
    assert done.returncode == 0, f"build_corpus failed:\n{(done.stdout + done.stderr)[-4000:]}"
    assert "of build_corpus succeeded" in done.stdout + done.stderr  # the run log's last line (run_log.py)


@pytest.fixture(scope="module")
def webserver(dagster_env, materialized, tmp_path_factory):
    """Base URL of a running ``dagster-webserver`` with the bimed code location loaded."""
    port = _free_port()
    log = tmp_path_factory.mktemp("webserver") / "webserver.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [BIN / "dagster-webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env=dagster_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        # Loading takes seconds when idle and much longer on a loaded 2-core machine; a webserver that dies is
        # reported at once, one that hangs by pytest's per-test limit.
        status = None
        while status != "LOADED":
            if process.poll() is not None:
                pytest.fail(f"dagster-webserver exited with {process.returncode}:\n{_tail(log)}")
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"{base}/server_info", timeout=5) as response:
                    assert json.load(response)["dagster_webserver_version"]
                data = _post_graphql(
                    base,
                    "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                    "locationOrLoadError { __typename ... on PythonError { message } } } } } }",
                )
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                continue
            entries = {e["name"]: e for e in data["workspaceOrError"]["locationEntries"]}
            assert set(entries) == {LOCATION}, entries
            status = entries[LOCATION]["loadStatus"]
            loaded = entries[LOCATION]["locationOrLoadError"]
            if loaded and loaded["__typename"] == "PythonError":
                pytest.fail(f"code location {LOCATION} failed to load: {loaded['message']}\n{_tail(log)}")
        # Mark the "Join the Dagster community" dialog as seen: it would cover the graph on 127.0.0.1.
        assert _post_graphql(base, "mutation { setNuxSeen }") == {"setNuxSeen": True}
        yield base
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def expected() -> dict:
    """The group's nodes and the dependency edges the page must draw, from the project's definitions."""
    graph = defs().resolve_asset_graph()
    group = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name == GROUP}
    parents = {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
        for k in graph.get_all_asset_keys()
    }
    return {"group": group, "parents": parents}


@pytest.fixture(scope="module")
def rendered(webserver, expected) -> dict:
    """What Chromium renders on the group's lineage page, fully materialized; saves the screenshot."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found (make browser)")
    sync_api = pytest.importorskip("playwright.sync_api")
    url = f"{webserver}/locations/{LOCATION}/asset-groups/{GROUP}"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(UI_WAIT_S * 1000)
            page.goto(url)
            page.wait_for_selector(f"{GRAPH} > foreignObject")
            graph = page.evaluate(READ_GRAPH)
            # Room for the whole graph beside the navigation and above-the-graph bars, then lay it out again.
            page.set_viewport_size(
                {
                    "width": max(1600, int(graph["width"]) + 450),
                    "height": max(1000, int(graph["height"]) + 250),
                }
            )
            page.reload()
            page.wait_for_selector(f"{GRAPH} > foreignObject")
            # Wait (bounded) until every node of the group is drawn, with its materialization and checks.
            deadline = time.monotonic() + UI_WAIT_S
            while True:
                graph = page.evaluate(READ_GRAPH)
                shown = {n["name"]: n["text"] for n in graph["nodes"]}
                if all("Materialized" in shown.get(name, "") for name in expected["group"]) and all(
                    CHECKS_PASSED.search(shown.get(name, "")) for name in SOURCES
                ):
                    break
                if time.monotonic() > deadline:
                    break  # the assertions report what is missing
                page.wait_for_timeout(250)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            page.screenshot(  # the top of it at full size, easier to read
                path=str(SCREENSHOT.with_name("asset_graph_top.png")),
                clip={"x": 0, "y": 0, "width": 1600, "height": 1000},
            )
        finally:
            browser.close()
    graph["url"] = url
    return graph


def _edges(graph: dict) -> set[tuple[str, str]]:
    """(upstream, downstream) names of the drawn edges: an edge leaves the right side of its upstream node
    and its arrow ends just left of the downstream node."""

    def at(x: float, y: float, side: str) -> str:
        hits = [
            n["name"]
            for n in graph["nodes"]
            if n["y"] <= y <= n["y"] + n["h"]
            and (abs(n["x"] + n["w"] - x) <= 2 if side == "right" else 0 <= n["x"] - x <= 12)
        ]
        assert len(hits) == 1, f"edge end ({x}, {y}) on the {side} of {hits}, not one node"
        return hits[0]

    pairs = set()
    for d in graph["edges"]:
        numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
        pairs.add((at(numbers[0], numbers[1], "right"), at(numbers[-2], numbers[-1], "left")))
    return pairs


def test_group_page_shows_every_asset_materialized(rendered, expected):
    assert "medqa" in SOURCES
    sources = set(SOURCES) | {f"{name}_quarantine" for name in SOURCES}
    assert expected["group"] == sources | set(POOLS)

    shown = {n["name"]: n for n in rendered["nodes"]}
    assert len(shown) == len(rendered["nodes"]), "a node is drawn twice"
    assert {name for name, n in shown.items() if n["in_group"]} == expected["group"], rendered["url"]
    for name in expected["group"]:
        assert "Never materialized" not in shown[name]["text"], name
        assert "Materialized" in shown[name]["text"], name
    for name in SOURCES:  # the blocking checks of every source ran and passed
        assert CHECKS_PASSED.search(shown[name]["text"]), shown[name]["text"]
    # Nodes outside the group are only the group's direct neighbours in other groups.
    neighbours = {
        name
        for name, parents in expected["parents"].items()
        if name not in expected["group"] and parents & expected["group"]
    } | {p for name in expected["group"] for p in expected["parents"][name]} - expected["group"]
    assert {name for name, n in shown.items() if not n["in_group"]} == neighbours
    assert SCREENSHOT.stat().st_size > 20_000


def test_group_page_draws_the_lineage(rendered, expected):
    edges = _edges(rendered)
    assert len(edges) == len(rendered["edges"]), "an edge is drawn twice"
    for source in SOURCES:
        assert (source, "training_pool") in edges
        assert (source, "evaluation_sets") in edges
    # Exactly the project's dependencies among the drawn nodes: none missing, none invented.
    drawn = {n["name"] for n in rendered["nodes"]}
    assert edges == {
        (parent, child)
        for child in drawn
        for parent in expected["parents"].get(child, set()) & drawn
        if parent in expected["group"] or child in expected["group"]
    }
    assert not {up for up, _ in edges} & {f"{name}_quarantine" for name in SOURCES}
