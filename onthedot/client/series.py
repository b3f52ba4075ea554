"""Recurring jobs: schedule, read and cancel a series (the ``Scheduler`` methods, as a part).

A series is an item of its own (``pk = series#<id>``, ``sk = series``) holding the detail, the rule
(``onthedot.core.recurrence``), how many occurrences have fired and ``current``, the sort key of its one pending
occurrence. The occurrence is a job item with ``series`` and ``occurrence`` instead of a detail; the publish
function writes the next one when it fires.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from onthedot.client import idempotency
from onthedot.client.context import SchedulerContext
from onthedot.client.table import condition_failed
from onthedot.client.validation import check_content, check_key, instant, new_id, series_key_of
from onthedot.core.errors import InvalidJob, JobNotFound
from onthedot.core.items import dump_key, series_from_item
from onthedot.core.jobs import (
    CREATED_AT,
    CURRENT,
    DETAIL,
    DETAIL_TYPE,
    FIRED,
    IDEMPOTENCY_KEY,
    JOB_ID,
    OCCURRENCE,
    PK,
    SERIES,
    SERIES_PK_PREFIX,
    SERIES_SK,
    SK,
)
from onthedot.core.keys import format_time, job_key, sort_key
from onthedot.core.models import Series
from onthedot.core.recurrence import Rule

SERIES_RETRIES = 5  # cancel_series re-reads a series that advanced while it was being cancelled


class RecurringSeries(SchedulerContext):
    """The recurring jobs part of ``Scheduler``."""

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
        now = self._now()
        if key is not None:
            check_key("key", key)
        rule = Rule(
            cron=cron,
            rate=rate,
            tz=tz,
            starts_at=now if starts_at is None else instant("starts_at", starts_at),
            ends_at=None if ends_at is None else instant("ends_at", ends_at),
            limit=limit,
        )
        first = rule.first(now)
        if first is None:
            field = "ends_at" if rule.ends_at is not None else ("cron" if cron is not None else "rate")
            raise InvalidJob(field, "the rule has no occurrence from now on: the series would never fire")
        occurrence_id = new_id(first, "starts_at")
        stored_detail = check_content("", detail_type, detail, sort_key(first, occurrence_id))
        series_id = str(uuid.uuid4())
        pk, sk = job_key(occurrence_id, self._jobs.bucket_minutes)
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
        series = series_from_item(series_item, occurrence_item)
        operations = [self._jobs.put_new(series_item), self._jobs.put_new(occurrence_item)]
        if key is None:
            self._jobs.transact(operations)
            return series
        record = idempotency.series_record(key, series_id, rule.ends_at)
        if not idempotency.put_with_record(self._jobs, record, operations):
            return series
        existing = idempotency.read_record(self._jobs, key)
        if JOB_ID in existing:
            raise InvalidJob("key", f"{key!r} is already the key of job {existing[JOB_ID]}, not of a series")
        try:
            return self.get_series(str(existing[SERIES]))
        except JobNotFound:
            return replace(series, id=str(existing[SERIES]), next=None)

    def get_series(self, series_id: str) -> Series:
        """The series and its pending occurrence; raises JobNotFound."""
        item = self._jobs.series_item(series_id)
        if item is None:
            raise JobNotFound(_no_series(series_id))
        return series_from_item(item, self._pending_item(item))

    def cancel_series(self, series_id: str) -> Series:
        """Delete the series and its pending occurrence, in one transaction.

        An occurrence that was dead-lettered is no longer in the jobs table: then the series alone is deleted
        (the dead letter stays, and can no longer be sent back).
        """
        series_pk, series_sk = series_key_of(series_id)
        for _ in range(SERIES_RETRIES):
            item = self._jobs.get(series_pk, series_sk)
            if item is None:
                raise JobNotFound(_no_series(series_id))
            pending_item = self._pending_item(item)
            series = series_from_item(item, pending_item)
            current = item.get(CURRENT)
            delete_series: dict[str, Any] = {
                "TableName": self._jobs.name,
                "Key": dump_key(series_pk, series_sk),
                "ExpressionAttributeNames": {"#current": CURRENT},
            }
            operations = [{"Delete": delete_series}]
            if current is None:
                delete_series["ConditionExpression"] = "attribute_not_exists(#current)"
            else:
                delete_series["ConditionExpression"] = "#current = :current"
                delete_series["ExpressionAttributeValues"] = {":current": {"S": str(current)}}
            if current is not None and pending_item is not None:  # else it was dead-lettered: nothing to delete
                operations.append(self._jobs.delete_existing(*self._jobs.key_of_sort_key(str(current))))
            try:
                self._jobs.transact(operations)
            except ClientError as error:
                if not condition_failed(error):
                    raise
                continue  # the series advanced (or was cancelled) meanwhile: read it again
            return series
        raise RuntimeError(f"series {series_id} kept changing while being cancelled; try again")

    def _pending_item(self, series_item: Mapping[str, Any]) -> dict[str, Any] | None:
        """The item of a series' pending occurrence, if it has one."""
        current = series_item.get(CURRENT)
        if current is None:
            return None
        return self._jobs.get(*self._jobs.key_of_sort_key(str(current)))


def _no_series(series_id: str) -> str:
    return f"no series {series_id}: it was cancelled or never existed"
