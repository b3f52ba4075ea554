"""The rewind function: a job written into a bucket the dispatcher has already drained moves its cursor back.

It reads the jobs table's stream (keys only, inserts of ``j#`` items). A due time in the past, clock skew or
an item typed by hand in the console can put a job into a bucket older than the previous one; the dispatcher
then drains from that bucket on its next run. The cursor only ever moves back here, and only forward in the
dispatcher, which compares-and-sets it, so neither undoes the other.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from onthedot import jobs, keys

logger = Logger()
TABLE_NAME = os.environ["JOBS_TABLE_NAME"]
BUCKET_MINUTES = int(os.environ["BUCKET_MINUTES"])
DYNAMODB = boto3.client("dynamodb")


def late_partition(records: list[dict[str, Any]], now: datetime, bucket_minutes: int) -> str | None:
    """The oldest partition written to by an insert in ``records`` that lies before the previous bucket."""
    previous = keys.partitions_to_drain(now, bucket_minutes)[0]
    late = [
        pk
        for record in records
        if record.get("eventName") == "INSERT"
        and (pk := record.get("dynamodb", {}).get("Keys", {}).get(jobs.PK, {}).get("S", "")).startswith(keys.PK_PREFIX)
        and pk < previous
    ]
    return min(late, default=None)


def rewind(client: Any, table_name: str, partition: str) -> bool:
    """Set the cursor to ``partition`` unless it is already there or older; True when it moved."""
    try:
        client.update_item(
            TableName=table_name,
            Key={jobs.PK: {"S": jobs.CURSOR_PK}, jobs.SK: {"S": jobs.CURSOR_SK}},
            UpdateExpression="SET #bucket = :partition",
            ConditionExpression="attribute_not_exists(#bucket) OR #bucket > :partition",
            ExpressionAttributeNames={"#bucket": jobs.CURSOR_BUCKET},
            ExpressionAttributeValues={":partition": {"S": partition}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    partition = late_partition(event.get("Records", []), datetime.now(UTC), BUCKET_MINUTES)
    moved = partition is not None and rewind(DYNAMODB, TABLE_NAME, partition)
    if moved:
        logger.info("cursor moved back", partition=partition)
    return {"rewound_to": partition if moved else None}
