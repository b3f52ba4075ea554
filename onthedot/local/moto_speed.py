"""moto's hot spots on the local cloud's path, made cheap per message and per call without changing the answers.

Measured with py-spy on ``benchmarks/dispatch_1000.py`` (moto 5.2.5): two thirds of the time went to SQS
recomputing every queue attribute, counting the whole queue, once or more per message sent or received, and a
twentieth to ``jsonpath_ng`` building a new parser for each path of each event EventBridge delivers. With those
gone, a run over 10,000 jobs spent about a quarter of its time in DynamoDB Queries sorting the whole table per
page. Each patch below keeps moto's behaviour and changes only what it costs; ``PATCHES`` names what each
replaces, and the guard test fails when a moto upgrade moves or rewrites it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import operator
import random
import string
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import lru_cache
from typing import Any

from botocore.client import BaseClient
from botocore.config import Config
from jsonpath_ng.ext import parse as jsonpath_parse
from moto.core.models import botocore_stubber
from moto.core.utils import unix_time, unix_time_millis
from moto.dynamodb.exceptions import (
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend, get_filter_expression
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table
from moto.events.utils import EventTemplateParser
from moto.moto_api._internal import mock_random
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.settings import moto_server_port
from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid
from moto.sqs.models import MAXIMUM_MESSAGE_DELAY, Message, Queue, SQSBackend
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.parse import preprocessor  # noqa: F401  # loads every Task module that calls boto_client_for
from moto.stepfunctions.parser.asl.utils import boto_client

from onthedot.local.patching import FunctionPatch, Patch

# -- SQS: sending ----------------------------------------------------------------------------------------


def _send_message(  # noqa: PLR0917  # moto's signature
    self: SQSBackend,
    queue_name: str,
    message_body: str,
    message_attributes: dict[str, Any] | None = None,
    delay_seconds: int | None = None,
    deduplication_id: str | None = None,
    group_id: str | None = None,
    system_attributes: dict[str, Any] | None = None,
    validate_group_id: bool = True,
) -> Message:
    """moto's ``send_message`` reading ``ContentBasedDeduplication`` from the queue, not from
    ``Queue.attributes`` (which counts every message in the queue to build the whole attribute map)."""
    queue = self.get_queue(queue_name)
    self._validate_message(
        queue,
        message_body=message_body,
        delay_seconds=int(delay_seconds or 0),
        deduplication_id=deduplication_id,
        group_id=group_id,
        validate_group_id=validate_group_id,
    )
    delay = int(delay_seconds) if delay_seconds is not None else int(queue.delay_seconds)  # type: ignore[attr-defined]
    message = Message(str(mock_random.uuid4()), message_body, system_attributes)
    # Queue.attributes lists ContentBasedDeduplication for FIFO queues only.
    if queue.fifo_queue and queue.content_based_deduplication:  # type: ignore[attr-defined]
        message.deduplication_id = hashlib.sha256(message_body.encode("utf-8")).hexdigest()
    if deduplication_id is not None:
        message.deduplication_id = deduplication_id
        message.sequence_number = "".join(random.choice(string.digits) for _ in range(20))
    if group_id is not None:
        message.group_id = group_id
    if message_attributes:
        message.message_attributes = message_attributes
    if delay > MAXIMUM_MESSAGE_DELAY:
        raise InvalidParameterValue(
            f"Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
        )
    message.mark_sent(delay_seconds=delay)
    queue.add_message(message)
    return message


# -- SQS: receiving and deleting ------------------------------------------------------------------------


def _is_message_valid_based_on_retention_period(self: SQSBackend, queue_name: str, message: Message) -> bool:
    """The retention period read from the queue, not through ``get_queue_attributes`` (which builds the whole
    attribute map three times, counting the queue each time, for every message received)."""
    retention_period = int(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]


class _VisibleMessages:
    """``Queue.messages`` without building the list: ``receive_message`` takes the first few visible messages,
    and ``wait_for_messages`` asks only whether there is one. Iterates over a snapshot of the queue."""

    def __init__(self, queue: Queue) -> None:
        self._messages = tuple(queue._messages)

    def __iter__(self) -> Iterator[Message]:
        now = unix_time_millis()
        return (message for message in self._messages if message.visible_at < now and message.delayed_until <= now)

    def __bool__(self) -> bool:
        return next(iter(self), None) is not None

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _messages(self: Queue) -> _VisibleMessages:
    return _VisibleMessages(self)


# Receipt handles remembered so that deleting a message twice succeeds: a queue drained for days would otherwise
# hold every handle it ever gave out. A delete repeated after this many others finds its handle invalid.
DELETED_HANDLES_KEPT = 10_000


def _delete_message(self: Queue, receipt_handle: str) -> None:
    """moto's ``Queue.delete_message`` without rebuilding the message list: a drain deletes what it just
    received, from the front of the queue, so finding the message stops early."""
    if receipt_handle in self.deleted_messages:
        return  # already deleted: deleting again succeeds, as on AWS
    message = next((message for message in self._messages if message.had_receipt_handle(receipt_handle)), None)
    if message is None:
        raise ReceiptHandleIsInvalid()
    self.pending_messages.discard(message)
    if len(self.deleted_messages) > DELETED_HANDLES_KEPT:  # moto keeps every handle ever deleted: bound it
        self.deleted_messages.clear()
    self.deleted_messages.update(message.all_receipt_handles)  # type: ignore[arg-type]
    self._messages.remove(message)


# -- DynamoDB: sorting a table ----------------------------------------------------------------------------


def _all_items(self: Table) -> list[Item]:
    """moto's ``Table.all_items`` (every item, by hash and range key), sorting on each key's value computed once
    per item: moto compares ``DynamoType`` objects, which recompute both values in Python for every comparison,
    and every Scan (and Query of an index) sorts the whole table so, once per page."""
    items: list[Item] = []
    for hash_set in self.items.values():
        if self.range_key_attr:
            items.extend(hash_set.values())
        else:
            items.append(hash_set)  # type: ignore[arg-type]  # moto keeps a hash-only table's items unnested
    return sorted(
        items,
        key=lambda x: (x.hash_key.cast_value, x.range_key.cast_value) if x.range_key else x.hash_key.cast_value,
    )


_original_query = Table.query
_RANGE_VALUE = operator.attrgetter("range_key.value")


def _range_order(sample: Item | None) -> Callable[[Item], Any]:
    """moto orders items by their range key's ``DynamoType``, which compares cast values: a Decimal for a number,
    the value itself for a string or binary key (a table's keys have one type). Read in C where it can be."""
    if sample is not None and sample.range_key is not None and sample.range_key.type == "N":
        return lambda item: Decimal(item.range_key.value)  # type: ignore[union-attr]
    return _RANGE_VALUE


def _query(  # noqa: PLR0917  # moto's signature
    self: Table,
    hash_key: DynamoType | None,
    range_comparison: str | None,
    range_objs: list[DynamoType],
    limit: int,
    exclusive_start_key: dict[str, Any],
    scan_index_forward: bool,
    projection_expressions: list[list[str]] | None,
    index_name: str | None = None,
    consistent_read: bool = False,
    filter_expression: Any = None,
    hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
    range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
    **filter_kwargs: Any,
) -> tuple[list[Item], int, dict[str, Any] | None]:
    """moto's ``Table.query`` on a table's own keys reading only the partition asked for: moto lists and sorts the
    whole table, then filters it by hash key, for every page, so paging through a partition costs its square.
    Indexes and legacy filters go to moto's own."""
    if index_name or filter_kwargs or hash_key is None or not self.range_key_attr:
        return _original_query(
            self,
            hash_key,
            range_comparison,
            range_objs,
            limit,
            exclusive_start_key,
            scan_index_forward,
            projection_expressions,
            index_name,
            consistent_read,
            filter_expression,
            hash_key_conditions,
            range_key_conditions,
            **filter_kwargs,
        )
    partition = list(self.items.get(hash_key, {}).values())
    ordered = sorted(partition, key=_range_order(partition[0] if partition else None))
    if scan_index_forward is False:
        ordered.reverse()
    range_name = range_key_conditions[-1][0] if range_key_conditions else self.range_key_attr
    results: list[Item] = []
    result_size = scanned_count = 0
    last_evaluated_key = None
    skipping_previous_page = exclusive_start_key is not None
    for item in ordered:  # from here on as moto's loop, for a table without an index
        if skipping_previous_page:
            if self._item_comes_before_dct(
                item, exclusive_start_key, [self.hash_key_attr], [self.range_key_attr], scan_index_forward
            ):
                continue
            skipping_previous_page = False
        if len(results) == limit or result_size + item.size() > RESULT_SIZE_LIMIT:
            last_evaluated_key = self._get_last_evaluated_key(results[-1], index_name)
            break
        if not range_comparison or (item.attrs.get(range_name) or item.range_key).compare(range_comparison, range_objs):
            results.append(item)
            result_size += item.size()
            scanned_count += 1
    results = copy.deepcopy(results)
    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection_expressions:
        results = [item.project(projection_expressions) for item in results]
    return results, scanned_count, last_evaluated_key


# -- EventBridge: input paths ---------------------------------------------------------------------------

_cached_jsonpath = lru_cache(maxsize=256)(jsonpath_parse)


def _parse_event_template(
    input_template: str, input_paths_map: dict[str, Any], event: dict[str, Any]
) -> dict[str, Any]:
    """moto's ``EventTemplateParser.parse`` with each JSONPath parsed once per process, not per event."""
    template = input_template or EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
    paths = input_paths_map or EventTemplateParser.DEFAULT_EVENT_INPUT_PATHS_MAP
    for name, path in paths.items():
        matches = _cached_jsonpath(path).find(event)
        result = EventTemplateParser._stringify(matches[0].value) if matches else None
        if result:
            template = template.replace(f"<{name}>", result)
    for name, value in (("aws.events.event.json", event), ("aws.events.event.ingestion-time", event["ingestion-time"])):
        template = template.replace(f"<{name}>", EventTemplateParser._stringify(value))
    return dict(json.loads(template))


# -- Step Functions: one client per service ---------------------------------------------------------------


@lru_cache(maxsize=64)
def _client(region: str, service: str, endpoint_url: str | None) -> BaseClient:
    import boto3

    return boto3.client(
        aws_access_key_id="ak",
        region_name=region,
        service_name=service,
        aws_secret_access_key="sk",  # noqa: S106  # moto's dummy credentials
        endpoint_url=endpoint_url,
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            max_pool_connections=64,  # shared by every Map iteration (mapConcurrency is at most 40)
        ),
    )


