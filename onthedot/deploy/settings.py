"""The tuning knobs, read once from ``cdk.json`` context (or a plain mapping) and validated.

Every knob reaches the definition through ``definition_substitutions`` (``substitutions``) and the publish
function through environment variables (``publish_environment``). The stack and the local cloud both call
these two functions, so AWS and the local cloud are configured the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from onthedot.core import keys, lateness, metrics

DEFINITION_PATH = Path(__file__).resolve().parents[2] / "statemachine" / "dispatcher.asl.json"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The dispatcher's execution log (for Express, the console's execution history). ALL logs every state of every
# tick: with precision 'second' that is tens of dollars a month of CloudWatch Logs (benchmarks/cost_model.py).
EXECUTION_LOG_LEVELS = ("ALL", "ERROR", "FATAL", "OFF")
PRECISIONS = ("second", "minute")
# A run with second precision looks ahead until the next run starts, plus this much: the next rule firing may
# come a little late, and the overlap keeps the windows of consecutive runs seamless.
WINDOW_SLACK_SECONDS = 10
EXPRESS_LIMIT_SECONDS = 300  # an Express execution's longest life
# What a run with second precision keeps clear of that limit: its last tick, and a catch-up before it.
RUN_TAIL_SECONDS = 60
# Each tick of a run also reads the last two seconds before it: a job scheduled "now" is written a moment after
# its due time, perhaps just after the tick that covered that time had read the table.
LATE_WRITE_GRACE_MS = 2000
# A run's time budget: it starts no new page of its catch-up after half its interval (leaving the rest for its
# window's ticks), and none of its window after this long past the window's end, so that its last page ends far
# inside Express's limit (RUN_TAIL_SECONDS). What is left waits in the table for the next run's catch-up.
LAST_PAGE_AFTER_WINDOW_SECONDS = RUN_TAIL_SECONDS // 2
DELETE_BATCH = 25  # BatchWriteItem's limit
MAX_DELETE_CONCURRENCY = 40  # an inline Map's iterations at once, beyond which AWS gives no more parallelism
METRICS_NAMESPACE = metrics.NAMESPACE  # the functions' (Powertools) and the dispatcher's own metrics
_EVENT_SOURCE = re.compile(r"^[A-Za-z0-9._\-/]{1,256}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SettingsError(ValueError):
    """A knob with a value outside its documented range."""


@dataclass(frozen=True)
class Settings:
    """Knobs with their defaults; the names are the ``cdk.json`` context keys."""

    scheduleMinutes: int = 1
    bucketMinutes: int = 5
    shards: int = 1
    pageSize: int = 100
    mapConcurrency: int = 2
    publishRetries: int = 3
    deleteRetries: int = 5
    catchUpBuckets: int = 12
    maxAttempts: int = 5
    eventSource: str = "onthedot"
    logLevel: str = "INFO"
    precision: str = "second"
    executionLogLevel: str = "ERROR"
    # Deployment (infra/): optional parts, and the alarms' thresholds (infra/monitoring.py).
    debugWorker: bool = False
    exampleWorker: bool = False
    monitoring: bool = True
    alarmEmail: str = ""
    alarmBacklogSeconds: int = 900
    alarmLatenessSeconds: int = 120
    alarmDeadLetters: int = 1
    alarmFailedRuns: int = 1

    # (minimum, maximum) for each integer knob, with why where it is not obvious.
    RANGES = {
        "scheduleMinutes": (1, 60),
        # A bucket must divide an hour so that bucket starts fall on the same minutes every hour.
        "bucketMinutes": (1, 60),
        # Partitions each bucket is spread over: DynamoDB takes about 1,000 writes a second per partition, so a
        # second with 100,000 jobs due needs tens of shards to be scheduled and deleted in time (1 = one key a
        # bucket, the original item format). benchmarks/capacity.py works out what a setting can carry.
        "shards": (1, keys.MAX_SHARDS),
        # A page travels between states as keys only; 1,000 keys stay far below 256 KB.
        "pageSize": (1, 1000),
        "mapConcurrency": (1, 40),
        "publishRetries": (0, 10),
        "deleteRetries": (0, 10),
        # Buckets one run's catch-up drains, from the cursor up to the bucket of its cutoff and the one before it:
        # how fast an outage is caught up.
        "catchUpBuckets": (2, 288),
        # Runs that may fail to publish a job before it goes to the dead letter.
        "maxAttempts": (1, 100),
        # Alarm thresholds: the oldest bucket still to drain; p99 lateness; dead-lettered jobs and failed or
        # timed-out runs within 5 minutes.
        "alarmBacklogSeconds": (60, 86400),
        "alarmLatenessSeconds": (1, 3600),
        "alarmDeadLetters": (1, 1_000_000),
        "alarmFailedRuns": (1, 1000),
    }

    def __post_init__(self) -> None:
        for name, (low, high) in self.RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise SettingsError(f"context '{name}' must be a whole number from {low} to {high}, got {value!r}")
        if 60 % self.bucketMinutes:
            raise SettingsError(f"context 'bucketMinutes' must divide 60, got {self.bucketMinutes}")
        if self.scheduleMinutes > self.bucketMinutes:
            raise SettingsError(
                f"context 'scheduleMinutes' ({self.scheduleMinutes}) must not exceed 'bucketMinutes' "
                f"({self.bucketMinutes}): a run's catch-up looks no further back than the bucket before its cutoff's"
            )
        if (
            not isinstance(self.eventSource, str)
            or not _EVENT_SOURCE.match(self.eventSource)
            or (self.eventSource.startswith("aws."))
        ):
            raise SettingsError(
                f"context 'eventSource' must be 1-256 characters of letters, digits, . _ - / "
                f"and must not start with 'aws.', got {self.eventSource!r}"
            )
        if self.precision not in PRECISIONS:
            raise SettingsError(f"context 'precision' must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.precision == "second" and look_ahead_ms(self) / 1000 + RUN_TAIL_SECONDS > EXPRESS_LIMIT_SECONDS:
            raise SettingsError(
                f"context 'scheduleMinutes' ({self.scheduleMinutes}) is too long for precision 'second': a run waits "
                f"for its jobs until the next run starts, and must end inside Express's {EXPRESS_LIMIT_SECONDS} s; "
                "use at most 3 minutes, or precision 'minute'"
            )
        if self.executionLogLevel not in EXECUTION_LOG_LEVELS:
            raise SettingsError(
                f"context 'executionLogLevel' must be one of {', '.join(EXECUTION_LOG_LEVELS)}, "
                f"got {self.executionLogLevel!r}"
            )
        if self.logLevel not in LOG_LEVELS:
            raise SettingsError(f"context 'logLevel' must be one of {', '.join(LOG_LEVELS)}, got {self.logLevel!r}")
        for field in fields(self):
            if field.type == "bool" and not isinstance(getattr(self, field.name), bool):
                raise SettingsError(f"context '{field.name}' must be true or false, got {getattr(self, field.name)!r}")
        if not isinstance(self.alarmEmail, str) or (self.alarmEmail and not _EMAIL.match(self.alarmEmail)):
            raise SettingsError(f"context 'alarmEmail' must be an e-mail address or empty, got {self.alarmEmail!r}")

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Settings:
        """Build from CDK context; ``-c pageSize=200`` arrives as the string ``"200"``."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            if field.name not in context:
                continue
            raw = context[field.name]
            if field.type == "int" and isinstance(raw, str):
                try:
                    raw = int(raw)
                except ValueError:
                    raise SettingsError(f"context '{field.name}' must be a whole number, got {raw!r}") from None
            if field.type == "bool" and isinstance(raw, str):
                raw = {"true": True, "false": False}.get(raw.lower(), raw)  # anything else is refused by name
            values[field.name] = raw
        return cls(**values)

    @classmethod
    def knob_names(cls) -> list[str]:
        return [field.name for field in fields(cls)]


