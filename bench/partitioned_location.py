"""The code location of bench/partitioned_budget.py: the project's chat and translation assets (partitioned into
``BIMED_LLM_SHARDS`` shards as the project does it) over a training pool read from ``BENCH_POOL``, with the ``llm``
resource on ``BIMED_LLM_BASE_URL`` and the budget ``BENCH_CONCURRENCY`` split between ``BENCH_POOL_STEPS`` steps."""

import os

import dagster as dg
import polars as pl
from dagster_polars import PolarsParquetIOManager

from bimed_assets.defs.chats.assets import chat_synthesis
from bimed_assets.defs.partitions import partition_llm_steps
from bimed_assets.defs.resources import LLMResource
from bimed_assets.defs.translation.assets import translation
from bimed_assets.executors import step_executor
from bimed_assets.paths import asset_storage_dir, var_dir


@dg.asset(name="training_pool")
def given_pool() -> pl.DataFrame:
    return pl.read_parquet(os.environ["BENCH_POOL"])


defs = partition_llm_steps(dg.Definitions(
    assets=[given_pool, chat_synthesis, translation],
    resources={
        "io_manager": PolarsParquetIOManager(base_dir=str(asset_storage_dir())),
        "llm": LLMResource(base_url=os.environ["BIMED_LLM_BASE_URL"], api_key="bench",
                           concurrency=int(os.environ["BENCH_CONCURRENCY"]),
                           pool_steps=int(os.environ["BENCH_POOL_STEPS"]),
                           cache_path=str(var_dir() / "llm_cache.sqlite")),
    },
    executor=step_executor(on_bundled_sample=False, shards=int(os.environ["BIMED_LLM_SHARDS"])),
), int(os.environ["BIMED_LLM_SHARDS"]))
