"""Omissions and truncation seen through what both languages keep: length, sentences, the end of the text.

Arabic and English lengths (letters and digits) follow a log-normal ratio whose spread shrinks as texts grow:
``log(arabic / english) ~ N(MEAN, SPREAD_AT(n))`` for an English text of ``n`` letters and digits. A dropped
sentence or a cut tail moves a translation below its expected length; a translation that merges two
sentences keeps its length. Each rule therefore pairs the length with structural evidence:

- **dropped sentence**: the source's sentences are aligned with the translation's pieces (cut at sentence
  ends, clause marks and the clause openers Arabic joins to a sentence without a mark, "وقد", "وفي", "كما"),
  each sentence with a run of pieces or none (``dropped``); a piece holding a number, a Latin token or a
  transliterated name that only one source sentence has costs more given to another. A sentence is missing
  when leaving it out fits clearly better than merging it into a neighbour (the merged run would be too short
  for the two sentences), unless the translation holds such a mark of that sentence; or, whatever the
  alignment, when the translation has fewer sentences *and* is ``DROPPED_Z`` spreads short. Not when the
  translation is ``DROP_GUARD_Z`` spreads *longer* than expected.
- **cut tail**: the translation ends on a word that needs a complement ("الناجم عن", "مع"); or the source ends
  a sentence (., !, ?, :) but the translation stops without one, *and* it is ``TRUNCATED_Z`` spreads short;
- **too short** whatever the structure: beyond ``OUTLIER_Z`` spreads.

A translation too long (``LONGER_Z``), or with more sentences and ``ADDED_Z`` spreads long, is a signal
(``additions``), not a failure.

The length model was fitted by ``bench/fidelity.py --refit`` on TICO-19 (professional COVID-19 terminology)
and the even-numbered documents of NTREX-128 (professional news sentences); the alignment's costs and the
thresholds were chosen on the same data (the even documents' lines and every window of three lines, with
sentences dropped from them: ``bench/fidelity.py --calibration``) and on the team's fixtures; the odd-numbered documents are kept for the report. Field kinds
(answer option, question stem, long answer, chat turn) share the model: the real data hold sentences and
terms, not items; kinds differ only in the length below which a text too *long* says nothing (a short option
translated as a definition is common, "CDC" → "مراكز مكافحة الأمراض"); one too short is judged from
``MIN_SHORT`` letters on.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from bimed_assets.translation.text import (
    ARABIC_WORD,
    LATIN_WORD,
    _is_abbreviation,
    sentences,
    skeleton,
)

# Fitted by bench/fidelity.py --refit (least squares of the spread of 8 length bins against 1/sqrt(n)).
MEAN = -0.068
SPREAD_SLOPE = 1.567  # spread = SPREAD_FLOOR + SPREAD_SLOPE / sqrt(n)
SPREAD_FLOOR = 0.016
# Few calibration texts are longer; beyond this the model claims no more precision than it had there
# (a long MMLU vignette translated faithfully at 0.7× the length would otherwise look cut).
CALIBRATED_UP_TO = 300
# Thresholds in spreads below the expected length.
DROPPED_Z = -2.0
DROP_GUARD_Z = 1.0
ADDED_Z = 2.0
TRUNCATED_Z = -1.2
OUTLIER_Z = 3.2  # shorter
LONGER_Z = 4.5  # longer: translators explain (a title, an acronym); added text is rarer and less harmful
# English letters and digits below which a translation too long says nothing (``additions``), per field kind.
MIN_SIZE = {"option": 60, "stem": 30, "answer": 30, "turn": 30, "text": 30}
# A translation that ends, without a mark, on a word that needs a complement (a preposition, a conjunction,
# a relative pronoun) was cut: "الالتهاب الرئوي الناجم عن", "إعطاء فيتامين K وريديًا بجرعة 10 ملغ مع". Normalised
# spelling (على → علي, إلى → الي). Not when the source ends on one too ("What is it caused by").
_DANGLING = re.compile(
    r"(?<![\u0621-\u064a])(في|من|الي|علي|عن|مع|و|او|ثم|ان|الذي|التي|الذين|لكن|حتي|لدي|بين|نحو|بسبب|مثل|خلال|ضد|عبر)"
    r"[\s،,]*$"
)
_DANGLING_EN = re.compile(r"\b(?:of|in|on|at|to|from|with|by|for|and|or|than|the|a|an)\W*$", re.IGNORECASE)
# Some of those words are also how Arabic spells the Latin token a source may end on: the name of a letter
# closing an acronym ("HIV" → "إتش آي في", "CNN" → "سي إن إن") or a short name ("Bean" → "بين", "Ali" → "علي").
_LETTER_NAMES = {"في": "V", "ان": "N", "او": "O"}
_LAST_LATIN = re.compile(r"([A-Za-z][A-Za-z0-9'-]*)[^A-Za-z0-9]*$")
MIN_SHORT = 30  # below this, not even a translation too short or cut is judged

# A sentence end, or a closing quotation mark after a word: quoted speech often ends without a period inside.
_SENTENCE_END = re.compile(r"(?:[.!?؟…:]|(?<=\w)[\"”»])['\"”“’)\]»]*\s*$")


def size(text: str) -> int:
    return sum(map(str.isalnum, text))


def _spelled(src: str, word: str) -> bool:
    """Whether a word a translation ends on spells out the Latin token the source ends on (``_LETTER_NAMES``)."""
    if not (last := _LAST_LATIN.search(src)):
        return False
    token = last.group(1)
    if len(token) >= 2 and token.isupper():
        return token.endswith(_LETTER_NAMES.get(word, "?"))
    return token[0].isupper() and skeleton(token, arabic=False) == skeleton(word, arabic=True) != ""


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


# --- sentence alignment ---------------------------------------------------------------------------
# The translation is cut into pieces at sentence ends, at clause marks (";", ":", "، و…", ",") and before clause
# openers with no mark (a run-on join, "... خلال ساعة وفي المساء ..."), and each
# source sentence is given a run of consecutive pieces, or none: a dropped sentence. A run costs the squared
# length z of its pieces against the sentence (the model above), plus what the boundaries say: a source
# sentence that ends where the translation only has a clause mark was merged into the next one ("Yes. It is
# safe." as "نعم، فهو آمن"), a sentence end inside a run was split. The cheapest alignment says whether a
# sentence seems missing: a short sentence merged into its neighbour leaves that run short of the two
# sentences' expected length, one left out leaves every run about right.
# Costs in units of -log(probability), chosen on the calibration data (see the module's docstring).
END_AS_CLAUSE = 2.0  # a source sentence end rendered as ";", ":" or "، و…"
END_AS_COMMA = 6.0  # ... as a bare comma: no likelier than between two words
SPLIT = 1.5  # a sentence end inside the run of one source sentence
DELETE = 4.0  # a source sentence with no piece of the translation
MAX_RUN = 12  # pieces one source sentence may take
END_AS_JOIN = 2.0  # ... between two words, the next a clause opener ("وقد", "وفي", "كما"): a run-on join
WORD = 6.0  # a source sentence end between two words of the translation, with no mark
# A source question aligned with a translated question costs at most this much for its length: "Which of the
# following is the most likely diagnosis?" is "ما التشخيص الأرجح؟", a third of its length.
QUESTION_FIT = 1.0
BEAM = 12.0  # alignment states costlier than the best by more than this are dropped (speed on long texts)
# A whole piece holding a number, Latin token or transliterated name that only another source sentence has,
# given to this one.
ANCHOR = 2.0
HUBER = 2.5  # beyond this many spreads a length misfit costs linearly

# Words that open a clause which Arabic writers often join to the previous sentence with no mark: "و" and a
# particle, a pronoun or a verb of saying ("وفي", "وقد", "وقال"), or a connective ("كما", "حيث", "ثم").
# Normalised spelling. A word that starts with the root letter و ("وفاته", "وزارة", "وباء") is none of these.
_OPENS = ("(?:و(?:في|قد|كان|كانت|قال|قالت|لكن|لكنه|لكنها|لم|لا|لن|ليس|ليست|هو|هي|هم|هذا|هذه|ذلك|تلك|تم|يجب|يمكن"
          "|من|علي|بعد|قبل|عند|عندما|اذا|ان|لذا|لذلك|اضاف|اضافت|اكد|اكدت|اشار|اشارت|ذكر|ذكرت|يقول|تقول|منذ|رغم"
          "|بدلا|بالتالي|كما|ثم|يعد|تعد|يكون|تكون|اوضح|اوضحت|اعلن|اعلنت|بينما|حتي|مع|يري|تري|ما|ظل|ظلت)"
          "|كما|حيث|ثم|لكن|بينما|اذ)")
_PIECE_END = re.compile(
    r"(?P<end>(?<=[.!?؟…])[\"'”“»)\]]*\s+(?![a-z])|\s*\n+\s*)"
    r"|(?P<clause>\s*[؛;:]\s+|\s*[،,]\s+(?=و|ف(?!ي))|(?<=\w)[\"”»]\s+)"  # "، وقال", "، فهو" (not "، في"); a quote closed
    r"|\s*[،,]\s+"
    r"|(?P<join>\s+(?=" + _OPENS + r"(?![\u0621-\u064a])))"
)
_END, _CLAUSE, _JOIN, _COMMA, _NONE = 0, 1, 2, 3, 4
# Numbers and tokens that a translation keeps as written: "150/95", "HbA1c", "CDC", "McDonald's".
_ANCHOR = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z][A-Za-z0-9'-]*[A-Za-z0-9]")
_ASKS = re.compile(r"[?؟][\"'”“»)\]]*\s*$")
_END_COST = {_END: 0.0, _CLAUSE: END_AS_CLAUSE, _COMMA: END_AS_COMMA, _NONE: 0.0, _JOIN: END_AS_JOIN}


Piece = tuple[int, int, bool, str]


def _pieces(text: str) -> list[Piece]:
    """(size, kind of the boundary after it, whether it ends a question, text) for each piece of a normalised
    translation."""
    out: list[Piece] = []
    start = 0
    for match in _PIECE_END.finditer(text):
        if match.group("end"):
            if "\n" not in match.group(0) and _is_abbreviation(text[start : match.start()]):
                continue
            kind = _END
        else:
            kind = _JOIN if match.group("join") else _CLAUSE if match.group("clause") else _COMMA
        piece = text[start : match.start()]
        if n := size(piece):
            out.append((n, kind, _ASKS.search(piece) is not None, piece))
        elif out:  # marks with nothing between them: the strongest one holds
            out[-1] = (out[-1][0], min(kind, out[-1][1]), out[-1][2], out[-1][3])
        start = match.end()
    if n := size(text[start:]):
        out.append((n, _NONE, _ASKS.search(text[start:]) is not None, text[start:]))
    elif out:
        out[-1] = (out[-1][0], _NONE, out[-1][2], out[-1][3])
    return out


def dropped(src_sentences: list[str], tgt: str) -> int | None:
    """The index of a source sentence the translation seems to leave out, by the cheapest alignment.

    A sentence the alignment leaves out is kept after all when the translation holds a mark of it that no
    other source sentence has: a number or Latin-letter token ("150/95", "HbA1c") or a name transliterated
    ("metformin" ~ "الميتفورمين"); the alignment is then made again, leaving out only sentences without such a
    mark."""
    sizes = [max(size(s), 1) for s in src_sentences]
    pieces = _pieces(tgt)
    if not pieces:
        return None
    asks = [_ASKS.search(s) is not None for s in src_sentences]
    own = _own_marks(src_sentences)
    owners = _owners(own, [piece[3] for piece in pieces])
    missing, cost = _align(sizes, pieces, [True] * len(sizes), asks, owners)
    if missing is None:
        return None
    held = _owners(own, [tgt])[0]  # the sentences of which the whole translation holds a mark
    if missing in held:
        # Once more, leaving out only sentences of which the translation holds no mark.
        deletable = [i not in held for i in range(len(own))]
        if not any(deletable):
            return None
        missing, cost = _align(sizes, pieces, deletable, asks, owners)
        if missing is None:
            return None
    # The search keeps one way of reaching each state, so it may miss the best alignment that leaves nothing
    # out: compare with that alignment itself.
    return missing if cost < _align(sizes, pieces, [False] * len(sizes), asks, owners)[1] else None


# Near matches (one edit away) need five consonants: with four they matched ordinary words too often on the
# calibration windows ("Merriweather" ~ "مارتن"). Exact four-consonant matches count: drug names are that short
# ("morphine" m-r-f-n), at the cost of chance ones ("Elizabeth" ~ "السبت", Saturday); on the calibration half
# this changed no false alarm and cost 0.25 points of dropped sentences caught.
NAME_SKELETON = 5


# A transliteration is a name's consonant skeleton (``text.same_name``) and an Arabic word's, equal (of four letters
# or more) or one edit apart (of ``NAME_SKELETON`` or more). Each side is reduced to keys that meet exactly when
# that holds: the skeleton itself ("="), the skeleton less one letter, which the other may lack ("-") or have
# added (">"), and less the letter at k, which the other may have changed ("~"). A word transliterates a name
# when their keys meet: one set operation per word, and most words meet no name.


@functools.lru_cache(maxsize=1 << 14)  # drug and place names recur from text to text
def _name_keys(name: str) -> frozenset[tuple]:
    e = skeleton(name, arabic=False)
    if len(e) < 4:
        return frozenset()
    keys: set[tuple] = {("=", e)}
    if len(e) >= NAME_SKELETON:
        keys.add((">", e))
        for k in range(len(e)):
            keys |= {("-", e[:k] + e[k + 1 :]), ("~", k, e[:k] + e[k + 1 :])}
    return frozenset(keys)


@functools.lru_cache(maxsize=1 << 14)  # a translation's words recur from text to text
def _word_keys(word: str) -> frozenset[tuple]:
    """The keys of an Arabic word, with and without the article, where its skeleton has four letters or more."""
    keys: set[tuple] = set()
    for form in ([word, word[2:]] if word.startswith("ال") else [word]):
        a = skeleton(form, arabic=True)
        if len(a) >= 4:
            keys |= {("=", a), ("-", a)}
            for k in range(len(a)):
                keys |= {(">", a[:k] + a[k + 1 :]), ("~", k, a[:k] + a[k + 1 :])}
    return frozenset(keys)


def _transliterations(names: Iterable[str], arabic_words: Iterable[str]) -> dict[str, set[str]]:
    """For each English name found, the Arabic words that transliterate it."""
    keyed = {name: keys for name in set(names) if (keys := _name_keys(name))}
    found: dict[str, set[str]] = defaultdict(set)
    if not keyed:
        return found
    every = frozenset().union(*keyed.values())
    for word in set(arabic_words):
        if not every.isdisjoint(probes := _word_keys(word)):
            for name, keys in keyed.items():
                if not keys.isdisjoint(probes):
                    found[name].add(word)
    return found


def _own_marks(src_sentences: list[str]) -> list[tuple[set[str], set[str]]]:
    """For each source sentence, the numbers and Latin tokens, and the words of five letters or more (names,
    ``NAME_SKELETON``), that no other source sentence has."""
    tokens = [set(_ANCHOR.findall(s)) for s in src_sentences]
    words = [{w for w in LATIN_WORD.findall(s) if len(w) >= 5} for s in src_sentences]
    out = []
    for i in range(len(src_sentences)):
        other_tokens = set().union(*(t for k, t in enumerate(tokens) if k != i))
        other_words = {w.lower() for k, ws in enumerate(words) if k != i for w in ws}
        out.append((tokens[i] - other_tokens, {w for w in words[i] if w.lower() not in other_words}))
    return out


def _owners(own: list[tuple[set[str], set[str]]], texts: list[str]) -> list[frozenset[int]]:
    """For each normalised text (a piece of a translation, or all of it), the source sentences (``_own_marks``) of
    which it holds a mark. The names are looked up once among the words of all the texts: a text holds a name when
    it has one of the words found."""
    words = [set(ARABIC_WORD.findall(text)) for text in texts]
    found = _transliterations({name for _, names in own for name in names}, set().union(*words))
    out = []
    for text, text_words in zip(texts, words, strict=True):
        anchors = set(_ANCHOR.findall(text))
        held = {name for name, name_words in found.items() if not name_words.isdisjoint(text_words)}
        out.append(frozenset(i for i, (tokens, names) in enumerate(own)
                             if not tokens.isdisjoint(anchors) or not names.isdisjoint(held)))
    return out


_HUBER_OFFSET = HUBER * HUBER / 2
_ROUNDING = 1e-9  # the floor is summed in another order than the costs it bounds


def _fit(taken: float, n: int, spread: float) -> float:
    """A sentence of ``n`` letters rendered in ``taken``: z spreads off its expected length, then Huber's loss
    (translators compress or expand a sentence more often than a normal tail allows)."""
    z = abs(math.log(max(taken, 1) / n) - MEAN) / spread
    return z * z / 2 if z < HUBER else HUBER * z - _HUBER_OFFSET


def _offer(states: dict[tuple[int, int], tuple[float, float, Any]], key: tuple[int, int], cost: float, left: float,
           how: Any, best: float) -> float:
    """Keeps the cheaper way of reaching state ``key``; returns the cheapest cost offered so far."""
    old = states.get(key)
    if old is None or cost < old[0]:
        states[key] = (cost, left, how)
    return min(best, cost)


def _align(sizes: list[int], pieces: list[Piece], deletable: list[bool], asks: list[bool],
           owners: list[frozenset[int]]) -> tuple[int | None, float]:
    """The longest source sentence the cheapest alignment leaves out, if any, and the alignment's cost."""
    m, k = len(sizes), len(pieces)
    inf = math.inf
    # A state is where the next sentence starts: piece j with r letters of it left (a sentence may end inside
    # a piece, between words, at a cost: translators do not always mark a sentence end). Per state the
    # cheapest cost and how it was reached; states inside a piece (by how the cut was placed) are kept apart
    # from whole ones.
    level: dict[tuple[int, int], tuple[float, float, Any]] = {(0, 0): (0.0, pieces[0][0], None)}
    levels = []
    for i in range(m):
        n = sizes[i]
        spread = SPREAD_FLOOR + SPREAD_SLOPE / math.sqrt(min(n, CALIBRATED_UP_TO))
        expected = n * math.exp(MEAN)
        following = sizes[i + 1] if i + 1 < m else 0
        question, may_delete = asks[i], deletable[i]
        nxt: dict[tuple[int, int], tuple[float, float, Any]] = {}
        # The cheapest cost offered so far: an offer above it by more than the beam is dropped below whatever
        # comes after, so it is not made, and a run's offers stop once what they cost at least (every term of
        # a cost is >= 0, and splits and foreign pieces only grow along a run) passes that bound. The kept
        # states, their costs and how they were reached are the same as without the bound.
        best = inf
        for (j, partial), (here, left, _) in level.items():
            if here > best + BEAM:
                continue
            origin = ((j, partial), i)
            if may_delete:
                cost = here + DELETE
                if cost <= best + BEAM:
                    best = _offer(nxt, (j, partial), cost, left, (origin, True), best)
            if j == k:
                continue
            before, splits, foreign = 0.0, 0, 0.0
            for end in range(j, min(k, j + MAX_RUN)):
                avail = left if end == j else pieces[end][0]
                if end > j and pieces[end - 1][1] == _END:
                    splits += 1
                if (end - 1 > j or end > j and not partial) and owners[end - 1] and i not in owners[end - 1]:
                    foreign += ANCHOR  # a whole piece before this one
                floor = here + SPLIT * splits + foreign
                if before > expected:  # past its best length the sentence's misfit only grows along the run
                    least = _fit(before, n, spread)
                    floor += min(least, QUESTION_FIT) if question else least
                if floor > best + BEAM + _ROUNDING:
                    break
                # The sentence ends inside this piece: where its own length fits best, or where the rest of
                # the piece fits the next sentence as well as this part fits this one. (Such an end costs WORD
                # more than the floor: none is offered where that is already past the bound.)
                if avail > 1 and floor + WORD <= best + BEAM + _ROUNDING:
                    cut = min(max(expected - before, 1.0), avail - 1.0)
                    cuts = ((1, cut), (2, min(max((before + avail) * n / (n + following) - before, 1.0), avail - 1.0))
                            ) if following else ((1, cut),)
                    for variant, x in cuts:
                        cost = here + WORD + _fit(before + x, n, spread) + SPLIT * splits + foreign
                        if cost <= best + BEAM:
                            best = _offer(nxt, (end, variant), cost, avail - x, (origin, False), best)
                before += avail
                last = end + 1 == k
                fit = _fit(before, n, spread)
                if question and pieces[end][2]:  # a question rendered as one: its wording compresses freely
                    fit = min(fit, QUESTION_FIT)
                if (end > j or not partial) and owners[end] and i not in owners[end]:
                    fit += ANCHOR
                cost = here + fit + SPLIT * splits + foreign + (0.0 if last else _END_COST[pieces[end][1]])
                if cost <= best + BEAM:
                    best = _offer(nxt, (end + 1, 0), cost, 0.0 if last else pieces[end + 1][0], (origin, False),
                                  best)
                if before > 4 * expected + 20:
                    break
        # A beam: states far costlier than the best one at this sentence never make the cheapest alignment.
        cheapest = min((v[0] for v in nxt.values()), default=0.0)
        level = {key: v for key, v in nxt.items() if v[0] <= cheapest + BEAM}
        levels.append(level)
    if (k, 0) not in level:
        return None, math.inf
    missing, key = None, (k, 0)
    for i in range(m, 0, -1):
        origin, deleted = levels[i - 1][key][2]
        key = origin[0]
        if deleted and (missing is None or sizes[i - 1] > sizes[missing]):
            missing = i - 1
    return missing, level[(k, 0)][0]


