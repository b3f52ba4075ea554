"""Lateness as the run records keep it: each run's latest job (``latenessMaxMs``) and a histogram of its jobs
by lateness bin (``lateness``, bins of ``onthedot.core.lateness``), merged over the runs shown for p50 and p99.

Run records written before lateness was recorded, or with other bins, simply have none: read defensively.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from onthedot.core import jobs

try:  # the histogram's bins; without them only the maxima are shown
    from onthedot.core.lateness import EDGES_MS, merge, percentile_ms
except ImportError:  # pragma: no cover - an older core
    EDGES_MS, merge, percentile_ms = (), None, None  # type: ignore[assignment]

HISTOGRAM = getattr(jobs, "RUN_LATENESS", "lateness")
MAX_MS = getattr(jobs, "RUN_LATENESS_MAX_MS", "latenessMaxMs")


@dataclass(frozen=True)
class Summary:
    """Lateness over the runs read: the merged histogram (bin edges, counts), p50, p99 and the max."""

    edges_ms: Sequence[int]
    counts: Sequence[int]
    p50_ms: int | None
    p99_ms: int | None
    max_ms: float | None
    jobs: int


def max_ms(record: Mapping[str, Any]) -> float | None:
    """A run's latest job, in ms; None when the record has no such figure, or the run published nothing."""
    value = record.get(MAX_MS)
    if record.get("published") == 0:
        return None
    return float(value) if isinstance(value, int | float | Decimal) and not isinstance(value, bool) else None


def histogram(record: Mapping[str, Any]) -> list[int] | None:
    """A run's histogram when it has one with the bins known here."""
    counts = record.get(HISTOGRAM)
    if not isinstance(counts, list) or len(counts) != len(EDGES_MS) or not EDGES_MS:
        return None
    if not all(isinstance(count, int | Decimal) and not isinstance(count, bool) for count in counts):
        return None
    return [int(count) for count in counts]


def summarize(records: Sequence[Mapping[str, Any]]) -> Summary:
    maxima = [value for value in map(max_ms, records) if value is not None]
    histograms = [counts for counts in map(histogram, records) if counts is not None]
    if not histograms or merge is None or percentile_ms is None:
        return Summary((), (), None, None, max(maxima, default=None), 0)
    total = merge(histograms)
    return Summary(
        EDGES_MS, total, percentile_ms(total, 0.5), percentile_ms(total, 0.99), max(maxima, default=None), sum(total)
    )


def duration(ms: float | None) -> str:
    """``850 ms``, ``1.25 s``, ``2.0 min``; ``-`` for none."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 120_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 60_000:.1f} min"


def edge_label(edge_ms: int, previous_ms: int | None) -> str:
    """The bin's label: ``<100ms``, ``<1.5s``, ``<5min``; the last bin is ``>5min`` (its edge is ~infinity)."""
    if edge_ms == EDGES_MS[-1] and previous_ms is not None:
        return f">{_short(previous_ms)}"
    return f"<{_short(edge_ms)}"


def _short(ms: int) -> str:
    if ms < 1000:
        return f"{ms}ms"
    if ms < 120_000:
        return f"{ms / 1000:g}s"
    return f"{ms / 60_000:g}min"
