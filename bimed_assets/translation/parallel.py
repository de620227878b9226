"""The translation stage over many items: one event loop for the HTTP calls, worker processes for the checks.

An item's fidelity checks and chrF cost a few milliseconds of CPU. Paid on the event loop, they hold back
the answers of every other call in flight, and at 1.3M items the loop, not the endpoint, would set the pace.
So with ``processes > 1`` this process holds the one LLM client (its concurrency, its rate limits, its
coalescing of identical requests) and ``processes - 1`` worker processes run the checks. Until a worker is up
(starting a Python process takes about a second) the checks run inline, so that starting them costs no time.

Only new or changed items are walked (``bimed_assets.llm.incremental``): an item translated by an earlier build
with the same code, settings and model keeps its result.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from typing import Any

from bimed_assets.llm import incremental
from bimed_assets.llm.client import LLMClient, LLMConfig
from bimed_assets.translation.pipeline import Interleaved, ItemResult, Offload, translate_all
from bimed_assets.translation.scoring import ScoringConfig

log = logging.getLogger(__name__)

Usage = dict[str, dict[str, float]]
# What decides an item's result: the loop, its prompts, checks and scoring (and what they import).
CODE_VERSION = incremental.code_version("bimed_assets.translation.pipeline")
MIN_ITEMS_FOR_WORKERS = 250  # below this, starting worker processes costs more than it saves
# Allocations between two young collections of the cyclic GC while the stage runs (Python's default: 700).
_GC_YOUNG_THRESHOLD = 50_000


class _Workers:
    """An ``Offload`` into worker processes once one has started; inline before that, and if the pool breaks."""

    def __init__(self, processes: int) -> None:
        # spawn, not fork: the caller may hold threads (Dagster, the HTTP client) that fork would copy mid-state.
        self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
        self._up = self._pool.submit(int)  # done once a worker has started and answered
        self._broken = False
        self._inline = Interleaved()
        self.ran = Counter[str]()  # where the steps ran: "workers" or "inline"

    async def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        if not self._broken and self._up.done():
            try:
                result = await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
            except BrokenProcessPool:  # a worker died (killed, out of memory): the checks go on inline
                if not self._broken:
                    log.warning("translation worker processes died; running the checks in the main process")
                self._broken = True
            else:
                self.ran["workers"] += 1
                return result
        self.ran["inline"] += 1
        return await self._inline(fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        log.info("checks and chrF: %d in worker processes, %d inline", self.ran["workers"], self.ran["inline"])


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Each JSON answer allocates hundreds of small containers, so at Python's default threshold the cyclic
    collector runs every call or two, and now and then a full pass over every result so far: pauses of up to
    150 ms with the answers of all calls in flight waiting, about 5% of the stage's time (measured). Memory is
    freed by reference counting either way; the collector only looks for cycles, so it can run far less often."""
    threshold = gc.get_threshold()
    gc.freeze()  # what exists before the run (modules, the samples) is not scanned again and again
    gc.set_threshold(_GC_YOUNG_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


async def _translate(config: LLMConfig, samples: Sequence[Mapping[str, Any]], scoring: ScoringConfig,
                     offload: Offload, seed: int | None, keep: incremental.Keep | None
                     ) -> tuple[list[ItemResult], Usage]:
    async with LLMClient(config) as llm:
        return await translate_all(llm, samples, scoring, offload, seed, keep), llm.meter.snapshot()


def merge_usage(usages: list[Usage]) -> Usage:
    total: Usage = {}
    for usage in usages:
        for purpose, row in usage.items():
            merged = total.setdefault(purpose, dict.fromkeys(row, 0))
            for name, value in row.items():
                merged[name] += value
    return total


def translate_parallel(config: LLMConfig, samples: Sequence[Mapping[str, Any]], scoring: ScoringConfig,
                       processes: int = 1, seed: int | None = None) -> tuple[list[ItemResult], Usage]:
    """Results in input order, and LLM usage (``UsageMeter.snapshot`` shape) of the items walked; ``processes``
    in all; ``seed`` sent with every call (``pipeline.translate_item``). Items unchanged since an earlier build
    keep their result (``ItemResult.reused``) and are not walked."""
    stage = incremental.Stage("translation", CODE_VERSION, {"scoring": asdict(scoring), "seed": seed})
    return incremental.walk_changed(config, stage, samples,
                                    lambda todo, keep: _translate_walked(config, todo, scoring, processes, seed, keep))


def _translate_walked(config: LLMConfig, samples: Sequence[Mapping[str, Any]], scoring: ScoringConfig,
                      processes: int, seed: int | None, keep: incremental.Keep | None
                      ) -> tuple[list[ItemResult], Usage]:
    with _fewer_collections():
        if processes <= 1 or len(samples) < MIN_ITEMS_FOR_WORKERS:
            return asyncio.run(_translate(config, samples, scoring, Interleaved(), seed, keep))
        workers = _Workers(processes - 1)
        try:
            return asyncio.run(_translate(config, samples, scoring, workers, seed, keep))
        finally:
            workers.close()
