"""The final bilingual corpus, by write-audit-publish: built into a staging folder, audited there by the blocking
quality checks, and published (an atomic switch to a new version) only when every one passed."""

from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from bimed_assets.corpus import card, publish, write
from bimed_assets.corpus.assemble import assemble
from bimed_assets.corpus.checks import CheckConfig, run_checks
from bimed_assets.corpus.mix import MixConfig
from bimed_assets.defs import metadata
from bimed_assets.defs.partitions import ALL_SHARDS
from bimed_assets.llm.shards import one_table
from bimed_assets.settings import CorpusSettings, SourceFiles
from bimed_assets.sources import SOURCES

DATA_FILE = "bimed_corpus.parquet"
CHECK_NAMES = {
    "schema": "columns and types of the corpus",
    "non_null": "ids, task, source, language present; ids unique; language en/ar/bilingual",
    "arabic_script": "Arabic fields are mostly Arabic script",
    "role_alternation": "messages alternate user/assistant after the system prompt",
    "length_bounds": "no empty turn, no record over the length bound (warning only)",
    "mix_ratio": "the Arabic:English mix is within tolerance of the target",
    "zero_contamination": "no training question matches an evaluation question, exactly or nearly",
}


class CorpusConfig(dg.Config):
    """One-off experiments: each field set here overrides the project settings (`corpus_settings`) for this run."""

    ar_per_en: float | None = Field(default=None, description="Arabic records per English record.")
    bilingual_share: float | None = Field(default=None, description="Bilingual records, as a share of the Arabic "
                                          "count.")
    source_weights: dict[str, float] | None = Field(default=None, description="Keep this share (0-1) of a source.")
    directory: str | None = Field(default=None, description="Corpus directory for this run.")


def left_out_sources(settings: CorpusSettings, source_files: SourceFiles) -> dict[str, str]:
    """Each source the build leaves out, with why: not configured or no files (as the source assets decide),
    or a licence outside the configured subset."""
    left_out = {}
    for name, spec in SOURCES.items():
        if spec.licence_kind not in settings.licences:
            left_out[name] = f"licence kind {spec.licence_kind} is not in corpus.licences"
        elif why := source_files.location(spec)[1]:
            left_out[name] = why
    return left_out


def mix_left_out(pool_ids: pl.Series, translated_ids: pl.Series, removed: pl.DataFrame,
                 corpus: pl.DataFrame) -> dict[str, int]:
    """Candidates per language (not removed as duplicates or contamination) that the mix did not choose."""
    en_candidates = pool_ids.n_unique() - removed.filter(pl.col("language") == "en").height
    translated = translated_ids.filter(translated_ids.is_in(pool_ids.implode())).unique()
    ar_removed = removed.filter((pl.col("language") == "ar") & pl.col("item_id").is_in(translated.implode()))
    used = dict(corpus.group_by("language").len().iter_rows())
    return {"en": en_candidates - used.get("en", 0),
            "ar": translated.len() - ar_removed["item_id"].n_unique() - used.get("ar", 0)}


