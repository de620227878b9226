"""Resources shared by every domain, bound once in ``bimed_assets.definitions``."""

import hashlib
import os
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field

from bimed_assets.llm.client import LLMConfig
from bimed_assets.llm.pricing import DEFAULT_PRICES
from bimed_assets.paths import SAMPLE_DATA, var_dir
from bimed_assets.settings import env_whole_number

RECORDINGS = SAMPLE_DATA / "llm_recordings"  # one JSON Lines file per pipeline step
# The Dagster concurrency pool of the steps that call the LLM endpoint: its limit (dagster.yaml, the UI or
# `dagster instance concurrency set llm_endpoint 8`) is how many such steps run at once across all runs.
LLM_POOL = "llm_endpoint"


class LLMResource(dg.ConfigurableResource):
    """An OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp server, Ollama), or, with no ``base_url``,
    the recorded answers shipped for the bundled sample (offline, no key)."""

    base_url: str | None = Field(default=None, description="Endpoint, e.g. http://gpu-node:8000/v1. "
                                 "Unset: replay the recordings in `replay_path` (no network).")
    model: str = Field(default="gpt-4o-mini", description="Model name sent with every request.")
    api_key: str | None = Field(default=None, description="Set through dg.EnvVar only; never logged.")
    concurrency: int = Field(default=16, description="Requests in flight at once, over all the steps of the "
                             f"`{LLM_POOL}` pool that run at once (how they share them: see slots).")
    pool_steps: int = Field(default=1, description=f"The `{LLM_POOL}` pool's limit: how many LLM steps run at "
                            "once (e.g. a backfill's partitions). They share the machine's cores for their check "
                            "processes and, with slots: split, each gets concurrency / pool_steps slots.")
    slots: Literal["machine", "split"] = Field(default="machine", description="How the steps share the "
                                              "`concurrency` slots. machine: one budget for every process on this "
                                              "machine, each step taking slots as its work needs them (lock files "
                                              "under BIMED_VAR_DIR/llm_slots). split: each step has concurrency / "
                                              "pool_steps of its own (steps on several machines: k8s).")
    rpm: float | None = Field(default=None, description="Requests per minute; unset: unlimited.")
    tpm: float | None = Field(default=None, description="Tokens per minute; unset: unlimited.")
    limiter_url: str | None = Field(default=None, description="Redis URL (redis://host:6379/0): rpm and tpm are "
                                    "one budget for every process and machine calling this endpoint. Unset: "
                                    "each step keeps its own budget.")
    timeout: float = Field(default=120.0, description="Seconds per HTTP attempt.")
    max_retries: int = Field(default=6, description="Extra attempts after a retryable failure.")
    cache_path: str = Field(default_factory=lambda: str(var_dir() / "llm_cache.sqlite"),
                            description="Cache of every completed call, so that nothing is paid for twice: a "
                            "SQLite file (one machine), or a postgresql:// URL that steps on several machines share "
                            "(set it through dg.EnvVar: BIMED_LLM_CACHE).")
    replay_path: str = Field(default=str(RECORDINGS), description="Recorded answers used when no base_url.")
    retry_failed: bool = Field(default=False, description="Ask again for answers cached as unusable (by default "
                               "they are kept and not paid for again; or purge them: python -m "
                               "bimed_assets.llm.cache_cli).")
    record_path: str | None = Field(default=None, description="With a live endpoint: append every answer to "
                                    "this JSON Lines file, in the replay format (to record a new sample).")
    prices: dict[str, list[float]] = Field(default_factory=lambda: dict(DEFAULT_PRICES),
                                           description="USD per 1M input and output tokens, by model.")

    @property
    def replaying(self) -> bool:
        return not self.base_url

    def step_processes(self, configured: int | None) -> int:
        """Processes for one LLM step (its client and its check workers): ``configured``, or else this machine's
        cores shared by the ``pool_steps`` steps that may run at once. Eight shards on two cores with two
        processes each were 16 processes sharing two cores with the test server, and the backfill was slower than
        with one each, where a step runs its checks between its calls (commit c598ee6's bench run)."""
        return configured if configured is not None else max(1, (os.cpu_count() or 1) // self.pool_steps)

    def slots_path(self) -> Path:
        """The lock file of this endpoint and model's slots on this machine."""
        digest = hashlib.sha256(f"{self.base_url}|{self.model}".encode()).hexdigest()[:16]
        return var_dir() / "llm_slots" / f"{digest}.lock"

    def llm_config(self, run_id: str | None = None) -> LLMConfig:
        """``run_id`` is written beside every cached answer, so that one run's answers can be purged."""
        # Replay answers come from the recordings alone: a cache in front of them could serve stale answers
        # after a recording is corrected, and replaying costs nothing anyway.
        shared = self.slots == "machine" and not self.replaying
        return LLMConfig(
            base_url=self.base_url, model=self.model, api_key=self.api_key,
            concurrency=self.concurrency if shared else max(1, self.concurrency // self.pool_steps),
            slots_path=str(self.slots_path()) if shared else None, rpm=self.rpm, tpm=self.tpm,
            limiter_url=self.limiter_url, timeout=self.timeout, max_retries=self.max_retries,
            cache_path=None if self.replaying else self.cache_path,
            replay_path=self.replay_path if self.replaying else None, record_path=self.record_path,
            retry_failed=self.retry_failed, run_id=run_id,
            prices=self.prices,
        )


def llm_from_env() -> LLMResource:
    """The live endpoint when BIMED_LLM_BASE_URL is set (key from BIMED_LLM_API_KEY), else replay; budget from
    BIMED_LLM_CONCURRENCY, BIMED_LLM_POOL_STEPS, BIMED_LLM_RPM and BIMED_LLM_TPM when set, shared as
    BIMED_LLM_SLOTS says (machine, or split under BIMED_EXECUTOR=k8s)."""
    live = {"base_url": os.environ["BIMED_LLM_BASE_URL"]} if os.environ.get("BIMED_LLM_BASE_URL") else {}
    if os.environ.get("BIMED_LLM_MODEL"):
        live["model"] = os.environ["BIMED_LLM_MODEL"]
    if os.environ.get("BIMED_LLM_LIMITER_URL"):
        live["limiter_url"] = os.environ["BIMED_LLM_LIMITER_URL"]
    # Step pods on several machines share no lock file: there each step takes its split of the slots.
    live["slots"] = os.environ.get("BIMED_LLM_SLOTS") or ("split" if os.environ.get("BIMED_EXECUTOR") == "k8s"
                                                          else "machine")
    # The endpoint's budget and its split, set beside the pool's limit (dagster.yaml) for every run of a backfill,
    # whose runs carry no run config: in-flight slots, and requests and tokens per minute (shared through
    # BIMED_LLM_LIMITER_URL across processes).
    for name in ("concurrency", "pool_steps", "rpm", "tpm"):
        if (value := env_whole_number(f"BIMED_LLM_{name.upper()}")) is not None:
            live[name] = value
    if os.environ.get("BIMED_LLM_API_KEY"):
        live["api_key"] = dg.EnvVar("BIMED_LLM_API_KEY")
    if os.environ.get("BIMED_LLM_CACHE"):  # a PostgreSQL URL may hold a password: never in the run config
        live["cache_path"] = dg.EnvVar("BIMED_LLM_CACHE")
    return LLMResource(**live)
