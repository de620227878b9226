"""The dataset card (Markdown) with composition tables, token counts and chart images, beside the data."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from bimed_assets.corpus import tokens


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
               data_file: str) -> Path:
    """``README.md`` and ``tokens_by_<dimension>.png`` in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    total = composition_frame.select(pl.sum("records"), pl.sum("tokens")).row(0)
    sections = [
        "---\nlanguage: [en, ar]\ntask_categories: [question-answering, text-generation]\n---\n",
        "# BiMed bilingual medical instruction corpus\n",
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
    sections.append(f"## Full composition\n\n{_table(composition_frame)}")
    path = directory / "README.md"
    path.write_text("\n".join(sections), encoding="utf-8")
    return path
