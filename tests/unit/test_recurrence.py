"""Recurring rules across daylight-saving changes, on both hemispheres.

The property tests compare the rule, which walks forward one occurrence at a time from the previous one,
with an oracle that maps every matching wall time of a whole window to an instant at once and keeps those
later than every instant kept before (the documented semantics, computed globally).
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from onthedot.core.errors import InvalidJob
from onthedot.core.recurrence import Rule, parse_rate

ZONES = ["America/New_York", "Europe/Berlin", "Australia/Sydney", "America/Santiago", "Pacific/Auckland"]
CRONS = [
    "0 9 * * *",
    "30 2 * * *",
    "0,30 2 * * *",
    "30 1,2,3 * * *",
    "*/15 * * * *",
    "0 */2 * * *",
    "0 0 * * *",  # Santiago moves its clocks at midnight
    "45 23 * * 6",
    "0 0,1 1 * *",
]
WINDOW = timedelta(days=4)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:  # noqa: PLR0917
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int, minute: int, *, fold: int = 0) -> datetime:  # noqa: PLR0917
    """A local wall time as an instant in UTC (an ambiguous wall time never equals another zone's instant)."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


@cache
def transitions(zone: str, year: int) -> tuple[datetime, ...]:
    """The instants (UTC) at which ``zone`` changes its offset during ``year``."""
    tz = ZoneInfo(zone)
    found = []
    moment = utc(year, 1, 1)
    while moment.year == year:
        later = moment + timedelta(hours=6)
        if moment.astimezone(tz).utcoffset() != later.astimezone(tz).utcoffset():
            low, high = moment, later
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if low.astimezone(tz).utcoffset() == middle.astimezone(tz).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(second=0, microsecond=0))
        moment = later
    return tuple(found)


def oracle(rule: Rule, start: datetime, end: datetime) -> list[datetime]:
    """Occurrences in (start, end]: every matching wall time of the window mapped with fold=0, in wall order,
    keeping an instant only when it is later than all kept before. A rule's ``limit``/``ends_at`` not applied."""
    assert rule.cron is not None
    tz = ZoneInfo(rule.tz)
    wall = start.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    last_wall = end.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
    walls = croniter(rule.cron, wall, ret_type=datetime)
    kept: list[datetime] = []
    latest = utc(1970, 1, 1)
    while (wall := walls.get_next(datetime)) <= last_wall:
        instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
        if instant > latest:
            latest = instant
            kept.append(instant)
    return [instant for instant in kept if start < instant <= end]


def chain(rule: Rule, first: datetime | None, end: datetime) -> list[datetime]:
    """first, then next_after(previous) until past ``end``."""
    found: list[datetime] = []
    due = first
    while due is not None and due <= end:
        found.append(due)
        due = rule.next_after(due, len(found))
    return found


near_a_transition = st.builds(
    lambda zone, year, index, shift: (zone, transitions(zone, year)[index] + timedelta(minutes=shift)),
    st.sampled_from(ZONES),
    st.integers(min_value=2024, max_value=2030),
    st.integers(min_value=0, max_value=1),
    st.integers(min_value=-2 * 24 * 60, max_value=24 * 60),
)


# -- properties ----------------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(near_a_transition, st.sampled_from(CRONS))
def test_cron_occurrences_across_dst_match_the_oracle(zone_and_start: tuple[str, datetime], cron: str) -> None:
    zone, start = zone_and_start
    rule = Rule(cron=cron, rate=None, tz=zone, starts_at=start - timedelta(days=30))
    end = start + WINDOW
    found = chain(rule, rule.first(start), end)

    assert found == oracle(rule, start - timedelta(microseconds=1), end)
    assert all(earlier < later for earlier, later in pairwise(found))
    assert all(due.tzinfo is UTC for due in found)
    tz = ZoneInfo(zone)
    for due in found:
        wall = due.astimezone(tz)
        if not croniter.match(cron, wall.replace(tzinfo=None)):
            # Only a wall time in a spring-forward gap fires off its own wall time: the gap's length later.
            before = (due - timedelta(hours=3)).astimezone(tz).utcoffset()
            assert before is not None
            assert wall.utcoffset() is not None
            gap = wall.utcoffset() - before  # type: ignore[operator]
            assert gap > timedelta(0)
            assert croniter.match(cron, (wall - gap).replace(tzinfo=None))


