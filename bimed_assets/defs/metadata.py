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


_BINS = 20  # of 5 points each, over 0-100
_BAR_WIDTH = 30  # characters of the longest bar


def histogram(values: list[float], *, title: str, xlabel: str, marker: float | None = None) -> dg.MetadataValue:
    """Scores from 0 to 100 in bins of 5 points, as a Markdown table with a bar per bin and, with ``marker`` (a
    threshold), how many reach it. Text rather than a picture: drawing one with matplotlib cost ~0.4 s of CPU at
    the end of every partition's run, most of it importing matplotlib (throwaway timing and py-spy profile of
    bench/partitioned_budget.py's backfill), while the other partitions are still sending; the counts also read
    exactly."""
    counts = [0] * _BINS
    for v in values:
        counts[min(max(int(v // 5), 0), _BINS - 1)] += 1  # 100 falls in the last bin, 95-100
    lines = [f"**{title}**: {len(values):,} attempts"
             + (f"; {sum(v >= marker for v in values):,} at or above the threshold, {marker:g}"
                if marker is not None else "")]
    used = [i for i, count in enumerate(counts) if count]
    if used:
        lines += ["", f"| {xlabel} | attempts | |", "| --- | ---: | --- |"]
        most = max(counts)
        for i in range(used[0], used[-1] + 1):
            bar = "█" * max(1, round(_BAR_WIDTH * counts[i] / most)) if counts[i] else ""
            threshold = " ◀ threshold" if marker is not None and 5 * i <= marker < 5 * i + 5 else ""
            lines.append(f"| {5 * i}–{5 * i + 5} | {counts[i]:,} | {bar}{threshold} |")
    return dg.MetadataValue.md("\n".join(lines))


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
