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


def composition(corpus: pl.DataFrame) -> pl.DataFrame:
    """Records and tokens (exact, Mixtral tokenizer, per message content) per source, language and task."""
    by = ["source", "language", "task"]
    contents = pl.col("messages").list.eval(pl.element().struct.field("content"))
    records = corpus.group_by(by).len("records")
    # Contents are taken 50k records at a time: exploding them all at once copies every text (~1 GB at scale).
    counted = tokens.count_by(corpus.select(*by, "messages"), by, contents, chunk=50_000)
    return records.join(counted, on=by, how="left").with_columns(pl.col("tokens").fill_null(0)).sort(by)


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
        (f"`{data_file}`: {total[0]:,} records, {total[1]:,} tokens, counted exactly with Mixtral's tokenizer "
         "(`mistral-common` `tokenizer.model.v1`), each message content on its own, chat-template markup "
         "excluded.\n"),
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
