"""Metadata helpers as the UI shows them."""

from bimed_assets.defs import metadata


def rows(markdown: str) -> dict[str, tuple[int, str]]:
    """The histogram's table: bin → (count, bar and marker)."""
    cells = [row.split("|")[1:4] for row in markdown.splitlines() if row.startswith("| ") and "–" in row]
    return {label.strip(): (int(count.replace(",", "")), bar.strip()) for label, count, bar in cells}


def test_the_score_histogram_counts_every_value_in_bins_of_five_and_marks_the_threshold():
    values = [0.0, 4.9, 55.0, 80.0, 92.0, 92.5, 100.0] + [93.0] * 1_000
    text = metadata.histogram(values, title="Combined score per attempt", xlabel="score", marker=80.0).value
    assert "1,007 attempts; 1,004 at or above the threshold, 80" in text
    table = rows(text)
    bins = list(table)
    assert (bins[0], bins[-1], len(bins)) == ("0–5", "95–100", 20)  # from the lowest bin used to the highest
    assert table["0–5"][0] == 2 and table["95–100"][0] == 1  # 100 counts in the last bin
    assert table["90–95"] == (1_002, "█" * 30)  # the longest bar
    assert table["55–60"] == (1, "█")  # a bin with anything in it shows a bar
    assert table["60–65"] == (0, "")
    assert table["80–85"][1].endswith("◀ threshold")
    assert sum(count for count, _ in table.values()) == len(values)


def test_a_histogram_of_nothing_says_so():
    text = metadata.histogram([], title="Combined score per attempt", xlabel="score").value
    assert text == "**Combined score per attempt**: 0 attempts"
