"""The arrivals function (the jobs table's stream, keys only, inserts of ``j#`` items): see ``arrivals``.

It grew out of the rewind function and keeps its handler path, ``functions.rewind.app.handler``.

It also takes ``{"sweep": {"start": <ExclusiveStartKey or null>}}`` (the dispatcher sends it when the bucket width
has changed): it scans the table from ``start`` and settles every job whose keys are not canonical under its
``BUCKET_MINUTES``, as if it had just arrived. Well before its time is up it invokes itself asynchronously with
the scan's ``LastEvaluatedKey``, so a table of any size is swept to the end.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.publish.dead_letter import DeadLetters
from functions.rewind.arrivals import Arrivals, Sweep


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"environment variable {name} is not set (see onthedot.deploy.settings.rewind_environment)")
    return value


# Keys a sweep page scans: a page whose every job is re-filed or buried takes a few seconds at most.
SWEEP_PAGE_SIZE = 100
# Time a sweep leaves itself when it starts no more pages: more than the longest page, far inside the timeout.
SWEEP_RESERVE_MS = 10_000

logger = Logger()
LAMBDA = boto3.client("lambda")
DYNAMODB = boto3.resource("dynamodb")
TABLE = DYNAMODB.Table(_required("JOBS_TABLE_NAME"))
DEAD_LETTER_TABLE_NAME = os.environ.get("DEAD_LETTER_TABLE_NAME", "")
ARRIVALS = Arrivals(
    table=TABLE,
    dead_letters=DeadLetters(
        jobs_table=TABLE,
        dead_letter_table=DYNAMODB.Table(DEAD_LETTER_TABLE_NAME),
        max_attempts=0,  # arrivals bury jobs, they never count attempts
        now=lambda: datetime.now(UTC),
    )
    if DEAD_LETTER_TABLE_NAME
    else None,
    bucket_minutes=int(_required("BUCKET_MINUTES")),
    catch_up_buckets=int(_required("CATCH_UP_BUCKETS")),
    now=lambda: datetime.now(UTC),
)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "sweep" in event:
        return sweep(event["sweep"], context)
    outcome = ARRIVALS.receive(event.get("Records", []))
    for reason in outcome.dead_reasons:
        logger.warning("job dead-lettered on arrival", reason=reason)
    if outcome.refiled or outcome.dead_lettered or outcome.rewound_to:
        logger.info("arrivals", **outcome.as_dict())
    return outcome.as_dict()


def sweep(request: Any, context: LambdaContext) -> dict[str, Any]:
    """One leg of a sweep: pages from ``request["start"]`` until done or short of time, then the next leg."""
    start = request.get("start") if isinstance(request, dict) else None
    if not isinstance(request, dict) or not (start is None or isinstance(start, dict)):
        raise ValueError('a sweep event is {"sweep": {"start": <ExclusiveStartKey or null>}}')
    swept: Sweep = ARRIVALS.sweep(
        start,
        out_of_time=lambda: context.get_remaining_time_in_millis() < SWEEP_RESERVE_MS,
        page_size=SWEEP_PAGE_SIZE,
    )
    for reason in swept.outcome.dead_reasons:
        logger.warning("job dead-lettered by the sweep", reason=reason)
    if swept.next_start is not None:
        # Last, so that a failure before it retries this leg (every step is idempotent) rather than forking.
        LAMBDA.invoke(
            FunctionName=context.function_name,
            InvocationType="Event",
            Payload=json.dumps({"sweep": {"start": swept.next_start}}),
        )
    logger.info("sweep", resumed=start is not None, **swept.as_dict())
    return swept.as_dict()
