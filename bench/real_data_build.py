"""The whole ``build_corpus`` job on every real file in ``../shared/data/real`` (or ``--data``), as a user runs it.

Sources come from the project settings (``BIMED_SOURCE_ROOT`` = the data folder; a source whose files are not
there is left out with a note), the LLM endpoint is the project's own OpenAI-compatible test server over real
HTTP (``bimed_assets.llm.test_server`` with the pipeline's responder: model-free chats and translations), and the
run is the job's own (every asset, every check, write-audit-publish of the corpus). Written down: wall time, peak
RSS, what each source kept, quarantined or left out, the corpus's published version and checks; then the same job
again on the unchanged files, as the nightly schedule runs it: the requests it made (none expected) and its wall.

    flock -s /tmp/bimed-quiet.lock .venv/bin/python bench/real_data_build.py --write

It is a functional run more than a benchmark: on the shared 2-core machine it runs under the shared lock, beside
other tests, so its wall time says how long a user waits, not a figure to compare.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "real_data_build.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("BIMED_REAL_DATA", str(ROOT.parent / "shared/data/real")))
    parser.add_argument("--write", action="store_true", help=f"write the results to {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bimed-real-"))
    from bimed_assets.chats.responder import ChatResponder
    from bimed_assets.llm.test_server import OpenAITestServer, ServerConfig

    server = OpenAITestServer(ServerConfig(responder=ChatResponder())).start()
    os.environ.update({"BIMED_SOURCE_ROOT": str(Path(args.data).resolve()), "BIMED_VAR_DIR": str(work / "var"),
                       "BIMED_LLM_BASE_URL": server.url, "BIMED_REVIEW_DB": f"sqlite:///{work / 'review.sqlite'}"})
    for name in ("BIMED_CONFIG", "BIMED_LLM_API_KEY"):
        os.environ.pop(name, None)
    import dagster as dg

    from bimed_assets.definitions import defs
    from bimed_assets.sources import SOURCES

    job = defs().resolve_job_def("build_corpus")
    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    wall = time.perf_counter() - started
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    requests = server.stats().received.total()
    started = time.perf_counter()
    rebuild = job.execute_in_process(instance=instance, raise_on_error=False)
    rebuild_wall = time.perf_counter() - started
    rebuild_requests = server.stats().received.total() - requests
    server.stop()

    def meta(node: str) -> dict:
        events = result.asset_materializations_for_node(node)
        return {k: v.value for k, v in events[0].metadata.items()} if events else {}

    lines = [(f"- job success: **{result.success}**; wall {wall:.0f} s (one process, 2 cores shared), peak RSS "
             f"{peak_gib:.1f} GiB; {requests:,} requests to the test server"), "",
             "| source | read | kept | quarantined | note |", "|---|---|---|---|---|"]
    for name in SOURCES:
        m = meta(name)
        lines.append(f"| {name} | {m.get('read', 0):,} | {m.get('kept', 0):,} | {m.get('quarantined', 0):,} | "
                     f"{'left out: ' + m['left_out'] if 'left_out' in m else ''} |")
    corpus = meta("bimed_corpus")
    checks = [(c.check_name, c.passed, c.severity.value) for c in result.get_asset_check_evaluations()
              if c.asset_key == dg.AssetKey("bimed_corpus")]
    lines += ["", (f"- corpus: published **{corpus.get('published')}**, version `{corpus.get('version')}`, "
              f"{corpus.get('dagster/row_count', 0):,} records; left out by the mix: {corpus.get('left_out_by_mix')}; "
              f"removed: {corpus.get('removed_by_reason')}; sources left out: {corpus.get('left_out_sources')}"),
              "- corpus checks: " + ", ".join(f"{n} {'pass' if p else 'FAIL'} ({s})" for n, p, s in checks)]
    failed_steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    if failed_steps:
        lines.append(f"- failed steps: {failed_steps}")
    rebuilt = {e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
               for e in rebuild.get_asset_materialization_events()}
    walked = {name: (meta["items_walked"].value, meta["items_reused"].value) for name, meta in rebuilt.items()
              if "items_walked" in meta}
    lines.append(f"- unchanged rebuild (the same job again, same instance and cache): success **{rebuild.success}**, "
                 f"**{rebuild_requests:,} requests** to the test server, wall {rebuild_wall:.0f} s; items walked / "
                 "kept from the first build: " + ", ".join(f"{name} {w:,} / {r:,}" for name, (w, r) in walked.items()))
    report = "\n".join(lines)
    print(report)
    if args.write:
        RESULTS.write_text(
            "# The whole build_corpus job on the real files\n\n"
            f"`flock -s /tmp/bimed-quiet.lock .venv/bin/python bench/real_data_build.py --write` on "
            f"`{args.data}` ({time.strftime('%Y-%m-%d', time.gmtime())}), 2-core machine shared with other tests "
            "(the wall time is indicative: what a user waits, not a benchmark figure).\n\n" + report + "\n",
            encoding="utf-8")
    return 0 if result.success and corpus.get("published") and rebuild.success and rebuild_requests == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
