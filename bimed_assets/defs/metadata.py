"""Helpers that turn plain results into Dagster metadata shown in the UI."""

import hashlib

import dagster as dg
import polars as pl


def table(frame: pl.DataFrame) -> dg.MetadataValue:
    """A small frame (counts, compositions) as a Markdown table."""
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    rows = "".join("| " + " | ".join(str(v) for v in row) + " |\n" for row in frame.iter_rows())
    return dg.MetadataValue.md(header + rows)


def value(v: object) -> object:
    """Dicts and lists as JSON metadata; numbers and text as they are."""
    return dg.MetadataValue.json(v) if isinstance(v, (dict, list)) else v


def usage_table(snapshot: dict[str, dict[str, float]]) -> dg.MetadataValue:
    """LLM usage per purpose (``UsageMeter.snapshot()``): requests, HTTP calls, cache hits, tokens, dollars."""
    return table(pl.DataFrame([{"purpose": purpose, **row} for purpose, row in snapshot.items()]))


def llm_usage(snapshot: dict[str, dict[str, float]]) -> dict[str, object]:
    """The LLM usage of an asset (``UsageMeter.snapshot()``): totals, plus the table per purpose."""
    total = snapshot["total"]
    return {
        "llm_requests": int(total["requests_ok"] + total["requests_failed"]),
        "llm_http_calls": int(total["calls"]),
        "llm_cache_hits": int(total["cache_hits"]),
        "prompt_tokens": int(total["prompt_tokens"]),
        "completion_tokens": int(total["completion_tokens"]),
        "cost_usd": float(total["usd"]),
        "llm_usage": usage_table(snapshot),
    }


def data_version(frame: pl.DataFrame) -> dg.DataVersion:
    """A hash of ``frame``'s schema and rows, in order: an asset's data version changes when its output does and
    only then, so Dagster marks what reads it stale only after a real change. (Polars keeps ``hash_rows`` stable
    within a Polars version; an upgrade changes every data version once.)"""
    digest = hashlib.sha256(repr(frame.schema).encode())
    digest.update(frame.hash_rows(0, 1, 2, 3).to_numpy().tobytes())
    return dg.DataVersion(digest.hexdigest()[:16])


def incremental_walk(results: list) -> dict[str, int]:
    """How many items an incremental LLM stage walked, and how many it kept from an earlier build."""
    reused = sum(result.reused for result in results)
    return {"items_walked": len(results) - reused, "items_reused": reused}


def histogram(values: list[float], *, title: str, xlabel: str, marker: float | None = None) -> dg.MetadataValue:
    """A histogram as a PNG embedded in Markdown, so that the UI shows a picture."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 3), dpi=100)
    axes.hist(values, bins=range(0, 105, 5), color="#4f6bed", edgecolor="white")
    if marker is not None:
        axes.axvline(marker, color="#d64545", linestyle="--", label=f"threshold {marker:g}")
        axes.legend(loc="upper left")
    axes.set(title=title, xlabel=xlabel, ylabel="attempts", xlim=(0, 100))
    return picture(figure, title)


def pyplot():
    """matplotlib's pyplot on the non-interactive backend (code servers have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def picture(figure, title: str) -> dg.MetadataValue:
    """A matplotlib figure as a PNG embedded in Markdown (the UI shows Markdown images); closes the figure."""
    import base64
    import io

    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot().close(figure)
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})")
