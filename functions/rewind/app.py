"""The arrivals function (the jobs table's stream, keys only, inserts of ``j#`` items): see ``arrivals``.

It grew out of the rewind function and keeps its handler path, ``functions.rewind.app.handler``.

It also takes ``{"sweep": {"start": <ExclusiveStartKey or null>}}`` (the dispatcher sends it when the bucket width
has changed): it scans the table from ``start`` and settles every job whose keys are not canonical under its
``BUCKET_MINUTES``, as if it had just arrived. Well before its time is up it invokes itself asynchronously with
the scan's ``LastEvaluatedKey``, so a table of any size is swept to the end.

Its configuration is the environment ``onthedot.deploy.settings.rewind_environment`` sets, read into ``Config`` on
the first invocation, when the clients are created too: importing this module reads and connects nothing.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.publish.dead_letter import DeadLetters
from functions.rewind.arrivals import Arrivals, Sweep
from onthedot.core.environment import Environment

SEE = "onthedot.deploy.settings.rewind_environment"

# Keys a sweep page scans: a page whose every job is re-filed or buried takes a few seconds at most.
SWEEP_PAGE_SIZE = 100
# Time a sweep leaves itself when it starts no more pages: more than the longest page, far inside the timeout.
SWEEP_RESERVE_MS = 10_000

logger = Logger()


@dataclass(frozen=True)
class Config:
    """The function's configuration: its environment variables (``rewind_environment``), typed."""

    table_name: str
    bucket_minutes: int
    catch_up_buckets: int
    dead_letter_table_name: str = ""  # none: a job whose due time cannot be read fails its batch loudly
    shards: int = 1  # absent from a stack deployed before shards existed: one shard

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> Config:
        """Raises ``RuntimeError`` naming the first variable that is missing or not a number."""
        variables = Environment(environment, SEE)
        return cls(
            table_name=variables.text("JOBS_TABLE_NAME"),
            bucket_minutes=variables.number("BUCKET_MINUTES"),
            catch_up_buckets=variables.number("CATCH_UP_BUCKETS"),
            dead_letter_table_name=environment.get("DEAD_LETTER_TABLE_NAME", ""),
            shards=variables.number("SHARDS", default=1),
        )


@functools.cache
def config() -> Config:
    """Read on the first invocation, then kept: a function's environment does not change while it lives."""
    return Config.from_environment(os.environ)


@functools.cache
def arrivals() -> Arrivals:
    """The arrivals over the jobs table, created on the first invocation (boto3 reads region, credentials and
    endpoint then), then kept."""
    settings = config()
    dynamodb = boto3.resource("dynamodb")
    table = dynamodb.Table(settings.table_name)
    return Arrivals(
        table=table,
        dead_letters=DeadLetters(
            jobs_table=table,
            dead_letter_table=dynamodb.Table(settings.dead_letter_table_name),
            max_attempts=0,  # arrivals bury jobs, they never count attempts
            now=lambda: datetime.now(UTC),
        )
        if settings.dead_letter_table_name
        else None,
        bucket_minutes=settings.bucket_minutes,
        shards=settings.shards,
        catch_up_buckets=settings.catch_up_buckets,
        now=lambda: datetime.now(UTC),
    )


@functools.cache
def lambda_client() -> Any:
    """The Lambda client a sweep invokes its next leg with, created when the first leg needs it."""
    return boto3.client("lambda")


def prepare() -> None:
    """Read the configuration and create the clients now instead of on the first invocation. The local cloud
    calls it right after importing the handler, while the function's environment is set
    (``onthedot.local.lambda_runtime``); on Lambda nothing needs to."""
    arrivals()
    lambda_client()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "sweep" in event:
        return sweep(event["sweep"], context)
    outcome = arrivals().receive(event.get("Records", []))
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
    swept: Sweep = arrivals().sweep(
        start,
        out_of_time=lambda: context.get_remaining_time_in_millis() < SWEEP_RESERVE_MS,
        page_size=SWEEP_PAGE_SIZE,
    )
    for reason in swept.outcome.dead_reasons:
        logger.warning("job dead-lettered by the sweep", reason=reason)
    if swept.next_start is not None:
        # Last, so that a failure before it retries this leg (every step is idempotent) rather than forking.
        lambda_client().invoke(
            FunctionName=context.function_name,
            InvocationType="Event",
            Payload=json.dumps({"sweep": {"start": swept.next_start}}),
        )
    logger.info("sweep", resumed=start is not None, **swept.as_dict())
    return swept.as_dict()
