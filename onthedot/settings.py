"""The tuning knobs, read once from ``cdk.json`` context (or a plain mapping) and validated.

Every knob reaches the definition through ``definition_substitutions`` (``substitutions``) and the publish
function through environment variables (``publish_environment``). The stack and the local cloud both call
these two functions, so AWS and the local cloud are configured the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

DEFINITION_PATH = Path(__file__).resolve().parent.parent / "statemachine" / "dispatcher.asl.json"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
METRICS_NAMESPACE = "onthedot"  # the functions' (Powertools) and the dispatcher's own metrics
_EVENT_SOURCE = re.compile(r"^[A-Za-z0-9._\-/]{1,256}$")


class SettingsError(ValueError):
    """A knob with a value outside its documented range."""


@dataclass(frozen=True)
class Settings:
    """Knobs with their defaults; the names are the ``cdk.json`` context keys."""

    scheduleMinutes: int = 1
    bucketMinutes: int = 5
    pageSize: int = 100
    mapConcurrency: int = 2
    publishRetries: int = 3
    deleteRetries: int = 5
    catchUpBuckets: int = 12
    maxAttempts: int = 5
    eventSource: str = "onthedot"
    logLevel: str = "INFO"

    # (minimum, maximum) for each integer knob, with why where it is not obvious.
    RANGES = {
        "scheduleMinutes": (1, 60),
        # A bucket must divide an hour so that bucket starts fall on the same minutes every hour.
        "bucketMinutes": (1, 60),
        # A page travels between states as keys only; 1,000 keys stay far below 256 KB.
        "pageSize": (1, 1000),
        "mapConcurrency": (1, 40),
        "publishRetries": (0, 10),
        "deleteRetries": (0, 10),
        # Buckets one run drains, the previous and the current included: how fast an outage is caught up.
        "catchUpBuckets": (2, 288),
        # Runs that may fail to publish a job before it goes to the dead letter.
        "maxAttempts": (1, 100),
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
                f"({self.bucketMinutes}): a run drains only the previous and the current bucket"
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
        if self.logLevel not in LOG_LEVELS:
            raise SettingsError(f"context 'logLevel' must be one of {', '.join(LOG_LEVELS)}, got {self.logLevel!r}")

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
            values[field.name] = raw
        return cls(**values)

    @classmethod
    def knob_names(cls) -> list[str]:
        return [field.name for field in fields(cls)]


def substitutions(settings: Settings, *, table_name: str, publish_function_arn: str) -> dict[str, str]:
    """The ``${...}`` keys of ``statemachine/dispatcher.asl.json``, for AWS and the local cloud alike."""
    return {
        "JobsTableName": table_name,
        "PublishFunctionArn": publish_function_arn,
        "BucketMinutes": str(settings.bucketMinutes),
        "PageSize": str(settings.pageSize),
        "MapConcurrency": str(settings.mapConcurrency),
        "DeleteRetries": str(settings.deleteRetries),
        "CatchUpBuckets": str(settings.catchUpBuckets),
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
        "POWERTOOLS_SERVICE_NAME": "onthedot",
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": settings.logLevel,
    }


def rewind_environment(settings: Settings, table_name: str) -> dict[str, str]:
    """Environment variables of the rewind function."""
    return {
        "JOBS_TABLE_NAME": table_name,
        "BUCKET_MINUTES": str(settings.bucketMinutes),
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
