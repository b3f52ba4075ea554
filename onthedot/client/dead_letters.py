"""The dead letter: list it, read its size and send jobs back (the ``Scheduler`` methods, as a part).

The dead letter is a table of its own, written by ``functions/publish/dead_letter.py``: ``pk = dlq``, ``sk`` =
the job's sort key, ``job`` (the job item as it was), ``reason``, ``attempts`` and ``dead_at``; its size is
``size`` in the item ``pk = meta``, ``sk = size``. ``redrive`` puts a job back in the jobs table, due now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from onthedot.client import idempotency
from onthedot.client.context import SchedulerContext
from onthedot.client.cursors import dead_letters_cursor, read_dead_letters_cursor
from onthedot.client.table import Table, condition_failed
from onthedot.client.validation import check_content, check_limit, series_key_of, to_millisecond
from onthedot.core.errors import InvalidJob, JobNotFound
from onthedot.core.items import dead_letter_from_item, dump, dump_key, job_from_item, load
from onthedot.core.jobs import (
    ATTEMPTS,
    CURRENT,
    DEAD_PK,
    DETAIL,
    DETAIL_TYPE,
    IDEMPOTENCY_KEY,
    JOB,
    JOB_ID,
    LAST_ERROR,
    LAST_FAILED_RUN,
    PK,
    SERIES,
    SIZE,
    SIZE_PK,
    SIZE_SK,
    SK,
)
from onthedot.core.keys import SK_SEPARATOR, KeyFormatError, due_of, new_job_id, partition_key, sort_key, with_due
from onthedot.core.models import DeadLetterPage, Job


class DeadLetterQueue(SchedulerContext):
    """The dead-letter part of ``Scheduler``."""

    def dead_letters(self, *, limit: int = 100, cursor: str | None = None) -> DeadLetterPage:
        """Dead-lettered jobs in due order (their sort keys' order), ``limit`` a page; one Query a page."""
        table = self._dead_letter_table()
        check_limit(limit)
        after = None if cursor is None else read_dead_letters_cursor(cursor)
        found: list[dict[str, Any]] = []
        while len(found) <= limit:  # one more than a page: a cursor is given only when a next page holds any
            query = {**_query_of_dead_letters(table), "Limit": limit + 1 - len(found)}
            if after is not None:
                query["ExclusiveStartKey"] = dump_key(DEAD_PK, after)
            response = table.dynamodb.query(**query)
            found.extend(load(raw) for raw in response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if last_key is None:
                break
            after = str(load(last_key)[SK])
        page = [dead_letter_from_item(item) for item in found[:limit]]
        more = len(found) > limit
        return DeadLetterPage(page, dead_letters_cursor(page[-1].sk) if more else None)

    def dead_letter_size(self) -> int:
        """The dead letter's size as its writers keep it (the DeadLetterSize metric); 0 before any."""
        item = self._dead_letter_table().get(SIZE_PK, SIZE_SK) or {}
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
        due = to_millisecond(self._now())
        old_id, new_id = old_sk.partition(SK_SEPARATOR)[2], _redriven_id(old_sk, due)
        pk, sk = partition_key(due, self._jobs.bucket_minutes), sort_key(due, new_id)
        item = {name: value for name, value in job_item.items() if name not in (ATTEMPTS, LAST_ERROR, LAST_FAILED_RUN)}
        item[PK], item[SK] = pk, sk
        operations: list[dict[str, Any]] = []
        series_item: dict[str, Any] | None = None
        series_id = item.get(SERIES)
        if series_id is not None:
            series_id = str(series_id)
            series_item = self._occurrence_series(series_id, old_sk, sk, detail_type, detail)
            item.pop(DETAIL, None)  # an occurrence's detail lives in its series
            item[DETAIL_TYPE] = series_item.get(DETAIL_TYPE)
            operations.append(
                {
                    "Update": {
                        "TableName": self._jobs.name,
                        "Key": dump_key(*series_key_of(series_id)),
                        "UpdateExpression": "SET #current = :new",
                        "ConditionExpression": "#current = :old",
                        "ExpressionAttributeNames": {"#current": CURRENT},
                        "ExpressionAttributeValues": dump({":new": sk, ":old": old_sk}),
                    }
                }
            )
        else:
            item[DETAIL_TYPE] = item.get(DETAIL_TYPE) if detail_type is None else detail_type
            fixed_detail = item.get(DETAIL, {}) if detail is None else detail
            try:
                item[DETAIL] = check_content("", item[DETAIL_TYPE], fixed_detail, sk)
            except InvalidJob as error:
                fixed = detail_type is not None if error.field == DETAIL_TYPE else detail is not None
                if fixed:
                    raise
                what = "detail-type" if error.field == DETAIL_TYPE else "detail"
                raise InvalidJob(
                    error.field, f"{error.reason} (as dead-lettered: send it back with a fixed {what})"
                ) from None
        operations[:0] = [
            self._jobs.put_new(item),
            table.delete_existing(DEAD_PK, old_sk),
            {
                "Update": {
                    "TableName": table.name,
                    "Key": dump_key(SIZE_PK, SIZE_SK),
                    "UpdateExpression": "ADD #size :minus_one",
                    "ExpressionAttributeNames": {"#size": SIZE},
                    "ExpressionAttributeValues": dump({":minus_one": -1}),
                }
            },
        ]
        key = item.get(IDEMPOTENCY_KEY)
        if isinstance(key, str) and new_id != old_id and series_id is None:
            record = self._jobs.get(*idempotency.record_key(key))
            if record is not None and record.get(JOB_ID) == old_id:  # the key still names the job: move it along
                operations.append(idempotency.move_record(self._jobs, key, old_id, new_id, due, or_recreate=False))
        try:
            self._jobs.transact(operations)
        except ClientError as error:
            if condition_failed(error, index=1):
                raise JobNotFound(f"no dead letter {job_id_or_sk}: it was sent back meanwhile") from None
            if series_id is not None and condition_failed(error, index=3):
                raise _series_moved(old_id, series_id) from None
            raise
        return job_from_item(item, series_item)

    def _dead_letter_table(self) -> Table:
        if self._dlq is None:
            raise InvalidJob(
                "dead_letter_table",
                "this Scheduler has no dead-letter table: pass dead_letter_table= (the stack's DeadLetterTableName "
                "output; onthedot-dead-letters on the local cloud)",
            )
        return self._dlq

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
        except (KeyFormatError, OverflowError):  # OverflowError: a UUIDv7 whose time is after the year 9999
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
        return self._dead_letter_table().get(DEAD_PK, sk)

    def _dead_letter_keys(self) -> Iterable[str]:
        """The sort keys of every dead letter (keys only, page by page)."""
        table = self._dead_letter_table()
        query = _query_of_dead_letters(table)
        query["ExpressionAttributeNames"]["#sk"] = SK
        query["ProjectionExpression"] = "#sk"
        while True:
            response = table.dynamodb.query(**query)
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
        series_item = self._jobs.series_item(series_id)
        if series_item is None or series_item.get(CURRENT) != old_sk:
            raise _series_moved(job_id, series_id)
        try:
            check_content("", series_item.get(DETAIL_TYPE), series_item.get(DETAIL, {}), new_sk)
        except InvalidJob as error:
            raise InvalidJob(
                error.field, f"series {series_id}: {error.reason} (fix the series: cancel it and schedule it again)"
            ) from None
        return series_item


def _query_of_dead_letters(table: Table) -> dict[str, Any]:
    """The parameters of a consistent Query of every dead letter (their partition), in sort key order."""
    return {
        "TableName": table.name,
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": PK},
        "ExpressionAttributeValues": dump({":pk": DEAD_PK}),
        "ConsistentRead": True,
    }


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


def _series_moved(job_id: str, series_id: str) -> InvalidJob:
    return InvalidJob(
        "job_id",
        f"{job_id} is an occurrence of series {series_id}, which was cancelled or has moved on: it cannot be sent "
        "back (schedule the series again)",
    )