def problems(src: str, tgt: str) -> list[tuple[str, str]]:
    """Normalised ``src`` and ``tgt``: ("sentences" | "length", detail) for each omission seen."""
    if (dangling := _DANGLING.search(tgt)) and not _DANGLING_EN.search(src) and not _spelled(src, dangling.group(1)):
        word = dangling.group(1)
        return [("length", f"the translation ends with '{word}', which leaves its phrase unfinished: its end seems cut")]
    source_size = size(src)
    if source_size < MIN_SHORT:
        return []
    z = length_z(source_size, size(tgt))
    ratio = size(tgt) / source_size
    if z < -OUTLIER_Z:
        return [("length", (f"the translation is {ratio:.1f}× the length of the source, shorter than "
                           "translations of this length ever are"))]
    src_sentences = sentences(src)
    source_count, target_count = len(src_sentences), len(sentences(tgt))
    missing = _dropped_by_lines(src, tgt) if source_count > 1 and z < DROP_GUARD_Z else None
    missing = None if missing is None else src_sentences.index(missing) if missing in src_sentences else -1
    if missing is None and target_count + _quote_ends(src, tgt) < source_count and z < DROPPED_Z:
        missing = -1
    if missing is not None:
        which = f" ('{_clip(src_sentences[missing])}')" if missing >= 0 else ""
        detail = (f"{source_count} sentences in the source, {target_count} in the translation, which is "
                  f"{ratio:.0%} of the source's length: a sentence seems missing{which}")
        return [("sentences", detail)]
    if _SENTENCE_END.search(src) and not _SENTENCE_END.search(tgt) and z < TRUNCATED_Z:
        detail = f"the translation stops without ending its sentence at {ratio:.0%} of the source's length"
        return [("length", f"{detail}: its end seems cut")]
    return []