@settings(max_examples=100, deadline=None)
@given(near_a_transition, st.sampled_from(CRONS), st.integers(min_value=-3000, max_value=3000))
def test_first_is_the_earliest_occurrence_from_now(
    zone_and_start: tuple[str, datetime], cron: str, seconds: int
) -> None:
    zone, start = zone_and_start
    rule = Rule(cron=cron, rate=None, tz=zone, starts_at=start)
    now = start + timedelta(seconds=seconds, milliseconds=seconds % 1000)
    first = rule.first(now)
    assert first is not None
    assert first >= max(now, start)
    threshold = max(now, start) - timedelta(microseconds=1)
    assert first == oracle(rule, threshold, threshold + timedelta(days=32))[0]


@settings(max_examples=100, deadline=None)
@given(near_a_transition, st.sampled_from(["1 minute", "15 minutes", "45 minutes", "1 hour", "2 hours", "5 hours"]))
def test_minute_and_hour_rates_are_elapsed_time(zone_and_start: tuple[str, datetime], rate: str) -> None:
    zone, start = zone_and_start
    starts_at = start - timedelta(hours=7, seconds=13)
    rule = Rule(cron=None, rate=rate, tz=zone, starts_at=starts_at)
    period = parse_rate(rate).period
    found = list(islice(rule.occurrences(start), 40))
    assert found[0] >= start
    assert found[0] - period < start
    assert (found[0] - rule.starts_at) % period == timedelta(0)
    assert all(later - earlier == period for earlier, later in pairwise(found))


