"""The bimed code location: every ``defs/`` domain folder, plus the policy (how steps run) and resources that
apply to all."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dagster as dg
from dagster_polars import PolarsParquetIOManager

from bimed_assets import settings as project_settings
from bimed_assets.backfill import CORPUS_SELECTION
from bimed_assets.defs.partitions import partition_llm_steps
from bimed_assets.defs.resources import llm_from_env
from bimed_assets.defs.review.assets import ReviewStore
from bimed_assets.defs.training.launcher import launcher_from_env
from bimed_assets.executors import op_names, step_executor
from bimed_assets.paths import asset_storage_dir

# Progress bars (the datasets export, Great Expectations' metrics) are noise in a run's log: every step says what
# it produced (bimed_assets/run_log.py) and long steps log their own progress.
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
# dagster.yaml installs the step-summary handler through python_logs, which Dagster marks beta on every run.
warnings.filterwarnings("ignore", message="Handling yaml-defined logging configuration", category=dg.BetaWarning)
# The LLM steps' outputs carry content hashes as data versions (a parameter Dagster marks beta), every run.
warnings.filterwarnings("ignore", message="Parameter `data_version`", category=dg.BetaWarning)


def build_corpus_job(settings: project_settings.ProjectSettings) -> dg.UnresolvedAssetJobDefinition:
    """The main job: the whole corpus graph on the configured sources (the bundled sample by default).

    Its default run config is the project file's per-step caps, so that a manual run, the nightly schedule and
    the review sensor all build with them. On the bundled sample it makes chats from four vignettes, translates
    two samples per source (and per source of chats) and one item per benchmark: the ones whose answers are
    recorded for offline replay."""
    return dg.define_asset_job(
        "build_corpus",
        selection=CORPUS_SELECTION,
        description="Materialize every source, translation and corpus asset.",
        config=settings.job_config(),
    )


@dg.definitions
def defs() -> dg.Definitions:
    # Read at every load of the code location: the project file (bimed.yaml / BIMED_CONFIG) and the environment.
    settings = project_settings.load()
    domains = partition_llm_steps(dg.load_from_defs_folder(path_within_project=Path(__file__).resolve().parent),
                                  settings.llm.shards)
    return dg.Definitions.merge(
        domains,
        dg.Definitions(
            jobs=[build_corpus_job(settings)],
            # One executor for every run (BIMED_EXECUTOR, bimed_assets/executors.py): the jobs', and the implicit
            # asset job's that a backfill launches one run per partition of, which takes only the root's.
            executor=step_executor(settings.on_sample, settings.llm.shards, op_names(domains)),
            resources={
                "io_manager": PolarsParquetIOManager(base_dir=str(asset_storage_dir())),
                "source_files": settings.sources,
                "corpus_settings": settings.corpus,
                "llm": llm_from_env(),
                "review_store": ReviewStore(),
                "training_launcher": launcher_from_env(),
            },
        ),
    )
