"""One multi-asset per source set: its canonical records and its quarantine, with checks."""

import dagster as dg
from pydantic import Field

from bimed_assets.defs import metadata
from bimed_assets.settings import SourceFiles
from bimed_assets.sources import SOURCES, SourceSpec, left_out_result, load_files, load_hf
from bimed_assets.sources.checks import CHECKS, check_source

GROUP = "sources"


class SourceConfig(dg.Config):
    location: str | None = Field(
        default=None,
        description="File, directory or glob of the source's native files, for this run only. Unset: where "
        "the project file (`sources` in bimed.yaml) puts them; the bundled sample when nothing is configured.",
    )
    hf_dataset: str | None = Field(
        default=None, description="Hugging Face dataset id to read instead of files (needs network)."
    )
    hf_config: str | None = Field(default=None, description="Hugging Face dataset configuration name.")
    hf_split: str = Field(default="train", description="Hugging Face split to read.")
    max_quarantine_rate: float = Field(
        default=0.05, description="The quarantine_rate check fails above this share of records."
    )


def build_source_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    quarantine_key = dg.AssetKey(f"{spec.name}_quarantine")

    @dg.multi_asset(
        name=spec.name,
        group_name=GROUP,
        outs={
            spec.name: dg.AssetOut(
                description=f"{spec.description}, in the canonical schema (bimed_assets.schema).",
                metadata={"licence": spec.licence},
                kinds={"polars", "parquet"},
                is_required=True,
            ),
            quarantine_key.path[0]: dg.AssetOut(
                description=f"Records of {spec.name} that failed validation, each with its reason.",
                kinds={"polars", "parquet"},
            ),
        },
        check_specs=[
            dg.AssetCheckSpec(name, asset=spec.name, description=description, blocking=True)
            for name, description in CHECKS.items()
        ],
    )
    def load(context: dg.AssetExecutionContext, config: SourceConfig, source_files: SourceFiles):
        left_out = None
        if config.hf_dataset:
            result = load_hf(spec, config.hf_dataset, config.hf_split, config.hf_config)
            where = f"hf://{config.hf_dataset}"
        elif config.location:  # asked for in this run: a location without files is an error, not a note
            where = config.location
            result = load_files(spec, where)
        else:
            where, left_out = source_files.location(spec)
            result = load_files(spec, where) if where else left_out_result()
        if left_out:
            context.log.warning(f"{spec.name} is left out of this build: {left_out}")
        else:
            context.log.info(f"{spec.name}: read {result.read}, kept {len(result.records)}, "
                             f"quarantined {len(result.quarantine)} from {where}")
        splits = result.records.group_by("subset", "split", "is_eval").len("records").sort("subset", "split")
        yield dg.Output(
            result.records,
            output_name=spec.name,
            metadata={
                **({"left_out": left_out} if left_out else {"location": where}),
                "read": result.read,
                "kept": len(result.records),
                "quarantined": len(result.quarantine),
                "quarantined_by_reason": dg.MetadataValue.json(dict(result.reasons)),
                "records_by_split": metadata.table(splits),
                "dagster/row_count": len(result.records),
            },
        )
        yield dg.Output(
            result.quarantine,
            output_name=quarantine_key.path[0],
            metadata={"dagster/row_count": len(result.quarantine), **dict(result.reasons)},
        )
        for outcome in check_source(result, config.max_quarantine_rate, left_out):
            yield dg.AssetCheckResult(
                asset_key=spec.name,
                check_name=outcome.name,
                passed=outcome.passed,
                metadata={k: metadata.value(v) for k, v in outcome.metadata.items()},
            )

    return load


source_assets = [build_source_asset(spec) for spec in SOURCES.values()]
