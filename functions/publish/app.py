"""The publish function: one page of due jobs in, what EventBridge accepted out.

Event, from the dispatcher (up to 1,000 sort keys)::

    {"pk": "j#2026-02-09T11:30", "sks": ["2026-02-09T11:33:00.000Z#<job id>", ...]}

Response; the dispatcher deletes exactly ``published``::

    {"published": [sk, ...], "failed": [{"sk": sk, "error": "..."}], "missing": n}
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.publish.dead_letter import DeadLetters
from functions.publish.observability import logger, metrics, tracer
from functions.publish.publisher import PageResult, parse_event, publish_page
from onthedot.core import metrics as names


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"environment variable {name} is not set (see onthedot.deploy.settings.publish_environment)")
    return value


TABLE_NAME = _required("JOBS_TABLE_NAME")
BUS_NAME = _required("EVENT_BUS_NAME")
EVENT_SOURCE = _required("EVENT_SOURCE")
PUBLISH_RETRIES = int(_required("PUBLISH_RETRIES"))
BUCKET_MINUTES = int(_required("BUCKET_MINUTES"))
DEAD_LETTER_TABLE_NAME = _required("DEAD_LETTER_TABLE_NAME")
MAX_ATTEMPTS = int(_required("MAX_ATTEMPTS"))

DYNAMODB = boto3.resource("dynamodb")
EVENTS = boto3.client("events")
DEAD_LETTERS = DeadLetters(
    jobs_table=DYNAMODB.Table(TABLE_NAME),
    dead_letter_table=DYNAMODB.Table(DEAD_LETTER_TABLE_NAME),
    max_attempts=MAX_ATTEMPTS,
    now=lambda: datetime.now(UTC),
)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    pk, sks, run = parse_event(event)
    result = publish_page(
        pk,
        sks,
        dynamodb=DYNAMODB,
        table_name=TABLE_NAME,
        events_client=EVENTS,
        bus_name=BUS_NAME,
        source=EVENT_SOURCE,
        retries=PUBLISH_RETRIES,
        bucket_minutes=BUCKET_MINUTES,
        dead_letters=DEAD_LETTERS,
        run=run,
    )
    record_metrics(result)
    return result.as_dict()


LATENESS_VALUES_PER_FLUSH = 99


def record_metrics(result: PageResult) -> None:
    published = len(result.published) + len(result.advance)
    metrics.add_metric(name=names.PUBLISHED, unit=MetricUnit.Count, value=published)
    metrics.add_metric(name=names.FAILED, unit=MetricUnit.Count, value=len(result.failed))
    metrics.add_metric(name=names.MISSING, unit=MetricUnit.Count, value=result.missing)
    metrics.add_metric(name=names.DEAD_LETTERED, unit=MetricUnit.Count, value=len(result.dead))
    if result.dead_letter_size is not None:
        metrics.add_metric(name=names.DEAD_LETTER_SIZE, unit=MetricUnit.Count, value=result.dead_letter_size)
    # One value a job, so that CloudWatch's p50/p99 are over jobs. Powertools prints a metric's 100th value at once,
    # even with metrics disabled (locally): flushing every 99 keeps that print, and the switch, in its own hands.
    for count, lateness_ms in enumerate(result.lateness_ms, start=1):
        metrics.add_metric(name=names.LATENESS_SECONDS, unit=MetricUnit.Seconds, value=lateness_ms / 1000)
        if count % LATENESS_VALUES_PER_FLUSH == 0:
            metrics.flush_metrics()
            metrics.clear_metrics()  # a flush with metrics disabled leaves them in place
