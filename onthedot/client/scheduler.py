"""Schedule, look up, cancel and reschedule jobs: the Python API (the CLI is built on it).

Job ids are UUIDv7 values whose 48-bit timestamp is the job's *due time* (``onthedot.core.keys.new_job_id``), so a
job id alone gives the item's key: get, cancel and reschedule are single key operations, with no scan and no
index. Rescheduling therefore gives the job a new id (same random bits, new time), returned in the new handle.
Series ids (recurring jobs) are random UUIDv4 values.

A due time in the past is not an error: the job is scheduled for now, so it fires on the next run (it is
never written into a bucket the dispatcher has already drained). Due times are kept to the millisecond.

Items written here (attribute names from ``onthedot.core.jobs``):

- a job: ``pk``, ``sk``, ``detail``, ``detail_type``, ``created_at``, and ``idempotency_key`` when one was given;
- an idempotency key: ``pk = key#<key>``, ``sk = key``, ``job_id`` (or ``series``) and ``expires_at`` (the TTL,
  7 days after the job's due time; a series' key lasts until 7 days after its end, or for ever);
- a series: ``pk = series#<id>``, ``sk = series``, ``detail``, ``detail_type``, the rule (``cron`` or ``rate``,
  ``tz``, ``starts_at``, ``ends_at``, ``limit``), ``fired`` and ``current`` (the sort key of its pending
  occurrence); the occurrence is a job item with ``series`` and ``occurrence`` instead of a ``detail``.

The dead letter is a table of its own (``dead_letter_table``; ``functions/publish/dead_letter.py`` writes it):
``pk = dlq``, ``sk`` = the job's sort key, ``job`` (the job item as it was), ``reason``, ``attempts`` and
``dead_at``; its size is ``size`` in the item ``pk = meta``, ``sk = size``. ``redrive`` puts a job back.

This module is the public face (``onthedot.client`` exports it with the names callers import). ``Scheduler`` is a
facade over parts that each take the jobs table and the clock (``onthedot.client.clock``), composed, not inherited:

- ``scheduling.OneOffJobs`` (one-off jobs), ``series.RecurringSeries`` (recurring jobs), ``listing.JobListing``
  and ``dead_letters.DeadLetterQueue`` (which takes the dead-letter table too);
- under them ``table``, the data layer (every DynamoDB call, the jobs table's layout: bucket width and shards),
  ``validation`` (the caller's input checked), ``cursors`` (listing cursors) and ``idempotency`` (key records);
- from ``onthedot.core``: ``models`` (the handles and requests), ``errors`` (``InvalidJob`` and its
  ``BucketWidthMismatch``, ``JobNotFound``, ``ScheduleIncomplete``) and ``items`` (stored items to handles).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from onthedot.client.clock import Clock
from onthedot.client.dead_letters import DeadLetterQueue
from onthedot.client.listing import JobListing
from onthedot.client.scheduling import OneOffJobs
from onthedot.client.series import RecurringSeries, SeriesRequest
from onthedot.client.table import JobsTable, Table
from onthedot.client.validation import check_bucket_minutes, check_shards, check_table_name
from onthedot.core.errors import InvalidJob
from onthedot.core.models import DeadLetterPage, Job, JobRequest, Page, Series

__all__ = ["Scheduler"]


class Scheduler:
    """The API over one jobs table. ``dynamodb`` is a boto3 DynamoDB *client* (a default one when omitted).

    Jobs are keyed with the layout the dispatcher records in the table (read once, on first use): the bucket
    width (5 minutes on a table no dispatcher has run on) and the shards a bucket is spread over (1 when none are
    recorded). Each job goes to the shard of its id (``onthedot.core.keys.shard_of``); get, cancel and reschedule
    look in that shard only, and listings read every shard of a bucket. ``bucket_minutes`` and ``shards`` are
    only checks: a value that differs from the table's raises ``BucketWidthMismatch`` (InvalidJob on
    ``bucket_minutes``) or InvalidJob on ``shards``. Bad arguments raise ``InvalidJob`` naming the argument.

    ``dead_letter_table`` (the stack's ``DeadLetterTableName`` output) is needed by ``dead_letters``,
    ``dead_letter_size`` and ``redrive`` only.
    """

    def __init__(
        self,
        table_name: str,
        *,
        dead_letter_table: str | None = None,
        dynamodb: Any = None,
        bucket_minutes: int | None = None,
        shards: int | None = None,
        clock: Any = None,  # () -> aware datetime; datetime.now(UTC) by default
        sleep: Callable[[float], None] = time.sleep,  # between UnprocessedItems retries
    ) -> None:
        check_table_name("table_name", table_name)
        if dead_letter_table is not None:
            check_table_name("dead_letter_table", dead_letter_table)
        if bucket_minutes is not None:
            check_bucket_minutes(bucket_minutes)
        if shards is not None:
            check_shards(shards)
        if clock is not None and not callable(clock):
            raise InvalidJob("clock", f"must be a function returning an aware datetime, got {type(clock).__name__}")
        if not callable(sleep):
            raise InvalidJob("sleep", f"must be a function taking seconds, got {type(sleep).__name__}")
        if dynamodb is None:
            import boto3

            dynamodb = boto3.client("dynamodb")
        self._table = JobsTable(dynamodb, table_name, sleep, bucket_minutes, shards)
        dead_letters = None if dead_letter_table is None else Table(dynamodb, dead_letter_table, sleep)
        checked = Clock(clock)
        self._one_off = OneOffJobs(self._table, checked)
        self._series = RecurringSeries(self._table, checked)
        self._listing = JobListing(self._table, checked)
        self._dead_letters = DeadLetterQueue(self._table, dead_letters, checked)

    @property
    def table_name(self) -> str:
        return self._table.name

    @property
    def dead_letter_table(self) -> str | None:
        return None if self._dead_letters._table is None else self._dead_letters._table.name

    @property
    def dynamodb(self) -> Any:
        return self._table.dynamodb

    @property
    def jobs_table(self) -> JobsTable:
        """The data layer over the jobs table (the CLI's ``status`` and the console read the dispatcher's records)."""
        return self._table

    @property
    def bucket_minutes(self) -> int:
        return self._table.bucket_minutes

    @property
    def shards(self) -> int:
        return self._table.shards

    # -- one-off jobs (onthedot.client.scheduling) ----------------------------------------------------------------

    def schedule(
        self,
        detail_type: str,
        detail: Mapping[str, Any],
        *,
        at: datetime | str | None = None,
        delay: timedelta | None = None,
        key: str | None = None,
    ) -> Job:
        """One job at ``at`` (aware datetime or ISO string with offset) or after ``delay``; with ``key``, a
        second call with the same key returns the first job and writes nothing.

        A due time in the past schedules the job for now (it fires on the next run). If the job a key points
        to has since fired or been cancelled, the handle carries that job's id and due time with this call's
        detail_type and detail.
        """
        return self._one_off.schedule(JobRequest(detail_type, detail, at=at, delay=delay, key=key))

    def schedule_many(self, requests: Iterable[JobRequest]) -> list[Job]:
        """Many jobs with batched writes (BatchWriteItem, 25 a request, UnprocessedItems retried). Every
        request is validated before anything is written.

        Requests with a ``key`` are written one transaction each (as ``schedule`` does), after the batch.
        Raises ``ScheduleIncomplete`` (naming what was written) if DynamoDB keeps items unprocessed.
        """
        return self._one_off.schedule_many(requests)

    def get(self, job_id: str) -> Job:
        """The pending job; raises JobNotFound."""
        return self._one_off.get(job_id)

    def cancel(self, job_id: str) -> Job:
        """Delete the pending job (conditional); returns what was cancelled; raises JobNotFound.

        An occurrence of a recurring job is refused (InvalidJob on ``job_id``): cancel the series instead.
        """
        return self._one_off.cancel(job_id)

    def reschedule(self, job_id: str, *, at: datetime | str | None = None, delay: timedelta | None = None) -> Job:
        """Move the job to a new due time in one transaction; returns the job under its new id.

        A new due time in the past means now. The old id stops working. An idempotency key that pointed to the
        job is moved to the new id in the same transaction. Occurrences of a series are refused (InvalidJob).
        """
        return self._one_off.reschedule(job_id, at=at, delay=delay)

    # -- recurring jobs (onthedot.client.series) ------------------------------------------------------------------

    def schedule_recurring(
        self,
        detail_type: str,
        detail: Mapping[str, Any],
        *,
        cron: str | None = None,
        rate: str | None = None,
        tz: str = "UTC",
        starts_at: datetime | str | None = None,
        ends_at: datetime | str | None = None,
        limit: int | None = None,
        key: str | None = None,
    ) -> Series:
        """A series: exactly one of ``cron`` (5 fields) / ``rate`` ("15 minutes", "2 hours", "1 day").

        ``starts_at`` defaults to now. The series item and its first occurrence are written in one
        transaction; see ``onthedot.core.recurrence`` for when occurrences fall (time zones and DST).
        """
        request = SeriesRequest(detail_type, detail, cron, rate, tz, starts_at, ends_at, limit, key)
        return self._series.schedule(request)

    def get_series(self, series_id: str) -> Series:
        """The series and its pending occurrence; raises JobNotFound."""
        return self._series.get(series_id)

    def cancel_series(self, series_id: str) -> Series:
        """Delete the series and its pending occurrence, in one transaction.

        An occurrence that was dead-lettered is no longer in the jobs table: then the series alone is deleted
        (the dead letter stays, and can no longer be sent back).
        """
        return self._series.cancel(series_id)

    # -- listing (onthedot.client.listing) ------------------------------------------------------------------------

    def list_jobs(
        self,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """Pending jobs due in [start, end] (default: from the oldest undrained bucket the dispatcher reads,
        i.e. now minus two buckets, to now plus one day), in due order, ``limit`` a page.

        One Query per bucket partition and shard in the range, in order (no scan), and at most
        ``MAX_PARTITIONS_A_PAGE`` of them a call: over a wider range a page can hold fewer than ``limit`` jobs,
        even none, and still carry a cursor. With a ``cursor``, the range is the one of the call that returned
        it, and ``start``/``end`` are ignored.
        """
        return self._listing.page(start=start, end=end, limit=limit, cursor=cursor)

    # -- the dead letter (onthedot.client.dead_letters) -----------------------------------------------------------

    def dead_letters(self, *, limit: int = 100, cursor: str | None = None) -> DeadLetterPage:
        """Dead-lettered jobs in due order (their sort keys' order), ``limit`` a page; one Query a page."""
        return self._dead_letters.page(limit=limit, cursor=cursor)

    def dead_letter_size(self) -> int:
        """The dead letter's size as its writers keep it (the DeadLetterSize metric); 0 before any."""
        return self._dead_letters.size()

    def redrive(
        self,
        job_id_or_sk: str,
        *,
        detail_type: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> Job:
        """Send a dead-lettered job back, due now (it fires on the next dispatcher run); returns the job.

        ``job_id_or_sk`` is its job id (an onthedot UUIDv7, or any id a hand-written job carries) or its sort
        key. ``detail_type``/``detail`` replace the job's before it goes back; the job is validated as
        ``schedule`` validates (InvalidJob naming the field; nothing written). In one transaction the job is
        put back with its attempts cleared, the dead letter is deleted and the dead letter's size goes down by
        one. An onthedot job id gets the new due time (``keys.with_due``, as reschedule does), so it keeps
        working with get and cancel; any other id stays as it is. An occurrence of a recurring job goes back
        as the series' pending occurrence, with the series' detail: fixes are refused (fix the series).
        Raises JobNotFound when there is no such dead letter.
        """
        return self._dead_letters.redrive(job_id_or_sk, detail_type=detail_type, detail=detail)
