"""Stored items and the API's handles: DynamoDB's typed values in and out, and items read back as models.

``dump``/``load`` convert between plain items (numbers as Decimal) and DynamoDB's typed JSON; ``plain`` turns a
stored value into JSON-ready Python. ``job_from_item``, ``series_from_item`` and ``dead_letter_from_item`` build
the handles of ``onthedot.core.models`` from items as this package and the publish function write them (attribute
names from ``onthedot.core.jobs``), tolerating the odd shapes a hand-written or poison job may have.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from onthedot.core.jobs import (
    ATTEMPTS,
    CREATED_AT,
    CURRENT,
    DEAD_AT,
    DETAIL,
    DETAIL_TYPE,
    FIRED,
    JOB,
    PK,
    REASON,
    SERIES,
    SERIES_PK_PREFIX,
    SK,
)
from onthedot.core.keys import SK_SEPARATOR, KeyFormatError, parse_sort_key, parse_time
from onthedot.core.models import DeadLetter, Job, Series
from onthedot.core.recurrence import Rule

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


# -- DynamoDB's typed values ----------------------------------------------------------------------------------------


def dump(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain item (numbers as Decimal) as DynamoDB's typed JSON."""
    return {name: _serializer.serialize(value) for name, value in item.items()}


def dump_value(value: Any) -> dict[str, Any]:
    """One plain value as DynamoDB's typed JSON; raises what boto3 raises for a value DynamoDB cannot store."""
    return _serializer.serialize(value)


def dump_key(pk: str, sk: str) -> dict[str, Any]:
    """The typed ``Key`` of the item at ``pk``/``sk``."""
    return dump({PK: pk, SK: sk})


def load(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item of DynamoDB's typed JSON as plain values (numbers as Decimal)."""
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def plain(value: Any) -> Any:
    """A stored value as plain JSON-ready Python: Decimal to int or float, sets to sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(name): plain(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(item) for item in value)
    if isinstance(value, Binary):
        return base64.b64encode(value.value).decode()
    return value


def time_or_none(value: Any) -> datetime | None:
    """A stored time, or None when it is absent or does not parse."""
    try:
        return parse_time(str(value)) if value is not None else None
    except KeyFormatError:
        return None


# -- items as handles -----------------------------------------------------------------------------------------------


def job_from_item(item: Mapping[str, Any], series_item: Mapping[str, Any] | None = None) -> Job:
    """The handle of a job item. An occurrence of a series (``series`` set) takes its detail from
    ``series_item``, the series' own item (None when the series is gone), and its detail type too if it has none.
    """
    due, job_id = parse_sort_key(str(item[SK]))
    detail: Any = item.get(DETAIL, {})
    detail_type = item.get(DETAIL_TYPE)
    series_id = item.get(SERIES)
    if series_id is not None:
        series_id = str(series_id)
        series_item = series_item or {}
        detail = series_item.get(DETAIL, {})
        detail_type = detail_type or series_item.get(DETAIL_TYPE)
    return Job(
        id=job_id,
        due=due,
        detail_type=_text(detail_type),
        detail=plain(detail) if isinstance(detail, Mapping) else {},
        series=series_id,
        created_at=time_or_none(item.get(CREATED_AT)),
    )


def series_from_item(item: Mapping[str, Any], pending_item: Mapping[str, Any] | None) -> Series:
    """The series handle; ``pending_item`` (the occurrence's own item) gives its ``created_at``."""
    rule = Rule.from_item(item)
    series_id = str(item[PK])[len(SERIES_PK_PREFIX) :]
    detail = plain(item.get(DETAIL, {}))
    detail_type = str(item.get(DETAIL_TYPE, ""))
    current = item.get(CURRENT)
    pending = None
    if current is not None:
        due, job_id = parse_sort_key(str(current))
        created_at = time_or_none(pending_item.get(CREATED_AT)) if pending_item is not None else None
        pending = Job(job_id, due, detail_type, detail, series=series_id, created_at=created_at)
    return Series(
        id=series_id,
        detail_type=detail_type,
        detail=detail,
        cron=rule.cron,
        rate=rule.rate,
        tz=rule.tz,
        starts_at=rule.starts_at,
        ends_at=rule.ends_at,
        limit=rule.limit,
        fired=int(item.get(FIRED, 0)),
        next=pending,
    )


def dead_letter_from_item(item: Mapping[str, Any]) -> DeadLetter:
    """The handle of a dead letter (an item of the dead-letter table, the job item as it was under ``job``)."""
    sk = str(item[SK])
    job = item.get(JOB)
    job_item: Mapping[str, Any] = job if isinstance(job, Mapping) else {}
    try:
        due: datetime | None
        due, job_id = parse_sort_key(sk)
    except KeyFormatError:
        due, job_id = None, sk.partition(SK_SEPARATOR)[2] or sk
    attempts = item.get(ATTEMPTS, job_item.get(ATTEMPTS, 0))
    series = job_item.get(SERIES)
    return DeadLetter(
        job_id=job_id,
        due=due,
        detail_type=_text(job_item.get(DETAIL_TYPE)),
        detail=plain(job_item.get(DETAIL, {})),
        reason=str(item.get(REASON, "")),
        attempts=int(attempts) if isinstance(attempts, (int, Decimal)) else 0,
        dead_at=time_or_none(item.get(DEAD_AT)),
        sk=sk,
        series=str(series) if series is not None else None,
    )


def _text(value: Any) -> str:
    return str(value) if value is not None else ""
