"""Schedule, look up, cancel and reschedule jobs: the Python API (the CLI is built on it).

Job ids are UUIDv7 values whose 48-bit timestamp is the job's *due time* (``onthedot.keys.new_job_id``), so a
job id alone gives the item's key: get, cancel and reschedule are single key operations, with no scan and no
index. Rescheduling therefore gives the job a new id (same random bits, new time), returned in the new handle.
Series ids (recurring jobs) are random UUIDv4 values.

A due time in the past is not an error: the job is scheduled for now, so it fires on the next run (it is
never written into a bucket the dispatcher has already drained). Due times are kept to the millisecond.

Items written here (attribute names from ``onthedot.jobs``):

- a job: ``pk``, ``sk``, ``detail``, ``detail_type``, ``created_at``, and ``idempotency_key`` when one was given;
- an idempotency key: ``pk = key#<key>``, ``sk = key``, ``job_id`` (or ``series``) and ``expires_at`` (the TTL,
  7 days after the job's due time; a series' key lasts until 7 days after its end, or for ever);
- a series: ``pk = series#<id>``, ``sk = series``, ``detail``, ``detail_type``, the rule (``cron`` or ``rate``,
  ``tz``, ``starts_at``, ``ends_at``, ``limit``), ``fired`` and ``current`` (the sort key of its pending
  occurrence); the occurrence is a job item with ``series`` and ``occurrence`` instead of a ``detail``.

The dead letter is a table of its own (``dead_letter_table``; ``functions/publish/dead_letter.py`` writes it):
``pk = dlq``, ``sk`` = the job's sort key, ``job`` (the job item as it was), ``reason``, ``attempts`` and
``dead_at``; its size is ``size`` in the item ``pk = meta``, ``sk = size``. ``redrive`` puts a job back.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from onthedot.errors import InvalidJob, JobNotFound, ScheduleIncomplete
from onthedot.jobs import (
    ATTEMPTS,
    CREATED_AT,
    CURRENT,
    DEAD_AT,
    DEAD_PK,
    DETAIL,
    DETAIL_TYPE,
    EXPIRES_AT,
    FIRED,
    IDEMPOTENCY_KEY,
    JOB,
    JOB_ID,
    KEY_PK_PREFIX,
    KEY_SK,
    LAST_ERROR,
    MAX_DETAIL_TYPE_LENGTH,
    OCCURRENCE,
    PK,
    REASON,
    SERIES,
    SERIES_PK_PREFIX,
    SERIES_SK,
    SIZE,
    SIZE_PK,
    SIZE_SK,
    SK,
    PoisonJob,
    event_entry,
)
from onthedot.keys import (
    DEFAULT_BUCKET_MINUTES,
    SK_SEPARATOR,
    KeyFormatError,
    bucket_start,
    due_of,
    format_time,
    job_key,
    new_job_id,
    parse_sort_key,
    parse_time,
    partition_key,
    sort_key,
    with_due,
)
from onthedot.recurrence import Rule

__all__ = [
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

MAX_KEY_LENGTH = 512
MAX_KEY_BYTES = 2048 - len(KEY_PK_PREFIX)  # DynamoDB's limit on a partition key value
KEY_TTL = timedelta(days=7)
MAX_DEPTH = 32  # DynamoDB nests documents at most 32 levels deep
BATCH_SIZE = 25  # BatchWriteItem's limit
BATCH_RETRIES = 6  # rounds of UnprocessedItems retries before giving up (about 3 s of back-off in all)
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0
KEY_CONFLICT_RETRIES = 3  # a transaction on an idempotency key that a concurrent caller is writing
SERIES_RETRIES = 5  # cancel_series re-reads a series that advanced while it was being cancelled
MAX_PAGE = 1000
DEFAULT_LIST_AHEAD = timedelta(days=1)
VALIDATION_SOURCE = "onthedot"  # the event size is checked with the default eventSource

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Job:
    id: str
    due: datetime  # aware, UTC
    detail_type: str
    detail: dict[str, Any]
    series: str | None = None  # the series id, for an occurrence of a recurring job
    created_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:  # JSON-ready, for --json
        return {
            "id": self.id,
            "due": format_time(self.due),
            "detail_type": self.detail_type,
            "detail": self.detail,
            "series": self.series,
            "created_at": format_time(self.created_at) if self.created_at is not None else None,
        }


@dataclass(frozen=True)
class Series:
    id: str
    detail_type: str
    detail: dict[str, Any]
    cron: str | None
    rate: str | None
    tz: str
    starts_at: datetime
    ends_at: datetime | None
    limit: int | None
    fired: int
    next: Job | None  # the pending occurrence; None once the series has ended

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "detail_type": self.detail_type,
            "detail": self.detail,
            "cron": self.cron,
            "rate": self.rate,
            "tz": self.tz,
            "starts_at": format_time(self.starts_at),
            "ends_at": format_time(self.ends_at) if self.ends_at is not None else None,
            "limit": self.limit,
            "fired": self.fired,
            "next": self.next.as_dict() if self.next is not None else None,
        }


@dataclass(frozen=True)
class Page:
    jobs: list[Job]
    cursor: str | None  # pass back to list_jobs for the next page; None when there is none


@dataclass(frozen=True)
class DeadLetter:
    """A job in the dead letter: what it was, why it is there and since when.

    ``due`` is None (and ``job_id`` the sort key's text after ``#``, if any) for a job whose sort key does not
    parse; ``detail`` is whatever the job held, which may not be a map for a poison job.
    """

    job_id: str
    due: datetime | None  # aware, UTC: the due time the job had
    detail_type: str
    detail: Any
    reason: str
    attempts: int
    dead_at: datetime | None
    sk: str  # its sort key, in the jobs table as in the dead letter: redrive takes it too
    series: str | None = None  # the series id, for an occurrence of a recurring job

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "due": format_time(self.due) if self.due is not None else None,
            "detail_type": self.detail_type,
            "detail": self.detail,
            "reason": self.reason,
            "attempts": self.attempts,
            "dead_at": format_time(self.dead_at) if self.dead_at is not None else None,
            "sk": self.sk,
            "series": self.series,
        }


@dataclass(frozen=True)
class DeadLetterPage:
    dead_letters: list[DeadLetter]
    cursor: str | None  # pass back to dead_letters for the next page; None when there is none


@dataclass(frozen=True)
class JobRequest:
    """One job for schedule_many; exactly one of ``at`` / ``delay``."""

    detail_type: str
    detail: Mapping[str, Any]
    at: datetime | str | None = None
    delay: timedelta | None = None
    key: str | None = None


@dataclass(frozen=True)
class _Prepared:
    """A validated job, ready to write: its handle, its item (plain values, numbers as Decimal) and its key."""

    job: Job
    item: dict[str, Any]
    key: str | None


class Scheduler:
    """The API over one jobs table. ``dynamodb`` is a boto3 DynamoDB *client* (a default one when omitted).

    ``dead_letter_table`` (the stack's ``DeadLetterTableName`` output) is needed by ``dead_letters``,
    ``dead_letter_size`` and ``redrive`` only.
    """

    def __init__(
        self,
        table_name: str,
        *,
        dead_letter_table: str | None = None,
        dynamodb: Any = None,
        bucket_minutes: int = DEFAULT_BUCKET_MINUTES,
        clock: Any = None,  # () -> aware datetime; datetime.now(UTC) by default
        sleep: Callable[[float], None] = time.sleep,  # between UnprocessedItems retries
    ) -> None:
        if not isinstance(table_name, str) or not table_name:
            raise ValueError("table_name must be a non-empty string")
        if isinstance(bucket_minutes, bool) or not isinstance(bucket_minutes, int) or not 1 <= bucket_minutes <= 60:
            raise ValueError(f"bucket_minutes must be a whole number from 1 to 60, got {bucket_minutes!r}")
        if 60 % bucket_minutes:
            raise ValueError(f"bucket_minutes must divide 60, got {bucket_minutes}")
        if dead_letter_table is not None and (not isinstance(dead_letter_table, str) or not dead_letter_table):
            raise ValueError("dead_letter_table must be a non-empty string (or None)")
        if dynamodb is None:
            import boto3

            dynamodb = boto3.client("dynamodb")
        self.table_name = table_name
        self.dead_letter_table = dead_letter_table
        self.dynamodb = dynamodb
        self.bucket_minutes = bucket_minutes
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep

    # -- scheduling ---------------------------------------------------------------------------------------------

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
        prepared = self._prepare(detail_type, detail, at=at, delay=delay, key=key, now=self._now())
        if prepared.key is not None:
            return self._put_with_key(prepared)
        self.dynamodb.put_item(
            TableName=self.table_name,
            Item=_dump(prepared.item),
            ConditionExpression="attribute_not_exists(#pk)",
            ExpressionAttributeNames={"#pk": PK},
        )
        return prepared.job

    def schedule_many(self, requests: Iterable[JobRequest]) -> list[Job]:
        """Many jobs with batched writes (BatchWriteItem, 25 a request, UnprocessedItems retried). Every
        request is validated before anything is written.

        Requests with a ``key`` are written one transaction each (as ``schedule`` does), after the batch.
        Raises ``ScheduleIncomplete`` (naming what was written) if DynamoDB keeps items unprocessed.
        """
        now = self._now()
        prepared: list[_Prepared] = []
        for index, request in enumerate(requests):
            field = f"requests[{index}]"
            if not isinstance(request, JobRequest):
                raise InvalidJob(field, f"must be a JobRequest, got {type(request).__name__}")
            prepared.append(
                self._prepare(
                    request.detail_type,
                    request.detail,
                    at=request.at,
                    delay=request.delay,
                    key=request.key,
                    now=now,
                    prefix=field + ".",
                )
            )
        batched = [p for p in prepared if p.key is None]
        keyed = [p for p in prepared if p.key is not None]
        unwritten = self._batch_put(batched)
        if unwritten:
            unwritten_ids = {p.job.id for p in unwritten}
            written = [p.job for p in batched if p.job.id not in unwritten_ids]
            raise ScheduleIncomplete(written, [p.job for p in unwritten] + [p.job for p in keyed])
        results = {id(p): p.job for p in batched}
        for p in keyed:
            results[id(p)] = self._put_with_key(p)
        return [results[id(p)] for p in prepared]

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
        transaction; see ``onthedot.recurrence`` for when occurrences fall (time zones and DST).
        """
        now = self._now()
        if key is not None:
            _check_key("key", key)
        rule = Rule(
            cron=cron,
            rate=rate,
            tz=tz,
            starts_at=now if starts_at is None else _instant("starts_at", starts_at),
            ends_at=None if ends_at is None else _instant("ends_at", ends_at),
            limit=limit,
        )
        first = rule.first(now)
        if first is None:
            field = "ends_at" if rule.ends_at is not None else ("cron" if cron is not None else "rate")
            raise InvalidJob(field, "the rule has no occurrence from now on: the series would never fire")
        occurrence_id = _job_id(first, "starts_at")
        stored_detail = _check_content("", detail_type, detail, sort_key(first, occurrence_id))
        series_id = str(uuid.uuid4())
        pk, sk = job_key(occurrence_id, self.bucket_minutes)
        series_item: dict[str, Any] = {
            PK: SERIES_PK_PREFIX + series_id,
            SK: SERIES_SK,
            DETAIL: stored_detail,
            DETAIL_TYPE: detail_type,
            **rule.as_item(),
            FIRED: 0,
            CURRENT: sk,
            CREATED_AT: format_time(now),
        }
        occurrence_item: dict[str, Any] = {
            PK: pk,
            SK: sk,
            DETAIL_TYPE: detail_type,
            SERIES: series_id,
            OCCURRENCE: 1,
            CREATED_AT: format_time(now),
        }
        if key is not None:
            series_item[IDEMPOTENCY_KEY] = key
        series = self._series_from_item(series_item, occurrence_item)
        operations = [self._put_new(series_item), self._put_new(occurrence_item)]
        if key is None:
            self.dynamodb.transact_write_items(TransactItems=operations)
            return series
        key_item: dict[str, Any] = {PK: KEY_PK_PREFIX + key, SK: KEY_SK, SERIES: series_id}
        if rule.ends_at is not None:
            key_item[EXPIRES_AT] = int((rule.ends_at + KEY_TTL).timestamp())
        if not self._transact_with_key(key_item, operations):
            return series
        existing = self._key_record(key)
        if JOB_ID in existing:
            raise InvalidJob("key", f"{key!r} is already the key of job {existing[JOB_ID]}, not of a series")
        try:
            return self.get_series(str(existing[SERIES]))
        except JobNotFound:
            return replace(series, id=str(existing[SERIES]), next=None)

    # -- looking up and changing --------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        """The pending job; raises JobNotFound."""
        pk, sk = self._job_key(job_id)
        item = self._get_item(pk, sk)
        if item is None:
            raise JobNotFound(_gone(job_id))
        return self._job_from_item(item)

    def get_series(self, series_id: str) -> Series:
        """The series and its pending occurrence; raises JobNotFound."""
        item = self._get_item(*self._series_key(series_id))
        if item is None:
            raise JobNotFound(f"no series {series_id}: it was cancelled or never existed")
        return self._series_from_item(item, self._pending_item(item))

    def cancel(self, job_id: str) -> Job:
        """Delete the pending job (conditional); returns what was cancelled; raises JobNotFound.

        An occurrence of a recurring job is refused (InvalidJob on ``job_id``): cancel the series instead.
        """
        pk, sk = self._job_key(job_id)
        try:
            response = self.dynamodb.delete_item(
                TableName=self.table_name,
                Key=_dump({PK: pk, SK: sk}),
                ConditionExpression="attribute_exists(#pk) AND attribute_not_exists(#series)",
                ExpressionAttributeNames={"#pk": PK, "#series": SERIES},
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            old = _load(error.response["Item"]) if "Item" in error.response else self._get_item(pk, sk)
            if old is not None and SERIES in old:
                raise _occurrence(job_id, old, "cancel the series") from None
            raise JobNotFound(_gone(job_id)) from None
        return self._job_from_item(_load(response["Attributes"]))

    def cancel_series(self, series_id: str) -> Series:
        """Delete the series and its pending occurrence, in one transaction.

        An occurrence that was dead-lettered is no longer in the jobs table: then the series alone is deleted
        (the dead letter stays, and can no longer be sent back).
        """
        series_pk, series_sk = self._series_key(series_id)
        for _ in range(SERIES_RETRIES):
            item = self._get_item(series_pk, series_sk)
            if item is None:
                raise JobNotFound(f"no series {series_id}: it was cancelled or never existed")
            pending_item = self._pending_item(item)
            series = self._series_from_item(item, pending_item)
            current = item.get(CURRENT)
            delete_series: dict[str, Any] = {
                "TableName": self.table_name,
                "Key": _dump({PK: series_pk, SK: series_sk}),
                "ExpressionAttributeNames": {"#current": CURRENT},
            }
            operations = [{"Delete": delete_series}]
            if current is None:
                delete_series["ConditionExpression"] = "attribute_not_exists(#current)"
            else:
                delete_series["ConditionExpression"] = "#current = :current"
                delete_series["ExpressionAttributeValues"] = {":current": {"S": str(current)}}
            if current is not None and pending_item is not None:  # else it was dead-lettered: nothing to delete
                due, _ = parse_sort_key(str(current))
                operations.append(
                    {
                        "Delete": {
                            "TableName": self.table_name,
                            "Key": _dump({PK: partition_key(due, self.bucket_minutes), SK: str(current)}),
                            "ConditionExpression": "attribute_exists(#pk)",
                            "ExpressionAttributeNames": {"#pk": PK},
                        }
                    }
                )
            try:
                self.dynamodb.transact_write_items(TransactItems=operations)
            except ClientError as error:
                if not _condition_failed(error):
                    raise
                continue  # the series advanced (or was cancelled) meanwhile: read it again
            return series
        raise RuntimeError(f"series {series_id} kept changing while being cancelled; try again")

    def reschedule(self, job_id: str, *, at: datetime | str | None = None, delay: timedelta | None = None) -> Job:
        """Move the job to a new due time in one transaction; returns the job under its new id.

        A new due time in the past means now. The old id stops working. An idempotency key that pointed to the
        job is moved to the new id in the same transaction. Occurrences of a series are refused (InvalidJob).
        """
        pk, sk = self._job_key(job_id)
        now = self._now()
        due = _due("", at, delay, now)
        item = self._get_item(pk, sk)
        if item is None:
            raise JobNotFound(_gone(job_id))
        if SERIES in item:
            raise _occurrence(job_id, item, "it follows the series' rule; cancel the series to change it")
        new_id = with_due(job_id, due)
        if new_id == job_id:
            return self._job_from_item(item)
        new_pk, new_sk = job_key(new_id, self.bucket_minutes)
        operations: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self.table_name,
                    "Key": _dump({PK: pk, SK: sk}),
                    "ConditionExpression": "attribute_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PK},
                }
            },
            self._put_new({**item, PK: new_pk, SK: new_sk}),
        ]
        key = item.get(IDEMPOTENCY_KEY)
        if isinstance(key, str):
            operations.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": _dump({PK: KEY_PK_PREFIX + key, SK: KEY_SK}),
                        "UpdateExpression": "SET #job = :new, #expires = :expires",
                        "ConditionExpression": "attribute_not_exists(#pk) OR #job = :old",
                        "ExpressionAttributeNames": {"#pk": PK, "#job": JOB_ID, "#expires": EXPIRES_AT},
                        "ExpressionAttributeValues": _dump({":new": new_id, ":old": job_id, ":expires": _expiry(due)}),
                    }
                }
            )
        try:
            self.dynamodb.transact_write_items(TransactItems=operations)
        except ClientError as error:
            if _condition_failed(error, index=0):
                raise JobNotFound(_gone(job_id)) from None
            raise
        return self._job_from_item({**item, PK: new_pk, SK: new_sk})

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

        One Query per bucket partition in the range, in order (no scan). With a ``cursor``, the range is the
        one of the call that returned it, and ``start``/``end`` are ignored.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidJob("limit", f"must be a whole number from 1 to {MAX_PAGE}, got {limit!r}")
        if cursor is not None:
            low, high, bucket, after = _read_cursor(cursor)
        else:
            now = self._now()
            width = timedelta(minutes=self.bucket_minutes)
            low = bucket_start(now, self.bucket_minutes) - 2 * width if start is None else _instant("start", start)
            high = now + DEFAULT_LIST_AHEAD if end is None else _instant("end", end)
            if high < low:
                raise InvalidJob("end", f"{format_time(high)} is before start {format_time(low)}")
            bucket, after = bucket_start(low, self.bucket_minutes), None
        last_bucket = bucket_start(high, self.bucket_minutes)
        width = timedelta(minutes=self.bucket_minutes)
        jobs: list[Job] = []
        series_cache: dict[str, dict[str, Any] | None] = {}
        while bucket <= last_bucket:
            pk = partition_key(bucket, self.bucket_minutes)
            query: dict[str, Any] = {
                "TableName": self.table_name,
                "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :low AND :high",
                "ExpressionAttributeNames": {"#pk": PK, "#sk": SK},
                "ExpressionAttributeValues": _dump(
                    # "<time>#<id>" sorts after "<time>" and before "<time>$": the range holds both ends.
                    {":pk": pk, ":low": format_time(low), ":high": format_time(high) + "$"}
                ),
                "ConsistentRead": True,
                "Limit": limit - len(jobs),
            }
            if after is not None:
                query["ExclusiveStartKey"] = _dump({PK: pk, SK: after})
            response = self.dynamodb.query(**query)
            jobs.extend(self._job_from_item(_load(raw), series_cache) for raw in response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if last_key is not None:
                after = str(_load(last_key)[SK])
                if len(jobs) >= limit:
                    return Page(jobs, _write_cursor(low, high, bucket, after))
                continue
            bucket, after = bucket + width, None
            if len(jobs) >= limit:
                more = bucket <= last_bucket
                return Page(jobs, _write_cursor(low, high, bucket, None) if more else None)
        return Page(jobs, None)

    # -- the dead letter ----------------------------------------------------------------------------------------

    def dead_letters(self, *, limit: int = 100, cursor: str | None = None) -> DeadLetterPage:
        """Dead-lettered jobs in due order (their sort keys' order), ``limit`` a page; one Query a page."""
        table = self._dead_letter_table()
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidJob("limit", f"must be a whole number from 1 to {MAX_PAGE}, got {limit!r}")
        after = None if cursor is None else _read_dead_letter_cursor(cursor)
        found: list[dict[str, Any]] = []
        while len(found) <= limit:  # one more than a page: a cursor is given only when a next page holds any
            query: dict[str, Any] = {
                "TableName": table,
                "KeyConditionExpression": "#pk = :pk",
                "ExpressionAttributeNames": {"#pk": PK},
                "ExpressionAttributeValues": _dump({":pk": DEAD_PK}),
                "ConsistentRead": True,
                "Limit": limit + 1 - len(found),
            }
            if after is not None:
                query["ExclusiveStartKey"] = _dump({PK: DEAD_PK, SK: after})
            response = self.dynamodb.query(**query)
            found.extend(_load(raw) for raw in response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if last_key is None:
                break
            after = str(_load(last_key)[SK])
        page = [_dead_letter_from_item(item) for item in found[:limit]]
        more = len(found) > limit
        return DeadLetterPage(page, _write_dead_letter_cursor(page[-1].sk) if more else None)

    def dead_letter_size(self) -> int:
        """The dead letter's size as its writers keep it (the DeadLetterSize metric); 0 before any."""
        response = self.dynamodb.get_item(
            TableName=self._dead_letter_table(), Key=_dump({PK: SIZE_PK, SK: SIZE_SK}), ConsistentRead=True
        )
        item = _load(response["Item"]) if "Item" in response else {}
        return int(item.get(SIZE, 0))

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
        table = self._dead_letter_table()
        dead = self._find_dead_letter(job_id_or_sk)
        old_sk = str(dead[SK])
        job = dead.get(JOB)
        job_item: dict[str, Any] = dict(job) if isinstance(job, Mapping) else {}
        now = self._now()
        due = now.replace(microsecond=now.microsecond // 1000 * 1000)
        old_id, new_id = old_sk.partition(SK_SEPARATOR)[2], _redriven_id(old_sk, due)
        pk, sk = partition_key(due, self.bucket_minutes), sort_key(due, new_id)
        item = {name: value for name, value in job_item.items() if name not in (ATTEMPTS, LAST_ERROR)}
        item[PK], item[SK] = pk, sk
        operations: list[dict[str, Any]] = []
        series_id = item.get(SERIES)
        if series_id is not None:
            series_id = str(series_id)
            series_item = self._occurrence_series(series_id, old_sk, sk, detail_type, detail)
            stored_detail: Any = series_item.get(DETAIL, {})
            item.pop(DETAIL, None)  # an occurrence's detail lives in its series
            item[DETAIL_TYPE] = series_item.get(DETAIL_TYPE)
            operations.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": _dump(dict(zip((PK, SK), self._series_key(series_id), strict=True))),
                        "UpdateExpression": "SET #current = :new",
                        "ConditionExpression": "#current = :old",
                        "ExpressionAttributeNames": {"#current": CURRENT},
                        "ExpressionAttributeValues": _dump({":new": sk, ":old": old_sk}),
                    }
                }
            )
        else:
            item[DETAIL_TYPE] = item.get(DETAIL_TYPE) if detail_type is None else detail_type
            fixed_detail = item.get(DETAIL, {}) if detail is None else detail
            try:
                stored_detail = _check_content("", item[DETAIL_TYPE], fixed_detail, sk)
            except InvalidJob as error:
                fixed = detail_type is not None if error.field == DETAIL_TYPE else detail is not None
                if fixed:
                    raise
                what = "detail-type" if error.field == DETAIL_TYPE else "detail"
                raise InvalidJob(
                    error.field, f"{str(error).partition(': ')[2]} (as dead-lettered: send it back with a fixed {what})"
                ) from None
            item[DETAIL] = stored_detail
        operations[:0] = [
            self._put_new(item),
            {
                "Delete": {
                    "TableName": table,
                    "Key": _dump({PK: DEAD_PK, SK: old_sk}),
                    "ConditionExpression": "attribute_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PK},
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": _dump({PK: SIZE_PK, SK: SIZE_SK}),
                    "UpdateExpression": "ADD #size :minus_one",
                    "ExpressionAttributeNames": {"#size": SIZE},
                    "ExpressionAttributeValues": _dump({":minus_one": -1}),
                }
            },
        ]
        key = item.get(IDEMPOTENCY_KEY)
        if isinstance(key, str) and new_id != old_id and series_id is None:
            record = self._get_item(KEY_PK_PREFIX + key, KEY_SK)
            if record is not None and record.get(JOB_ID) == old_id:  # the key still names the job: move it along
                operations.append(
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": _dump({PK: KEY_PK_PREFIX + key, SK: KEY_SK}),
                            "UpdateExpression": "SET #job = :new, #expires = :expires",
                            "ConditionExpression": "#job = :old",
                            "ExpressionAttributeNames": {"#job": JOB_ID, "#expires": EXPIRES_AT},
                            "ExpressionAttributeValues": _dump(
                                {":new": new_id, ":old": old_id, ":expires": _expiry(due)}
                            ),
                        }
                    }
                )
        try:
            self.dynamodb.transact_write_items(TransactItems=operations)
        except ClientError as error:
            if _condition_failed(error, index=1):
                raise JobNotFound(f"no dead letter {job_id_or_sk}: it was sent back meanwhile") from None
            if series_id is not None and _condition_failed(error, index=3):
                raise _series_moved(old_id, series_id) from None
            raise
        created_at = _time_or_none(item.get(CREATED_AT))
        plain_detail = _plain(stored_detail) if isinstance(stored_detail, Mapping) else {}
        return Job(new_id, due, str(item.get(DETAIL_TYPE) or ""), plain_detail, series_id, created_at)

    def _dead_letter_table(self) -> str:
        if self.dead_letter_table is None:
            raise InvalidJob(
                "dead_letter_table",
                "this Scheduler has no dead-letter table: pass dead_letter_table= (the stack's DeadLetterTableName "
                "output; onthedot-dead-letters on the local cloud)",
            )
        return self.dead_letter_table

    def _find_dead_letter(self, job_id_or_sk: Any) -> dict[str, Any]:
        """The dead letter of a job id or sort key; JobNotFound when there is none."""
        if not isinstance(job_id_or_sk, str) or not job_id_or_sk.strip():
            raise InvalidJob("job_id", "must be a job id or a sort key (a non-empty string)")
        wanted = job_id_or_sk.strip()
        missing = JobNotFound(
            f"no dead letter {wanted}: it was sent back, or the job was never dead-lettered "
            "(`onthedot dlq list` shows what is there)"
        )
        if SK_SEPARATOR in wanted:  # a sort key
            found = self._get_dead_letter(wanted)
            if found is None:
                raise missing
            return found
        try:
            computed = sort_key(due_of(wanted), wanted)
        except KeyFormatError:
            computed = None  # not an onthedot id: a job typed by hand, found by its id's suffix
        if computed is not None:
            found = self._get_dead_letter(computed)
            if found is not None:
                return found
        matches = [sk for sk in self._dead_letter_keys() if sk == wanted or sk.endswith(SK_SEPARATOR + wanted)]
        if not matches:
            raise missing
        if len(matches) > 1:
            raise InvalidJob(
                "job_id",
                f"{len(matches)} dead letters have the id {wanted}: send one back by its sort key, one of "
                + ", ".join(matches),
            )
        found = self._get_dead_letter(matches[0])
        if found is None:
            raise missing
        return found

    def _get_dead_letter(self, sk: str) -> dict[str, Any] | None:
        response = self.dynamodb.get_item(
            TableName=self._dead_letter_table(), Key=_dump({PK: DEAD_PK, SK: sk}), ConsistentRead=True
        )
        return _load(response["Item"]) if "Item" in response else None

    def _dead_letter_keys(self) -> Iterable[str]:
        """The sort keys of every dead letter (keys only, page by page)."""
        query: dict[str, Any] = {
            "TableName": self._dead_letter_table(),
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": PK, "#sk": SK},
            "ExpressionAttributeValues": _dump({":pk": DEAD_PK}),
            "ProjectionExpression": "#sk",
            "ConsistentRead": True,
        }
        while True:
            response = self.dynamodb.query(**query)
            for raw in response.get("Items", []):
                yield raw[SK]["S"]
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _occurrence_series(
        self, series_id: str, old_sk: str, new_sk: str, detail_type: str | None, detail: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """The series of a dead-lettered occurrence, checked: no fixes, still waiting on it, publishable."""
        job_id = old_sk.partition(SK_SEPARATOR)[2]
        if detail_type is not None or detail is not None:
            field = "detail" if detail is not None else "detail_type"
            raise InvalidJob(
                field,
                f"{job_id} is an occurrence of series {series_id}, whose detail and detail-type it takes: fix the "
                "series instead (cancel it and schedule it again), or send the occurrence back without a fix",
            )
        series_item = self._get_item(*self._series_key(series_id))
        if series_item is None or series_item.get(CURRENT) != old_sk:
            raise _series_moved(job_id, series_id)
        try:
            _check_content("", series_item.get(DETAIL_TYPE), series_item.get(DETAIL, {}), new_sk)
        except InvalidJob as error:
            raise InvalidJob(
                error.field,
                f"series {series_id}: {str(error).partition(': ')[2]} (fix the series: cancel it and "
                "schedule it again)",
            ) from None
        return series_item

    # -- helpers ------------------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise ValueError(f"clock() must return an aware datetime, got {now!r}")
        return now.astimezone(UTC)

    def _prepare(
        self,
        detail_type: Any,
        detail: Any,
        *,
        at: Any,
        delay: Any,
        key: Any,
        now: datetime,
        prefix: str = "",
    ) -> _Prepared:
        """Validate one job and build its item; InvalidJob names the field (with ``prefix``)."""
        due = _due(prefix, at, delay, now)
        job_id = _job_id(due, prefix + ("at" if at is not None else "delay"))
        pk, sk = job_key(job_id, self.bucket_minutes)
        stored_detail = _check_content(prefix, detail_type, detail, sk)
        if key is not None:
            _check_key(prefix + "key", key)
        item: dict[str, Any] = {
            PK: pk,
            SK: sk,
            DETAIL: stored_detail,
            DETAIL_TYPE: detail_type,
            CREATED_AT: format_time(now),
        }
        if key is not None:
            item[IDEMPOTENCY_KEY] = key
        job = Job(job_id, due, detail_type, _plain(stored_detail), created_at=parse_time(format_time(now)))
        return _Prepared(job, item, key)

    def _put_new(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": _dump(item),
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": PK},
            }
        }

    def _put_with_key(self, prepared: _Prepared) -> Job:
        """Write the job and its key record in one transaction, or return the job the key already names."""
        assert prepared.key is not None
        job = prepared.job
        key_item = {PK: KEY_PK_PREFIX + prepared.key, SK: KEY_SK, JOB_ID: job.id, EXPIRES_AT: _expiry(job.due)}
        if not self._transact_with_key(key_item, [self._put_new(prepared.item)]):
            return job
        existing = self._key_record(prepared.key)
        if SERIES in existing:
            raise InvalidJob("key", f"{prepared.key!r} is already the key of series {existing[SERIES]}, not of a job")
        existing_id = str(existing[JOB_ID])
        try:
            return self.get(existing_id)
        except JobNotFound:  # it has fired or was cancelled: the key still names it
            return Job(existing_id, due_of(existing_id), job.detail_type, job.detail)

    def _transact_with_key(self, key_item: Mapping[str, Any], operations: list[dict[str, Any]]) -> bool:
        """Put the key record (if new) with ``operations`` in one transaction; True if the key already existed.

        Two callers racing on one key can cancel each other (TransactionConflict): the loser tries again and
        then finds the winner's key record.
        """
        for attempt in range(KEY_CONFLICT_RETRIES + 1):
            try:
                self.dynamodb.transact_write_items(TransactItems=[self._put_new(key_item), *operations])
            except ClientError as error:
                if _condition_failed(error, index=0):
                    return True
                if attempt < KEY_CONFLICT_RETRIES and _cancelled_by(error, "TransactionConflict"):
                    self._sleep(_backoff(attempt + 1))
                    continue
                raise
            return False
        raise AssertionError("unreachable")  # pragma: no cover

    def _key_record(self, key: str) -> dict[str, Any]:
        record = self._get_item(KEY_PK_PREFIX + key, KEY_SK)
        if record is None:  # expired between the transaction and this read: vanishingly rare
            raise JobNotFound(f"the idempotency key {key!r} expired while it was being read; try again")
        return record

    def _batch_put(self, prepared: list[_Prepared]) -> list[_Prepared]:
        """BatchWriteItem, 25 a request, retrying UnprocessedItems with back-off; returns what stayed unwritten."""
        by_key = {(p.item[PK], p.item[SK]): p for p in prepared}
        for start in range(0, len(prepared), BATCH_SIZE):
            requests = [{"PutRequest": {"Item": _dump(p.item)}} for p in prepared[start : start + BATCH_SIZE]]
            for attempt in range(BATCH_RETRIES + 1):
                if attempt:
                    self._sleep(_backoff(attempt))
                response = self.dynamodb.batch_write_item(RequestItems={self.table_name: requests})
                requests = response.get("UnprocessedItems", {}).get(self.table_name, [])
                if not requests:
                    break
            if requests:
                unwritten = [by_key[_key_of(request["PutRequest"]["Item"])] for request in requests]
                return unwritten + prepared[start + BATCH_SIZE :]
        return []

    def _get_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.dynamodb.get_item(TableName=self.table_name, Key=_dump({PK: pk, SK: sk}), ConsistentRead=True)
        return _load(response["Item"]) if "Item" in response else None

    def _job_key(self, job_id: Any) -> tuple[str, str]:
        if not isinstance(job_id, str):
            raise InvalidJob("job_id", f"must be a string, got {type(job_id).__name__}")
        try:
            return job_key(job_id, self.bucket_minutes)
        except KeyFormatError as error:
            raise InvalidJob("job_id", str(error)) from None

    @staticmethod
    def _series_key(series_id: Any) -> tuple[str, str]:
        if not isinstance(series_id, str) or not series_id:
            raise InvalidJob("series_id", "must be a non-empty string")
        return SERIES_PK_PREFIX + series_id, SERIES_SK

    def _job_from_item(self, item: Mapping[str, Any], series_cache: dict[str, Any] | None = None) -> Job:
        due, job_id = parse_sort_key(str(item[SK]))
        detail: Any = item.get(DETAIL, {})
        detail_type = item.get(DETAIL_TYPE)
        series_id = item.get(SERIES)
        if series_id is not None:
            series_id = str(series_id)
            cache = {} if series_cache is None else series_cache
            if series_id not in cache:
                cache[series_id] = self._get_item(*self._series_key(series_id))
            series_item = cache[series_id] or {}
            detail = series_item.get(DETAIL, {})
            detail_type = detail_type or series_item.get(DETAIL_TYPE)
        created_at = item.get(CREATED_AT)
        return Job(
            id=job_id,
            due=due,
            detail_type=str(detail_type) if detail_type is not None else "",
            detail=_plain(detail) if isinstance(detail, Mapping) else {},
            series=series_id,
            created_at=_time_or_none(created_at),
        )

    def _pending_item(self, series_item: Mapping[str, Any]) -> dict[str, Any] | None:
        """The item of a series' pending occurrence, if it has one."""
        current = series_item.get(CURRENT)
        if current is None:
            return None
        due, _ = parse_sort_key(str(current))
        return self._get_item(partition_key(due, self.bucket_minutes), str(current))

    def _series_from_item(self, item: Mapping[str, Any], pending_item: Mapping[str, Any] | None) -> Series:
        """The series handle; ``pending_item`` (the occurrence's own item) gives its ``created_at``."""
        rule = Rule.from_item(item)
        series_id = str(item[PK])[len(SERIES_PK_PREFIX) :]
        detail = _plain(item.get(DETAIL, {}))
        detail_type = str(item.get(DETAIL_TYPE, ""))
        current = item.get(CURRENT)
        pending = None
        if current is not None:
            due, job_id = parse_sort_key(str(current))
            created_at = _time_or_none(pending_item.get(CREATED_AT)) if pending_item is not None else None
            pending = Job(job_id, due, detail_type, detail, series=series_id, created_at=created_at)
        return Series(
            id=series_id,
            detail_type=detail_type,
            detail=detail,
            cron=rule.cron,
            rate=rule.rate,
            tz=rule.tz,
            starts_at=rule.starts_at,
            ends_at=rule.ends_at,
            limit=rule.limit,
            fired=int(item.get(FIRED, 0)),
            next=pending,
        )


