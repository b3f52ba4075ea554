"""A table's stream delivered to its Lambda function a batch per BatchWriteItem, as an event source mapping batches.

moto hands every stream record to the table's event source mappings the moment the item is written, one
invocation per item, inside the write request. A BatchWriteItem of 25 jobs ran the arrivals function
(``functions/rewind``) 25 times, and each run that found a job behind the dispatcher's cursor read the cursor and
wrote it (two more requests): measured with py-spy on ``schedule_many`` (moto 5.2.5), 2,000 jobs written into a
bucket the dispatcher had drained took 32 s, 63 jobs a second, of which the arrivals function took nine tenths.
On AWS the mapping hands the function up to ``BatchSize`` records at a time (100, ``infra/rewind.py``), and the
function settles a batch with one read of the cursor and at most one write.

Here the records a BatchWriteItem writes (at most 25, under any batch size) are delivered in one invocation, in
the order written, still before the request answers: what the function sees and when it has run are as before,
in batches. Every other write (PutItem, UpdateItem, DeleteItem, TransactWriteItems) is delivered per item, as moto
does.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.awslambda.utils import get_backend
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import StreamRecord, StreamShard
from moto.dynamodb.responses import DynamoHandler

from onthedot.local.patching import Patch

_batch = threading.local()  # .shards: the stream shards a BatchWriteItem in this thread added records to, in order
_taking = threading.Lock()


def _add(self: StreamShard, old: Item | None, new: Item | None) -> None:
    """moto's ``StreamShard.add``; inside a BatchWriteItem the record waits for the end of the request."""
    shards: dict[int, StreamShard] | None = getattr(_batch, "shards", None)
    if shards is None:
        return _ORIGINAL_ADD(self, old, new)
    view = self.table.stream_specification["StreamViewType"]  # type: ignore[index]
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    sequence = len(self.items) + self.starting_sequence_number
    self.items.append(StreamRecord(self.table, view, event_name, old, new, sequence))
    shards.setdefault(id(self), self)
    return None


def _deliver(shard: StreamShard) -> None:
    """Hand the shard's waiting records to each event source mapping of its table at once, as moto does per item."""
    with _taking:
        records, shard.items = shard.items, []
    if not records:
        return  # another write in the meantime delivered them (moto delivers everything waiting)
    result: Any = None
    for arn, mapping in shard.table.lambda_event_source_mappings.items():
        region = arn.split(":")[3]
        result = get_backend(shard.account_id, region).send_dynamodb_items(arn, records, mapping.event_source_arn)
    if not result:  # moto keeps what no function took, for the next write to deliver
        with _taking:
            shard.items = records + shard.items


def _batch_write_item(self: DynamoHandler) -> Any:
    """moto's ``DynamoHandler.batch_write_item``, then the stream records it wrote, one batch per table."""
    if getattr(_batch, "shards", None) is not None:
        return _ORIGINAL_BATCH_WRITE(self)
    _batch.shards = {}
    try:
        return _ORIGINAL_BATCH_WRITE(self)
    finally:
        shards, _batch.shards = _batch.shards, None
        for shard in shards.values():
            _deliver(shard)


PATCHES: tuple[Patch, ...] = (
    Patch(StreamShard, "add", _add, why="a stream record invokes the table's Lambda function per item written"),
    Patch(
        DynamoHandler,
        "batch_write_item",
        _batch_write_item,
        why="the stream records of a BatchWriteItem reach the function one invocation each, not as a batch",
    ),
)
_ORIGINAL_ADD = PATCHES[0].original
_ORIGINAL_BATCH_WRITE = PATCHES[1].original
