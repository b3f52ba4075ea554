"""The caller's input turned into checked values: times, delays, ids, keys, details, detail types, page sizes.

Every check raises ``InvalidJob`` naming the field (with the caller's prefix, such as ``requests[3].``), before
anything is written. A detail is checked as the publish function will check it, so a job that is accepted here
can be published.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from onthedot.core.errors import InvalidJob
from onthedot.core.items import dump_value
from onthedot.core.jobs import (
    DETAIL,
    DETAIL_TYPE,
    KEY_PK_PREFIX,
    SERIES_PK_PREFIX,
    SERIES_SK,
    SK,
    PoisonJob,
    check_detail,
    check_detail_type,
    event_entry,
)
from onthedot.core.keys import MAX_SHARDS, KeyFormatError, due_of, new_job_id

MAX_KEY_LENGTH = 512
MAX_KEY_BYTES = 2048 - len(KEY_PK_PREFIX)  # DynamoDB's limit on a partition key value
MAX_PAGE = 1000
_TABLE_NAME = re.compile(r"(?:arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/)?[A-Za-z0-9_.-]{3,255}")
_BUCKET_WIDTHS = frozenset(minutes for minutes in range(1, 61) if 60 % minutes == 0)
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
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in the year 0 in UTC, 9999-12-31T23:59-01:00 in 10000
        raise InvalidJob(field, f"{value.isoformat()} is outside the years 1 to 9999 in UTC") from None


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


def job_due(job_id: Any) -> datetime:
    """The due time the job id the caller gave carries."""
    if not isinstance(job_id, str):
        raise InvalidJob("job_id", f"must be a string, got {type(job_id).__name__}")
    try:
        return due_of(job_id)
    except KeyFormatError as error:
        raise InvalidJob("job_id", str(error)) from None
    except OverflowError:  # a UUIDv7 timestamp reaches the year 10889
        raise InvalidJob("job_id", f"{job_id!r} carries a due time after the year 9999") from None


def series_key_of(series_id: Any) -> tuple[str, str]:
    """``(pk, sk)`` of the series with the id the caller gave."""
    if not isinstance(series_id, str) or not series_id or len(series_id) > MAX_KEY_LENGTH:
        raise InvalidJob("series_id", f"must be a string of 1 to {MAX_KEY_LENGTH} characters")
    return SERIES_PK_PREFIX + series_id, SERIES_SK


def check_key(field: str, key: Any) -> None:
    """An idempotency key: a string DynamoDB can hold in a partition key."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
        raise InvalidJob(field, f"must be a string of 1 to {MAX_KEY_LENGTH} characters")
    if key.isspace() or not key.isprintable():
        raise InvalidJob(field, f"must be printable text, not blank, got {key!r}")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidJob(field, f"must be at most {MAX_KEY_BYTES} bytes in UTF-8")


def check_table_name(field: str, name: Any) -> None:
    """A DynamoDB table name (3-255 of a-z, A-Z, 0-9, ``_``, ``-``, ``.``) or a table's ARN."""
    if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
        raise InvalidJob(field, f"must be a DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .) or ARN, got {name!r}")


def is_bucket_width(minutes: Any) -> bool:
    """A bucket width: a whole number of minutes that divides an hour."""
    return not isinstance(minutes, bool) and isinstance(minutes, (int, Decimal)) and minutes in _BUCKET_WIDTHS


def check_bucket_minutes(minutes: Any) -> None:
    if not is_bucket_width(minutes):
        raise InvalidJob("bucket_minutes", f"must be a whole number of minutes that divides 60, got {minutes!r}")


def is_shards(shards: Any) -> bool:
    """A number of shards: a whole number from 1 to ``MAX_SHARDS`` (the ``shards`` knob's range)."""
    numeric = not isinstance(shards, bool) and isinstance(shards, (int, Decimal))
    return numeric and shards % 1 == 0 and 1 <= shards <= MAX_SHARDS


def check_shards(shards: Any) -> None:
    if not isinstance(shards, int) or not is_shards(shards):
        raise InvalidJob("shards", f"must be a whole number from 1 to {MAX_SHARDS}, got {shards!r}")


def check_limit(limit: Any) -> None:
    """A page size: a whole number from 1 to ``MAX_PAGE``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidJob("limit", f"must be a whole number from 1 to {MAX_PAGE}, got {limit!r}")


# -- what a job carries ---------------------------------------------------------------------------------------------


def check_content(prefix: str, detail_type: Any, detail: Any, sk: str) -> dict[str, Any]:
    """The detail as it is stored (numbers as Decimal), after the checks the publish function makes: its rules
    (``onthedot.core.jobs``, used by ``event_entry``) are the one definition of what can be published."""
    try:
        check_detail_type(detail_type)
        check_detail(detail)  # also bounds the depth before anything else walks the detail
        stored = _stored(detail, "detail")
        dump_value(stored)
        event_entry({SK: sk, DETAIL_TYPE: detail_type, DETAIL: stored}, source=VALIDATION_SOURCE, bus_name="")
    except PoisonJob as error:
        raise InvalidJob(prefix + error.field, error.reason) from None
    except ArithmeticError:  # decimal's traps: too many digits, or a magnitude DynamoDB cannot store
        raise InvalidJob(
            prefix + "detail", "holds a number DynamoDB cannot store (38 significant digits, 1E-130 to 1E+125)"
        ) from None
    except (TypeError, ValueError) as error:
        raise InvalidJob(prefix + "detail", str(error)) from None
    return stored


def _stored(value: Any, where: str) -> Any:
    """A JSON value as DynamoDB stores it: numbers become Decimal (floats through their shortest repr)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, Mapping):
        return {name: _stored(item, f"{where}.{name}") for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stored(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise ValueError(f"{where} is a {type(value).__name__}, which is not a JSON value")
