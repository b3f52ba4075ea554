"""The DynamoDB calls the API makes, on one table at a time.

``Table`` reads and writes plain items (``onthedot.core.items`` does the typing): consistent reads, puts and deletes
conditional on the item's absence or presence (as transaction operations too), transactions, and batched puts
that retry unprocessed items with back-off. ``JobsTable`` adds what belongs to the jobs table: its buckets, and
jobs read back with the detail of their series. The helpers at the end read a ``ClientError``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from onthedot.client.validation import is_bucket_width, job_key_of, series_key_of
from onthedot.core.errors import BucketWidthMismatch, InvalidJob
from onthedot.core.items import dump, dump_key, job_from_item, load
from onthedot.core.jobs import CURSOR_BUCKET_MINUTES, CURSOR_PK, CURSOR_SK, PK, SERIES, SK
from onthedot.core.keys import DEFAULT_BUCKET_MINUTES, parse_sort_key, partition_key
from onthedot.core.models import Job

BATCH_SIZE = 25  # BatchWriteItem's limit
BATCH_RETRIES = 6  # rounds of UnprocessedItems retries before giving up (about 3 s of back-off in all)
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0


class Table:
    """One table through a boto3 DynamoDB *client*; ``sleep`` waits between retries."""

    def __init__(self, dynamodb: Any, name: str, sleep: Callable[[float], None]) -> None:
        self.dynamodb = dynamodb
        self.name = name
        self.sleep = sleep

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """The item at ``pk``/``sk`` (a consistent read), or None."""
        response = self.dynamodb.get_item(TableName=self.name, Key=dump_key(pk, sk), ConsistentRead=True)
        return load(response["Item"]) if "Item" in response else None

    def put_if_new(self, item: Mapping[str, Any]) -> None:
        """Put ``item``, which must not exist yet (ConditionalCheckFailedException if it does)."""
        self.dynamodb.put_item(TableName=self.name, Item=dump(item), **_absent())

    def put_new(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The transaction operation that puts ``item``, which must not exist yet."""
        return {"Put": {"TableName": self.name, "Item": dump(item), **_absent()}}

    def delete_existing(self, pk: str, sk: str) -> dict[str, Any]:
        """The transaction operation that deletes the item at ``pk``/``sk``, which must exist."""
        return {
            "Delete": {
                "TableName": self.name,
                "Key": dump_key(pk, sk),
                "ConditionExpression": "attribute_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": PK},
            }
        }

    def transact(self, operations: list[dict[str, Any]]) -> None:
        self.dynamodb.transact_write_items(TransactItems=operations)

    def batch_put(self, items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """BatchWriteItem, 25 a request, retrying UnprocessedItems with back-off; returns what stayed unwritten
        (the items DynamoDB kept, then every item after their request)."""
        by_key = {(item[PK], item[SK]): item for item in items}
        for start in range(0, len(items), BATCH_SIZE):
            requests = [{"PutRequest": {"Item": dump(item)}} for item in items[start : start + BATCH_SIZE]]
            for attempt in range(BATCH_RETRIES + 1):
                if attempt:
                    self.sleep(backoff(attempt))
                response = self.dynamodb.batch_write_item(RequestItems={self.name: requests})
                requests = response.get("UnprocessedItems", {}).get(self.name, [])
                if not requests:
                    break
            if requests:
                unwritten = [by_key[_key_of(request["PutRequest"]["Item"])] for request in requests]
                return unwritten + list(items[start + BATCH_SIZE :])
        return []


class JobsTable(Table):
    """The jobs table, whose jobs sit in partitions of ``bucket_minutes``."""

    def __init__(
        self, dynamodb: Any, name: str, sleep: Callable[[float], None], bucket_minutes: int | None = None
    ) -> None:
        super().__init__(dynamodb, name, sleep)
        self._given_width = bucket_minutes
        self._width: int | None = None

    @property
    def bucket_minutes(self) -> int:
        """The width jobs are keyed with: the one the dispatcher records on its cursor item (read once), else the
        width given, else the default. A width given that differs from the recorded one is refused
        (``BucketWidthMismatch``): jobs keyed with it would sit where the dispatcher never looks."""
        if self._width is None:
            recorded = self._recorded_width()
            if recorded is not None and self._given_width is not None and recorded != self._given_width:
                raise BucketWidthMismatch(self._given_width, recorded, self.name)
            self._width = recorded or self._given_width or DEFAULT_BUCKET_MINUTES
        return self._width

    def _recorded_width(self) -> int | None:
        """The ``bucket_minutes`` on the dispatcher's cursor item; None on a table no dispatcher has run on."""
        response = self.dynamodb.get_item(
            TableName=self.name,
            Key=dump_key(CURSOR_PK, CURSOR_SK),
            ProjectionExpression="#width",
            ExpressionAttributeNames={"#width": CURSOR_BUCKET_MINUTES},
            ConsistentRead=True,
        )
        value = load(response.get("Item", {})).get(CURSOR_BUCKET_MINUTES)
        if value is None:
            return None
        if not isinstance(value, Decimal) or not is_bucket_width(value):
            raise InvalidJob(
                "bucket_minutes",
                f"table {self.name} records {value!r} as its bucket width, which is not a whole number of minutes "
                "dividing 60: the dispatcher's cursor item is damaged",
            )
        return int(value)

    def job_key(self, job_id: Any) -> tuple[str, str]:
        """``(pk, sk)`` of the job with the id the caller gave (InvalidJob on ``job_id`` for any other id)."""
        return job_key_of(job_id, lambda: self.bucket_minutes)

    def key_of_sort_key(self, sk: str) -> tuple[str, str]:
        """``(pk, sk)`` of the job with sort key ``sk``: its partition is its due time's bucket."""
        due, _ = parse_sort_key(sk)
        return partition_key(due, self.bucket_minutes), sk

    def series_item(self, series_id: Any) -> dict[str, Any] | None:
        """The item of the series with the id the caller gave, or None."""
        return self.get(*series_key_of(series_id))

    def job(self, item: Mapping[str, Any], series_cache: dict[str, Any] | None = None) -> Job:
        """The handle of a job item; an occurrence reads its series (once per ``series_cache``) for its detail."""
        series_item = None
        series_id = item.get(SERIES)
        if series_id is not None:
            series_id = str(series_id)
            cache = {} if series_cache is None else series_cache
            if series_id not in cache:
                cache[series_id] = self.series_item(series_id)
            series_item = cache[series_id]
        return job_from_item(item, series_item)


# -- errors ---------------------------------------------------------------------------------------------------------


def backoff(attempt: int) -> float:
    """Seconds before retry ``attempt`` (1-based): doubling from 50 ms, capped, with jitter in its upper half."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def condition_failed(error: ClientError, index: int | None = None) -> bool:
    """A cancelled transaction whose operation ``index`` (any, when None) failed its condition."""
    return cancelled_by(error, "ConditionalCheckFailed", index)


def cancelled_by(error: ClientError, reason: str, index: int | None = None) -> bool:
    """A cancelled transaction with ``reason`` for its operation ``index`` (for any, when None)."""
    if error_code(error) != "TransactionCanceledException":
        return False
    codes = [item.get("Code") for item in error.response.get("CancellationReasons", [])]
    if index is None:
        return reason in codes
    return len(codes) > index and codes[index] == reason


def _absent() -> dict[str, Any]:
    """The condition of a put that must create its item."""
    return {"ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": {"#pk": PK}}


def _key_of(raw_item: Mapping[str, Any]) -> tuple[str, str]:
    return raw_item[PK]["S"], raw_item[SK]["S"]
