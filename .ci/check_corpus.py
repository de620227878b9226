"""After `make run`: the corpus is on disk and every blocking check passed on its latest materialization.

Reads the run's own Dagster instance (DAGSTER_HOME) with the same rule the training gate applies, so CI proves
what a newcomer's first command left behind, not just its exit code.
"""

from __future__ import annotations

import sys

import dagster as dg

from bimed_assets.defs.corpus.assets import bimed_corpus
from bimed_assets.defs.training.gate import blocking_check_problems, latest_materialization
from bimed_assets.paths import var_dir


def main() -> int:
    corpus = var_dir() / "corpus" / "bimed_corpus.parquet"
    if not corpus.is_file():
        print(f"FAIL: {corpus} does not exist", file=sys.stderr)
        return 1
    with dg.DagsterInstance.get() as instance:
        materialization = latest_materialization(instance, bimed_corpus.key)
        checks = [spec.key for spec in bimed_corpus.check_specs if spec.blocking]
        problems = blocking_check_problems(instance, materialization, checks)
    if problems:
        print(f"FAIL: blocking checks of bimed_corpus did not pass: {problems}", file=sys.stderr)
        return 1
    print(f"ok: {corpus} exists; all {len(checks)} blocking checks passed on run {materialization.run_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
