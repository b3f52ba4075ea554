"""``onthedot status``: pending jobs by bucket, the next due job and the last dispatcher runs, read from the table."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from onthedot.cli.render import Output, iso, printable, relative_text, when
from onthedot.core import jobs

if TYPE_CHECKING:
    from collections.abc import Sequence

    from onthedot.client import Job, Scheduler
    from onthedot.client.table import JobsTable
    from onthedot.deploy.target import Target

RECENT_RUNS = 5
STATUS_HORIZON = timedelta(hours=1)
MAX_BACKLOG_BUCKETS = 48  # status counts at most this many buckets behind the previous one

_RUN_COUNTS = (
    jobs.RUN_DUE,
    jobs.RUN_PUBLISHED,
    jobs.RUN_FAILED,
    jobs.RUN_MISSING,
    jobs.RUN_DELETED,
    jobs.RUN_ADVANCED,
    jobs.RUN_UNDELETED,
    jobs.RUN_PARTITIONS,
    jobs.RUN_PAUSED,
)
_RUN_HIDDEN = {"pk", "sk", "expires_at", "lateness"}  # the lateness histogram is summed over runs instead
LATENESS_RUNS = 60  # status reads lateness over the last hour of runs


def status(_args: argparse.Namespace, scheduler: Scheduler, target: Target, now: datetime) -> Output:
    from onthedot.core import keys

    table = scheduler.jobs_table
    minutes = scheduler.bucket_minutes  # the table's own width (status reads it as the dispatcher does)
    width = timedelta(minutes=minutes)
    current = keys.bucket_start(now, minutes)
    cursor = _dispatcher_cursor(table)
    first = current - width  # the previous bucket: every run drains it and the current one
    behind_from = _bucket_of(cursor)
    if behind_from is not None and behind_from < first:  # the dispatcher is catching up from its cursor
        first = max(behind_from, first - MAX_BACKLOG_BUCKETS * width)
    counted: list[tuple[datetime, dict[str, Any]]] = []  # each bucket's start, and the bucket as --json shows it
    start = first
    while start <= now + STATUS_HORIZON:
        partition = keys.partition_key(start, minutes)
        state = "behind" if start < current - width else "draining" if start <= current else "ahead"
        pending = table.count_bucket(start)  # every shard of the bucket
        counted.append((start, {"partition": partition, "start": iso(start), "pending": pending, "state": state}))
        start += width
    upcoming = _first_job(scheduler, counted, width)
    document = {
        "target": {"table": target.table, "bus": target.bus, "where": target.description},
        "now": iso(now),
        "bucket_minutes": minutes,
        "cursor": cursor,
        "buckets": [bucket for _, bucket in counted],
        "next": upcoming.as_dict() if upcoming else None,
        "runs": _recent_runs(table),
        "lateness": _lateness(table),
    }
    return document, _text(document, upcoming, target, now)


def _first_job(
    scheduler: Scheduler, counted: Sequence[tuple[datetime, dict[str, Any]]], width: timedelta
) -> Job | None:
    """The first pending job in the buckets counted: one query in the first bucket that holds any."""
    for start, bucket in counted:
        if bucket["pending"]:
            jobs = scheduler.list_jobs(start=start, end=start + width - timedelta(milliseconds=1), limit=1).jobs
            if jobs:
                return jobs[0]
    return None


def _text(document: dict[str, Any], upcoming: Job | None, target: Target, now: datetime) -> str:
    buckets = document["buckets"]
    where = f"target   {target.description} · table {target.table}" + (f" · bus {target.bus}" if target.bus else "")
    lines = [printable(where), f"now      {document['now']}"]
    behind = [bucket for bucket in buckets if bucket["state"] == "behind"]
    if behind:
        lines.append(
            f"dispatcher cursor  {printable(str(document['cursor']))}: catching up, {len(behind)} buckets behind"
        )
    lines.append(f"pending jobs by {document['bucket_minutes']}-minute bucket:")
    labels = {"behind": "  behind", "draining": "  draining now", "ahead": ""}
    lines += [
        f"  {bucket['partition']}  {bucket['pending']:>6}{labels[bucket['state']]}"
        for bucket in buckets
        if bucket["state"] == "draining" or bucket["pending"]
    ]
    ahead = [bucket for bucket in buckets if bucket["state"] == "ahead"]
    lines.append(
        f"  next hour: {sum(bucket['pending'] for bucket in ahead)} pending"
        f" ({sum(not bucket['pending'] for bucket in ahead)} of {len(ahead)} buckets empty)"
    )
    if upcoming is None:
        lines.append("next due job  none in the next hour")
    else:
        kind = printable(upcoming.detail_type)
        lines.append(f"next due job  {printable(upcoming.id)}  {kind}  due {when(upcoming.due, now, gap=' ')}")
    figures = document["lateness"]
    if figures["jobs"]:
        lines.append(
            f"lateness  over the last {_count(figures['runs'], 'run')} ({_count(figures['jobs'], 'job')}):"
            f" p50 ≤ {figures['p50_s']:g} s"
            f" · p99 ≤ {figures['p99_s']:g} s · max {figures['max_s']:.3f} s"
        )
    if not document["runs"]:
        lines.append("dispatcher runs  no runs recorded yet")
    else:
        lines.append("last dispatcher runs:")
        for record in document["runs"]:
            counts = " · ".join(f"{name} {value}" for name, value in record.items() if name != "time")
            lines.append(printable(f"  {record['time']} ({relative_text(record['time'], now)})  {counts}"))
    return "\n".join(lines)


def _dispatcher_cursor(table: JobsTable) -> str | None:
    """The dispatcher's cursor: the oldest bucket (a pk) that may still hold due jobs; None before any run."""
    from onthedot.core.jobs import CURSOR_BUCKET

    bucket = table.cursor().get(CURSOR_BUCKET)
    return bucket if isinstance(bucket, str) else None