def _boto_client_for(region: str, service: str, state_credentials: Any = None) -> BaseClient:
    """moto's ``boto_client_for``, with the client built once per region, service and endpoint instead of once
    per Task (botocore clients are thread-safe; building one loads its service model)."""
    endpoint_url = None if botocore_stubber.enabled else f"http://localhost:{moto_server_port()}"
    return _client(region, service, endpoint_url)


# -- The server: routing a request to its service ----------------------------------------------------------


def _get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
    """moto's ``DomainDispatcherApplication.get_backend_for_host``, remembered per host: moto lists its package
    folder (a stat per service, about a millisecond) and tries the URL patterns for every request, under the
    server's one lock, so that every request of every thread waits its turn for it."""
    if host is None:
        return None
    known: dict[str, Any] = vars(self).setdefault("_onthedot_backends", {})
    backend = known.get(host)
    if backend is None:
        backend = _original_get_backend_for_host(self, host)
        if backend is not None:  # an unknown host is looked up (and reported by moto) again
            known[host] = backend
    return backend


_original_get_backend_for_host = DomainDispatcherApplication.get_backend_for_host


# -- DynamoDB: transactions --------------------------------------------------------------------------------

_TRANSACTIONS = threading.Lock()
_WRITES = frozenset({"Put", "Delete", "Update"})


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's ``transact_write_items`` keeping, for its rollback, a copy of each item it writes instead of a deep
    copy of each table it touches: that copy costs a whole table per transaction (seconds for a page of recurring
    jobs), and fails with an HTTP 500 when another request changes the table meanwhile. One transaction at a time,
    as DynamoDB isolates them."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _TRANSACTIONS:
        written: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []  # (table, key, item before)
        targets: set[tuple[str, str]] = set()
        errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
        for item in transact_items:
            if len(item) > 1:
                raise TransactWriteSingleOpException
            try:
                errors.append(_transact_one(self, *next(iter(item.items())), targets, written))
            except (MultipleTransactionsException, MockValidationException):
                _roll_back(self, written)
                raise
            except Exception as error:  # moto reports any other failure as the item's reason
                errors.append((type(error).__name__, str(error), None))
        if any(code is not None for code, _, _ in errors):
            _roll_back(self, written)
            raise TransactionCanceledException(errors)


