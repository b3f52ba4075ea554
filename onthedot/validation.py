"""The caller's input turned into checked values: times, delays, ids, keys, details, detail types, page sizes.

Every check raises ``InvalidJob`` naming the field (with the caller's prefix, such as ``requests[3].``), before
anything is written. A detail is checked as the publish function will check it, so a job that is accepted here
can be published.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from onthedot.errors import InvalidJob
from onthedot.items import dump_value
from onthedot.jobs import (
    DETAIL,
    DETAIL_TYPE,
    KEY_PK_PREFIX,
    MAX_DETAIL_TYPE_LENGTH,
    SERIES_PK_PREFIX,
    SERIES_SK,
    SK,
    PoisonJob,
    event_entry,
)
from onthedot.keys import KeyFormatError, job_key, new_job_id

MAX_KEY_LENGTH = 512
MAX_KEY_BYTES = 2048 - len(KEY_PK_PREFIX)  # DynamoDB's limit on a partition key value
MAX_DEPTH = 32  # DynamoDB nests documents at most 32 levels deep
MAX_PAGE = 1000
VALIDATION_SOURCE = "onthedot"  # the event size is checked with the default eventSource


# -- times ----------------------------------------------------------------------------------------------------------


def instant(field: str, value: Any) -> datetime:
    """An aware datetime, or an ISO 8601 string with an offset or Z, as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidJob(field, f"{value!r} is not an ISO 8601 time (e.g. 2026-02-09T11:33:00Z)") from None
    if not isinstance(value, datetime):
        raise InvalidJob(field, f"must be an aware datetime or an ISO 8601 string, got {type(value).__name__}")
    if value.utcoffset() is None:
        raise InvalidJob(field, f"{value.isoformat()} has no time zone: add an offset such as Z or +02:00")
    return value.astimezone(UTC)


def due_time(prefix: str, at: Any, delay: Any, now: datetime) -> datetime:
    """The due time of ``at`` or ``delay``, to the millisecond; a time in the past means now."""
    if at is not None and delay is not None:
        raise InvalidJob(prefix + "at", "give at or delay, not both")
    if at is None and delay is None:
        raise InvalidJob(prefix + "at", "give a due time: at (a time) or delay (from now)")
    if delay is not None:
        if not isinstance(delay, timedelta):
            raise InvalidJob(prefix + "delay", f"must be a timedelta, got {type(delay).__name__}")
        if delay < timedelta(0):
            raise InvalidJob(prefix + "delay", f"must not be negative, got {delay}")
        try:
            due = now + delay
        except OverflowError:
            raise InvalidJob(prefix + "delay", f"{delay} is too far in the future") from None
    else:
        due = instant(prefix + "at", at)
    return to_millisecond(max(due, now))


def to_millisecond(moment: datetime) -> datetime:
    """``moment`` truncated to the millisecond, as due times are kept."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# -- ids and keys ---------------------------------------------------------------------------------------------------


def new_id(due: datetime, field: str) -> str:
    """A fresh job id due at ``due``; InvalidJob on ``field`` for a time a job id cannot hold."""
    try:
        return new_job_id(due)
    except KeyFormatError as error:
        raise InvalidJob(field, str(error)) from None


def job_key_of(job_id: Any, bucket_minutes: int) -> tuple[str, str]:
    """``(pk, sk)`` of the job with the id the caller gave."""
    if not isinstance(job_id, str):
        raise InvalidJob("job_id", f"must be a string, got {type(job_id).__name__}")
    try:
        return job_key(job_id, bucket_minutes)
    except KeyFormatError as error:
        raise InvalidJob("job_id", str(error)) from None


def series_key_of(series_id: Any) -> tuple[str, str]:
    """``(pk, sk)`` of the series with the id the caller gave."""
    if not isinstance(series_id, str) or not series_id:
        raise InvalidJob("series_id", "must be a non-empty string")
    return SERIES_PK_PREFIX + series_id, SERIES_SK


def check_key(field: str, key: Any) -> None:
    """An idempotency key: a string DynamoDB can hold in a partition key."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH or len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidJob(field, f"must be a string of 1 to {MAX_KEY_LENGTH} characters")


def check_limit(limit: Any) -> None:
    """A page size: a whole number from 1 to ``MAX_PAGE``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidJob("limit", f"must be a whole number from 1 to {MAX_PAGE}, got {limit!r}")


# -- what a job carries ---------------------------------------------------------------------------------------------


def check_content(prefix: str, detail_type: Any, detail: Any, sk: str) -> dict[str, Any]:
    """The detail as it is stored (numbers as Decimal), after the checks the publish function makes."""
    if not isinstance(detail_type, str) or not 0 < len(detail_type) <= MAX_DETAIL_TYPE_LENGTH:
        raise InvalidJob(prefix + "detail_type", f"must be a string of 1 to {MAX_DETAIL_TYPE_LENGTH} characters")
    if not isinstance(detail, Mapping):
        raise InvalidJob(prefix + "detail", f"must be a JSON object (a mapping), got {type(detail).__name__}")
    try:
        stored = _stored(detail, "detail", 1)
        dump_value(stored)
        event_entry({SK: sk, DETAIL_TYPE: detail_type, DETAIL: stored}, source=VALIDATION_SOURCE, bus_name="")
    except ArithmeticError:  # decimal's traps: too many digits, or a magnitude DynamoDB cannot store
        raise InvalidJob(
            prefix + "detail", "holds a number DynamoDB cannot store (38 significant digits, 1E-130 to 1E+125)"
        ) from None
    except (PoisonJob, TypeError, ValueError) as error:
        raise InvalidJob(prefix + "detail", str(error)) from None
    return stored


def _stored(value: Any, where: str, depth: int) -> Any:
    """A JSON value as DynamoDB stores it: numbers become Decimal (floats through their shortest repr)."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where} is nested deeper than the {MAX_DEPTH} levels DynamoDB stores")
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}, which JSON cannot hold")
        return Decimal(str(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{where} is {value}, which JSON cannot hold")
        return value
    if isinstance(value, Mapping):
        result = {}
        for name, item in value.items():
            if not isinstance(name, str):
                raise ValueError(f"{where} has the key {name!r}: JSON object keys are strings")
            result[name] = _stored(item, f"{where}.{name}", depth + 1)
        return result
    if isinstance(value, (list, tuple)):
        return [_stored(item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value)]
    raise ValueError(f"{where} is a {type(value).__name__}, which is not a JSON value")
