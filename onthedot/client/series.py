"""Recurring jobs: schedule, read and cancel a series (the ``Scheduler`` methods, as a part).

A series is an item of its own (``pk = series#<id>``, ``sk = series``) holding the detail, the rule
(``onthedot.core.recurrence``), how many occurrences have fired and ``current``, the sort key of its one pending
occurrence. The occurrence is a job item with ``series`` and ``occurrence`` instead of a detail; the publish
function writes the next one when it fires.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from onthedot.client import idempotency
from onthedot.client.clock import Clock
from onthedot.client.table import ConditionFailed, JobsTable
from onthedot.client.validation import check_content, check_key, instant, new_id, series_key_of
from onthedot.core.errors import InvalidJob, JobNotFound
from onthedot.core.items import series_from_item
from onthedot.core.jobs import (
    CREATED_AT,
    CURRENT,
    DETAIL,
    DETAIL_TYPE,
    FIRED,
    IDEMPOTENCY_KEY,
    JOB_ID,
    PK,
    SERIES,
    SERIES_PK_PREFIX,
    SERIES_SK,
    SK,
)
from onthedot.core.keys import format_time, sort_key
from onthedot.core.models import Series
from onthedot.core.occurrence import occurrence_item
from onthedot.core.recurrence import Rule

SERIES_RETRIES = 5  # cancel_series re-reads a series that advanced while it was being cancelled
SERIES_ITEM = "series"  # the names of the writes in a transaction
OCCURRENCE_ITEM = "occurrence"


@dataclass(frozen=True)
class SeriesRequest:
    """What ``Scheduler.schedule_recurring`` was given, as given: ``RecurringSeries.schedule`` checks it."""

    detail_type: Any
    detail: Any
    cron: Any = None
    rate: Any = None
    tz: Any = "UTC"
    starts_at: Any = None
    ends_at: Any = None
    limit: Any = None
    key: Any = None


class RecurringSeries:
    """Recurring jobs in ``table``: ``Scheduler.schedule_recurring``, ``get_series``, ``cancel_series``."""

    def __init__(self, table: JobsTable, clock: Clock) -> None:
        self.table = table
        self.clock = clock

    def schedule(self, request: SeriesRequest) -> Series:
        now = self.clock.now()
        key = request.key
        if key is not None:
            check_key("key", key)
        rule = Rule(
            cron=request.cron,
            rate=request.rate,
            tz=request.tz,
            starts_at=now if request.starts_at is None else instant("starts_at", request.starts_at),
            ends_at=None if request.ends_at is None else instant("ends_at", request.ends_at),
            limit=request.limit,
        )
        first = rule.first(now)
        if first is None:
            field = "ends_at" if rule.ends_at is not None else ("cron" if request.cron is not None else "rate")
            raise InvalidJob(field, "the rule has no occurrence from now on: the series would never fire")
        occurrence_id = new_id(first, "starts_at")
        stored_detail = check_content("", request.detail_type, request.detail, sort_key(first, occurrence_id))
        series_id = str(uuid.uuid4())
        pk, sk = self.table.job_key(occurrence_id)
        series_item: dict[str, Any] = {
            PK: SERIES_PK_PREFIX + series_id,
            SK: SERIES_SK,
            DETAIL: stored_detail,
            DETAIL_TYPE: request.detail_type,
            **rule.as_item(),
            FIRED: 0,
            CURRENT: sk,
            CREATED_AT: format_time(now),
        }
        occurrence = occurrence_item(
            pk, sk, series_id=series_id, number=1, detail_type=request.detail_type, created_at=format_time(now)
        )
        if key is not None:
            series_item[IDEMPOTENCY_KEY] = key
        series = series_from_item(series_item, occurrence)
        writes = [self.table.put_new(SERIES_ITEM, series_item), self.table.put_new(OCCURRENCE_ITEM, occurrence)]
        if key is None:
            self.table.transact(writes)
            return series
        record = idempotency.series_record(key, series_id, rule.ends_at)
        if not idempotency.put_with_record(self.table, record, writes):
            return series
        existing = idempotency.read_record(self.table, key)
        if JOB_ID in existing:
            raise InvalidJob("key", f"{key!r} is already the key of job {existing[JOB_ID]}, not of a series")
        try:
            return self.get(str(existing[SERIES]))
        except JobNotFound:
            return replace(series, id=str(existing[SERIES]), next=None)

    def get(self, series_id: str) -> Series:
        item = self.table.series_item(series_id)
        if item is None:
            raise JobNotFound(_no_series(series_id))
        return series_from_item(item, self._pending_item(item))

    def cancel(self, series_id: str) -> Series:
        series_pk, series_sk = series_key_of(series_id)
        for _ in range(SERIES_RETRIES):
            item = self.table.get(series_pk, series_sk)
            if item is None:
                raise JobNotFound(_no_series(series_id))
            pending_item = self._pending_item(item)
            series = series_from_item(item, pending_item)
            current = item.get(CURRENT)
            unchanged = (  # the series still points where it did when it was read
                {"condition": "attribute_not_exists(#current)"}
                if current is None
                else {"condition": "#current = :current", "values": {":current": str(current)}}
            )
            writes = [self.table.delete_if(SERIES_ITEM, series_pk, series_sk, names={"#current": CURRENT}, **unchanged)]
            if current is not None and pending_item is not None:  # else it was dead-lettered: nothing to delete
                writes.append(self.table.delete_existing(OCCURRENCE_ITEM, *self.table.key_of_sort_key(str(current))))
            try:
                self.table.transact(writes)
            except ConditionFailed:
                continue  # the series advanced (or was cancelled) meanwhile: read it again
            return series
        raise RuntimeError(f"series {series_id} kept changing while being cancelled; try again")

    def _pending_item(self, series_item: Mapping[str, Any]) -> dict[str, Any] | None:
        """The item of a series' pending occurrence, if it has one."""
        current = series_item.get(CURRENT)
        if current is None:
            return None
        return self.table.get(*self.table.key_of_sort_key(str(current)))


def _no_series(series_id: str) -> str:
    return f"no series {series_id}: it was cancelled or never existed"
