"""Keys typed by hand: which due times are read without doubt, what their canonical keys are, and what is refused.

``canonical_keys`` is where the arrivals function decides whether a job item stays, is re-filed or goes to the
dead letter. The properties: canonical keys are a fixed point, and a re-filed job is never due earlier than the
time typed (nor a millisecond later).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onthedot.core.keys import (
    MAX_JOB_ID_BYTES,
    KeyFormatError,
    canonical_keys,
    parse_sort_key,
    partition_key,
    read_time,
    shard_key,
    shard_of,
    sort_key,
    split_partition_key,
)

BUCKET_MINUTES = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60]
ID = "0194f3a1-2b3c-7d4e-8f90-123456789abc"
CANONICAL = ("j#2026-02-09T11:30", f"2026-02-09T11:33:00.000Z#{ID}")

job_ids = st.text(min_size=1, max_size=25).filter(lambda text: "#" not in text)  # at most 100 bytes
pks = st.text().map(lambda text: "j#" + text)
# Aware instants with microseconds, 1970 to 2200, seen from UTC or from any whole-minute offset.
instants = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)).map(
    lambda moment: moment.replace(tzinfo=UTC)
)
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)


@pytest.mark.parametrize(
    ("pk", "due"),
    [
        pytest.param("j#2026-02-09T11:30", "2026-02-09T11:33:00.000Z", id="canonical"),
        pytest.param("j#2026-02-09T11:30", "2026-02-09T11:33:00Z", id="no milliseconds"),
        pytest.param("j#2026-02-09T11:30", "2026-02-09T11:33Z", id="no seconds"),
        pytest.param("j#2026-02-09T11:30", "2026-02-09T11:33:00.000+00:00", id="offset zero"),
        pytest.param("j#2026-02-09T11:30", "2026-02-09T12:33:00+01:00", id="offset east"),
        pytest.param("j#2026-02-09T11:30", "2026-02-09T06:03:00.000-05:30", id="offset west, half hour"),
        pytest.param("j#2026-02-09T11:30", "2026-02-09T12:33:00+0100", id="offset, basic"),
        pytest.param("j#2026-02-09T11:30", "2026-02-09T12:33:00+01", id="offset, hours only"),
        pytest.param("j#2026-02-09T11:30", "2026-02-09 11:33:00.000Z", id="space for T"),
        pytest.param("j#2026-02-09T11:30", "2026-02-09t11:33:00.000z", id="lowercase"),
        pytest.param("j#2026-02-09T11:30", "20260209T113300Z", id="basic format"),
        pytest.param("j#2026-02-09T11:30", "20260209T1133Z", id="basic format, no seconds"),
        pytest.param("j#2026-02-09T11:30", "20260209T113300.000Z", id="basic format, milliseconds"),
        pytest.param("j#2026-02-09T11:30", "2026-02-09T11:33:00,000Z", id="decimal comma"),
        pytest.param("j#2026-02-09T11:33", "2026-02-09T11:33:00.000Z", id="pk off the grid"),
        pytest.param("j#2026-02-09T10:30", "2026-02-09T11:33:00.000Z", id="pk an hour early"),
        pytest.param("j#whatever", "2026-02-09T11:33:00.000Z", id="pk not a time"),
        pytest.param("j#", "2026-02-09T11:33:00.000Z", id="pk empty after j#"),
    ],
)
def test_a_due_time_read_without_doubt_gets_canonical_keys(pk: str, due: str) -> None:
    assert canonical_keys(pk, f"{due}#{ID}") == CANONICAL


@pytest.mark.parametrize(
    ("due", "canonical_due"),
    [
        ("2026-02-09T11:33:00.0001Z", "2026-02-09T11:33:00.001Z"),
        ("2026-02-09T11:33:00.000000001Z", "2026-02-09T11:33:00.001Z"),
        ("2026-02-09T11:33:00.999001Z", "2026-02-09T11:33:01.000Z"),
        ("2026-02-09T23:59:59.9999Z", "2026-02-10T00:00:00.000Z"),
        ("2026-02-09T11:33:00.12Z", "2026-02-09T11:33:00.120Z"),
        ("2026-02-09T11:33:00.123000Z", "2026-02-09T11:33:00.123Z"),
    ],
)
def test_a_fraction_finer_than_a_millisecond_is_rounded_up(due: str, canonical_due: str) -> None:
    assert canonical_keys("j#x", f"{due}#{ID}")[1] == f"{canonical_due}#{ID}"


@pytest.mark.parametrize(
    ("sk", "reason"),
    [
        pytest.param(f"2026-02-09T11:33:00#{ID}", "has no time zone", id="naive"),
        pytest.param(f"2026-02-09T11:33:00.000#{ID}", "has no time zone", id="naive with milliseconds"),
        pytest.param(f"20260209T113300#{ID}", "has no time zone", id="naive, basic"),
        pytest.param(f"2026-02-09#{ID}", "date without a time of day", id="date only"),
        pytest.param(f"2026-02-09Z#{ID}", "date without a time of day", id="date with a zone"),
        pytest.param(f"next tuesday#{ID}", "not an ISO 8601 date and time", id="words"),
        pytest.param(f"1770636780#{ID}", "not an ISO 8601 date and time", id="epoch seconds"),
        pytest.param(f"#{ID}", "not an ISO 8601 date and time", id="empty time"),
        pytest.param(f"2026-02-09T11:33:00.000Z #{ID}", "not an ISO 8601 date and time", id="trailing space"),
        pytest.param(f"2026-02-09T1133Z#{ID}", "not an ISO 8601 date and time", id="basic time, extended date"),
        pytest.param(f"2026-02-09T11:33:00.0000000001Z#{ID}", "not an ISO 8601", id="finer than nanoseconds"),
        pytest.param(f"\uff12\uff10\uff12\uff16-02-09T11:33:00.000Z#{ID}", "not an ISO 8601", id="full-width digits"),
        pytest.param(f"2026-02-30T11:33:00.000Z#{ID}", "not a date and time that exists", id="30 February"),
        pytest.param(f"2026-02-09T24:00:00.000Z#{ID}", "not a date and time that exists", id="hour 24"),
        pytest.param(f"2026-02-09T11:33:60.000Z#{ID}", "not a date and time that exists", id="leap second"),
        pytest.param(f"2026-02-09T11:33:00+24:00#{ID}", "not a UTC offset", id="offset of a day"),
        pytest.param(f"2026-02-09T11:33:00+01:60#{ID}", "not a UTC offset", id="offset minutes 60"),
        pytest.param(f"0000-01-01T00:00:00.000Z#{ID}", "not a date and time that exists", id="year 0"),
        pytest.param(
            f"0001-01-01T00:00:00.000+01:00#{ID}", "not a date and time that exists", id="before year 1 in UTC"
        ),
        pytest.param(
            f"9999-12-31T23:59:59.9999Z#{ID}", "not a date and time that exists", id="after 9999 once rounded up"
        ),
        pytest.param("2026-02-09T11:33:00.000Z", "is not <due time>#<job id>", id="no job id"),
        pytest.param("2026-02-09T11:33:00.000Z#", "is not <due time>#<job id>", id="empty job id"),
        pytest.param("2026-02-09T11:33:00.000Z#a#b", "where the job id starts is in doubt", id="# in the job id"),
    ],
)
def test_keys_that_do_not_name_a_due_time_and_a_job_without_doubt_are_refused(sk: str, reason: str) -> None:
    with pytest.raises(KeyFormatError, match=reason):
        canonical_keys("j#2026-02-09T11:30", sk)


def test_only_job_keys_have_canonical_keys() -> None:
    with pytest.raises(KeyFormatError, match="does not start with 'j#'"):
        canonical_keys("series#x", CANONICAL[1])


def test_the_bucket_width_in_force_decides_the_partition() -> None:
    assert canonical_keys(*CANONICAL, bucket_minutes=15) == ("j#2026-02-09T11:30", CANONICAL[1])
    assert canonical_keys(*CANONICAL, bucket_minutes=1) == ("j#2026-02-09T11:33", CANONICAL[1])
    assert canonical_keys(*CANONICAL, bucket_minutes=60) == ("j#2026-02-09T11:00", CANONICAL[1])


def test_years_before_1000_keep_four_digits_so_that_keys_sort_as_times() -> None:
    assert canonical_keys("j#", f"0001-01-01T00:07:00Z#{ID}") == (
        "j#0001-01-01T00:05",
        f"0001-01-01T00:07:00.000Z#{ID}",
    )
    assert partition_key(datetime(999, 12, 31, 23, 59, tzinfo=UTC)) < partition_key(datetime(1000, 1, 1, tzinfo=UTC))


# -- properties ---------------------------------------------------------------------------------------------------


@given(instants, job_ids, st.sampled_from(BUCKET_MINUTES))
def test_canonical_keys_are_a_fixed_point(due: datetime, job_id: str, minutes: int) -> None:
    keys = (partition_key(due, minutes), sort_key(due, job_id))
    assert canonical_keys(*keys, bucket_minutes=minutes) == keys


@st.composite
def typed_due_times(draw: st.DrawFn) -> tuple[str, int]:
    """A due time as someone might type it, and the instant it names in nanoseconds since the epoch."""
    instant = draw(instants)
    basic = draw(st.booleans())
    precision = draw(st.sampled_from(["minutes", "seconds", *range(1, 10)]))  # an int: digits of fraction
    offset_minutes = draw(st.one_of(st.just(0), offsets))
    local = instant.astimezone(timezone(timedelta(minutes=offset_minutes)))
    date, time = ("%Y%m%d", "%H%M") if basic else ("%Y-%m-%d", "%H:%M")
    text = local.strftime(date) + draw(st.sampled_from("Tt ")) + local.strftime(time)
    seconds = 0
    nanoseconds = 0
    if precision != "minutes":
        seconds = local.second
        text += ("" if basic else ":") + f"{seconds:02d}"
    if isinstance(precision, int):
        digits = f"{local.microsecond:06d}000"[:precision]
        nanoseconds = int(digits) * 10 ** (9 - precision)
        text += draw(st.sampled_from(".,")) + digits
    if offset_minutes == 0 and draw(st.booleans()):
        text += draw(st.sampled_from("Zz"))
    else:
        sign = "-" if offset_minutes < 0 else "+"
        hours, minutes = divmod(abs(offset_minutes), 60)
        text += f"{sign}{hours:02d}" + draw(
            st.sampled_from([f":{minutes:02d}", f"{minutes:02d}"] + ([""] if minutes == 0 else []))
        )
    named = instant.replace(second=seconds, microsecond=0)
    return text, int(named.timestamp()) * 10**9 + nanoseconds


@given(typed_due_times(), pks, job_ids, st.sampled_from(BUCKET_MINUTES))
def test_a_refiled_job_is_never_early_and_never_a_millisecond_late(
    typed: tuple[str, int], pk: str, job_id: str, minutes: int
) -> None:
    text, named_ns = typed
    canonical_pk, canonical_sk = canonical_keys(pk, f"{text}#{job_id}", minutes)
    due, kept_id = parse_sort_key(canonical_sk)
    due_ns = int(due.timestamp()) * 10**9 + due.microsecond * 1000
    assert named_ns <= due_ns < named_ns + 10**6
    assert kept_id == job_id
    assert canonical_pk == partition_key(due, minutes)
    assert canonical_keys(canonical_pk, canonical_sk, minutes) == (canonical_pk, canonical_sk)


@given(st.text(), st.text(), st.sampled_from(BUCKET_MINUTES))
def test_any_keys_are_either_refused_with_a_reason_or_made_canonical(pk: str, sk: str, minutes: int) -> None:
    refused: KeyFormatError | None = None
    try:
        canonical = canonical_keys(pk, sk, minutes)
    except KeyFormatError as error:
        refused = error
    if refused is not None:
        assert str(refused)
    else:
        assert canonical_keys(*canonical, bucket_minutes=minutes) == canonical


@given(instants)
def test_read_time_reads_what_format_time_writes(due: datetime) -> None:
    text = due.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert read_time(text) == due.replace(microsecond=due.microsecond // 1000 * 1000)


def test_job_ids_longer_than_a_page_of_keys_allows_are_refused() -> None:
    long_id = "é" * (MAX_JOB_ID_BYTES // 2)  # two bytes a character
    assert canonical_keys("j#", f"2026-02-09T11:33:00.000Z#{long_id}")[1] == f"2026-02-09T11:33:00.000Z#{long_id}"
    with pytest.raises(KeyFormatError, match=f"longer than {MAX_JOB_ID_BYTES} bytes"):
        canonical_keys("j#", f"20260209T113300Z#{long_id}x")


@pytest.mark.parametrize(
    ("pk", "shards", "expected_shard"),
    [
        ("j#2026-02-09T11:30", 1, 0),
        ("j#2026-02-09T11:30", 8, 0),  # the original item format is shard 0 whatever the knob
        ("j#2026-02-09T11:30#3", 8, 3),
        ("j#2026-02-09T11:30#7", 8, 7),
        ("j#2026-02-09T11:30#8", 8, None),  # a shard that no longer exists: filed by its id
        ("j#2026-02-09T11:30#3", 1, 0),
        ("j#2026-02-09T11:30#03", 8, None),
        ("j#2026-02-09T11:30#0", 8, None),
        ("j#2026-02-09T11:30#x", 8, None),
        ("j#2026-02-09T11:35#2", 8, 2),  # another bucket: the due time's bucket, the same shard
    ],
)
def test_a_job_keeps_its_shard_while_the_shard_exists(pk: str, shards: int, expected_shard: int | None) -> None:
    job_id = "a-job"
    expected = shard_of(job_id, shards) if expected_shard is None else expected_shard
    canonical = canonical_keys(pk, f"2026-02-09T11:33:00.000Z#{job_id}", shards=shards)
    assert canonical == (shard_key("j#2026-02-09T11:30", expected), f"2026-02-09T11:33:00.000Z#{job_id}")
    assert canonical_keys(*canonical, shards=shards) == canonical


@given(st.text(min_size=1, max_size=40).filter(lambda text: "#" not in text), st.integers(1, 100))
def test_every_shard_key_reads_back(job_id: str, shards: int) -> None:
    shard = shard_of(job_id, shards)
    assert 0 <= shard < shards
    pk = shard_key("j#2026-02-09T11:30", shard)
    assert split_partition_key(pk) == ("j#2026-02-09T11:30", shard)
