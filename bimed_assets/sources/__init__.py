"""Source QA sets: one module per source, each a ``SourceSpec`` over its native file format."""

from bimed_assets.sources import (
    chatdoctor,
    liveqa,
    medical_meadow,
    medicationqa,
    medmcqa,
    medqa,
    mmlu_medical,
    pubmedqa,
)
from bimed_assets.sources.loading import LoadResult, SourceSpec, left_out_result, load_files, load_hf

SOURCES: dict[str, SourceSpec] = {
    module.SPEC.name: module.SPEC
    for module in (medqa, medmcqa, pubmedqa, mmlu_medical, chatdoctor, medical_meadow, liveqa, medicationqa)
}

__all__ = ["SOURCES", "LoadResult", "SourceSpec", "left_out_result", "load_files", "load_hf"]
