"""The lateness histogram: what the publish function returns, the dispatcher sums and `onthedot status` reads."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from onthedot.core import lateness

LATENESS_MS = st.lists(st.floats(min_value=-5, max_value=10**7, allow_nan=False), max_size=200)


@given(values=LATENESS_MS)
def test_every_value_lands_in_the_bin_below_its_edge(values: list[float]) -> None:
    counts = lateness.histogram(values)

    assert sum(counts) == len(values)
    for value in values:
        index = lateness.bin_of(value)
        assert value < lateness.EDGES_MS[index]
        assert index == 0 or value >= lateness.EDGES_MS[index - 1]


@given(first=LATENESS_MS, second=LATENESS_MS)
def test_histograms_of_pages_add_up_to_the_histogram_of_the_run(first: list[float], second: list[float]) -> None:
    assert lateness.merge([lateness.histogram(first), lateness.histogram(second)]) == lateness.histogram(first + second)


@given(values=LATENESS_MS.filter(bool), fraction=st.sampled_from([0.5, 0.9, 0.99, 1.0]))
def test_a_percentile_is_an_upper_bound_of_the_exact_one(values: list[float], fraction: float) -> None:
    edge = lateness.percentile_ms(lateness.histogram(values), fraction)

    exact = sorted(values)[max(0, int(fraction * len(values)) - 1)]
    assert edge is not None
    assert exact < edge


def test_nothing_counted_has_no_percentile_and_a_record_with_other_bins_is_skipped() -> None:
    assert lateness.percentile_ms([0] * len(lateness.EDGES_MS), 0.99) is None
    assert lateness.merge([[1, 2, 3], lateness.histogram([50])]) == lateness.histogram([50])
    assert lateness.percentile_ms(lateness.histogram([50, 60, 700]), 0.5) == 100