def look_ahead_ms(settings: Settings) -> int:
    """How far past its start a run publishes jobs, waiting for each: until the next run starts (with slack) for
    precision 'second'; for 'minute', only what is due at the start (the window ends a millisecond past it)."""
    if settings.precision == "minute":
        return 1
    return (settings.scheduleMinutes * 60 + WINDOW_SLACK_SECONDS) * 1000


def catch_up_budget_ms(settings: Settings) -> int:
    """How long after its start a run may start a new page of its catch-up: half its interval."""
    return settings.scheduleMinutes * 30_000


def substitutions(
    settings: Settings, *, table_name: str, publish_function_arn: str, arrivals_function_arn: str
) -> dict[str, str]:
    """The ``${...}`` keys of ``statemachine/dispatcher.asl.json``, for AWS and the local cloud alike.

    ``arrivals_function_arn``: the arrivals (rewind) function, which a run starts sweeping the table when it finds
    the bucket width changed."""
    return {
        "JobsTableName": table_name,
        "PublishFunctionArn": publish_function_arn,
        "ArrivalsFunctionArn": arrivals_function_arn,
        "BucketMinutes": str(settings.bucketMinutes),
        "Shards": str(settings.shards),
        "PageSize": str(settings.pageSize),
        "MapConcurrency": str(settings.mapConcurrency),
        "DeleteRetries": str(settings.deleteRetries),
        "CatchUpBuckets": str(settings.catchUpBuckets),
        "CatchUpBudgetMs": str(catch_up_budget_ms(settings)),
        "LastPageAfterWindowMs": str(LAST_PAGE_AFTER_WINDOW_SECONDS * 1000),
        "DeleteBatch": str(DELETE_BATCH),
        # A page's deletes all at once: 1,000 keys are 40 BatchWriteItem requests.
        "DeleteConcurrency": str(min(MAX_DELETE_CONCURRENCY, -(-settings.pageSize // DELETE_BATCH))),
        "LookAheadMs": str(look_ahead_ms(settings)),
        "LateWriteGraceMs": str(LATE_WRITE_GRACE_MS),
        "LatenessZeros": json.dumps([0] * len(lateness.EDGES_MS)),
        "MetricsNamespace": metrics.NAMESPACE,
        "BacklogMetricName": metrics.OLDEST_BUCKET_AGE_SECONDS,
    }


def publish_environment(
    settings: Settings, *, table_name: str, bus_name: str, dead_letter_table_name: str
) -> dict[str, str]:
    """Environment variables of the publish function."""
    return {
        "JOBS_TABLE_NAME": table_name,
        "DEAD_LETTER_TABLE_NAME": dead_letter_table_name,
        "MAX_ATTEMPTS": str(settings.maxAttempts),
        "EVENT_BUS_NAME": bus_name,
        "EVENT_SOURCE": settings.eventSource,
        "PUBLISH_RETRIES": str(settings.publishRetries),
        "BUCKET_MINUTES": str(settings.bucketMinutes),
        "SHARDS": str(settings.shards),
        "POWERTOOLS_SERVICE_NAME": "onthedot",
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": settings.logLevel,
    }


def rewind_environment(settings: Settings, table_name: str, dead_letter_table_name: str = "") -> dict[str, str]:
    """Environment variables of the rewind (arrivals) function; it dead-letters jobs whose keys cannot be read
    only once it is given the dead-letter table."""
    return {
        "JOBS_TABLE_NAME": table_name,
        "BUCKET_MINUTES": str(settings.bucketMinutes),
        "SHARDS": str(settings.shards),
        "CATCH_UP_BUCKETS": str(settings.catchUpBuckets),
        **({"DEAD_LETTER_TABLE_NAME": dead_letter_table_name} if dead_letter_table_name else {}),
        "POWERTOOLS_SERVICE_NAME": "onthedot",
        "POWERTOOLS_LOG_LEVEL": settings.logLevel,
    }


def render_definition(values: Mapping[str, str], path: Path = DEFINITION_PATH) -> str:
    """The definition text with ``${Key}`` replaced, as CloudFormation's DefinitionSubstitutions does."""
    text = path.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    leftover = re.findall(r"\$\{(\w+)\}", text)
    if leftover:
        raise SettingsError(f"definition keys without a value: {', '.join(sorted(set(leftover)))}")
    return text
