"""The job commands, one function each: what was typed, passed to onthedot.client.Scheduler, and what it returned."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from onthedot.cli.dlq import dlq
from onthedot.cli.render import Output, iso, job_output, more_hint, relative, series_output, table, was_line
from onthedot.cli.status import status
from onthedot.cli.values import id_kind, parse_detail, parse_moment

if TYPE_CHECKING:
    from onthedot.client import Scheduler, Series
    from onthedot.deploy.target import Target


def schedule(args: argparse.Namespace, scheduler: Scheduler, _target: Target, now: datetime) -> Output:
    detail = parse_detail(args.detail)
    if args.cron is not None or args.rate is not None:
        series = scheduler.schedule_recurring(
            args.detail_type,
            detail,
            cron=args.cron,
            rate=args.rate,
            tz="UTC" if args.tz is None else args.tz,  # an empty --tz is a bad zone, not UTC
            ends_at=args.ends,
            limit=args.count,
            key=args.key,
        )
        return series_output(series, now, "scheduled")
    job = scheduler.schedule(args.detail_type, detail, at=args.at, delay=args.delay, key=args.key)
    return job_output(job, now, "scheduled")


def get(args: argparse.Namespace, scheduler: Scheduler, _target: Target, now: datetime) -> Output:
    kind, identifier = id_kind(args.id)
    if kind == "series":
        return series_output(_series(scheduler.get_series, identifier), now)
    return job_output(scheduler.get(identifier), now)


def cancel(args: argparse.Namespace, scheduler: Scheduler, _target: Target, now: datetime) -> Output:
    kind, identifier = id_kind(args.id)
    if kind == "series":
        series = _series(scheduler.cancel_series, identifier)
        return series_output(series, now, "cancelled, with its pending occurrence")
    return job_output(scheduler.cancel(identifier), now, "cancelled")


def _series(call: Callable[[str], Series], series_id: str) -> Series:
    """``call(series_id)``. A UUIDv4 is a series id to onthedot, but a job typed in by hand may carry one: say so."""
    from onthedot.client import JobNotFound

    try:
        return call(series_id)
    except JobNotFound as error:
        raise JobNotFound(
            f"{error} (a UUIDv4 is read as a series id; a job written by hand with such an id "
            "cannot be looked up by id: find it with `onthedot list`)"
        ) from None


def reschedule(args: argparse.Namespace, scheduler: Scheduler, _target: Target, now: datetime) -> Output:
    from onthedot.client import InvalidJob

    kind, identifier = id_kind(args.id)
    if kind == "series":
        raise InvalidJob("id", f"{identifier} is a series; reschedule takes a job id (cancel the series instead)")
    job = scheduler.reschedule(identifier, at=args.at, delay=args.delay)
    return job_output(job, now, "rescheduled (the job id carries the due time, so it changed)", was_line(identifier))


def list_jobs(args: argparse.Namespace, scheduler: Scheduler, _target: Target, now: datetime) -> Output:
    page = scheduler.list_jobs(
        start=None if args.start is None else parse_moment(args.start, now),
        end=None if args.end is None else parse_moment(args.end, now),
        limit=args.limit,
        cursor=args.cursor,
    )
    document = {"jobs": [job.as_dict() for job in page.jobs], "cursor": page.cursor}
    if not page.jobs and page.cursor:  # a wide range is read a day or so at a time
        return document, "no pending jobs in this part of the range\n" + more_hint("list", page.cursor, args.limit)
    if not page.jobs:
        if args.start is None and args.end is None and args.cursor is None:
            return document, "no pending jobs due up to a day from now (--from/--to choose another range)"
        return document, "no pending jobs in that range"
    rows = [("DUE", "WHEN", "TYPE", "JOB")]
    rows += [
        (
            iso(job.due),
            relative(job.due, now),
            job.detail_type,
            job.id + (f"  series {job.series}" if job.series else ""),
        )
        for job in page.jobs
    ]
    text = table(rows)
    if page.cursor:
        text += "\n" + more_hint("list", page.cursor, args.limit)
    return document, text


COMMANDS: dict[str, Callable[[argparse.Namespace, Any, Any, datetime], Output]] = {
    "schedule": schedule,
    "get": get,
    "cancel": cancel,
    "reschedule": reschedule,
    "list": list_jobs,
    "status": status,
    "dlq": dlq,
}
