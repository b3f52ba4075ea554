"""The job item and the event a worker receives: attribute names and shapes, named once.

A job item (DynamoDB, the original design's shape, still valid when typed by hand)::

    {"pk": "j#2026-02-09T11:30", "sk": "2026-02-09T11:33:00.000Z#<job id>",
     "detail": {...}, "detail_type": "reminder"}

The event a worker receives on the bus (``detail-type`` and ``detail`` unchanged from the job)::

    {"source": "onthedot", "detail-type": "reminder", "detail": {...},
     "time": "2026-02-09T11:33:00Z",                       # the due time (EventBridge keeps seconds)
     "resources": ["onthedot:job/<job id>"]}                # the job id: the idempotency key
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from onthedot.keys import parse_sort_key

PK = "pk"
SK = "sk"
DETAIL = "detail"
DETAIL_TYPE = "detail_type"

JOB_RESOURCE_PREFIX = "onthedot:job/"
MAX_EVENT_BYTES = 256 * 1024
MAX_DETAIL_TYPE_LENGTH = 128
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1  # PutEvents refuses integers in Detail outside this range


class PoisonJob(ValueError):
    """A job that can never be published as it stands (the reason is the message)."""


def job_resource(job_id: str) -> str:
    return JOB_RESOURCE_PREFIX + job_id


def job_id_of(event: Mapping[str, Any]) -> str:
    """The job id of an event onthedot published: the key a worker deduplicates on."""
    for resource in event.get("resources", []):
        if resource.startswith(JOB_RESOURCE_PREFIX):
            return str(resource[len(JOB_RESOURCE_PREFIX) :])
    raise ValueError("event carries no onthedot job id (resources has no 'onthedot:job/...')")


def event_entry(item: Mapping[str, Any], *, source: str, bus_name: str) -> tuple[dict[str, Any], datetime]:
    """The PutEvents entry for a job item (plain Python values), and the job's due time.

    Raises ``PoisonJob`` for an item that no retry can publish.
    """
    try:
        due, job_id = parse_sort_key(str(item.get(SK, "")))
    except ValueError as error:
        raise PoisonJob(f"unparseable sort key: {error}") from None
    detail_type = item.get(DETAIL_TYPE)
    if not isinstance(detail_type, str) or not 0 < len(detail_type) <= MAX_DETAIL_TYPE_LENGTH:
        raise PoisonJob(f"'{DETAIL_TYPE}' must be a string of 1 to {MAX_DETAIL_TYPE_LENGTH} characters")
    detail = item.get(DETAIL, {})
    if not isinstance(detail, Mapping):
        raise PoisonJob(f"'{DETAIL}' must be a map (a JSON object), got {type(detail).__name__}")
    try:
        detail_json = json.dumps(detail, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_number)
    except (TypeError, ValueError) as error:
        raise PoisonJob(f"'{DETAIL}' cannot be encoded as JSON: {error}") from None
    entry = {
        "Source": source,
        "DetailType": detail_type,
        "Detail": detail_json,
        "Time": due,
        "Resources": [job_resource(job_id)],
        "EventBusName": bus_name,
    }
    if entry_size(entry) > MAX_EVENT_BYTES:
        raise PoisonJob(f"event is {entry_size(entry)} bytes, over EventBridge's {MAX_EVENT_BYTES}")
    return entry, due


def entry_size(entry: Mapping[str, Any]) -> int:
    """PutEvents entry size as EventBridge counts it (UTF-8 bytes of the fields, 14 for Time)."""
    size = 14 if entry.get("Time") is not None else 0
    for field in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(field, "")).encode("utf-8"))
    size += sum(len(resource.encode("utf-8")) for resource in entry.get("Resources", []))
    return size


def _number(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal: integral ones become int, the rest float; sets become lists."""
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            return float(value)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"integer {value} is outside the 64-bit range EventBridge accepts")
        return int(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# -- items beyond the original shape (issue #3) ---------------------------------------------------------------
# A job item may also hold:
CREATED_AT = "created_at"  # ISO time the job was scheduled
IDEMPOTENCY_KEY = "idempotency_key"  # the caller's key, when one was given
SERIES = "series"  # on an occurrence of a recurring job: the series id; detail and detail_type live there
OCCURRENCE = "occurrence"  # 1-based number of the occurrence within its series

# A recurring job (a series): pk = SERIES_PK_PREFIX + <series id>, sk = SERIES_SK, with DETAIL, DETAIL_TYPE and
SERIES_PK_PREFIX = "series#"
SERIES_SK = "series"
CRON = "cron"  # 5-field cron expression, or absent
RATE = "rate"  # "15 minutes", "2 hours", "1 day", or absent
TIME_ZONE = "tz"  # IANA name the rule is read in
STARTS_AT = "starts_at"  # ISO: no occurrence before it
ENDS_AT = "ends_at"  # ISO: no occurrence after it (optional)
LIMIT = "limit"  # at most this many occurrences (optional)
FIRED = "fired"  # occurrences published so far
CURRENT = "current"  # sk of the pending occurrence (absent once the series has ended)

# An idempotency key: pk = KEY_PK_PREFIX + <key>, sk = KEY_SK, with JOB_ID (or SERIES) and EXPIRES_AT.
KEY_PK_PREFIX = "key#"
KEY_SK = "key"
JOB_ID = "job_id"
EXPIRES_AT = "expires_at"  # epoch seconds; the table's TTL attribute

# A dispatcher run's summary: pk = RUN_PK, sk = <run time>, the Summarize counts, EXPIRES_AT.
RUN_PK = "run"

# -- attempts and the dead letter (issue #4) ------------------------------------------------------------------
ATTEMPTS = "attempts"  # on a job: runs that failed to publish it
LAST_ERROR = "last_error"  # on a job: why the last attempt failed
# A dead-lettered job, in the dead-letter table: pk = DEAD_PK, sk = the job's sk, with
DEAD_PK = "dlq"
JOB = "job"  # the job item as it was (a map)
REASON = "reason"  # why it was dead-lettered
DEAD_AT = "dead_at"  # ISO time it was dead-lettered
# The dead letter's size, kept by whoever adds or removes dead letters: pk = SIZE_PK, sk = SIZE_SK, SIZE.
SIZE_PK = "meta"
SIZE_SK = "size"
SIZE = "size"

# The dispatcher's cursor, in the jobs table: the oldest bucket that may still hold due jobs (its pk).
CURSOR_PK = "cursor"
CURSOR_SK = "dispatcher"
CURSOR_BUCKET = "bucket"

# The key schema of the jobs and dead-letter tables (as boto3's create_table takes it; the stack says the same).
TABLE_KEYS = {
    "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
    "AttributeDefinitions": [{"AttributeName": PK, "AttributeType": "S"}, {"AttributeName": SK, "AttributeType": "S"}],
}
