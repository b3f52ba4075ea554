"""One-off jobs: schedule one or many, get, cancel and reschedule (the ``Scheduler`` methods, as a part).

A job id carries the job's due time, so each of these is a key operation on the jobs table. A job scheduled
with an idempotency key is written in one transaction with its key record (``onthedot.client.idempotency``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from onthedot.client import idempotency
from onthedot.client.context import SchedulerContext
from onthedot.client.table import condition_failed, error_code
from onthedot.client.validation import check_content, check_key, due_time, new_id
from onthedot.core.errors import InvalidJob, JobNotFound, ScheduleIncomplete
from onthedot.core.items import dump_key, job_from_item, load
from onthedot.core.jobs import CREATED_AT, DETAIL, DETAIL_TYPE, IDEMPOTENCY_KEY, JOB_ID, PK, SERIES, SK
from onthedot.core.keys import due_of, format_time, job_key, partition_key, sort_key, with_due
from onthedot.core.models import Job, JobRequest


@dataclass(frozen=True)
class Prepared:
    """A validated job, ready to write: its handle, its item (plain values, numbers as Decimal) and its key."""

    job: Job
    item: dict[str, Any]
    key: str | None


def prepare(
    detail_type: Any,
    detail: Any,
    *,
    at: Any,
    delay: Any,
    key: Any,
    now: datetime,
    bucket_minutes: Callable[[], int],
    prefix: str = "",
) -> Prepared:
    """Validate one job and build its item; InvalidJob names the field (with ``prefix``). The table's bucket width
    (``bucket_minutes()``) is asked for only once the input is known to be good."""
    due = due_time(prefix, at, delay, now)
    job_id = new_id(due, prefix + ("at" if at is not None else "delay"))
    sk = sort_key(due, job_id)
    stored_detail = check_content(prefix, detail_type, detail, sk)
    if key is not None:
        check_key(prefix + "key", key)
    item: dict[str, Any] = {
        PK: partition_key(due, bucket_minutes()),
        SK: sk,
        DETAIL: stored_detail,
        DETAIL_TYPE: detail_type,
        CREATED_AT: format_time(now),
    }
    if key is not None:
        item[IDEMPOTENCY_KEY] = key
    return Prepared(job_from_item(item), item, key)


class OneOffJobs(SchedulerContext):
    """The one-off jobs part of ``Scheduler``."""

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
        prepared = prepare(
            detail_type, detail, at=at, delay=delay, key=key, now=self._now(), bucket_minutes=self._bucket_minutes
        )
        if prepared.key is not None:
            return self._put_with_key(prepared)
        self._jobs.put_if_new(prepared.item)
        return prepared.job

    def schedule_many(self, requests: Iterable[JobRequest]) -> list[Job]:
        """Many jobs with batched writes (BatchWriteItem, 25 a request, UnprocessedItems retried). Every
        request is validated before anything is written.

        Requests with a ``key`` are written one transaction each (as ``schedule`` does), after the batch.
        Raises ``ScheduleIncomplete`` (naming what was written) if DynamoDB keeps items unprocessed.
        """
        now = self._now()
        prepared: list[Prepared] = []
        if not isinstance(requests, Iterable) or isinstance(requests, (str, bytes, Mapping)):
            raise InvalidJob("requests", f"must be an iterable of JobRequest, got {type(requests).__name__}")
        for index, request in enumerate(requests):
            field = f"requests[{index}]"
            if not isinstance(request, JobRequest):
                raise InvalidJob(field, f"must be a JobRequest, got {type(request).__name__}")
            prepared.append(
                prepare(
                    request.detail_type,
                    request.detail,
                    at=request.at,
                    delay=request.delay,
                    key=request.key,
                    now=now,
                    bucket_minutes=self._bucket_minutes,
                    prefix=field + ".",
                )
            )
        batched = [p for p in prepared if p.key is None]
        keyed = [p for p in prepared if p.key is not None]
        by_item = {id(p.item): p for p in batched}
        unwritten = [by_item[id(item)] for item in self._jobs.batch_put([p.item for p in batched])]
        if unwritten:
            unwritten_ids = {p.job.id for p in unwritten}
            written = [p.job for p in batched if p.job.id not in unwritten_ids]
            raise ScheduleIncomplete(written, [p.job for p in unwritten] + [p.job for p in keyed])
        results = {id(p): p.job for p in batched}
        for p in keyed:
            results[id(p)] = self._put_with_key(p)
        return [results[id(p)] for p in prepared]

    def _bucket_minutes(self) -> int:
        return self._jobs.bucket_minutes

    def get(self, job_id: str) -> Job:
        """The pending job; raises JobNotFound."""
        pk, sk = self._jobs.job_key(job_id)
        item = self._jobs.get(pk, sk)
        if item is None:
            raise JobNotFound(_gone(job_id))
        return self._jobs.job(item)

    def cancel(self, job_id: str) -> Job:
        """Delete the pending job (conditional); returns what was cancelled; raises JobNotFound.

        An occurrence of a recurring job is refused (InvalidJob on ``job_id``): cancel the series instead.
        """
        pk, sk = self._jobs.job_key(job_id)
        try:
            response = self._jobs.dynamodb.delete_item(
                TableName=self._jobs.name,
                Key=dump_key(pk, sk),
                ConditionExpression="attribute_exists(#pk) AND attribute_not_exists(#series)",
                ExpressionAttributeNames={"#pk": PK, "#series": SERIES},
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            old = load(error.response["Item"]) if "Item" in error.response else self._jobs.get(pk, sk)
            if old is not None and SERIES in old:
                raise _occurrence(job_id, old, "cancel the series") from None
            raise JobNotFound(_gone(job_id)) from None
        return self._jobs.job(load(response["Attributes"]))

    def reschedule(self, job_id: str, *, at: datetime | str | None = None, delay: timedelta | None = None) -> Job:
        """Move the job to a new due time in one transaction; returns the job under its new id.

        A new due time in the past means now. The old id stops working. An idempotency key that pointed to the
        job is moved to the new id in the same transaction. Occurrences of a series are refused (InvalidJob).
        """
        due = due_time("", at, delay, self._now())
        pk, sk = self._jobs.job_key(job_id)
        item = self._jobs.get(pk, sk)
        if item is None:
            raise JobNotFound(_gone(job_id))
        if SERIES in item:
            raise _occurrence(job_id, item, "it follows the series' rule; cancel the series to change it")
        moved_id = with_due(job_id, due)
        if moved_id == job_id:
            return self._jobs.job(item)
        moved_pk, moved_sk = job_key(moved_id, self._jobs.bucket_minutes)
        moved = {**item, PK: moved_pk, SK: moved_sk}
        operations = [self._jobs.delete_existing(pk, sk), self._jobs.put_new(moved)]
        key = item.get(IDEMPOTENCY_KEY)
        if isinstance(key, str):
            operations.append(idempotency.move_record(self._jobs, key, job_id, moved_id, due, or_recreate=True))
        try:
            self._jobs.transact(operations)
        except ClientError as error:
            if condition_failed(error, index=0):
                raise JobNotFound(_gone(job_id)) from None
            raise
        return self._jobs.job(moved)

    def _put_with_key(self, prepared: Prepared) -> Job:
        """Write the job and its key record in one transaction, or return the job the key already names."""
        assert prepared.key is not None
        job = prepared.job
        record = idempotency.job_record(prepared.key, job.id, job.due)
        if not idempotency.put_with_record(self._jobs, record, [self._jobs.put_new(prepared.item)]):
            return job
        existing = idempotency.read_record(self._jobs, prepared.key)
        if SERIES in existing:
            raise InvalidJob("key", f"{prepared.key!r} is already the key of series {existing[SERIES]}, not of a job")
        existing_id = str(existing[JOB_ID])
        try:
            return self.get(existing_id)
        except JobNotFound:  # it has fired or was cancelled: the key still names it
            return Job(existing_id, due_of(existing_id), job.detail_type, job.detail)


def _gone(job_id: str) -> str:
    """What JobNotFound says of a job id with no pending job."""
    return f"no pending job {job_id}: it has fired, was cancelled or rescheduled, or never existed"


def _occurrence(job_id: str, item: Mapping[str, Any], advice: str) -> InvalidJob:
    """The refusal of an operation that does not apply to an occurrence of a series."""
    return InvalidJob("job_id", f"{job_id} is an occurrence of series {item.get(SERIES)}: {advice}")
