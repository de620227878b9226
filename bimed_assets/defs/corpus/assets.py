"""The final bilingual corpus: Parquet written by atomic replace, a dataset card, and blocking quality checks."""

from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from bimed_assets.corpus import card, write
from bimed_assets.corpus.assemble import assemble
from bimed_assets.corpus.checks import CheckConfig, run_checks
from bimed_assets.corpus.mix import MixConfig
from bimed_assets.defs import metadata
from bimed_assets.paths import var_dir

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
    ar_per_en: float = Field(default=0.5, description="Arabic records per English record (BiMed1.3M: about 1:2).")
    bilingual_share: float = Field(default=0.1, description="Bilingual records, as a share of the Arabic count.")
    source_weights: dict[str, float] = Field(default_factory=dict, description="Keep this share (0-1) of a source.")
    directory: str = Field(default_factory=lambda: str(var_dir() / "corpus"),
                           description="Where the Parquet, the dataset card and the Hugging Face export go.")
    hf_export: bool = Field(default=True, description="Also write a `datasets.save_to_disk` copy.")


@dg.asset(
    group_name="corpus",
    kinds={"polars", "parquet"},
    check_specs=[dg.AssetCheckSpec(name, asset="bimed_corpus", description=text, blocking=name != "length_bounds")
                 for name, text in CHECK_NAMES.items()],
)
def bimed_corpus(context: dg.AssetExecutionContext, config: CorpusConfig, training_pool: pl.DataFrame,
                 evaluation_sets: pl.DataFrame, accepted_translations: pl.DataFrame,
                 reviewed_translations: pl.DataFrame, synthesized_chats: pl.DataFrame):
    """English, Arabic and bilingual instruction records (synthesized chats included) in the chat ``messages``
    format, deduplicated and decontaminated against every evaluation split, with provenance (reviewer and time
    for reviewed Arabic)."""
    mix = MixConfig(ar_per_en=config.ar_per_en, bilingual_share=config.bilingual_share,
                    source_weights=config.source_weights)
    built = assemble(training_pool, evaluation_sets, accepted_translations, reviewed_translations, mix=mix,
                     chats=synthesized_chats)
    directory = Path(config.directory)
    parquet = write.write_parquet_atomic(built.corpus, directory / "bimed_corpus.parquet")
    composition = card.composition(built.corpus)
    readme = card.write_card(composition, built.counts(), directory, parquet.name)
    if config.hf_export:
        write.save_hf_dataset(parquet, directory / "hf_dataset")
    context.log.info(f"wrote {len(built.corpus)} records to {parquet}")
    yield dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(parquet)),
        "dagster/row_count": len(built.corpus),
        "records_by_language": metadata.table(built.corpus.group_by("language").len("records").sort("language")),
        "records_by_task": metadata.table(built.corpus.group_by("task").len("records").sort("task")),
        "removed_by_reason": dg.MetadataValue.json(built.counts()),
        "dataset_card": dg.MetadataValue.md(readme.read_text(encoding="utf-8")),
    })
    for result in run_checks(built.corpus, evaluation_sets, CheckConfig(ar_per_en=config.ar_per_en)):
        yield dg.AssetCheckResult(
            check_name=result.name, passed=result.passed,
            severity=dg.AssetCheckSeverity.ERROR if result.blocking else dg.AssetCheckSeverity.WARN,
            metadata={k: metadata.value(v) for k, v in result.metadata.items()},
        )