def additions(src: str, tgt: str, kind: str = "text") -> str | None:
    """Normalised ``src`` and ``tgt``: why the translation seems to add to its source, or None. A signal for the
    LLM judge and the reviewer, not a failure: the issue's corruptions are omissions and changes, and on the
    calibration material (TICO-19, the team's fixtures, NTREX-128's even documents, their lines and windows of
    three) neither "longer than translations ever are" nor "a sentence seems added" was the only check to catch
    any of them, while a faithful translation that explains a name or splits a sentence can look added."""
    source_size = size(src)
    # A short option rendered as a definition is common ("CDC" → "مراكز مكافحة الأمراض"): below the kind's
    # size the length says nothing about an addition.
    if source_size < MIN_SIZE.get(kind, MIN_SIZE["text"]):
        return None
    z = length_z(source_size, size(tgt))
    ratio = size(tgt) / source_size
    if z > LONGER_Z:
        return (f"the translation is {ratio:.1f}× the length of the source, longer than translations of this "
                "length ever are")
    if z <= ADDED_Z:  # the common case: no sentence split needed
        return None
    source_count, target_count = len(sentences(src)), len(sentences(tgt))
    if target_count > source_count:
        return (f"{source_count} sentences in the source, {target_count} in the translation, which is "
                f"{ratio:.1f}× the source's length: a sentence seems added")
    return None


