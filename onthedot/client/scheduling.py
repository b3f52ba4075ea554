"""One-off jobs: schedule one or many, get, cancel and reschedule (the ``Scheduler`` methods, as a part).

A job id carries the job's due time, so each of these is a key operation on the jobs table. A job scheduled
with an idempotency key is written in one transaction with its key record (``onthedot.client.idempotency``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from onthedot.client import idempotency
from onthedot.client.clock import Clock
from onthedot.client.table import ConditionFailed, JobsTable
from onthedot.client.validation import check_content, check_key, due_time, new_id
from onthedot.core.errors import InvalidJob, JobNotFound, ScheduleIncomplete
from onthedot.core.items import job_from_item
from onthedot.core.jobs import CREATED_AT, DETAIL, DETAIL_TYPE, IDEMPOTENCY_KEY, JOB_ID, PK, SERIES, SK
from onthedot.core.keys import due_of, format_time, sort_key, with_due
from onthedot.core.models import Job, JobRequest

JOB = "job"  # the name of the job's write in a transaction (the job moved away, on reschedule)
MOVED = "moved job"  # the job at its new key, on reschedule


@dataclass(frozen=True)
class Prepared:
    """A validated job, ready to write: its handle, its item (plain values, numbers as Decimal) and its key."""

    job: Job
    item: dict[str, Any]
    key: str | None


def prepare(
    request: JobRequest, *, now: datetime, partition_of: Callable[[datetime, str], str], prefix: str = ""
) -> Prepared:
    """Validate one job and build its item; InvalidJob names the field (with ``prefix``). The table's layout
    (``partition_of(due, job id)``) is asked for only once the input is known to be good."""
    due = due_time(prefix, request.at, request.delay, now)
    job_id = new_id(due, prefix + ("at" if request.at is not None else "delay"))
    sk = sort_key(due, job_id)
    stored_detail = check_content(prefix, request.detail_type, request.detail, sk)
    if request.key is not None:
        check_key(prefix + "key", request.key)
    item: dict[str, Any] = {
        PK: partition_of(due, job_id),
        SK: sk,
        DETAIL: stored_detail,
        DETAIL_TYPE: request.detail_type,
        CREATED_AT: format_time(now),
    }
    if request.key is not None:
        item[IDEMPOTENCY_KEY] = request.key
    return Prepared(job_from_item(item), item, request.key)


class OneOffJobs:
    """One-off jobs in ``table``: ``Scheduler.schedule``, ``schedule_many``, ``get``, ``cancel``, ``reschedule``."""

    def __init__(self, table: JobsTable, clock: Clock) -> None:
        self.table = table
        self.clock = clock

    def schedule(self, request: JobRequest) -> Job:
        prepared = prepare(request, now=self.clock.now(), partition_of=self.table.partition_of)
        if prepared.key is not None:
            return self._put_with_key(prepared)
        self.table.put_if_new(prepared.item)
        return prepared.job

    def schedule_many(self, requests: Iterable[JobRequest]) -> list[Job]:
        now = self.clock.now()
        prepared: list[Prepared] = []
        if not isinstance(requests, Iterable) or isinstance(requests, (str, bytes, Mapping)):
            raise InvalidJob("requests", f"must be an iterable of JobRequest, got {type(requests).__name__}")
        for index, request in enumerate(requests):
            field = f"requests[{index}]"
            if not isinstance(request, JobRequest):
                raise InvalidJob(field, f"must be a JobRequest, got {type(request).__name__}")
            prepared.append(prepare(request, now=now, partition_of=self.table.partition_of, prefix=field + "."))
        batched = [p for p in prepared if p.key is None]
        keyed = [p for p in prepared if p.key is not None]
        by_item = {id(p.item): p for p in batched}
        unwritten = [by_item[id(item)] for item in self.table.batch_put([p.item for p in batched])]
        if unwritten:
            unwritten_ids = {p.job.id for p in unwritten}
            written = [p.job for p in batched if p.job.id not in unwritten_ids]
            raise ScheduleIncomplete(written, [p.job for p in unwritten] + [p.job for p in keyed])
        results = {id(p): p.job for p in batched}
        for p in keyed:
            results[id(p)] = self._put_with_key(p)
        return [results[id(p)] for p in prepared]

    def get(self, job_id: str) -> Job:
        item = self.table.get(*self.table.job_key(job_id))
        if item is None:
            raise JobNotFound(_gone(job_id))
        return self.table.job(item)

    def cancel(self, job_id: str) -> Job:
        pk, sk = self.table.job_key(job_id)
        condition = "attribute_exists(#pk) AND attribute_not_exists(#series)"
        deleted, kept = self.table.delete_where(pk, sk, condition, {"#pk": PK, "#series": SERIES})
        if deleted is not None:
            return self.table.job(deleted)
        if kept is not None and SERIES in kept:
            raise _occurrence(job_id, kept, "cancel the series")
        raise JobNotFound(_gone(job_id))

    def reschedule(self, job_id: str, *, at: datetime | str | None, delay: timedelta | None) -> Job:
        due = due_time("", at, delay, self.clock.now())
        pk, sk = self.table.job_key(job_id)
        item = self.table.get(pk, sk)
        if item is None:
            raise JobNotFound(_gone(job_id))
        if SERIES in item:
            raise _occurrence(job_id, item, "it follows the series' rule; cancel the series to change it")
        moved_id = with_due(job_id, due)
        if moved_id == job_id:
            return self.table.job(item)
        moved_pk, moved_sk = self.table.job_key(moved_id)
        moved = {**item, PK: moved_pk, SK: moved_sk}
        writes = [self.table.delete_existing(JOB, pk, sk), self.table.put_new(MOVED, moved)]
        key = item.get(IDEMPOTENCY_KEY)
        if isinstance(key, str):
            writes.append(idempotency.move_record(self.table, key, job_id, moved_id, due, or_recreate=True))
        try:
            self.table.transact(writes)
        except ConditionFailed as failed:
            if JOB in failed.names:
                raise JobNotFound(_gone(job_id)) from None
            raise failed.error from None
        return self.table.job(moved)

    def _put_with_key(self, prepared: Prepared) -> Job:
        """Write the job and its key record in one transaction, or return the job the key already names."""
        assert prepared.key is not None
        job = prepared.job
        record = idempotency.job_record(prepared.key, job.id, job.due)
        if not idempotency.put_with_record(self.table, record, [self.table.put_new(JOB, prepared.item)]):
            return job
        existing = idempotency.read_record(self.table, prepared.key)
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
