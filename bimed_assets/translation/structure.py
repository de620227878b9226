"""Omissions and truncation seen through what both languages keep: length, sentences, the end of the text.

Arabic and English lengths (letters and digits) follow a log-normal ratio whose spread shrinks as texts grow:
``log(arabic / english) ~ N(MEAN, SPREAD_AT(n))`` for an English text of ``n`` letters and digits. A dropped
sentence or a cut tail moves a translation several spreads below its expected length; a translation that
merges two sentences keeps its length. Each rule therefore pairs the length with structural evidence:

- **dropped sentence**: fewer sentences than the source *and* a length ``DROPPED_Z`` spreads short;
- **cut tail**: the source ends a sentence (., !, ?, :) but the translation stops without one, *and* it is
  ``TRUNCATED_Z`` spreads short;
- **too short or too long** whatever the structure: beyond ``OUTLIER_Z`` spreads.

The constants were fitted by ``bench/fidelity.py --refit`` on TICO-19 (professional COVID-19 terminology)
and the even-numbered documents of NTREX-128 (professional news sentences); the odd-numbered documents are
kept for the report. Field kinds (answer option, question stem, long answer, chat turn) share the model:
the real data hold sentences and terms, not items; kinds differ only in the length below which length says
nothing (a short option translated as a definition is common, "CDC" → "مراكز مكافحة الأمراض").
"""

from __future__ import annotations

import math
import re

from bimed_assets.translation.text import sentences

# Fitted by bench/fidelity.py --refit (least squares of the spread of 8 length bins against 1/sqrt(n)).
MEAN = -0.068
SPREAD_SLOPE = 1.567  # spread = SPREAD_FLOOR + SPREAD_SLOPE / sqrt(n)
SPREAD_FLOOR = 0.016
# Few calibration texts are longer; beyond this the model claims no more precision than it had there
# (a long MMLU vignette translated faithfully at 0.7× the length would otherwise look cut).
CALIBRATED_UP_TO = 300
# Thresholds in spreads below the expected length.
DROPPED_Z = -0.8
ADDED_Z = 2.0
TRUNCATED_Z = -1.2
OUTLIER_Z = 3.2  # shorter
LONGER_Z = 4.0  # longer: translators explain (a title, an acronym); added text is rarer and less harmful
# English letters and digits below which length is not judged, per field kind.
MIN_SIZE = {"option": 60, "stem": 30, "answer": 30, "turn": 30, "text": 30}

_SENTENCE_END = re.compile(r"[.!?؟…:]['\"”’)\]»]*\s*$")


def size(text: str) -> int:
    return sum(map(str.isalnum, text))


def length_z(source_size: int, target_size: int) -> float:
    """How many spreads the translation's length lies from what the model expects of this source."""
    spread = SPREAD_FLOOR + SPREAD_SLOPE / math.sqrt(min(source_size, CALIBRATED_UP_TO))
    return (math.log(max(target_size, 1) / source_size) - MEAN) / spread


def field_kind(field: str) -> str:
    """The kind of a field from its path in an item: "options.B", "question", "turns[2]", "answer"."""
    if field.startswith("options"):
        return "option"
    if field.startswith("turns") or field.endswith("]"):
        return "turn"
    if field in ("question", "stem", "prompt"):
        return "stem"
    return "answer" if field else "text"


def problems(src: str, tgt: str, kind: str = "text") -> list[tuple[str, str]]:
    """Normalised ``src`` and ``tgt``: ("sentences" | "length", detail) for each omission seen."""
    source_size = size(src)
    if source_size < MIN_SIZE.get(kind, MIN_SIZE["text"]):
        return []
    z = length_z(source_size, size(tgt))
    ratio = size(tgt) / source_size
    if z < -OUTLIER_Z or z > LONGER_Z:
        way = "shorter" if z < 0 else "longer"
        return [("length", (f"the translation is {ratio:.1f}× the length of the source, {way} than "
                           "translations of this length ever are"))]
    found = []
    source_count, target_count = len(sentences(src)), len(sentences(tgt))
    counts = f"{source_count} sentences in the source, {target_count} in the translation"
    if target_count < source_count and z < DROPPED_Z:
        found.append(("sentences", f"{counts}, which is {ratio:.0%} of the source's length: a sentence seems missing"))
    elif target_count > source_count and z > ADDED_Z:
        found.append(("sentences", f"{counts}, which is {ratio:.1f}× the source's length: a sentence seems added"))
    elif _SENTENCE_END.search(src) and not _SENTENCE_END.search(tgt) and z < TRUNCATED_Z:
        detail = f"the translation stops without ending its sentence at {ratio:.0%} of the source's length"
        found.append(("length", f"{detail}: its end seems cut"))
    return found
