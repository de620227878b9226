"""`make run` after the install: the main job on the bundled sample, before and after, side by side in one run.

What is timed is the command `make run` runs once the venv exists, from its start to its exit, in a fresh Dagster
home and output folder each time (as on a fresh clone): `dg launch --job build_corpus` for this tree, and the
command of the revision compared against (by default a3ff26f, `dagster job execute ... -j build_corpus` with one
process per step). Both are checked out from git (committed code only: `--after`, default HEAD) into a temporary
folder and run with the same venv. The two alternate, so
that drift in the machine's load hits both; each prints its wall time, and the medians and their ratio are written
to bench/results/sample_build.md.

    python bench/sample_build.py --repeats 3 [--before a3ff26f] [--after HEAD]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = REPO / "bench" / "results" / "sample_build.md"


def checkout(revision: str, into: Path) -> Path:
    into.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def build_once(tree: Path, command: list[str], work: Path) -> float:
    """Wall seconds of one sample build of ``tree`` into an empty home and output folder."""
    home, var = work / "dagster_home", work / "var"
    home.mkdir(parents=True)
    shutil.copyfile(tree / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIMED_")}  # the bundled sample, defaults
    env.update(DAGSTER_HOME=str(home), BIMED_VAR_DIR=str(var), PYTHONPATH=str(tree), VIRTUAL_ENV=str(BIN.parent),
               DAGSTER_COMPUTE_LOGS_DIR=str(home / "logs"))  # the old dagster.yaml reads the latter
    started = time.perf_counter()
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0 or not (var / "corpus" / "bimed_corpus.parquet").exists():
        raise SystemExit(f"build of {tree} failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", default="a3ff26f", help="the revision compared against")
    parser.add_argument("--after", default="HEAD", help="the revision measured")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sample-build-") as tmp:
        tmp = Path(tmp)
        before_tree = checkout(args.before, (tmp / "before"))
        after_tree = checkout(args.after, (tmp / "after"))
        variants = {
            f"before ({args.before}, one process per step)":
                (before_tree, [str(BIN / "dagster"), "job", "execute", "-m", "bimed_assets.definitions",
                               "-j", "build_corpus"]),
            f"after ({args.after}, in-process on the sample)":
                (after_tree, [str(BIN / "dg"), "launch", "--job", "build_corpus"]),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for repeat in range(args.repeats):
            for name, (tree, command) in variants.items():
                took = build_once(tree, command, tmp / f"run-{repeat}-{len(times[name])}-{name[:5]}")
                times[name].append(took)
                print(f"{name}: {took:.1f} s", flush=True)

    medians = {name: statistics.median(values) for name, values in times.items()}
    before, after = medians.values()
    revision = subprocess.run(["git", "rev-parse", "--short", args.after], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    rows = "\n".join(f"| {name} | {' / '.join(f'{t:.1f}' for t in times[name])} | {medians[name]:.1f} |"
                     for name in times)
    report = f"""# `make run` on the bundled sample, after the install

Command: `python bench/sample_build.py --repeats {args.repeats} --before {args.before} --after {args.after}`
({args.after} = `{revision}`)
Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}.
Each build: a fresh Dagster home and output folder; the wall time of the command `make run` runs once the venv
exists, start to exit (Python start-up, loading the definitions, every step, checks, Parquet and HF export).
Before and after alternate in one run.

| build | wall s (each run) | median s |
|---|---|---|
{rows}

After / before: **{after / before:.2f}** ({before / after:.1f}x faster). Target: after ≤ 60 s on 2 cores.
"""
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
