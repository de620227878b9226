"""The dataset card (Markdown) with composition tables, token counts and chart images, beside the data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from bimed_assets.corpus import tokens

# The Hugging Face hub's size buckets, by record count.
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                    (10_000_000, "1M<n<10M"))


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What the card's YAML and notes say beyond the composition: version, licences, what was left out."""

    version: str | None = None
    # source → (licence text, hub licence id, licence kind: permissive / copyleft / research_only / unclear)
    licences: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)
    licence_kinds: tuple[str, ...] | None = None  # the licence subset the build was restricted to, if any
    left_out_sources: Mapping[str, str] = field(default_factory=dict)  # source → why it is not in the build
    left_out_by_mix: Mapping[str, int] = field(default_factory=dict)  # language → candidates the mix left out
    data_bytes: int = 0


def size_category(records: int) -> str:
    return next((name for bound, name in _SIZE_CATEGORIES if records < bound), "n>10M")


def card_yaml(data_file: str, records: int, facts: CardFacts, features: dict | None) -> str:
    """The card's YAML header (Hugging Face dataset card metadata), so that ``load_dataset(<dir>)`` reads the
    Parquet file with its features and the hub shows licence, size and version."""
    from huggingface_hub import DatasetCardData

    in_build = {s: lic for s, lic in facts.licences.items() if s not in facts.left_out_sources}
    ids = sorted({hub_id for _, hub_id, _ in in_build.values()}) or ["other"]
    info = {"splits": [{"name": "train", "num_bytes": facts.data_bytes, "num_examples": records}],
            "dataset_size": facts.data_bytes}
    if features is not None:
        info = {**features, **info}
    data = DatasetCardData(
        language=["en", "ar"], license=ids[0] if len(ids) == 1 else ids, pretty_name="BiMed bilingual medical "
        "instruction corpus", size_categories=[size_category(records)],
        task_categories=["question-answering", "text-generation"],
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": data_file}]}],
        dataset_info=info, version=facts.version,
        license_details={s: f"{text} ({kind})" for s, (text, _, kind) in sorted(in_build.items())} or None,
    )
    return f"---\n{data.to_yaml()}\n---\n"


def _licence_section(facts: CardFacts) -> str:
    rows = [(s, kind, text) for s, (text, _, kind) in sorted(facts.licences.items()) if s not in facts.left_out_sources]
    restricted = {kind: [s for s, k, _ in rows if k == kind] for kind in ("research_only", "copyleft", "unclear")}
    notes = [f"- **{kind.replace('_', ' ')}**: {', '.join(names)}" for kind, names in restricted.items() if names]
    subset = (f"Built from sources licensed {', '.join(facts.licence_kinds)} only.\n\n" if facts.licence_kinds
              else "")
    table = "| source | kind | licence |\n|---|---|---|\n" + "".join(f"| {s} | {k} | {t} |\n" for s, k, t in rows)
    return ("## Licences\n\nEach record keeps its source's licence in `provenance.licence`; the corpus is only as "
            "open as its most restrictive source. Sources with restrictions:\n\n" + "\n".join(notes or ["- none"])
            + "\n\n" + subset + table)


def _left_out_section(facts: CardFacts) -> str:
    lines = [f"- source `{s}`: {why}" for s, why in sorted(facts.left_out_sources.items())]
    lines += [f"- {count:,} {language} records: candidates the language mix and source weights did not choose"
              for language, count in sorted(facts.left_out_by_mix.items()) if count]
    return "## Left out\n\n" + ("\n".join(lines) if lines else "Nothing.") + "\n"


# Token counts: exact in a group (source, language, task) of up to ``EXACT_UP_TO`` records; in a larger one,
# estimated from an exact count of a ``SAMPLE_RATE`` sample of its records (the records of lowest id hash, at
# least ``MIN_SAMPLE``), with a 95% margin (normal approximation, finite-population corrected). Counting every word of BiMed1.3M's ~1.3M records costs ~50 s of CPU (``tokens.count_by``).
EXACT_UP_TO = 20_000
SAMPLE_RATE = 0.1
MIN_SAMPLE = 1_000
_SAMPLE_SEED = 0x5A3B1E