# -- validation ---------------------------------------------------------------------------------------------------


def _instant(field: str, value: Any) -> datetime:
    """An aware datetime, or an ISO 8601 string with an offset or Z, as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidJob(field, f"{value!r} is not an ISO 8601 time (e.g. 2026-02-09T11:33:00Z)") from None
    if not isinstance(value, datetime):
        raise InvalidJob(field, f"must be an aware datetime or an ISO 8601 string, got {type(value).__name__}")
    if value.utcoffset() is None:
        raise InvalidJob(field, f"{value.isoformat()} has no time zone: add an offset such as Z or +02:00")
    return value.astimezone(UTC)


def _due(prefix: str, at: Any, delay: Any, now: datetime) -> datetime:
    """The due time of ``at`` or ``delay``, to the millisecond; a time in the past means now."""
    if at is not None and delay is not None:
        raise InvalidJob(prefix + "at", "give at or delay, not both")
    if at is None and delay is None:
        raise InvalidJob(prefix + "at", "give a due time: at (a time) or delay (from now)")
    if delay is not None:
        if not isinstance(delay, timedelta):
            raise InvalidJob(prefix + "delay", f"must be a timedelta, got {type(delay).__name__}")
        if delay < timedelta(0):
            raise InvalidJob(prefix + "delay", f"must not be negative, got {delay}")
        try:
            due = now + delay
        except OverflowError:
            raise InvalidJob(prefix + "delay", f"{delay} is too far in the future") from None
    else:
        due = _instant(prefix + "at", at)
    due = max(due, now)
    return due.replace(microsecond=due.microsecond // 1000 * 1000)


def _job_id(due: datetime, field: str) -> str:
    try:
        return new_job_id(due)
    except KeyFormatError as error:
        raise InvalidJob(field, str(error)) from None


def _check_key(field: str, key: Any) -> None:
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH or len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidJob(field, f"must be a string of 1 to {MAX_KEY_LENGTH} characters")


def _check_content(prefix: str, detail_type: Any, detail: Any, sk: str) -> dict[str, Any]:
    """The detail as it is stored (numbers as Decimal), after the checks the publish function makes."""
    if not isinstance(detail_type, str) or not 0 < len(detail_type) <= MAX_DETAIL_TYPE_LENGTH:
        raise InvalidJob(prefix + "detail_type", f"must be a string of 1 to {MAX_DETAIL_TYPE_LENGTH} characters")
    if not isinstance(detail, Mapping):
        raise InvalidJob(prefix + "detail", f"must be a JSON object (a mapping), got {type(detail).__name__}")
    try:
        stored = _stored(detail, "detail", 1)
        _serializer.serialize(stored)
        event_entry({SK: sk, DETAIL_TYPE: detail_type, DETAIL: stored}, source=VALIDATION_SOURCE, bus_name="")
    except ArithmeticError:  # decimal's traps: too many digits, or a magnitude DynamoDB cannot store
        raise InvalidJob(
            prefix + "detail", "holds a number DynamoDB cannot store (38 significant digits, 1E-130 to 1E+125)"
        ) from None
    except (PoisonJob, TypeError, ValueError) as error:
        raise InvalidJob(prefix + "detail", str(error)) from None
    return stored


def _stored(value: Any, where: str, depth: int) -> Any:
    """A JSON value as DynamoDB stores it: numbers become Decimal (floats through their shortest repr)."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where} is nested deeper than the {MAX_DEPTH} levels DynamoDB stores")
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}, which JSON cannot hold")
        return Decimal(str(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{where} is {value}, which JSON cannot hold")
        return value
    if isinstance(value, Mapping):
        result = {}
        for name, item in value.items():
            if not isinstance(name, str):
                raise ValueError(f"{where} has the key {name!r}: JSON object keys are strings")
            result[name] = _stored(item, f"{where}.{name}", depth + 1)
        return result
    if isinstance(value, (list, tuple)):
        return [_stored(item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value)]
    raise ValueError(f"{where} is a {type(value).__name__}, which is not a JSON value")


# -- items --------------------------------------------------------------------------------------------------------


def _dump(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _load(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _key_of(raw_item: Mapping[str, Any]) -> tuple[str, str]:
    return raw_item[PK]["S"], raw_item[SK]["S"]


def _plain(value: Any) -> Any:
    """A stored value as plain JSON-ready Python: Decimal to int or float, sets to sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(name): _plain(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(item) for item in value)
    if isinstance(value, Binary):
        return base64.b64encode(value.value).decode()
    return value


def _time_or_none(value: Any) -> datetime | None:
    try:
        return parse_time(str(value)) if value is not None else None
    except KeyFormatError:
        return None


def _expiry(due: datetime) -> int:
    return int((due + KEY_TTL).timestamp())


def _backoff(attempt: int) -> float:
    """Seconds before retry ``attempt`` (1-based): doubling from 50 ms, capped, with jitter in its upper half."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _condition_failed(error: ClientError, index: int | None = None) -> bool:
    """A cancelled transaction whose operation ``index`` (any, when None) failed its condition."""
    return _cancelled_by(error, "ConditionalCheckFailed", index)


def _cancelled_by(error: ClientError, reason: str, index: int | None = None) -> bool:
    """A cancelled transaction with ``reason`` for its operation ``index`` (for any, when None)."""
    if _code(error) != "TransactionCanceledException":
        return False
    codes = [item.get("Code") for item in error.response.get("CancellationReasons", [])]
    if index is None:
        return reason in codes
    return len(codes) > index and codes[index] == reason


def _gone(job_id: str) -> str:
    return f"no pending job {job_id}: it has fired, was cancelled or rescheduled, or never existed"


def _occurrence(job_id: str, item: Mapping[str, Any], advice: str) -> InvalidJob:
    return InvalidJob("job_id", f"{job_id} is an occurrence of series {item.get(SERIES)}: {advice}")


def _series_moved(job_id: str, series_id: str) -> InvalidJob:
    return InvalidJob(
        "job_id",
        f"{job_id} is an occurrence of series {series_id}, which was cancelled or has moved on: it cannot be sent "
        "back (schedule the series again)",
    )


# -- the dead letter ----------------------------------------------------------------------------------------------


def _redriven_id(old_sk: str, due: datetime) -> str:
    """The id a dead-lettered job goes back under: an onthedot id moved to ``due``, any other id as it is, and a
    fresh id for a sort key that carries none."""
    old_id = old_sk.partition(SK_SEPARATOR)[2]
    try:
        return with_due(old_id, due)
    except KeyFormatError:
        pass
    try:
        sort_key(due, old_id)
    except KeyFormatError:
        return new_job_id(due)
    return old_id


def _dead_letter_from_item(item: Mapping[str, Any]) -> DeadLetter:
    sk = str(item[SK])
    job = item.get(JOB)
    job_item: Mapping[str, Any] = job if isinstance(job, Mapping) else {}
    try:
        due: datetime | None
        due, job_id = parse_sort_key(sk)
    except KeyFormatError:
        due, job_id = None, sk.partition(SK_SEPARATOR)[2] or sk
    detail_type = job_item.get(DETAIL_TYPE)
    attempts = item.get(ATTEMPTS, job_item.get(ATTEMPTS, 0))
    series = job_item.get(SERIES)
    return DeadLetter(
        job_id=job_id,
        due=due,
        detail_type=str(detail_type) if detail_type is not None else "",
        detail=_plain(job_item.get(DETAIL, {})),
        reason=str(item.get(REASON, "")),
        attempts=int(attempts) if isinstance(attempts, (int, Decimal)) else 0,
        dead_at=_time_or_none(item.get(DEAD_AT)),
        sk=sk,
        series=str(series) if series is not None else None,
    )


# -- cursors ------------------------------------------------------------------------------------------------------


def _write_cursor(low: datetime, high: datetime, bucket: datetime, after: str | None) -> str:
    state = {"start": format_time(low), "end": format_time(high), "bucket": format_time(bucket), "after": after}
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def _read_cursor(cursor: str) -> tuple[datetime, datetime, datetime, str | None]:
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        after = state["after"]
        if after is not None and not isinstance(after, str):
            raise TypeError("after")
        return parse_time(state["start"]), parse_time(state["end"]), parse_time(state["bucket"]), after
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
        raise InvalidJob("cursor", "is not a cursor that list_jobs returned") from None


def _write_dead_letter_cursor(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"dead_after": after}, separators=(",", ":")).encode()).decode()


def _read_dead_letter_cursor(cursor: str) -> str:
    try:
        after = json.loads(base64.urlsafe_b64decode(cursor.encode()))["dead_after"]
        if not isinstance(after, str) or not after:
            raise TypeError("dead_after")
        return after
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
        raise InvalidJob("cursor", "is not a cursor that dead_letters returned") from None