def _transact_one(
    self: DynamoDBBackend,
    op_type: str,
    op: dict[str, Any],
    targets: set[tuple[str, str]],
    written: list[tuple[str, dict[str, Any], dict[str, Any] | None]],
) -> tuple[str | None, str | None, dict[str, Any] | None]:
    """One operation of a transaction, as moto runs it; ``written`` gets the item it changes, as it was."""
    if op_type not in {"ConditionCheck", *_WRITES}:
        raise ValueError("Unsupported transaction operation")
    table_name = op["TableName"]
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    condition = op.get("ConditionExpression")
    if op_type == "Put":
        table = self.get_table(table_name)
        key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = op["Item"][table.range_key_attr]
    else:
        key = op["Key"]
    target = (str(table_name), str(dict(sorted(key.items()))))
    if target in targets:
        raise MultipleTransactionsException()
    targets.add(target)
    current = self.get_item(table_name, key)
    if condition is not None and not get_filter_expression(condition, names, values).expr(current):
        failed = (
            current.to_json()["Attributes"]
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current
            else None
        )
        return ("ConditionalCheckFailed", "The conditional request failed", failed)
    if op_type in _WRITES:
        written.append((table_name, key, None if current is None else current.to_json()["Attributes"]))
    if op_type == "Put":
        self.put_item(
            table_name,
            op["Item"],
            condition_expression=condition,
            expression_attribute_names=names,
            expression_attribute_values=values,
        )
    elif op_type == "Delete":
        self.delete_item(
            table_name,
            key,
            expression_attribute_names=names,
            expression_attribute_values=values,
            condition_expression=condition,
        )
    elif op_type == "Update":
        self.update_item(
            table_name,
            key,
            update_expression=op["UpdateExpression"],
            condition_expression=condition,
            expression_attribute_names=names,  # type: ignore[arg-type]  # None when absent, as moto passes it
            expression_attribute_values=values,  # type: ignore[arg-type]
        )
    return (None, None, None)


