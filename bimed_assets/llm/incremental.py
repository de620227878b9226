"""Incremental LLM stages: a rebuild walks only the items that are new or changed.

An item's finished result (its rounds or attempts, their scores, the cache keys of the answers it used) is kept
in the LLM cache's SQLite file under a key of everything that decides it: the stage's code version (a hash of
the source that writes its prompts and judges its answers), its settings (threshold, rounds, seed, ...), the
model, and the item's own content. The next build takes a kept result as it is: no LLM call, no cache lookup,
no check. So an unchanged nightly rebuild walks nothing, and after a change only the changed items are walked
(their unchanged calls still come from the cache).

Only finished results are kept (accepted or in review, a valid chat or an invalid one), as the walk goes (a batch
every few seconds), so that a walk killed midway is resumed where it was: an item the LLM could not answer is
walked again next time, which is how it is retried. Purging cache entries (``CompletionCache.purge``,
``python -m bimed_assets.llm.cache_cli purge``) drops the results that used them, so the next build walks
exactly those items again. Replaying recordings (no cache) keeps nothing: it walks every item, at no cost.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import logging
import pickle
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .cache import CompletionCache
from .client import LLMConfig
from .pricing import UsageMeter

log = logging.getLogger(__name__)

Usage = dict[str, dict[str, float]]  # UsageMeter.snapshot()


class Result(Protocol):
    status: str  # "failed": the LLM could not answer; any other status is final
    calls: list[str]  # the cache keys of the answers the result used
    reused: bool  # taken from an earlier build, not walked in this one


R = TypeVar("R", bound=Result)


@functools.cache  # several stages share most of their modules: each is parsed once
def _imports(name: str, path: Path) -> frozenset[str]:
    """The modules of its own top-level package that module ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _statements(ast.parse(path.read_bytes()).body):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            # `from package import module` names a module; `from module import name` does not.
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    top = name.split(".")[0]
    return frozenset(module for module in found if module.split(".")[0] == top and _is_module(module))


def _statements(nodes: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement of ``nodes`` and of the blocks inside them (functions, classes, branches, handlers): where an
    import can be. Expressions, most of a module's nodes, are not walked: every run process computes the versions
    as it loads the project, and for the chat and translation stages ``ast.walk`` over every node took 0.11 s of
    CPU against 0.07 s (the collector off; a throwaway timing)."""
    for node in nodes:
        yield node
        for block in ("body", "orelse", "finalbody", "handlers", "cases"):
            yield from _statements(getattr(node, block, []))


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a name inside a module (``from module import name``), not a module
        return False


@functools.cache
def code_version(*modules: str) -> str:
    """A hash of the source of ``modules`` and of every module of their package they import, directly or not.

    What an item's result depends on is exactly that code (its prompts, checks, scoring, validation): any edit to
    it gives a new version, and the next build walks every item again (their calls still come from the cache)."""
    seen: dict[str, Path] = {}
    pending = list(modules)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen[name] = Path(importlib.util.find_spec(name).origin)
        pending += _imports(name, seen[name])
    digest = hashlib.sha256()
    for name in sorted(seen):
        digest.update(f"{name}\n".encode())
        digest.update(seen[name].read_bytes())
    return digest.hexdigest()[:16]


def item_key(version: str, settings: Mapping[str, Any], model: str, item: Mapping[str, Any]) -> str:
    """sha256 of everything that decides an item's result; ``default=str`` for dates and the like."""
    text = json.dumps({"code": version, "settings": settings, "model": model, "item": item}, sort_keys=True,
                      ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Stage:
    """One incremental LLM stage: its name (stored beside each result), code version and settings."""

    name: str
    version: str
    settings: Mapping[str, Any]


Keep = Callable[[int, Any], None]  # keep(index of the item in the walk, its result), as each item finishes
# A walk keeps its finished results a batch at a time: every this many, or this often.
_KEEP_BATCH = 500
_KEEP_SECONDS = 5.0


class _Keeper:
    """Keeps the finished results of a walk as they come, a batch at a time: a crash (a killed partition's run)
    loses the walk of none of the items kept so far, and the writes are spread over the walk instead of all at its
    end, where a backfill's partitions, ending together, waited on each other for the cache's lock."""

    def __init__(self, cache: CompletionCache, stage: str, run_id: str | None, keys: list[str]) -> None:
        self._cache, self._stage, self._run_id, self._keys = cache, stage, run_id, keys
        self._pending: list[tuple[str, bytes, list[str]]] = []
        self._flushed = time.monotonic()

    def __call__(self, index: int, result: Result) -> None:
        if result.status != "failed":
            # pickle: the results are the pipeline's own dataclasses, and a key names the code that wrote them
            self._pending.append((self._keys[index], pickle.dumps(result), result.calls))
        if len(self._pending) >= _KEEP_BATCH or time.monotonic() - self._flushed >= _KEEP_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._cache.keep_item_results(self._stage, self._pending, self._run_id)
            self._pending = []
        self._flushed = time.monotonic()


def walk_changed(config: LLMConfig, stage: Stage, items: Sequence[Mapping[str, Any]],
                 walk: Callable[[list[Mapping[str, Any]], Keep | None], tuple[list[R], Usage]]
                 ) -> tuple[list[R], Usage]:
    """``walk(items, keep)`` (results in input order, and usage; ``keep`` told of each result as it finishes) over
    only the items without a kept result; the kept ones are taken as they are (``reused``). Results in input order;
    usage of the walked items only."""
    if config.cache_path is None:
        return walk(list(items), None)
    keys = [item_key(stage.version, stage.settings, config.model, item) for item in items]
    cache = CompletionCache(config.cache_path)
    try:
        kept = cache.item_results(keys)
        todo = [index for index, key in enumerate(keys) if key not in kept]
        log.info("%s: %d items unchanged since an earlier build (not walked), %d to walk", stage.name,
                 len(items) - len(todo), len(todo))
        keeper = _Keeper(cache, stage.name, config.run_id, [keys[index] for index in todo])
        try:
            walked, usage = walk([items[index] for index in todo], keeper) if todo else ([], UsageMeter().snapshot())
        finally:  # a walk that fails keeps what it finished too (a killed process, the last few seconds' only)
            keeper.flush()
        results: list[R] = [None] * len(items)  # type: ignore[list-item]
        for index, key in enumerate(keys):
            if key in kept:
                results[index] = pickle.loads(kept[key])
                results[index].reused = True
        for index, result in zip(todo, walked, strict=True):
            results[index] = result
    finally:
        cache.close()
    return results, usage