@dg.asset(
    group_name="corpus",
    kinds={"polars", "parquet"},
    check_specs=[dg.AssetCheckSpec(name, asset="bimed_corpus", description=text, blocking=name != "length_bounds")
                 for name, text in CHECK_NAMES.items()],
)
def bimed_corpus(context: dg.AssetExecutionContext, config: CorpusConfig, corpus_settings: CorpusSettings,
                 source_files: SourceFiles, training_pool: pl.LazyFrame, evaluation_sets: pl.DataFrame,
                 accepted_translations: ALL_SHARDS, reviewed_translations: pl.DataFrame,
                 synthesized_chats: ALL_SHARDS):
    """English, Arabic and bilingual instruction records (synthesized chats included) in the chat ``messages``
    format, deduplicated and decontaminated against every evaluation split, with provenance (reviewer and time
    for reviewed Arabic). Published to ``<directory>/bimed_corpus.parquet`` (with ``README.md`` and
    ``hf_dataset/``) only when every blocking check passed; a failed build stays in ``staging/<run id>``."""
    accepted_translations, synthesized_chats = one_table(accepted_translations), one_table(synthesized_chats)
    settings = corpus_settings
    mix = MixConfig(
        ar_per_en=settings.ar_per_en if config.ar_per_en is None else config.ar_per_en,
        bilingual_share=settings.bilingual_share if config.bilingual_share is None else config.bilingual_share,
        source_weights=settings.source_weights if config.source_weights is None else config.source_weights)
    left_out = left_out_sources(settings, source_files)
    licensed = [name for name, spec in SOURCES.items() if spec.licence_kind in settings.licences]
    if len(licensed) < len(SOURCES):  # the licence subset: only what the configured licences allow
        training_pool = training_pool.filter(pl.col("source").is_in(licensed))
        synthesized_chats = synthesized_chats.filter(pl.col("source").is_in(licensed))
    pool_ids = pl.concat([training_pool.select("id").collect()["id"], synthesized_chats["id"]])
    translated_ids = pl.concat([accepted_translations["item_id"], reviewed_translations["item_id"]])
    # The pool is read (lazily) into the call only, so the assembly frees its texts once they are in the records
    # (~0.8 GB less at the peaks after it at BiMed1.3M scale; bench/results/corpus_scale.md).
    built = assemble(training_pool.collect(), evaluation_sets, accepted_translations, reviewed_translations,
                     mix=mix, chats=synthesized_chats)

    directory = Path(config.directory or settings.directory)
    staged = publish.new_staging(directory, context.run.run_id)
    # The audit: every check on the built frame, before anything published changes.
    results = run_checks(built.corpus, evaluation_sets, CheckConfig(ar_per_en=mix.ar_per_en), screened=built.screened)
    composition = card.composition(built.corpus)  # the card's token counts
    # Parquet and the HF copy into staging from the same Arrow batches (one conversion of the corpus). One step
    # at a time: the peak memory is the assembly's, not two steps' at once.
    parquet = write.write_parquet_atomic(built.corpus, staged / DATA_FILE,
                                         hf_directory=staged / "hf_dataset" if settings.hf_export else None)
    version = publish.content_version(parquet)
    facts = card.CardFacts(
        version=version, licences={n: (s.licence, s.licence_id, s.licence_kind) for n, s in SOURCES.items()},
        licence_kinds=tuple(settings.licences) if len(licensed) < len(SOURCES) else None,
        left_out_sources=left_out, left_out_by_mix=mix_left_out(pool_ids, translated_ids, built.removed,
                                                                 built.corpus),
        data_bytes=parquet.stat().st_size)
    readme = card.write_card(composition, built.counts(), staged, DATA_FILE, facts,
                             write.dataset_features(parquet)).read_text(encoding="utf-8")

    failed = sorted(r.name for r in results if r.blocking and not r.passed)
    if failed:
        publish.make_world_readable(staged)
        context.log.error(f"not published: blocking check(s) {', '.join(failed)} failed; the build is kept in "
                          f"{staged}, the published corpus ({publish.current_version(directory)}) is unchanged")
    else:
        publish.publish(directory, staged, version, keep=settings.keep_versions)
        context.log.info(f"published version {version}: {len(built.corpus)} records in {directory / DATA_FILE}")
    published = publish.current_version(directory)
    yield dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(directory / DATA_FILE)),
            "published": not failed,
            "version": version,
            "published_version": published or "none",
            **({"staged_path": dg.MetadataValue.path(str(staged)), "failed_checks": failed} if failed else {}),
            "dagster/row_count": len(built.corpus),
            "records_by_language": metadata.table(built.corpus.group_by("language").len("records").sort("language")),
            "records_by_task": metadata.table(built.corpus.group_by("task").len("records").sort("task")),
            "removed_by_reason": dg.MetadataValue.json(built.counts()),
            "left_out_sources": dg.MetadataValue.json(left_out),
            "left_out_by_mix": dg.MetadataValue.json(dict(facts.left_out_by_mix)),
            "dataset_card": dg.MetadataValue.md(readme),
        },
        # The asset's data is the published corpus: a failed build leaves it at the version it had.
        data_version=dg.DataVersion(published) if published else None,
    )
    for result in results:
        yield dg.AssetCheckResult(
            check_name=result.name, passed=result.passed,
            severity=dg.AssetCheckSeverity.ERROR if result.blocking else dg.AssetCheckSeverity.WARN,
            metadata={k: metadata.value(v) for k, v in result.metadata.items()},
        )
