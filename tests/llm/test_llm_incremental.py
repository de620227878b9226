"""Incremental LLM stages over real HTTP: an unchanged rebuild walks no item and makes no call; a changed item, an
item whose calls were purged, and an item the LLM could not answer are walked again; new settings walk them all."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import pytest
from llm_helpers import config_for

from bimed_assets.llm import incremental
from bimed_assets.llm.cache import CompletionCache, Selection
from bimed_assets.translation.cipher_responder import CipherResponder
from bimed_assets.translation.parallel import translate_parallel
from bimed_assets.translation.scoring import ScoringConfig

UNANSWERABLE = "unanswerable"


class Responder(CipherResponder):
    """Translations with flaws to redo and hopeless items for review; no JSON at all for one item."""

    def __call__(self, body):
        if UNANSWERABLE in body["messages"][-1]["content"]:
            return "{not json"
        return super().__call__(body)


def sample(i: int, question: str | None = None) -> dict:
    return {"id": f"item-{i}", "source": "test", "task": "open_qa",
            "question": question or f"Patient {i} has had a fever of 39 C for {i % 9 + 1} days. What should they do?",
            "answer_text": "Rest, fluids and paracetamol 500 mg."}


@pytest.fixture
def build(start_server, tmp_path):
    server = start_server(responder=Responder(flawed=0.3, hopeless=0.1))
    config = config_for(server, cache_path=str(tmp_path / "llm.sqlite"), max_bad_answers=0)

    def run(samples, scoring=None):
        """(results, requests the server received during the build)"""
        before = server.stats().received.total()
        results, _ = translate_parallel(config, samples, scoring or ScoringConfig())
        return results, server.stats().received.total() - before

    return run, config


@dataclass
class Done:
    """A finished result of a stage that makes no call."""

    name: str
    status: str = "accepted"
    calls: list[str] = field(default_factory=list)
    reused: bool = False


def walked(results) -> set[str]:
    return {result.item_id for result in results if not result.reused}


def test_an_unchanged_rebuild_walks_nothing_and_changed_items_are_walked_again(build):
    run, config = build
    samples = [sample(i) for i in range(30)] + [sample(30, f"An {UNANSWERABLE} question?")]
    first, paid = run(samples)
    assert paid > 0 and walked(first) == {s["id"] for s in samples}
    statuses = {result.status for result in first}
    assert statuses == {"accepted", "review", "failed"}

    again, calls = run(samples)
    assert calls == 0 and again[:30] == first[:30]  # the same results, each with the calls it used
    # Only the item the LLM could not answer is walked again (its failed answer is cached: no call).
    assert walked(again) == {"item-30"}

    changed = [*samples[:3], sample(3, "Patient 3 has had a cough for 2 weeks. What should they do?"), *samples[4:]]
    after_change, calls = run(changed)
    assert walked(after_change) == {"item-3", "item-30"} and 0 < calls <= 9  # at most 3 rounds of 3 calls
    assert after_change[:3] == first[:3] and after_change[4:30] == first[4:30]

    purged = CompletionCache(config.cache_path).purge(Selection(item_id="item-5"))
    assert purged > 0
    after_purge, calls = run(changed)
    assert walked(after_purge) == {"item-5", "item-30"} and calls == purged  # asked again: exactly its calls
    assert after_purge[:30] == after_change[:30]

    stricter, _ = run(changed, ScoringConfig(threshold=95.0))
    assert walked(stricter) == {s["id"] for s in changed}  # new settings: every item walked, from the cache


def test_the_code_version_follows_every_module_the_stage_imports(tmp_path, monkeypatch):
    package = tmp_path / "stagepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "loop.py").write_text("from stagepkg import prompts\nimport json\n")
    (package / "prompts.py").write_text("from .checks import rule\nSYSTEM = 'Translate.'\n")
    (package / "checks.py").write_text("def rule(text):\n    return bool(text)\n")
    (package / "unrelated.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def version() -> str:
        incremental.code_version.cache_clear()
        incremental._imports.cache_clear()
        return incremental.code_version("stagepkg.loop")

    first = version()
    (package / "unrelated.py").write_text("X = 2\n")
    assert version() == first  # not imported by the stage
    (package / "checks.py").write_text("def rule(text):\n    return len(text) > 3\n")
    assert version() != first  # imported through prompts: a new version, every item walked again


def test_imports_inside_functions_branches_and_handlers_count_for_the_code_version(tmp_path, monkeypatch):
    package = tmp_path / "lazypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "loop.py").write_text(textwrap.dedent("""\
        import sys


        class Stage:
            def load(self):
                if sys.version_info < (3,):
                    pass
                else:
                    from lazypkg import branch
                try:
                    from lazypkg import rare
                except ImportError:
                    import lazypkg.fallback
                finally:
                    from . import last
        """))
    modules = ("branch", "rare", "fallback", "last")
    for name in modules:
        (package / f"{name}.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def version() -> str:
        incremental.code_version.cache_clear()
        incremental._imports.cache_clear()
        return incremental.code_version("lazypkg.loop")

    seen = {version()}
    for name in modules:
        (package / f"{name}.py").write_text("X = 2\n")
        seen.add(version())
    assert len(seen) == 1 + len(modules)  # each edit, a new version


def test_a_walk_that_dies_midway_is_resumed_where_it_was(tmp_path):
    """The results kept as the walk goes: a crash after 3 of 5 items leaves 2 to walk, not 5."""
    config = incremental.LLMConfig(base_url="http://unused/v1", cache_path=str(tmp_path / "llm.sqlite"))
    stage = incremental.Stage("test", "v1", {})
    items = [{"id": f"item-{i}"} for i in range(5)]

    def dies_after_three(todo, keep):
        for index, item in enumerate(todo[:3]):
            keep(index, Done(item["id"]))
        raise KeyboardInterrupt("the run's process was stopped")

    with pytest.raises(KeyboardInterrupt):
        incremental.walk_changed(config, stage, items, dies_after_three)
    asked = []

    def finishes(todo, keep):
        asked.extend(item["id"] for item in todo)
        return [Done(item["id"]) for item in todo], {}

    results, _ = incremental.walk_changed(config, stage, items, finishes)
    assert asked == ["item-3", "item-4"]
    assert [(r.name, r.reused) for r in results] == [(f"item-{i}", i < 3) for i in range(5)]
