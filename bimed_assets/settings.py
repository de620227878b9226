"""Deployment settings: one project file that manual runs, the nightly schedule and the review sensor all read.

``bimed.yaml`` at the project root (or the file ``BIMED_CONFIG`` names) holds where the sources are, the
language mix, source weights, the licence subset, the corpus directory, the per-run item caps of the LLM
steps and how many partitions (shards) the LLM steps are cut into. Nothing set: the bundled sample, the defaults
below. ``BIMED_SOURCE_ROOT`` overrides ``sources.root``, ``BIMED_LLM_SHARDS`` overrides ``llm.shards``.
Relative paths in the file are relative to the file's folder. Unknown keys are refused, so a typo is an error,
not a silent default.

The settings reach the assets through resources (bound once in ``bimed_assets.definitions``), not through run
config: a run launched by the schedule or the sensor carries no run config, and must still build what the
team configured. Run config stays for one-off experiments, and overrides the settings for that run only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import dagster as dg
import yaml
from pydantic import Field

from bimed_assets.paths import PROJECT_ROOT, SAMPLE_DATA, var_dir
from bimed_assets.sources.loading import SourceSpec
from bimed_assets.sources.reading import resolve_files

LICENCE_KINDS: tuple[str, ...] = ("permissive", "copyleft", "research_only", "unclear")

# What the main job caps on the bundled sample: the items whose LLM answers are recorded for offline replay.
SAMPLE_CAPS = {"chat_synthesis": {"per_source_limit": 4}, "translation": {"per_source_limit": 2},
               "benchmark_translation": {"per_benchmark_limit": 1}}


class SourceFiles(dg.ConfigurableResource):
    """Where the native source files live (the ``sources`` section of the project file)."""

    root: str = Field(default=str(SAMPLE_DATA), description="Folder laid out like bimed_assets/sample_data (one "
                      "sub-folder per source, native file names). Default: the bundled sample.")
    locations: dict[str, str] = Field(default_factory=dict, description="A source's own file, folder or glob, "
                                      "instead of its place under `root`.")
    left_out: list[str] = Field(default_factory=list, description="Sources not to build.")

    def location(self, spec: SourceSpec) -> tuple[str | None, str | None]:
        """``(where, None)`` for a source to build, ``(None, why)`` for one that is left out: not wanted, or
        no file where it is configured. Never the bundled sample in place of a configured location."""
        if spec.name in self.left_out:
            return None, "left out in the configuration (sources.left_out)"
        where = self.locations.get(spec.name) or f"{self.root.rstrip('/')}/{spec.sample}"
        try:
            resolve_files(where)
        except FileNotFoundError:
            return None, f"no file matches {where}"
        return where, None


class CorpusSettings(dg.ConfigurableResource):
    """How the corpus is mixed, restricted and published (the ``corpus`` section of the project file)."""

    directory: str = Field(default_factory=lambda: str(var_dir() / "corpus"),
                           description="Where the published versions, the dataset card and the HF copy go.")
    keep_versions: int = Field(default=5, description="Published versions kept for rollback.")
    ar_per_en: float | None = Field(default=0.5, description="Arabic records per English record (1:2); "
                                    "null keeps every record of both languages.")
    bilingual_share: float = Field(default=0.1, description="Bilingual records, as a share of the Arabic count.")
    source_weights: dict[str, float] = Field(default_factory=dict, description="Keep this share (0-1) of a source.")
    licences: list[str] = Field(default_factory=lambda: list(LICENCE_KINDS), description="Build only from "
                                f"sources whose licence is of these kinds ({', '.join(LICENCE_KINDS)}).")
    hf_export: bool = Field(default=True, description="Also write a `datasets.save_to_disk` copy.")


class LLMSettings(dg.Config):
    """How the LLM steps are laid out (the ``llm`` section of the project file)."""

    shards: int = Field(default=1, ge=1, le=1000, description="Partitions of the chat, translation and benchmark "
                        "translation assets: an item belongs to shard stable_hash(id) % shards, and a full build "
                        "is a backfill of one run per shard (bimed_assets.defs.partitions). 1: unpartitioned.")


@dataclass(frozen=True)
class ProjectSettings:
    sources: SourceFiles = field(default_factory=SourceFiles)
    corpus: CorpusSettings = field(default_factory=CorpusSettings)
    # Per-step run config of the LLM steps for every run of build_corpus (e.g. translation: per_source_limit).
    # Unset: the bundled sample's caps on the sample, none on configured sources.
    caps: Mapping[str, Mapping] | None = None
    llm: LLMSettings = field(default_factory=LLMSettings)
    origin: str | None = None  # the file these settings came from

    def __post_init__(self):
        if self.llm.shards > 1 and self.job_config() is not None:
            raise ValueError(
                f"{self.origin or 'settings'}: llm.shards = {self.llm.shards} with per-step caps "
                f"({'caps' if self.caps else 'the bundled sample'}'s): a sharded build is a backfill, whose runs "
                "carry no run config, so the caps would not apply. Set llm.shards: 1, or configure sources "
                "without caps.")

    @property
    def on_sample(self) -> bool:
        return Path(self.sources.root) == SAMPLE_DATA and not self.sources.locations

    def job_config(self) -> dict | None:
        caps = SAMPLE_CAPS if self.caps is None and self.on_sample else self.caps
        return {"ops": {step: {"config": dict(values)} for step, values in caps.items()}} if caps else None


def config_path() -> Path | None:
    """``BIMED_CONFIG`` (must exist), else ``bimed.yaml`` at the project root when there is one."""
    named = os.environ.get("BIMED_CONFIG")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"BIMED_CONFIG={named}: no such file")
        return path
    default = PROJECT_ROOT / "bimed.yaml"
    return default if default.is_file() else None


def _absolute(value: str, base: Path) -> str:
    return os.path.normpath(os.path.join(base, os.path.expanduser(value)))  # an absolute value stays itself


def _section(data: Mapping, name: str, allowed: type[dg.Config], where: str) -> dict:
    section = data.get(name) or {}
    if not isinstance(section, Mapping):
        raise TypeError(f"{where}: `{name}` must be a mapping")
    if unknown := sorted(set(section) - set(allowed.model_fields)):
        raise ValueError(f"{where}: unknown key(s) in `{name}`: {', '.join(unknown)}; "
                         f"known: {', '.join(allowed.model_fields)}")
    return dict(section)


def parse(data: Mapping | None, base: Path = PROJECT_ROOT, origin: str | None = None) -> ProjectSettings:
    """Settings from the file's parsed YAML; relative paths made absolute against ``base``."""
    where = origin or "settings"
    data = data or {}
    if not isinstance(data, Mapping):
        raise TypeError(f"{where}: expected a mapping at the top level, found {type(data).__name__}")
    if unknown := sorted(set(data) - {"sources", "corpus", "caps", "llm"}):
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; known: sources, corpus, caps, llm")
    sources = _section(data, "sources", SourceFiles, where)
    if sources.get("root"):
        sources["root"] = _absolute(sources["root"], base)
    sources["locations"] = {k: _absolute(v, base) for k, v in (sources.get("locations") or {}).items()}
    corpus = _section(data, "corpus", CorpusSettings, where)
    if corpus.get("directory"):
        corpus["directory"] = _absolute(corpus["directory"], base)
    if bad := sorted(set(corpus.get("licences") or ()) - set(LICENCE_KINDS)):
        raise ValueError(f"{where}: unknown licence kind(s) {bad}; known: {', '.join(LICENCE_KINDS)}")
    llm = LLMSettings(**_section(data, "llm", LLMSettings, where))
    return ProjectSettings(SourceFiles(**sources), CorpusSettings(**corpus), data.get("caps"), llm, origin)


def env_whole_number(name: str) -> int | None:
    """The environment variable ``name`` as a whole number of at least 1; None when unset or empty."""
    if not (value := os.environ.get(name, "").strip()):
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name}={value!r}: expected a whole number of at least 1")
    return int(value)


def load() -> ProjectSettings:
    """The project's settings: the config file (if any), then ``BIMED_SOURCE_ROOT`` over ``sources.root`` and
    ``BIMED_LLM_SHARDS`` over ``llm.shards``."""
    path = config_path()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path else None
    settings = parse(data, path.parent if path else PROJECT_ROOT, str(path) if path else None)
    if root := os.environ.get("BIMED_SOURCE_ROOT"):
        sources = SourceFiles(root=root, locations=settings.sources.locations, left_out=settings.sources.left_out)
        settings = replace(settings, sources=sources)
    if shards := env_whole_number("BIMED_LLM_SHARDS"):
        settings = replace(settings, llm=LLMSettings(shards=shards))
    return settings