def _roll_back(self: DynamoDBBackend, written: list[tuple[str, dict[str, Any], dict[str, Any] | None]]) -> None:
    """Put back the items a cancelled transaction wrote, as they were, without stream records (moto's own
    rollback swaps the table back silently; persistence journals the keys the action named)."""
    for table_name, key, before in reversed(written):
        table = self.get_table(table_name)
        shard, table.stream_shard = table.stream_shard, None
        try:
            table.delete_item(*self.get_keys_value(table, key))
            if before is not None:
                table.put_item(before)
        finally:
            table.stream_shard = shard


PATCHES: tuple[Patch, ...] = (
    Patch(SQSBackend, "send_message", _send_message, why="Queue.attributes counts the queue per message sent"),
    Patch(
        SQSBackend,
        "is_message_valid_based_on_retention_period",
        _is_message_valid_based_on_retention_period,
        why="get_queue_attributes counts the queue three times per message received",
    ),
    Patch(Queue, "messages", property(_messages), why="receive_message lists every visible message per call"),
    Patch(Queue, "delete_message", _delete_message, why="delete_message rebuilds the message list per message"),
    Patch(Table, "all_items", _all_items, why="every Scan sorts the table comparing DynamoType objects in Python"),
    Patch(Table, "query", _query, why="every Query lists, sorts and filters the whole table"),
    Patch(
        DynamoDBBackend,
        "transact_write_items",
        _transact_write_items,
        why="every transaction deep-copies the tables it touches, and fails when another request changes them",
    ),
    Patch(
        DomainDispatcherApplication,
        "get_backend_for_host",
        _get_backend_for_host,
        why="every request lists moto's package folder to find its service, under the server's one lock",
    ),
    Patch(
        EventTemplateParser,
        "parse",
        staticmethod(_parse_event_template),
        why="jsonpath_ng builds a parser per path per event delivered",
    ),
    FunctionPatch(
        boto_client,
        "boto_client_for",
        _boto_client_for,
        why="a boto3 client per Task state",
        importers=("moto.stepfunctions.parser.",),
    ),
)
