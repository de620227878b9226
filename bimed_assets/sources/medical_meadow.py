"""Medical Meadow (medAlpaca, Han et al. 2023): JSON arrays of Alpaca-style ``instruction`` / ``input`` /
``output`` objects. ``medical_meadow_small.json`` is the WikiDoc patient-information part (5,942 pairs).

The ``instruction`` is a constant ("Answer this question truthfully") and is left out of the question
(``bimed_assets.sources.alpaca``).
Items have no id: ``load_source`` hashes the content, which quarantines exact repeats as ``duplicate_id``.
"""

from __future__ import annotations

from pathlib import Path

from bimed_assets.sources import alpaca
from bimed_assets.sources.loading import SourceSpec

# The repository's "small" training file is the WikiDoc patient-information part; the hub's parts are
# named ``medical_meadow_<part>`` and keep their part name.
_SUBSETS = {"medical_meadow_small": "wikidoc_patient_information"}


def subset_of(path: Path) -> str:
    stem = path.stem.lower()
    return _SUBSETS.get(stem, stem.removeprefix("medical_meadow_"))


SPEC = SourceSpec(
    name="medical_meadow",
    description="Medical Meadow (medAlpaca) question–answer pairs from WikiDoc patient-information pages",
    licence="GPL-3.0 (medAlpaca repository); WikiDoc page content under WikiDoc's own terms (unclear)",
    licence_kind="copyleft",
    licence_id="gpl-3.0",
    sample="medical_meadow/*.json",
    read=alpaca.reader(subset_of),
    normalize=alpaca.normalizer("open_qa"),
)
