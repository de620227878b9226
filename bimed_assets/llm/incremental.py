"""Incremental LLM stages: a rebuild walks only the items that are new or changed.

An item's finished result (its rounds or attempts, their scores, the cache keys of the answers it used) is kept
in the LLM cache's SQLite file under a key of everything that decides it: the stage's code version (a hash of
the source that writes its prompts and judges its answers), its settings (threshold, rounds, seed, ...), the
model, and the item's own content. The next build takes a kept result as it is: no LLM call, no cache lookup,
no check. So an unchanged nightly rebuild walks nothing, and after a change only the changed items are walked
(their unchanged calls still come from the cache).

Only finished results are kept (accepted or in review, a valid chat or an invalid one): an item the LLM could not
answer is walked again next time, which is how it is retried. Purging cache entries (``CompletionCache.purge``,
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
from collections.abc import Callable, Mapping, Sequence
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
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            # `from package import module` names a module; `from module import name` does not.
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    top = name.split(".")[0]
    return frozenset(module for module in found if module.split(".")[0] == top and _is_module(module))


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


def walk_changed(config: LLMConfig, stage: Stage, items: Sequence[Mapping[str, Any]],
                 walk: Callable[[list[Mapping[str, Any]]], tuple[list[R], Usage]]) -> tuple[list[R], Usage]:
    """``walk(items)`` (results in input order, and usage) over only the items without a kept result; the kept
    ones are taken as they are (``reused``). Results in input order; usage of the walked items only."""
    if config.cache_path is None:
        return walk(list(items))
    keys = [item_key(stage.version, stage.settings, config.model, item) for item in items]
    cache = CompletionCache(config.cache_path)
    try:
        kept = cache.item_results(keys)
        todo = [index for index, key in enumerate(keys) if key not in kept]
        log.info("%s: %d items unchanged since an earlier build (not walked), %d to walk", stage.name,
                 len(items) - len(todo), len(todo))
        walked, usage = walk([items[index] for index in todo]) if todo else ([], UsageMeter().snapshot())
        results: list[R] = [None] * len(items)  # type: ignore[list-item]
        for index, key in enumerate(keys):
            if key in kept:
                # pickle: the results are the pipeline's own dataclasses, and a key names the code that wrote them
                results[index] = pickle.loads(kept[key])
                results[index].reused = True
        finished = []
        for index, result in zip(todo, walked, strict=True):
            results[index] = result
            if result.status != "failed":
                finished.append((keys[index], pickle.dumps(result), result.calls))
        cache.keep_item_results(stage.name, finished, config.run_id)
    finally:
        cache.close()
    return results, usage
