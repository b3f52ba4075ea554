"""The publish function: one page of due jobs in, what EventBridge accepted out.

Event, from the dispatcher (up to 1,000 sort keys)::

    {"pk": "j#2026-02-09T11:30", "sks": ["2026-02-09T11:33:00.000Z#<job id>", ...]}

Response; the dispatcher deletes exactly ``published``::

    {"published": [sk, ...], "failed": [{"sk": sk, "error": "..."}], "missing": n}

Its configuration is the environment ``onthedot.deploy.settings.publish_environment`` sets, read into ``Config``
on the first invocation, when the clients are created too: importing this module reads and connects nothing.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.publish.dead_letter import DeadLetters
from functions.publish.observability import logger, metrics, tracer
from functions.publish.publisher import PageResult, parse_event, publish_page
from onthedot.core import metrics as names
from onthedot.core.environment import Environment

SEE = "onthedot.deploy.settings.publish_environment"


@dataclass(frozen=True)
class Config:
    """The function's configuration: its environment variables (``publish_environment``), typed."""

    table_name: str
    dead_letter_table_name: str
    bus_name: str
    event_source: str
    publish_retries: int
    bucket_minutes: int
    max_attempts: int
    shards: int = 1  # absent from a stack deployed before shards existed: one shard

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> Config:
        """Raises ``RuntimeError`` naming the first variable that is missing or not a number."""
        variables = Environment(environment, SEE)
        return cls(
            table_name=variables.text("JOBS_TABLE_NAME"),
            dead_letter_table_name=variables.text("DEAD_LETTER_TABLE_NAME"),
            bus_name=variables.text("EVENT_BUS_NAME"),
            event_source=variables.text("EVENT_SOURCE"),
            publish_retries=variables.number("PUBLISH_RETRIES"),
            bucket_minutes=variables.number("BUCKET_MINUTES"),
            max_attempts=variables.number("MAX_ATTEMPTS"),
            shards=variables.number("SHARDS", default=1),
        )


@functools.cache
def config() -> Config:
    """Read on the first invocation, then kept: a function's environment does not change while it lives."""
    return Config.from_environment(os.environ)


@dataclass(frozen=True)
class Clients:
    dynamodb: Any  # boto3 DynamoDB service resource
    events: Any  # boto3 EventBridge client
    dead_letters: DeadLetters


@functools.cache
def clients() -> Clients:
    """Created on the first invocation (boto3 reads region, credentials and endpoint then), then kept."""
    settings = config()
    dynamodb = boto3.resource("dynamodb")
    return Clients(
        dynamodb=dynamodb,
        events=boto3.client("events"),
        dead_letters=DeadLetters(
            jobs_table=dynamodb.Table(settings.table_name),
            dead_letter_table=dynamodb.Table(settings.dead_letter_table_name),
            max_attempts=settings.max_attempts,
            now=lambda: datetime.now(UTC),
        ),
    )


def prepare() -> None:
    """Read the configuration and create the clients now instead of on the first invocation. The local cloud
    calls it right after importing the handler, while the function's environment is set
    (``onthedot.local.lambda_runtime``); on Lambda nothing needs to."""
    clients()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, wired = config(), clients()
    pk, sks, run = parse_event(event)
    result = publish_page(
        pk,
        sks,
        dynamodb=wired.dynamodb,
        table_name=settings.table_name,
        events_client=wired.events,
        bus_name=settings.bus_name,
        source=settings.event_source,
        retries=settings.publish_retries,
        bucket_minutes=settings.bucket_minutes,
        shards=settings.shards,
        dead_letters=wired.dead_letters,
        run=run,
    )
    record_metrics(result)
    return result.as_dict()


LATENESS_VALUES_PER_FLUSH = 99


def record_metrics(result: PageResult) -> None:
    published = len(result.published) + result.occurrences
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
