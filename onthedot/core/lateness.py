"""Lateness: how long after its due time a job's event was accepted, kept as a fixed histogram.

A histogram adds up across pages, ticks and runs without growing, so the dispatcher can sum it in JSONata
(``LatenessZeros`` is its empty form, substituted into the definition) and ``onthedot status`` can merge the
runs it reads. Percentiles read from it are the upper edge of the bin they fall in: an honest upper bound.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# Upper edges of the bins, in milliseconds; the last bin holds everything later than the edge before it.
EDGES_MS: tuple[int, ...] = (100, 250, 500, 750, 1_000, 1_500, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000, 2**53)


def bin_of(lateness_ms: float) -> int:
    """The bin of one lateness (a job published early, which never happens, counts in the first bin)."""
    for index, edge in enumerate(EDGES_MS):
        if lateness_ms < edge:
            return index
    return len(EDGES_MS) - 1


def histogram(lateness_ms: Iterable[float]) -> list[int]:
    counts = [0] * len(EDGES_MS)
    for value in lateness_ms:
        counts[bin_of(value)] += 1
    return counts


def merge(histograms: Iterable[Sequence[int]]) -> list[int]:
    total = [0] * len(EDGES_MS)
    for counts in histograms:
        if len(counts) == len(EDGES_MS):  # a record written with other bins is skipped, not misread
            total = [a + int(b) for a, b in zip(total, counts, strict=True)]
    return total


def percentile_ms(counts: Sequence[int], fraction: float) -> int | None:
    """The upper edge of the bin holding the ``fraction`` quantile (0.5, 0.99); None when nothing was counted."""
    total = sum(counts)
    if not total:
        return None
    rank = fraction * total
    seen = 0
    for edge, count in zip(EDGES_MS, counts, strict=True):
        seen += count
        if seen >= rank:
            return edge
    return EDGES_MS[-1]