# A source sentence that ends inside its quotation marks ('unequivocal." Graham's vote') is often ended in
# Arabic by the closing mark alone ('جليًّا" يبدو'): such a mark may stand for a sentence end when counting.
_QUOTE_ENDS_EN = re.compile(r"[.!?][\"”»']+\s+(?=\S)")
_QUOTE_ENDS_AR = re.compile(r"(?<=\w)[\"”»]\s+(?=\S)")


def _quote_ends(src: str, tgt: str) -> int:
    """Sentence ends the translation marks by a closing quotation mark alone, at most as many as the source
    ends inside quotes (a quote closed in mid-sentence, '"ستندم إلى الأبد" على', is no sentence end)."""
    return min(len(_QUOTE_ENDS_EN.findall(src)), len(_QUOTE_ENDS_AR.findall(tgt)))


def _dropped_by_lines(src: str, tgt: str) -> str | None:
    """The source sentence the translation seems to leave out. Where both have the same number of lines (a list,
    headings, an answer in paragraphs), line is aligned with line, the strongest structure they share."""
    src_lines = [line for line in src.split("\n") if line.strip()]
    tgt_lines = [line for line in tgt.split("\n") if line.strip()]
    pairs = list(zip(src_lines, tgt_lines)) if 1 < len(src_lines) == len(tgt_lines) else [(src, tgt)]
    for source, target in pairs:
        src_sentences = sentences(source)
        if len(src_sentences) > 1 and (missing := dropped(src_sentences, target)) is not None:
            return src_sentences[missing]
    return None


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
