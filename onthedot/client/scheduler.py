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

This module is the public face: ``Scheduler`` and the names callers import. The code lives in small modules:

- ``models``: the handles and requests (``Job``, ``Series``, ``Page``, ``DeadLetter``, ``DeadLetterPage``,
  ``JobRequest``); ``errors``: ``InvalidJob`` (and its ``BucketWidthMismatch``), ``JobNotFound``,
  ``ScheduleIncomplete``;
- ``scheduling`` (one-off jobs), ``series`` (recurring jobs), ``listing`` and ``dead_letters``: the parts
  ``Scheduler`` is assembled from, over the shared state of ``context``;
- ``validation`` (the caller's input checked), ``items`` (stored items to and from handles), ``cursors``
  (listing cursors), ``idempotency`` (key records) and ``table`` (the DynamoDB calls).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from onthedot.client.dead_letters import DeadLetterQueue
from onthedot.client.listing import JobListing
from onthedot.client.scheduling import OneOffJobs
from onthedot.client.series import RecurringSeries
from onthedot.client.table import JobsTable, Table
from onthedot.client.validation import check_bucket_minutes, check_table_name
from onthedot.core.errors import BucketWidthMismatch, InvalidJob, JobNotFound, ScheduleIncomplete
from onthedot.core.models import DeadLetter, DeadLetterPage, Job, JobRequest, Page, Series

__all__ = [
    "BucketWidthMismatch",
    "DeadLetter",
    "DeadLetterPage",
    "InvalidJob",
    "Job",
    "JobNotFound",
    "JobRequest",
    "Page",
    "ScheduleIncomplete",
    "Scheduler",
    "Series",
]


class Scheduler(OneOffJobs, RecurringSeries, JobListing, DeadLetterQueue):
    """The API over one jobs table. ``dynamodb`` is a boto3 DynamoDB *client* (a default one when omitted).

    Jobs are keyed with the bucket width the dispatcher records in the table (read once, on first use; 5 minutes
    on a table no dispatcher has run on). ``bucket_minutes`` is only a check: a width that differs from the
    table's raises ``BucketWidthMismatch``. Bad arguments raise ``InvalidJob`` naming the argument.

    ``dead_letter_table`` (the stack's ``DeadLetterTableName`` output) is needed by ``dead_letters``,
    ``dead_letter_size`` and ``redrive`` only.

    One-off jobs: ``schedule``, ``schedule_many``, ``get``, ``cancel``, ``reschedule`` (``onthedot.client.scheduling``).
    Recurring jobs: ``schedule_recurring``, ``get_series``, ``cancel_series`` (``onthedot.client.series``). Listing:
    ``list_jobs`` (``onthedot.client.listing``). The dead letter: ``dead_letters``, ``dead_letter_size``, ``redrive``
    (``onthedot.client.dead_letters``).
    """

    def __init__(
        self,
        table_name: str,
        *,
        dead_letter_table: str | None = None,
        dynamodb: Any = None,
        bucket_minutes: int | None = None,
        clock: Any = None,  # () -> aware datetime; datetime.now(UTC) by default
        sleep: Callable[[float], None] = time.sleep,  # between UnprocessedItems retries
    ) -> None:
        check_table_name("table_name", table_name)
        if dead_letter_table is not None:
            check_table_name("dead_letter_table", dead_letter_table)
        if bucket_minutes is not None:
            check_bucket_minutes(bucket_minutes)
        if clock is not None and not callable(clock):
            raise InvalidJob("clock", f"must be a function returning an aware datetime, got {type(clock).__name__}")
        if not callable(sleep):
            raise InvalidJob("sleep", f"must be a function taking seconds, got {type(sleep).__name__}")
        if dynamodb is None:
            import boto3

            dynamodb = boto3.client("dynamodb")
        self._jobs = JobsTable(dynamodb, table_name, sleep, bucket_minutes)
        self._dlq = None if dead_letter_table is None else Table(dynamodb, dead_letter_table, sleep)
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def table_name(self) -> str:
        return self._jobs.name

    @property
    def dead_letter_table(self) -> str | None:
        return None if self._dlq is None else self._dlq.name

    @property
    def dynamodb(self) -> Any:
        return self._jobs.dynamodb

    @property
    def bucket_minutes(self) -> int:
        return self._jobs.bucket_minutes
