"""The data layer: every DynamoDB call the client and the CLI make, on one table at a time.

``Table`` reads and writes plain items (``onthedot.core.items`` converts them): consistent reads, puts and deletes
under a condition, transactions of named writes (``Write``; a cancellation says by name which conditions failed,
``ConditionFailed``), batched puts that retry unprocessed items with back-off, and queries of one partition, a
page at a time or through every page. ``JobsTable`` adds what belongs to the jobs table: the layout its
dispatcher records (bucket width and shards), the keys of jobs in it, jobs read back with the detail of their
series, the dispatcher's cursor and its run records. What a failed call means is read by
``onthedot.core.failures``, shared with the functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from onthedot.client.validation import MAX_SHARDS, is_bucket_width, is_shards, job_due, series_key_of
from onthedot.core.errors import BucketWidthMismatch, InvalidJob
from onthedot.core.failures import backoff, condition_failed
from onthedot.core.items import dump, dump_key, job_from_item, load
from onthedot.core.jobs import CURSOR_BUCKET_MINUTES, CURSOR_PK, CURSOR_SHARDS, CURSOR_SK, PK, RUN_PK, SERIES, SK
from onthedot.core.keys import (
    DEFAULT_BUCKET_MINUTES,
    job_key,
    parse_sort_key,
    partition_key,
    shard_key,
    shard_of,
)
from onthedot.core.models import Job

BATCH_SIZE = 25  # BatchWriteItem's limit
BATCH_RETRIES = 6  # rounds of UnprocessedItems retries before giving up (about 3 s of back-off in all)
DEFAULT_SHARDS = 1  # a cursor item without shards: one partition a bucket
WIDTH_RULE = "bucket width, which is not a whole number of minutes dividing 60"
SHARDS_RULE = f"number of shards, which is not a whole number from 1 to {MAX_SHARDS}"
_RECORDED = {"bucket_minutes": CURSOR_BUCKET_MINUTES, "shards": CURSOR_SHARDS}  # the cursor item's attributes


@dataclass(frozen=True)
class Write:
    """One operation of a transaction, named so that a cancelled transaction can say which conditions failed."""

    name: str
    request: dict[str, Any]


class ConditionFailed(Exception):
    """A transaction was cancelled because the conditions of the writes ``names`` failed; ``error`` is
    DynamoDB's. Any other failure of a transaction is raised as DynamoDB's ``ClientError``."""

    def __init__(self, names: frozenset[str], error: ClientError) -> None:
        super().__init__(f"conditions failed: {', '.join(sorted(names))}")
        self.names = names
        self.error = error


@dataclass(frozen=True)
class QueryPage:
    """One page of a query: the items (plain values) and the sort key to go on after (None: the last page)."""

    items: list[dict[str, Any]]
    after: str | None


class Table:
    """One table through a boto3 DynamoDB *client*; ``sleep`` waits between retries."""

    def __init__(self, dynamodb: Any, name: str, sleep: Callable[[float], None]) -> None:
        self.dynamodb = dynamodb
        self.name = name
        self.sleep = sleep

    # -- items ------------------------------------------------------------------------------------------------------

    def get(self, pk: str, sk: str, attributes: Sequence[str] = ()) -> dict[str, Any] | None:
        """The item at ``pk``/``sk`` (a consistent read; only ``attributes`` when given), or None."""
        request: dict[str, Any] = {"TableName": self.name, "Key": dump_key(pk, sk), "ConsistentRead": True}
        if attributes:
            names = {f"#a{index}": name for index, name in enumerate(attributes)}
            request |= {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
        response = self.dynamodb.get_item(**request)
        return load(response["Item"]) if "Item" in response else None

    def put_if_new(self, item: Mapping[str, Any]) -> None:
        """Put ``item``, which must not exist yet (ConditionalCheckFailedException if it does)."""
        self.dynamodb.put_item(TableName=self.name, Item=dump(item), **_absent())

    def delete_where(
        self, pk: str, sk: str, condition: str, names: Mapping[str, str]
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Delete the item at ``pk``/``sk`` if ``condition`` holds: ``(the item deleted, None)``, or, when the
        condition fails, ``(None, the item as it is)`` (None too when there is no item)."""
        try:
            response = self.dynamodb.delete_item(
                TableName=self.name,
                Key=dump_key(pk, sk),
                ConditionExpression=condition,
                ExpressionAttributeNames=dict(names),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            return None, load(error.response["Item"]) if "Item" in error.response else self.get(pk, sk)
        return load(response.get("Attributes", {})), None

    # -- transactions ---------------------------------------------------------------------------------------------

    def put_new(self, name: str, item: Mapping[str, Any]) -> Write:
        """Put ``item``, which must not exist yet."""
        return Write(name, {"Put": {"TableName": self.name, "Item": dump(item), **_absent()}})

    def delete_existing(self, name: str, pk: str, sk: str) -> Write:
        """Delete the item at ``pk``/``sk``, which must exist."""
        return self.delete_if(name, pk, sk, condition="attribute_exists(#pk)", names={"#pk": PK})

    def delete_if(
        self,
        name: str,
        pk: str,
        sk: str,
        *,
        condition: str,
        names: Mapping[str, str],
        values: Mapping[str, Any] | None = None,
    ) -> Write:
        """Delete the item at ``pk``/``sk`` if ``condition`` holds (``values`` plain)."""
        request = {"TableName": self.name, "Key": dump_key(pk, sk), "ConditionExpression": condition}
        return Write(name, {"Delete": request | _expression_attributes(names, values)})

    def update(
        self,
        name: str,
        pk: str,
        sk: str,
        *,
        expression: str,
        names: Mapping[str, str],
        values: Mapping[str, Any],
        condition: str | None = None,
    ) -> Write:
        """Update the item at ``pk``/``sk`` with ``expression`` (``values`` plain), if ``condition`` holds."""
        request = {"TableName": self.name, "Key": dump_key(pk, sk), "UpdateExpression": expression}
        if condition is not None:
            request["ConditionExpression"] = condition
        return Write(name, {"Update": request | _expression_attributes(names, values)})

    def transact(self, writes: Sequence[Write]) -> None:
        """TransactWriteItems; ``ConditionFailed`` names the writes whose conditions failed."""
        try:
            self.dynamodb.transact_write_items(TransactItems=[write.request for write in writes])
        except ClientError as error:
            failed = frozenset(write.name for index, write in enumerate(writes) if condition_failed(error, index))
            if failed:
                raise ConditionFailed(failed, error) from error
            raise

    # -- batches --------------------------------------------------------------------------------------------------

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

    # -- queries --------------------------------------------------------------------------------------------------

    def query(
        self,
        pk: str,
        *,
        between: tuple[str, str] | None = None,
        after: str | None = None,
        limit: int | None = None,
        attributes: Sequence[str] = (),
        newest_first: bool = False,
    ) -> QueryPage:
        """One page of the items of partition ``pk`` in sort key order (a consistent read): sort keys in
        ``between`` (both ends included), after the sort key ``after``, at most ``limit``, only ``attributes``."""
        names = {"#pk": PK}
        condition = "#pk = :pk"
        values: dict[str, Any] = {":pk": pk}
        if between is not None:
            names["#sk"] = SK
            condition += " AND #sk BETWEEN :low AND :high"
            values |= {":low": between[0], ":high": between[1]}
        request: dict[str, Any] = {"TableName": self.name, "KeyConditionExpression": condition, "ConsistentRead": True}
        if attributes:
            projected = {f"#a{index}": name for index, name in enumerate(attributes)}
            names |= projected
            request["ProjectionExpression"] = ", ".join(projected)
        request |= _expression_attributes(names, values)
        if after is not None:
            request["ExclusiveStartKey"] = dump_key(pk, after)
        if limit is not None:
            request["Limit"] = limit
        if newest_first:
            request["ScanIndexForward"] = False
        response = self.dynamodb.query(**request)
        last_key = response.get("LastEvaluatedKey")
        items = [load(raw) for raw in response.get("Items", [])]
        return QueryPage(items, None if last_key is None else str(load(last_key)[SK]))

    def query_all(self, pk: str, *, attributes: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        """Every item of partition ``pk``, in sort key order, page by page."""
        after: str | None = None
        while True:
            page = self.query(pk, after=after, attributes=attributes)
            yield from page.items
            if page.after is None:
                return
            after = page.after

    def count(self, pk: str) -> int:
        """The items in partition ``pk``: a COUNT query, page by page."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "Select": "COUNT",
            "ConsistentRead": True,
            "KeyConditionExpression": "#pk = :pk",
            **_expression_attributes({"#pk": PK}, {":pk": pk}),
        }
        total = 0
        while True:
            response = self.dynamodb.query(**request)
            total += int(response["Count"])
            if "LastEvaluatedKey" not in response:
                return total
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class JobsTable(Table):
    """The jobs table: its jobs sit in buckets of ``bucket_minutes``, each spread over ``shards`` partitions.

    Both are read once from the dispatcher's cursor item, which records the values in force. A value given
    (``bucket_minutes``, ``shards``) is a check: one that differs from the recorded one is refused, since jobs
    keyed with it would sit where the dispatcher does not look. On a table no dispatcher has run on, the values
    given are used, else 5 minutes and one shard.
    """

    def __init__(
        self,
        dynamodb: Any,
        name: str,
        sleep: Callable[[float], None],
        bucket_minutes: int | None = None,
        shards: int | None = None,
    ) -> None:
        super().__init__(dynamodb, name, sleep)
        self._given = (bucket_minutes, shards)
        self._layout: tuple[int, int] | None = None

    @property
    def bucket_minutes(self) -> int:
        """The width jobs are keyed with (``BucketWidthMismatch`` when the width given is not the table's)."""
        return self._read_layout()[0]

    @property
    def shards(self) -> int:
        """The partitions a bucket is spread over (InvalidJob on ``shards`` when those given are not the table's)."""
        return self._read_layout()[1]

    def _read_layout(self) -> tuple[int, int]:
        if self._layout is None:
            given_width, given_shards = self._given
            cursor = self.get(CURSOR_PK, CURSOR_SK, (CURSOR_BUCKET_MINUTES, CURSOR_SHARDS)) or {}
            width = self._recorded(cursor, "bucket_minutes", is_bucket_width, WIDTH_RULE)
            shards = self._recorded(cursor, "shards", is_shards, SHARDS_RULE)
            if width is not None and given_width is not None and width != given_width:
                raise BucketWidthMismatch(given_width, width, self.name)
            if shards is not None and given_shards is not None and shards != given_shards:
                raise InvalidJob(
                    "shards",
                    f"{given_shards} shards were asked for, but table {self.name} records {shards} (the "
                    f"dispatcher's). Leave the shards out to use the table's",
                )
            self._layout = (width or given_width or DEFAULT_BUCKET_MINUTES, shards or given_shards or DEFAULT_SHARDS)
        return self._layout

    def _recorded(self, cursor: Mapping[str, Any], field: str, valid: Callable[[Any], bool], rule: str) -> int | None:
        """The value the cursor item records for ``field``; None when it records none."""
        value = cursor.get(_RECORDED[field])
        if value is None:
            return None
        if not isinstance(value, Decimal) or not valid(value):
            raise InvalidJob(
                field, f"table {self.name} records {value!r} as its {rule}: the dispatcher's cursor item is damaged"
            )
        return int(value)

    # -- where jobs are -------------------------------------------------------------------------------------------

    def partition_of(self, due: datetime, job_id: str) -> str:
        """The partition key of the job ``job_id`` due at ``due``: its bucket, in the shard of its id."""
        return partition_key(due, self.bucket_minutes, shard_of(job_id, self.shards))

    def job_key(self, job_id: Any) -> tuple[str, str]:
        """``(pk, sk)`` of the job with the id the caller gave (InvalidJob on ``job_id`` for any other id)."""
        job_due(job_id)  # checked before the layout is read
        return job_key(job_id, self.bucket_minutes, self.shards)

    def key_of_sort_key(self, sk: str) -> tuple[str, str]:
        """``(pk, sk)`` of the job with sort key ``sk``: its due time's bucket, in the shard of its id."""
        due, job_id = parse_sort_key(sk)
        return self.partition_of(due, job_id), sk

    def shard_keys(self, bucket: datetime) -> list[str]:
        """The partition keys of every shard of the bucket starting at ``bucket``, shard 0 first."""
        first = partition_key(bucket, self.bucket_minutes)
        return [shard_key(first, shard) for shard in range(self.shards)]

    def count_bucket(self, bucket: datetime) -> int:
        """The items in every shard of the bucket starting at ``bucket``."""
        return sum(self.count(pk) for pk in self.shard_keys(bucket))

    # -- items read back ------------------------------------------------------------------------------------------

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

    # -- the dispatcher's records ---------------------------------------------------------------------------------

    def cursor(self) -> dict[str, Any]:
        """The dispatcher's cursor item as it is now (empty before any run)."""
        return self.get(CURSOR_PK, CURSOR_SK) or {}

    def runs(self, limit: int, attributes: Sequence[str] = ()) -> list[dict[str, Any]]:
        """The last ``limit`` run records, newest first (only ``attributes`` when given)."""
        return self.query(RUN_PK, limit=limit, attributes=attributes, newest_first=True).items


def _absent() -> dict[str, Any]:
    """The condition of a put that must create its item."""
    return {"ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": {"#pk": PK}}


def _expression_attributes(names: Mapping[str, str], values: Mapping[str, Any] | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {"ExpressionAttributeNames": dict(names)}
    if values:
        attributes["ExpressionAttributeValues"] = dump(values)
    return attributes


def _key_of(raw_item: Mapping[str, Any]) -> tuple[str, str]:
    return raw_item[PK]["S"], raw_item[SK]["S"]
