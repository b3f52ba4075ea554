"""Key math and job ids: properties that must hold for every due time, and the edges written out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onthedot.core.keys import (
    KeyFormatError,
    bucket_start,
    due_of,
    format_time,
    job_key,
    new_job_id,
    parse_sort_key,
    parse_time,
    partition_key,
    partitions_to_drain,
    sort_key,
    with_due,
)

BUCKET_MINUTES = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60]
RANDOM_MASK = (1 << 62) - 1 | ((1 << 12) - 1) << 64  # rand_b and rand_a: everything but timestamp/version/variant

# Aware instants, 1970 to 2200, in UTC or at a fixed offset (key math must not care which).
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.builds(
    lambda moment, tz: moment.replace(tzinfo=UTC).astimezone(tz),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),
    st.one_of(st.just(UTC), offsets),
)


def ms(moment: datetime) -> datetime:
    """The instant truncated to the millisecond, in UTC: what a key keeps."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# -- partition and sort keys ------------------------------------------------------------------------------------


@given(instants, instants)
def test_sort_keys_sort_like_due_times(first: datetime, second: datetime) -> None:
    key_a, key_b = sort_key(first, "a"), sort_key(second, "a")
    if ms(first) != ms(second):
        assert (key_a < key_b) == (ms(first) < ms(second))
    else:
        assert key_a == key_b


@given(instants, st.sampled_from(BUCKET_MINUTES))
def test_partition_of_a_due_time_is_the_bucket_holding_it(due: datetime, minutes: int) -> None:
    start = bucket_start(due, minutes)
    assert start <= due < start + timedelta(minutes=minutes)
    assert start.second == start.microsecond == 0
    assert start.minute % minutes == 0
    assert partition_key(due, minutes) == "j#" + start.strftime("%Y-%m-%dT%H:%M")


@given(instants, st.sampled_from(BUCKET_MINUTES))
def test_bucket_edges_belong_to_the_bucket_they_start(due: datetime, minutes: int) -> None:
    edge = bucket_start(due, minutes)
    assert bucket_start(edge, minutes) == edge
    assert bucket_start(edge - timedelta(milliseconds=1), minutes) == edge - timedelta(minutes=minutes)
    assert partition_key(edge - timedelta(milliseconds=1), minutes) < partition_key(edge, minutes)


@given(instants)
def test_sort_key_round_trips(due: datetime) -> None:
    job_id = new_job_id(due)
    assert parse_sort_key(sort_key(due, job_id)) == (ms(due), job_id)
    assert parse_time(format_time(due)) == ms(due)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 2, 9, 11, 33, tzinfo=UTC), ["j#2026-02-09T11:25", "j#2026-02-09T11:30"]),
        (datetime(2026, 2, 9, 0, 0, tzinfo=UTC), ["j#2026-02-08T23:55", "j#2026-02-09T00:00"]),
        (datetime(2028, 3, 1, 0, 4, 59, 999000, tzinfo=UTC), ["j#2028-02-29T23:55", "j#2028-03-01T00:00"]),
        (datetime(2027, 1, 1, 0, 2, tzinfo=UTC), ["j#2026-12-31T23:55", "j#2027-01-01T00:00"]),
    ],
)
def test_partitions_to_drain_are_the_previous_and_the_current_bucket(now: datetime, expected: list[str]) -> None:
    assert partitions_to_drain(now) == expected


def test_naive_times_are_refused() -> None:
    with pytest.raises(KeyFormatError, match="no time zone"):
        partition_key(datetime(2026, 2, 9, 11, 33))


# -- job ids ------------------------------------------------------------------------------------------------------


@given(instants)
def test_a_job_id_carries_its_due_time_to_the_millisecond(due: datetime) -> None:
    job_id = new_job_id(due)
    parsed = uuid.UUID(job_id)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert str(parsed) == job_id
    assert due_of(job_id) == ms(due)


@given(instants, instants)
def test_job_ids_sort_by_due_time(first: datetime, second: datetime) -> None:
    id_a, id_b = new_job_id(first), new_job_id(second)
    if ms(first) < ms(second):
        assert id_a < id_b
    elif ms(first) > ms(second):
        assert id_a > id_b


@given(instants, instants)
def test_with_due_keeps_the_random_part_and_moves_the_time(due: datetime, new_due: datetime) -> None:
    job_id = new_job_id(due)
    moved = with_due(job_id, new_due)
    assert due_of(moved) == ms(new_due)
    assert uuid.UUID(moved).int & RANDOM_MASK == uuid.UUID(job_id).int & RANDOM_MASK
    assert uuid.UUID(moved).version == 7
    assert with_due(moved, due) == job_id


def test_job_ids_at_the_same_millisecond_differ() -> None:
    due = datetime(2026, 2, 9, 11, 33, tzinfo=UTC)
    assert len({new_job_id(due) for _ in range(1000)}) == 1000


@given(instants, st.sampled_from(BUCKET_MINUTES))
def test_job_key_is_the_key_of_its_due_time(due: datetime, minutes: int) -> None:
    job_id = new_job_id(due)
    assert job_key(job_id, minutes) == (partition_key(due, minutes), sort_key(due, job_id))


@pytest.mark.parametrize(
    "job_id",
    [
        "0b6f3c7e-5d1a-4c55-9a63-2f4a3c1d9e10",  # a UUIDv4, as typed by hand in the README
        "019C422D-225B-78A0-B867-29987175BEAF",  # a v7 id, but not as onthedot writes it
        "019c422d225b78a0b86729987175beaf",
        "not-a-uuid",
        "",
    ],
)
def test_ids_that_do_not_carry_a_due_time_are_refused_with_the_reason(job_id: str) -> None:
    with pytest.raises(KeyFormatError, match="carry their due time") as caught:
        due_of(job_id)
    assert "can't be looked up by id" in str(caught.value)
    with pytest.raises(KeyFormatError):
        job_key(job_id)
    with pytest.raises(KeyFormatError):
        with_due(job_id, datetime(2026, 2, 9, tzinfo=UTC))


def test_known_vector() -> None:
    # RFC 9562 appendix A.6 uses 2022-02-22T19:22:22Z = 0x017F22E279B0 ms for its UUIDv7 example.
    job_id = "017f22e2-79b0-7cc3-98c4-dc0c0c07398f"
    assert due_of(job_id) == datetime(2022, 2, 22, 19, 22, 22, tzinfo=UTC)
    assert with_due(job_id, datetime(2022, 2, 22, 19, 22, 22, tzinfo=UTC)) == job_id


def test_due_times_before_1970_cannot_be_job_ids() -> None:
    with pytest.raises(KeyFormatError, match="UUIDv7"):
        new_job_id(datetime(1969, 12, 31, 23, 59, tzinfo=UTC))
