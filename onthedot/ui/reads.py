"""What the pages show, read through the client API (``Scheduler``) and the CLI's ``status``.

Each read is bounded: one page of jobs over a chosen horizon (one Query a bucket), the last runs, one page
of dead letters. Nothing here writes.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from onthedot.core.keys import KeyFormatError, parse_time

if TYPE_CHECKING:
    from onthedot.client import DeadLetter, Job, Scheduler, Series
    from onthedot.deploy.target import Target

HORIZONS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(days=1)}
DEFAULT_HORIZON = "1h"
SERIES_HORIZON = timedelta(days=1)  # series are found through their pending occurrences due this far ahead
MAX_JOBS = 500  # jobs read for a page
MAX_SERIES = 50
NEXT_OCCURRENCES = 5
RUNS = 60  # dispatcher runs read for the runs page
_STATUS_LOCK = threading.Lock()  # status() makes boto3 clients, which is not safe from several threads at once


@dataclass(frozen=True)
class Upcoming:
    jobs: list[Job]  # due order, those matching the search
    read: int  # jobs read in the range, before the search
    more: bool  # the range holds more than MAX_JOBS
    start: datetime
    end: datetime


def upcoming(scheduler: Scheduler, now: datetime, horizon: timedelta, search: str = "") -> Upcoming:
    """Pending jobs from the oldest bucket the dispatcher still reads up to ``now + horizon``, in due order;
    ``search`` keeps those whose id or detail-type contains it (any case)."""
    width = timedelta(minutes=scheduler.bucket_minutes)
    start = now - 2 * width  # as list_jobs' default: the buckets the dispatcher drains now
    page = scheduler.list_jobs(start=start, end=now + horizon, limit=MAX_JOBS)
    wanted = search.strip().casefold()
    jobs = [
        job for job in page.jobs if not wanted or wanted in job.id.casefold() or wanted in job.detail_type.casefold()
    ]
    return Upcoming(jobs, len(page.jobs), page.cursor is not None, start, now + horizon)


@dataclass(frozen=True)
class SeriesView:
    series: Series
    next_dues: list[datetime] = field(default_factory=list)  # the pending occurrence's and those after it


def recurring(scheduler: Scheduler, now: datetime, lookup: str = "") -> tuple[list[SeriesView], list[str]]:
    """Series with a pending occurrence due within a day (and ``lookup``, a series id, whenever given), with
    their next occurrences; and the errors of series that could not be read."""
    from onthedot.client import InvalidJob, JobNotFound

    page = scheduler.list_jobs(
        start=now - timedelta(minutes=2 * scheduler.bucket_minutes), end=now + SERIES_HORIZON, limit=MAX_JOBS
    )
    # Each series once, however many of its occurrences are listed (one may be firing as the next is written).
    looked_up = [lookup.strip()] if lookup.strip() else []
    ids = list(dict.fromkeys([*looked_up, *(job.series for job in page.jobs if job.series)]))
    views, errors = [], []
    for series_id in ids[:MAX_SERIES]:
        try:
            series = scheduler.get_series(series_id)
        except (InvalidJob, JobNotFound) as error:
            errors.append(str(error))
            continue
        views.append(SeriesView(series, next_occurrences(series)))
    return views, errors


def next_occurrences(series: Series, count: int = NEXT_OCCURRENCES) -> list[datetime]:
    """The pending occurrence's due time and the ones the rule gives after it."""
    from onthedot.core.recurrence import Rule

    if series.next is None:
        return []
    rule = Rule(series.cron, series.rate, series.tz, series.starts_at, series.ends_at, series.limit)
    dues = [series.next.due]
    fired = series.fired + 1  # the pending occurrence counts once it fires
    while len(dues) < count:
        due = rule.next_after(dues[-1], fired)
        if due is None:
            break
        dues.append(due)
        fired += 1
    return dues


@dataclass(frozen=True)
class RunRecord:
    time: str  # as stored (the sort key)
    moment: datetime | None
    values: dict[str, Any]  # every attribute but the keys and the TTL


def runs(scheduler: Scheduler, limit: int = RUNS) -> list[RunRecord]:
    """The last dispatcher runs, newest first (items ``pk = run``, ``sk`` = the run's time)."""
    from onthedot.core.jobs import EXPIRES_AT, PK, SK

    records = []
    for values in scheduler.jobs_table.runs(limit):
        time = str(values.pop(SK, ""))
        values.pop(PK, None)
        values.pop(EXPIRES_AT, None)
        records.append(RunRecord(time, _moment(time), values))
    return records


def active_runs(scheduler: Scheduler, count: int) -> list[RunRecord]:
    """The last ``count`` runs that published, failed or dead-lettered something, among the last RUNS."""
    busy = ("published", "failed", "deadLettered")
    return [run for run in runs(scheduler) if any(run.values.get(name) for name in busy)][:count]


def backlog(scheduler: Scheduler, target: Target, now: datetime) -> dict[str, Any]:
    """The CLI's ``status`` document: pending jobs by bucket, the cursor, the next job, the last runs."""
    from onthedot.cli.status import status

    with _STATUS_LOCK:
        document, _ = status(argparse.Namespace(), scheduler, target, now)
    return document


@dataclass(frozen=True)
class DeadLetters:
    dead_letters: Sequence[DeadLetter]
    size: int
    cursor: str | None


def dead_letters(scheduler: Scheduler, cursor: str | None = None, limit: int = 100) -> DeadLetters:
    page = scheduler.dead_letters(limit=limit, cursor=cursor)
    return DeadLetters(page.dead_letters, scheduler.dead_letter_size(), page.cursor)


def _moment(text: str) -> datetime | None:
    try:
        return parse_time(text.replace("Z", "+00:00"))
    except KeyFormatError:
        return None