@settings(max_examples=100, deadline=None)
@given(near_a_transition, st.integers(min_value=1, max_value=3), st.integers(min_value=0, max_value=24 * 60 - 1))
def test_day_rates_keep_the_wall_time(zone_and_start: tuple[str, datetime], days: int, minute_of_day: int) -> None:
    zone, around = zone_and_start
    tz = ZoneInfo(zone)
    start_day = (around - timedelta(days=4)).astimezone(tz).date()
    wall = datetime(start_day.year, start_day.month, start_day.day) + timedelta(minutes=minute_of_day)
    starts_at = wall.replace(tzinfo=tz).astimezone(UTC)
    rule = Rule(cron=None, rate=f"{days} days", tz=zone, starts_at=starts_at)
    found = list(islice(rule.occurrences(starts_at), 12))
    assert all(earlier < later for earlier, later in pairwise(found))
    for due in found:
        here = due.astimezone(tz)
        expected_wall = wall + timedelta(days=days * (here.date() - start_day).days // days)
        exists = expected_wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == expected_wall
        if exists:
            assert here.replace(tzinfo=None) == expected_wall
        else:  # in a spring-forward gap: later by the gap, on the same day
            assert here.date() == expected_wall.date()
            assert here.replace(tzinfo=None) > expected_wall
        assert (here.date() - start_day).days % days == 0


@settings(max_examples=150, deadline=None)
@given(
    near_a_transition,
    st.sampled_from(["1 day", "2 days", "1 hour", "15 minutes"]),
    st.integers(min_value=0, max_value=24 * 60 - 1),
    st.integers(min_value=-36 * 60, max_value=36 * 60),
)
def test_first_of_a_rate_is_the_first_of_its_series_from_now(
    zone_and_start: tuple[str, datetime], rate: str, minute_of_day: int, minutes_from_change: int
) -> None:
    zone, around = zone_and_start
    tz = ZoneInfo(zone)
    start_day = (around - timedelta(days=5)).astimezone(tz).date()
    wall = datetime(start_day.year, start_day.month, start_day.day) + timedelta(minutes=minute_of_day)
    rule = Rule(cron=None, rate=rate, tz=zone, starts_at=wall.replace(tzinfo=tz).astimezone(UTC))
    now = around + timedelta(minutes=minutes_from_change, seconds=7)
    assert rule.first(now) == next(due for due in rule.occurrences(rule.starts_at) if due >= now)


# -- explicit cases --------------------------------------------------------------------------------------------


def occurrences(rule: Rule, now: datetime, count: int) -> list[datetime]:
    return list(islice(rule.occurrences(now), count))


def test_spring_forward_gap_fires_at_the_same_offset_after_it() -> None:
    # New York, 2026-03-08: 02:00 EST becomes 03:00 EDT; 02:30 does not exist that day.
    rule = Rule(cron="30 2 * * *", rate=None, tz="America/New_York", starts_at=utc(2026, 3, 6))
    assert occurrences(rule, utc(2026, 3, 6), 4) == [
        local("America/New_York", 2026, 3, 6, 2, 30),
        local("America/New_York", 2026, 3, 7, 2, 30),
        local("America/New_York", 2026, 3, 8, 3, 30),  # 07:30Z: the gap's 02:30 one hour later
        local("America/New_York", 2026, 3, 9, 2, 30),
    ]


def test_spring_forward_gap_on_the_southern_hemisphere() -> None:
    # Sydney, 2026-10-04: 02:00 AEST becomes 03:00 AEDT.
    rule = Rule(cron="30 2 * * *", rate=None, tz="Australia/Sydney", starts_at=utc(2026, 10, 1))
    assert occurrences(rule, utc(2026, 10, 2), 3) == [
        local("Australia/Sydney", 2026, 10, 3, 2, 30),
        local("Australia/Sydney", 2026, 10, 4, 3, 30),
        local("Australia/Sydney", 2026, 10, 5, 2, 30),
    ]


def test_a_gap_time_merged_with_a_real_one_fires_once() -> None:
    # 02:30 (in the gap) and 03:30 land on the same instant on the day the clocks spring forward.
    rule = Rule(cron="30 2,3 * * *", rate=None, tz="America/New_York", starts_at=utc(2026, 3, 8))
    assert occurrences(rule, utc(2026, 3, 8), 3) == [
        local("America/New_York", 2026, 3, 8, 3, 30),
        local("America/New_York", 2026, 3, 9, 2, 30),
        local("America/New_York", 2026, 3, 9, 3, 30),
    ]


def test_every_gap_time_fires_even_when_they_follow_each_other() -> None:
    # 02:00 and 02:15 are both in the gap: they fire at 03:00 and 03:15, not just the first of them.
    rule = Rule(cron="0,15 2 * * *", rate=None, tz="America/New_York", starts_at=utc(2026, 3, 8))
    found = occurrences(rule, utc(2026, 3, 8), 2)
    assert found == [local("America/New_York", 2026, 3, 8, 3, 0), local("America/New_York", 2026, 3, 8, 3, 15)]
    assert rule.next_after(found[0], 1) == found[1]


def test_fall_back_repeat_fires_once_at_its_first_occurrence() -> None:
    # New York, 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 happens twice.
    rule = Rule(cron="30 1 * * *", rate=None, tz="America/New_York", starts_at=utc(2026, 10, 31))
    assert occurrences(rule, utc(2026, 10, 31, 12), 2) == [
        local("America/New_York", 2026, 11, 1, 1, 30, fold=0),  # 05:30Z, in daylight time
        local("America/New_York", 2026, 11, 2, 1, 30),
    ]


def test_fall_back_on_the_southern_hemisphere() -> None:
    # Auckland, 2026-04-05: 03:00 NZDT becomes 02:00 NZST; 02:30 happens twice.
    rule = Rule(cron="30 2 * * *", rate=None, tz="Pacific/Auckland", starts_at=utc(2026, 4, 3))
    found = occurrences(rule, utc(2026, 4, 4), 2)  # 13:00 NZDT on the 4th
    assert found == [utc(2026, 4, 4, 13, 30), local("Pacific/Auckland", 2026, 4, 6, 2, 30)]
    assert found[0].astimezone(ZoneInfo("Pacific/Auckland")).utcoffset() == timedelta(hours=13)


def test_frequent_cron_pauses_during_the_repeated_hour() -> None:
    rule = Rule(cron="*/30 * * * *", rate=None, tz="America/New_York", starts_at=utc(2026, 11, 1, 4, 30))
    assert occurrences(rule, utc(2026, 11, 1, 4, 30), 5) == [
        utc(2026, 11, 1, 4, 30),  # 00:30 EDT
        utc(2026, 11, 1, 5, 0),  # 01:00 EDT
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT; 01:00 and 01:30 EST are the same wall times again
        utc(2026, 11, 1, 7, 0),  # 02:00 EST
        utc(2026, 11, 1, 7, 30),
    ]


@pytest.mark.parametrize("zone", ZONES)
def test_daily_nine_oclock_stays_at_nine_local_across_dst(zone: str) -> None:
    tz = ZoneInfo(zone)
    for change in transitions(zone, 2026):
        rule = Rule(cron="0 9 * * *", rate=None, tz=zone, starts_at=change - timedelta(days=3))
        found = occurrences(rule, change - timedelta(days=3), 7)
        assert [due.astimezone(tz).time().isoformat() for due in found] == ["09:00:00"] * 7
        days = [due.astimezone(tz).date() for due in found]
        assert all((later - earlier).days == 1 for earlier, later in pairwise(days))
        offsets = {due.astimezone(tz).utcoffset() for due in found}
        assert len(offsets) == 2  # the change happened inside the stretch


@pytest.mark.parametrize("zone", ZONES)
def test_fifteen_minute_rate_stays_fifteen_minutes_apart_across_dst(zone: str) -> None:
    for change in transitions(zone, 2026):
        rule = Rule(cron=None, rate="15 minutes", tz=zone, starts_at=change - timedelta(hours=2))
        found = occurrences(rule, change - timedelta(hours=2), 17)
        assert found == [change - timedelta(hours=2) + timedelta(minutes=15 * n) for n in range(17)]


def test_a_day_rate_started_before_a_gap_fires_after_it_when_created_inside_the_shift() -> None:
    # Daily at 02:30 New York; on 2026-03-08 that wall time is in the gap and fires at 03:30 EDT (07:30Z).
    rule = Rule(cron=None, rate="1 day", tz="America/New_York", starts_at=local("America/New_York", 2026, 3, 1, 2, 30))
    assert rule.first(local("America/New_York", 2026, 3, 8, 3, 10)) == local("America/New_York", 2026, 3, 8, 3, 30)


def test_one_day_rate_keeps_the_wall_time_across_dst() -> None:
    starts_at = local("Europe/Berlin", 2026, 3, 27, 8, 0)
    rule = Rule(cron=None, rate="1 day", tz="Europe/Berlin", starts_at=starts_at)
    found = occurrences(rule, starts_at, 4)
    assert found == [local("Europe/Berlin", 2026, 3, day, 8, 0) for day in (27, 28, 29, 30)]
    assert found[3] - found[2] == timedelta(days=1)
    assert found[2] - found[1] == timedelta(hours=23)  # the spring-forward day is an hour short


def test_ends_at_stops_the_series_and_includes_an_occurrence_on_it() -> None:
    rule = Rule(cron="0 * * * *", rate=None, tz="UTC", starts_at=utc(2026, 2, 9, 10, 30), ends_at=utc(2026, 2, 9, 13))
    assert list(rule.occurrences(utc(2026, 2, 9, 10))) == [
        utc(2026, 2, 9, 11),
        utc(2026, 2, 9, 12),
        utc(2026, 2, 9, 13),
    ]
    assert rule.next_after(utc(2026, 2, 9, 13), 3) is None
    assert rule.first(utc(2026, 2, 9, 13, 0, 1)) is None


def test_limit_stops_the_series_after_that_many_occurrences() -> None:
    rule = Rule(cron=None, rate="2 hours", tz="UTC", starts_at=utc(2026, 2, 9, 10), limit=3)
    assert list(rule.occurrences(utc(2026, 2, 9, 9))) == [utc(2026, 2, 9, h) for h in (10, 12, 14)]
    assert rule.next_after(utc(2026, 2, 9, 12), 2) == utc(2026, 2, 9, 14)
    assert rule.next_after(utc(2026, 2, 9, 14), 3) is None


def test_a_rate_fires_first_at_its_start_then_keeps_its_phase() -> None:
    rule = Rule(cron=None, rate="15 minutes", tz="UTC", starts_at=utc(2026, 2, 9, 10, 0, 7))
    assert rule.first(utc(2026, 2, 9, 9)) == utc(2026, 2, 9, 10, 0, 7)
    assert rule.first(utc(2026, 2, 9, 10, 0, 7)) == utc(2026, 2, 9, 10, 0, 7)
    assert rule.first(utc(2026, 2, 9, 10, 20)) == utc(2026, 2, 9, 10, 30, 7)  # missed ones are not fired


def test_a_cron_that_never_matches_has_no_first_occurrence() -> None:
    assert Rule(cron="0 0 30 2 *", rate=None, tz="UTC", starts_at=utc(2026, 1, 1)).first(utc(2026, 1, 1)) is None


def test_item_round_trip() -> None:
    rule = Rule(
        cron="0 9 * * 1-5",
        rate=None,
        tz="Europe/Berlin",
        starts_at=datetime(2026, 2, 9, 10, 0, 0, 123456, tzinfo=ZoneInfo("Europe/Berlin")),
        ends_at=utc(2026, 12, 31),
        limit=10,
    )
    item = rule.as_item()
    assert item == {
        "cron": "0 9 * * 1-5",
        "tz": "Europe/Berlin",
        "starts_at": "2026-02-09T09:00:00.123Z",
        "ends_at": "2026-12-31T00:00:00.000Z",
        "limit": 10,
    }
    assert Rule.from_item({**item, "limit": Decimal(10)}) == rule
    rate_rule = Rule(cron=None, rate="15 minutes", tz="UTC", starts_at=utc(2026, 2, 9))
    assert rate_rule.as_item() == {"rate": "15 minutes", "tz": "UTC", "starts_at": "2026-02-09T00:00:00.000Z"}
    assert Rule.from_item(rate_rule.as_item()) == rate_rule


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"cron": None, "rate": None}, "cron"),
        ({"cron": "0 9 * * *", "rate": "1 day"}, "cron"),
        ({"cron": "0 9 * *"}, "cron"),
        ({"cron": "0 0 9 * * *"}, "cron"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "0 25 * * *"}, "cron"),
        ({"cron": "H * * * *"}, "cron"),
        ({"cron": "@daily"}, "cron"),
        ({"rate": "0 minutes"}, "rate"),
        ({"rate": "15 mins"}, "rate"),
        ({"rate": "-1 hours"}, "rate"),
        ({"rate": "1 week"}, "rate"),
        ({"rate": "99999999 days"}, "rate"),
        ({"rate": "15 minutes", "tz": "Mars/Olympus_Mons"}, "tz"),
        ({"rate": "15 minutes", "tz": "../../etc/passwd"}, "tz"),
        ({"rate": "15 minutes", "tz": ""}, "tz"),
        ({"rate": "15 minutes", "starts_at": datetime(2026, 2, 9)}, "starts_at"),
        ({"rate": "15 minutes", "ends_at": datetime(2026, 2, 10)}, "ends_at"),
        ({"rate": "15 minutes", "ends_at": utc(2026, 2, 8)}, "ends_at"),
        ({"rate": "15 minutes", "limit": 0}, "limit"),
        ({"rate": "15 minutes", "limit": True}, "limit"),
    ],
)
def test_invalid_rules_name_the_field(arguments: dict[str, object], field: str) -> None:
    values: dict[str, object] = {"cron": None, "rate": None, "tz": "UTC", "starts_at": utc(2026, 2, 9)}
    values.update(arguments)
    with pytest.raises(InvalidJob) as caught:
        Rule(**values)  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("text", "count", "unit"), [("1 minute", 1, "minute"), ("15 minutes", 15, "minute"), ("2 Hours", 2, "hour")]
)
def test_rates_parse(text: str, count: int, unit: str) -> None:
    rate = parse_rate(text)
    assert (rate.count, rate.unit) == (count, unit)


def test_the_module_stays_light_for_the_publish_function() -> None:
    code = (
        "import sys, onthedot.core.recurrence; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'boto3', 'botocore'}))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