def composition(corpus: pl.DataFrame, exact_up_to: int | None = EXACT_UP_TO, rate: float = SAMPLE_RATE,
                min_sample: int = MIN_SAMPLE) -> pl.DataFrame:
    """Records and tokens (Mixtral tokenizer, per message content) per source, language and task, with
    ``counted`` (records whose tokens were counted) and ``margin`` (95% half-width of an estimate; 0: exact).
    ``exact_up_to=None``: every group counted exactly."""
    by = ["source", "language", "task"]
    contents = pl.col("messages").list.eval(pl.element().struct.field("content"))
    records = corpus.group_by(by).len("records")
    large = records.filter(pl.col("records") > exact_up_to) if exact_up_to is not None else records.head(0)
    in_large = pl.struct(by).is_in(large.select(pl.struct(by)).to_series().implode())
    # Contents are taken 25k records at a time (exploding them all at once copies every text).
    exact = tokens.count_by(corpus.filter(~in_large).select(*by, "messages"), by, contents, chunk=25_000).with_columns(
        margin=pl.lit(0, pl.Int64))
    # The sample: each large group's records of lowest id hash, a ``rate`` share of them (``min_sample`` at least).
    wanted = pl.max_horizontal(pl.lit(min_sample), (pl.len().over(by) * rate).ceil())
    sample = corpus.filter(in_large).filter(pl.col("id").hash(_SAMPLE_SEED).rank("ordinal").over(by) <= wanted
                                            ).select(*by, "messages")
    counted = sample.select(*by).with_columns(tokens=pl.Series(tokens.count_rows(sample, contents, chunk=20_000),
                                                               dtype=pl.Int64))
    n, s = pl.col("records"), pl.col("counted")
    estimated = counted.group_by(by).agg(mean=pl.col("tokens").mean(), var=pl.col("tokens").var(),
                                         counted=pl.len()).join(large, on=by).select(
        *by, tokens=(pl.col("mean") * n).round().cast(pl.Int64),
        margin=(1.96 * n * (pl.col("var").fill_null(0) / s * (1 - s / n)).sqrt()).round().cast(pl.Int64),
        counted="counted")
    exact = exact.join(records, on=by, how="left", nulls_equal=True).select(*by, "tokens", "margin",
                                                                           counted="records")
    return records.join(pl.concat([exact, estimated], how="vertical_relaxed"), on=by, how="left", nulls_equal=True
                        ).with_columns(pl.col("tokens").fill_null(0), pl.col("margin").fill_null(0),
                                       pl.col("counted").fill_null(0)).sort(by)


def _token_note(frame: pl.DataFrame) -> str:
    """How the tokens were counted, for the card."""
    margin = frame.select((pl.col("margin").cast(pl.Float64) ** 2).sum().sqrt()).item() if "margin" in frame.columns else 0
    how = ("counted exactly with Mixtral's tokenizer (`mistral-common` `tokenizer.model.v1`)" if not margin else
           f"Mixtral's tokenizer (`mistral-common` `tokenizer.model.v1`): counted exactly in the groups of up to "
           f"{EXACT_UP_TO:,} records, **estimated** in larger ones from an exact count of a {SAMPLE_RATE:.0%} sample "
           f"of their records (±{margin:,.0f} tokens at 95% in all; columns `counted` and `margin` below)")
    return f"{how}, each message content on its own, chat-template markup excluded"


def _table(frame: pl.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    return head + "".join("| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row) + " |\n"
                          for row in frame.iter_rows())


def _chart(frame: pl.DataFrame, by: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.barh(frame[by].to_list(), (frame["tokens"] / 1e6).to_list())
    ax.set_xlabel("tokens (millions, Mixtral tokenizer)")
    ax.set_title(f"Tokens by {by}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_card(composition_frame: pl.DataFrame, removed_counts: dict[str, int], directory: Path,
               data_file: str, facts: CardFacts | None = None, features: dict | None = None) -> Path:
    """``README.md`` and ``tokens_by_<dimension>.png`` in ``directory``. ``features``: the ``dataset_info``
    features of the data file, as ``datasets.DatasetInfo._to_yaml_dict`` gives them."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    facts = facts or CardFacts()
    total = composition_frame.select(pl.sum("records"), pl.sum("tokens")).row(0)
    version = f"Version `{facts.version}` (BLAKE2b of the Parquet file's bytes).\n" if facts.version else ""
    sections = [
        card_yaml(data_file, total[0], facts, features),
        "# BiMed bilingual medical instruction corpus\n",
        version,
        f"`{data_file}`: {total[0]:,} records, {total[1]:,} tokens, {_token_note(composition_frame)}.\n",
        ("Columns: `id`, `messages` (system/user/assistant), `task`, `source`, `language` (en/ar/bilingual), "
         "`provenance` (item id, origin, licence, translation round and scores, review decision).\n"),
    ]
    for by in ("language", "source", "task"):
        part = composition_frame.group_by(by).agg(pl.sum("records"), pl.sum("tokens")).sort(by)
        part = part.with_columns(share=(pl.col("tokens") / max(total[1], 1)).round(3))
        _chart(part, by, directory / f"tokens_by_{by}.png")
        sections.append(f"## By {by}\n\n{_table(part)}\n![tokens by {by}](tokens_by_{by}.png)\n")
    removed = pl.DataFrame({"reason": list(removed_counts), "removed": list(removed_counts.values())},
                           schema={"reason": pl.String, "removed": pl.Int64})
    sections.append(f"## Removed (deduplication and decontamination)\n\n{_table(removed)}")
    sections.append(_left_out_section(facts))
    if facts.licences:
        sections.append(_licence_section(facts))
    sections.append(f"## Full composition\n\n{_table(composition_frame)}")
    path = directory / "README.md"
    path.write_text("\n".join(sections), encoding="utf-8")
    return path