def _bucket_of(partition: str | None) -> datetime | None:
    """The start of the bucket a ``j#YYYY-MM-DDTHH:MM`` partition key names; None for anything else."""
    from onthedot.core.keys import PK_PREFIX

    if partition is None or not partition.startswith(PK_PREFIX):
        return None
    try:
        return datetime.strptime(partition[len(PK_PREFIX) :], "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
    except ValueError:
        return None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _lateness(table: JobsTable) -> dict[str, Any]:
    """p50, p99 (bin upper edges: onthedot.core.lateness) and max lateness over the last ``LATENESS_RUNS`` runs."""
    from onthedot.core import lateness
    from onthedot.core.jobs import RUN_LATENESS, RUN_LATENESS_MAX_MS

    items = table.runs(LATENESS_RUNS, attributes=(RUN_LATENESS, RUN_LATENESS_MAX_MS))
    histograms = [item.get(RUN_LATENESS) for item in items]
    counts = lateness.merge([int(n) for n in counted] for counted in histograms if isinstance(counted, list))
    worst = max((int(item.get(RUN_LATENESS_MAX_MS, 0)) for item in items), default=0)
    p50, p99 = lateness.percentile_ms(counts, 0.5), lateness.percentile_ms(counts, 0.99)
    return {
        "runs": len(items),
        "jobs": sum(counts),
        "p50_s": None if p50 is None else min(p50, worst) / 1000,
        "p99_s": None if p99 is None else min(p99, worst) / 1000,
        "max_s": worst / 1000,
        "histogram": {"edges_ms": list(lateness.EDGES_MS[:-1]), "counts": counts},
    }


def _recent_runs(table: JobsTable) -> list[dict[str, Any]]:
    """The last dispatcher runs, newest first: the run time and its Summarize counts."""
    runs = []
    for values in table.runs(RECENT_RUNS):  # numbers stay Decimal: exact in JSON
        record = {"time": values.get("sk")}
        record |= {name: values[name] for name in _RUN_COUNTS if name in values}
        record |= {name: value for name, value in values.items() if name not in record and name not in _RUN_HIDDEN}
        runs.append(record)
    return runs
