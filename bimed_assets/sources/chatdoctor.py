"""ChatDoctor (Li et al. 2023): HealthCareMagic-100k, iCliniq and GenMedGPT-5k, each one JSON array of
Alpaca-style ``instruction`` / ``input`` / ``output`` objects (patient message → doctor answer).

The ``instruction`` is the same sentence for every item ("If you are a doctor, please answer ..."), so it
is left out of the question (``bimed_assets.sources.alpaca``). Items have no id: ``load_source`` hashes the content, which also
quarantines exact repeats as ``duplicate_id``.
"""

from __future__ import annotations

from pathlib import Path

from bimed_assets.sources import alpaca
from bimed_assets.sources.loading import SourceSpec

# File stem → subset; GenMedGPT-5k ships as ``chatdoctor5k.json``.
_SUBSETS = {
    "healthcaremagic": "healthcaremagic",
    "icliniq": "icliniq",
    "chatdoctor5k": "genmedgpt",
    "genmedgpt": "genmedgpt",
}


def subset_of(path: Path) -> str:
    stem = path.stem.lower()
    return next((subset for key, subset in _SUBSETS.items() if key in stem), stem)


SPEC = SourceSpec(
    name="chatdoctor",
    description="ChatDoctor patient–doctor dialogues (GenMedGPT-5k; HealthCareMagic-100k and iCliniq same format)",
    licence="Apache-2.0 (code); data for academic research only, no commercial or clinical use (ChatDoctor README)",
    licence_kind="research_only",
    licence_id="other",
    sample="chatdoctor/*.json",
    read=alpaca.reader(subset_of),
    normalize=alpaca.normalizer("dialogue"),
)
