"""Recurring jobs: when the occurrences of a series fall.

A rule is exactly one of

- a **cron** expression of 5 fields (minute hour day-of-month month day-of-week, as croniter reads them; its
  hashed and random fields ``H``/``R`` and the ``@daily`` nicknames are refused), or
- a **rate**: ``<n> minutes``, ``<n> hours`` or ``<n> days`` (``1 minute``, ``15 minutes``, ``2 hours``, ``1 day``),

read in an IANA time zone (``tz``, default ``UTC``), with a start (``starts_at``: no occurrence before it), an
optional end (``ends_at``: no occurrence after it) and an optional occurrence count (``limit``). A rate's first
occurrence is at ``starts_at``, then one every ``n`` units; a cron rule's first occurrence is its first match at
or after ``starts_at``. A series created with a start in the past begins at its first occurrence from now on:
missed occurrences are not fired.

Daylight-saving time:

- Cron rules and day rates are read in the **local wall time** of ``tz``: ``0 9 * * *`` fires at 09:00 local on
  both sides of a DST change, and ``1 day`` keeps the wall time of ``starts_at``.
- A wall time that **does not exist** (spring forward) fires at the same offset after the gap: on a day whose
  clocks jump from 02:00 to 03:00, an occurrence at 02:30 fires at 03:30 local. If that instant coincides with
  another occurrence (or comes before one already fired), it fires once.
- A wall time that **occurs twice** (fall back) fires once, at its first occurrence. A cron rule that fires
  every few minutes therefore pauses during the repeated hour: on a day whose clocks fall back from 02:00 to
  01:00, ``*/15 * * * *`` fires at 01:00, 01:15, 01:30 and 01:45 daylight time, then at 02:00 standard time.
- Minute and hour rates are **absolute elapsed time**: ``15 minutes`` stays 15 minutes apart in UTC across any
  DST change.

Guarantee: occurrences are strictly increasing in UTC, none is fired twice and none is skipped unless the rule
says so (an end, a count, or a wall time that the DST rules above merge with another).

Implementation: croniter iterates over *naive* local wall times, each of which is turned into an instant with
``zoneinfo`` (``fold=0``: the earlier of two, the pre-transition offset in a gap); an instant at or before the
previous occurrence is skipped. croniter's own time zone handling is not used.

The publish function imports this module at run time to compute the next occurrence, so it stays light: the
standard library and croniter, no boto3.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterError

from onthedot.core.errors import InvalidJob
from onthedot.core.jobs import CRON, ENDS_AT, LIMIT, RATE, STARTS_AT, TIME_ZONE
from onthedot.core.keys import format_time, parse_time

CRON_FIELDS = 5
MAX_RATE = timedelta(days=3660)  # ten years: beyond it a rate is surely a typo (and datetimes would overflow)
_RATE = re.compile(r"^\s*([0-9]+)\s+(minute|hour|day)s?\s*$", re.IGNORECASE)
_MAX_RATE_DIGITS = 7  # MAX_RATE in minutes has 7 digits: any longer number is over it
MAX_LIMIT = 10**9  # occurrences: more than a series firing every minute for 1,900 years
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_HASHED = re.compile(r"(?<![A-Za-z])[HR](?![A-Za-z])", re.IGNORECASE)  # croniter's H and R: not stable
_TICK = timedelta(microseconds=1)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Rate:
    """A parsed rate: ``count`` units of ``unit`` ("minute", "hour" or "day")."""

    count: int
    unit: str

    @property
    def period(self) -> timedelta:
        return self.count * _UNITS[self.unit]

    @property
    def wall_time(self) -> bool:
        """Day rates are read in local wall time; minute and hour rates are elapsed time."""
        return self.unit == "day"


def parse_rate(text: str) -> Rate:
    """``"15 minutes"`` → ``Rate(15, "minute")``; raises InvalidJob("rate", ...)."""
    match = _RATE.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidJob("rate", f"{text!r} is not '<n> minutes', '<n> hours' or '<n> days' (e.g. '15 minutes')")
    digits, unit = match.group(1).lstrip("0") or "0", match.group(2).lower()
    count = int(digits) if len(digits) <= _MAX_RATE_DIGITS else MAX_RATE // _UNITS[unit] + 1  # no overflow
    if count < 1:
        raise InvalidJob("rate", f"{text!r}: the number must be at least 1")
    if count * _UNITS[unit] > MAX_RATE:
        raise InvalidJob("rate", f"{text!r} is longer than {MAX_RATE.days} days")
    return Rate(count, unit)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; raises InvalidJob("tz", ...)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):  # OSError: a name too long for a file
        raise InvalidJob("tz", f"{name!r} is not an IANA time zone name (e.g. 'Europe/Berlin', 'UTC')") from None


def _check_cron(expression: str) -> None:
    if not isinstance(expression, str) or len(expression.split()) != CRON_FIELDS:
        raise InvalidJob("cron", f"{expression!r} must have 5 fields: minute hour day-of-month month day-of-week")
    if _HASHED.search(expression):
        raise InvalidJob("cron", f"{expression!r}: hashed and random fields (H, R) are not supported")
    try:
        croniter(expression, datetime(2000, 1, 1))
    except (CroniterError, ValueError, TypeError, KeyError, IndexError) as error:
        raise InvalidJob("cron", f"{expression!r} is not a valid cron expression: {error}") from None


def _aware(name: str, moment: datetime) -> datetime:
    """UTC, truncated to the millisecond (what the keys hold), so that a rule survives ``as_item``/``from_item``."""
    if not isinstance(moment, datetime):
        raise InvalidJob(name, f"must be a datetime, got {type(moment).__name__}")
    if moment.utcoffset() is None:
        raise InvalidJob(name, f"{moment.isoformat()} has no time zone; give an aware datetime")
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Rule:
    """When a series' occurrences fall. Validated on construction (InvalidJob naming the field)."""

    cron: str | None
    rate: str | None
    tz: str
    starts_at: datetime
    ends_at: datetime | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.rate is None):
            raise InvalidJob("cron", "give exactly one of cron or rate")
        if self.cron is not None:
            _check_cron(self.cron)
        if self.rate is not None:
            parse_rate(self.rate)
        zone(self.tz)
        object.__setattr__(self, "starts_at", _aware("starts_at", self.starts_at))
        if self.ends_at is not None:
            object.__setattr__(self, "ends_at", _aware("ends_at", self.ends_at))
            if self.ends_at < self.starts_at:
                raise InvalidJob(
                    "ends_at", f"{format_time(self.ends_at)} is before starts_at {format_time(self.starts_at)}"
                )
        if self.limit is not None and (
            isinstance(self.limit, bool) or not isinstance(self.limit, int) or not 1 <= self.limit <= MAX_LIMIT
        ):
            raise InvalidJob("limit", f"must be a whole number from 1 to {MAX_LIMIT:,}, got {self.limit!r}")

    # -- occurrences --------------------------------------------------------------------------------------------

    def first(self, now: datetime) -> datetime | None:
        """The first occurrence at or after both ``starts_at`` and ``now`` (aware, UTC); None if there is none."""
        threshold = max(self.starts_at, _aware("now", now))
        return self._bounded(_first_of(self._after(threshold - _TICK)))

    def next_after(self, previous_due: datetime, fired: int) -> datetime | None:
        """The occurrence after ``previous_due`` (aware, UTC), or None when the series is over.

        ``fired`` counts the occurrences published so far, ``previous_due``'s included: with ``limit`` 3, the
        third occurrence is followed by None.
        """
        if self.limit is not None and fired >= self.limit:
            return None
        previous = _aware("previous_due", previous_due)
        return self._bounded(_first_of(self._after(max(previous, self.starts_at - _TICK))))

    def occurrences(self, now: datetime) -> Iterator[datetime]:
        """Every occurrence from ``first(now)`` on, as the series would fire them (``limit`` and ``ends_at`` apply)."""
        due = self.first(now)
        fired = 0
        while due is not None:
            yield due
            fired += 1
            due = self.next_after(due, fired)

    def _bounded(self, due: datetime | None) -> datetime | None:
        if due is None or (self.ends_at is not None and due > self.ends_at):
            return None
        return due

    def _after(self, previous: datetime) -> Iterator[datetime]:
        """Occurrences strictly after ``previous`` (UTC), in order, unbounded by ends_at."""
        if self.rate is not None:
            rate = parse_rate(self.rate)
            if rate.wall_time:
                return self._wall_rate_after(previous, rate)
            return self._elapsed_rate_after(previous, rate)
        return self._cron_after(previous)

    def _elapsed_rate_after(self, previous: datetime, rate: Rate) -> Iterator[datetime]:
        period = rate.period
        steps = 0 if previous < self.starts_at else (previous - self.starts_at) // period + 1
        while True:
            yield self.starts_at + steps * period
            steps += 1

    def _wall_rate_after(self, previous: datetime, rate: Rate) -> Iterator[datetime]:
        tz = zone(self.tz)
        start_wall = self.starts_at.astimezone(tz).replace(tzinfo=None)
        period = rate.period
        # Wall times and instants differ by at most a day (an offset change): start a step before that.
        steps = 0
        if previous >= self.starts_at:
            steps = max(0, (previous.astimezone(tz).replace(tzinfo=None) - start_wall - _DAY) // period)
        last = previous
        while True:
            due = _instant(start_wall + steps * period, tz)
            steps += 1
            if due > last:
                last = due
                yield due

    def _cron_after(self, previous: datetime) -> Iterator[datetime]:
        assert self.cron is not None
        tz = zone(self.tz)
        # A wall time before previous's own can still map to a later instant when the offset grew in between
        # (a gap maps with the earlier, smaller offset): start that much earlier and let the skip sort it out.
        offset_now = previous.astimezone(tz).utcoffset() or timedelta(0)
        offset_before = (previous - _DAY).astimezone(tz).utcoffset() or timedelta(0)
        lookback = max(timedelta(0), offset_now - offset_before)
        start_wall = previous.astimezone(tz).replace(tzinfo=None) - lookback
        iterator = croniter(self.cron, start_wall, ret_type=datetime)
        last = previous
        while True:
            try:
                wall = iterator.get_next(datetime)
            except CroniterError:  # no match within croniter's search horizon (e.g. 30 February)
                return
            due = _instant(wall, tz)
            if due > last:
                last = due
                yield due

    # -- the series item ----------------------------------------------------------------------------------------

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Rule:
        """The rule stored in a series item (plain values: strings, and int or Decimal for the limit)."""
        limit = item.get(LIMIT)
        return cls(
            cron=item.get(CRON),
            rate=item.get(RATE),
            tz=str(item.get(TIME_ZONE, "UTC")),
            starts_at=parse_time(str(item[STARTS_AT])),
            ends_at=parse_time(str(item[ENDS_AT])) if item.get(ENDS_AT) is not None else None,
            limit=int(limit) if limit is not None else None,
        )

    def as_item(self) -> dict[str, Any]:
        """The rule's attributes for the series item (times as ``format_time`` strings)."""
        item: dict[str, Any] = {TIME_ZONE: self.tz, STARTS_AT: format_time(self.starts_at)}
        if self.cron is not None:
            item[CRON] = self.cron
        if self.rate is not None:
            item[RATE] = self.rate
        if self.ends_at is not None:
            item[ENDS_AT] = format_time(self.ends_at)
        if self.limit is not None:
            item[LIMIT] = self.limit
        return item

    def describe(self) -> str:
        """``cron 0 9 * * * in Europe/Berlin`` / ``every 15 minutes in UTC``, for humans."""
        what = f"cron {self.cron}" if self.cron is not None else f"every {self.rate}"
        return f"{what} in {self.tz}"


def _first_of(occurrences: Iterator[datetime]) -> datetime | None:
    """The first occurrence; None when there is none, also when it would fall after the year 9999."""
    try:
        return next(occurrences, None)
    except OverflowError:
        return None


def _instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive local wall time as an instant: fold=0, so the first of a repeated time, and a time in a gap with
    the offset from before the gap (02:30 in a 02:00→03:00 gap becomes 03:30 local)."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
