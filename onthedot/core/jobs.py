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
import math
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from onthedot.core.keys import KeyFormatError, due_of, parse_sort_key, parse_time

PK = "pk"
SK = "sk"
DETAIL = "detail"
DETAIL_TYPE = "detail_type"

JOB_RESOURCE_PREFIX = "onthedot:job/"
MAX_EVENT_BYTES = 256 * 1024
MAX_DETAIL_TYPE_LENGTH = 128
MAX_DETAIL_DEPTH = 32  # DynamoDB nests documents at most 32 levels deep
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1  # PutEvents refuses integers in Detail outside this range
# Not in a detail-type: control characters (one fails a whole PutEvents request), line and paragraph separators,
# lone surrogates (not UTF-8).
_CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})


class PoisonJob(ValueError):
    """A job that can never be published as it stands (the reason is the message).

    ``field`` names the attribute at fault (``sk``, ``detail_type`` or ``detail``) and ``reason`` says why
    without naming it: the client turns both into ``InvalidJob``.
    """

    def __init__(self, message: str, field: str = DETAIL, reason: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.reason = message if reason is None else reason


def _poison(field: str, reason: str) -> PoisonJob:
    return PoisonJob(f"'{field}' {reason}", field, reason)


def job_resource(job_id: str) -> str:
    return JOB_RESOURCE_PREFIX + job_id


def job_id_of(event: Mapping[str, Any]) -> str:
    """The job id of an event onthedot published: the key a worker deduplicates on."""
    for resource in event.get("resources", []):
        if resource.startswith(JOB_RESOURCE_PREFIX):
            return str(resource[len(JOB_RESOURCE_PREFIX) :])
    raise ValueError("event carries no onthedot job id (resources has no 'onthedot:job/...')")


def due_time_of(event: Mapping[str, Any]) -> datetime:
    """The due time of an event onthedot published: to the millisecond from an onthedot job id (a UUIDv7 carries
    it), else the event's ``time`` (EventBridge keeps whole seconds)."""
    try:
        return due_of(job_id_of(event))
    except (KeyFormatError, ValueError):
        return parse_time(str(event["time"]).replace("Z", "+00:00"))


def event_entry(item: Mapping[str, Any], *, source: str, bus_name: str) -> tuple[dict[str, Any], datetime]:
    """The PutEvents entry for a job item (plain Python values), and the job's due time.

    Raises ``PoisonJob`` for an item that no retry can publish.
    """
    try:
        due, job_id = parse_sort_key(str(item.get(SK, "")))
    except ValueError as error:
        raise PoisonJob(f"unparseable sort key: {error}", SK) from None
    detail_type = check_detail_type(item.get(DETAIL_TYPE))
    detail = item.get(DETAIL, {})
    check_detail(detail)
    try:
        detail_json = json.dumps(detail, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_number)
    except (TypeError, ValueError) as error:
        raise _poison(DETAIL, f"cannot be encoded as JSON: {error}") from None
    entry = {
        "Source": source,
        "DetailType": detail_type,
        "Detail": detail_json,
        "Time": due,
        "Resources": [job_resource(job_id)],
        "EventBusName": bus_name,
    }
    try:
        size = entry_size(entry)
    except UnicodeEncodeError:  # a lone surrogate: only Python callers can make one, DynamoDB holds UTF-8
        raise _poison(DETAIL, "holds text that is not valid Unicode (a lone surrogate)") from None
    if size > MAX_EVENT_BYTES:
        raise PoisonJob(f"event is {size} bytes, over EventBridge's {MAX_EVENT_BYTES}")
    return entry, due


# -- what EventBridge (and DynamoDB) refuse: the client checks a job with the same rules before writing it ----------


def check_detail_type(detail_type: Any) -> str:
    """The detail-type, if EventBridge takes it and a worker can route on it; ``PoisonJob`` says why not."""
    if not isinstance(detail_type, str) or not 0 < len(detail_type) <= MAX_DETAIL_TYPE_LENGTH:
        raise _poison(DETAIL_TYPE, f"must be a string of 1 to {MAX_DETAIL_TYPE_LENGTH} characters")
    if detail_type.isspace():
        raise _poison(DETAIL_TYPE, "must not be blank")
    bad = next((c for c in detail_type if unicodedata.category(c) in _CONTROL_CATEGORIES), None)
    if bad is not None:
        raise _poison(DETAIL_TYPE, f"must not hold control characters, found {bad!r}")
    return detail_type


def check_detail(detail: Any) -> None:
    """A detail EventBridge and DynamoDB both take: a map, string keys that are not empty, at most
    ``MAX_DETAIL_DEPTH`` levels deep, integers within 64 bits; ``PoisonJob`` names where it is not."""
    if not isinstance(detail, Mapping):
        raise _poison(DETAIL, f"must be a map (a JSON object), got {type(detail).__name__}")
    _check_value(detail, DETAIL, 1)


def _check_value(value: Any, where: str, depth: int) -> None:
    if depth > MAX_DETAIL_DEPTH:  # checked before going deeper, so no input can exhaust the stack
        raise _poison(DETAIL, f"is nested deeper than {MAX_DETAIL_DEPTH} levels (at {_short(where)})")
    if isinstance(value, Mapping):
        for name, item in value.items():
            if not isinstance(name, str) or not name:
                raise _poison(DETAIL, f"has the key {name!r} at {_short(where)}: keys must be non-empty strings")
            _check_value(item, f"{where}.{name}", depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            _check_value(item, f"{where}[{index}]", depth + 1)
    elif isinstance(value, (float, Decimal)) and not _finite(value):
        raise _poison(DETAIL, f"holds {value} at {_short(where)}, which JSON cannot hold")
    elif _wide_integer(value):
        raise _poison(
            DETAIL, f"holds {value} at {_short(where)}, an integer outside the 64-bit range EventBridge takes"
        )


def _wide_integer(value: Any) -> bool:
    """An integer beyond 64 bits (a fraction goes out as a float, which EventBridge takes)."""
    numeric = isinstance(value, (int, Decimal)) and not isinstance(value, bool)
    return numeric and not _INT64_MIN <= value <= _INT64_MAX and value == int(value)


def _finite(value: float | Decimal) -> bool:
    return value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)


def _short(where: str, width: int = 80) -> str:
    return where if len(where) <= width else where[: width - 1] + "…"


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

# A dispatcher run's summary: pk = RUN_PK, sk = <run time>, the Summarize counts, EXPIRES_AT, and
RUN_PK = "run"
RUN_LATENESS = "lateness"  # a list: the jobs published, by lateness bin (onthedot.core.lateness.EDGES_MS)
RUN_LATENESS_MAX_MS = "latenessMaxMs"  # the latest of them, in milliseconds
# The Summarize counts (N), as the dispatcher's Record run state writes them:
RUN_DUE = "due"  # keys the run's queries found
RUN_PUBLISHED = "published"  # events EventBridge accepted, occurrences of series included
RUN_FAILED = "failed"  # entries EventBridge refused: left for a later run
RUN_MISSING = "missing"  # keys whose item was gone when the publish function read it
RUN_DELETED = "deleted"  # jobs deleted once published or dead-lettered
RUN_ADVANCED = "advanced"  # occurrences replaced by their series' next one
RUN_UNDELETED = "undeleted"  # published but not deleted or replaced: a later run publishes them again
RUN_DEAD_LETTERED = "deadLettered"  # jobs moved to the dead letter
RUN_NOT_DUE = "notDue"  # handed to the publish function before their due time and left for a later tick
RUN_BACKLOG_BUCKETS = "backlogBuckets"  # buckets the cursor was behind when the run started
RUN_PARTITIONS = "partitions"  # partitions the catch-up drained
RUN_TICKS = "ticks"  # ticks the run made over its window
RUN_PAUSED = "paused"  # partitions left at the run's deadline with pages still to read

# -- attempts and the dead letter (issue #4) ------------------------------------------------------------------
ATTEMPTS = "attempts"  # on a job: runs that failed to publish it
LAST_ERROR = "last_error"  # on a job: why the last attempt failed
LAST_FAILED_RUN = "last_failed_run"  # on a job: the run (its time) that last counted an attempt
ORIGINAL_DUE = "original_due"  # on a job typed long ago and re-filed into the cursor's bucket: the due time typed
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
CURSOR_BUCKET_MINUTES = "bucket_minutes"  # the bucket width in force (N): every writer keys jobs with it
CURSOR_SHARDS = "shards"  # the shards a bucket is spread over (N, absent: 1): every writer keys jobs with it
# The window of due times the last run claimed ([start, end), ISO): a run claims the next one with a
# compare-and-set on the end it read, so no two runs publish the same window.
CURSOR_WINDOW_START = "window_start"
CURSOR_WINDOW_END = "window_end"

# The key schema of the jobs and dead-letter tables (as boto3's create_table takes it; the stack says the same).
TABLE_KEYS = {
    "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
    "AttributeDefinitions": [{"AttributeName": PK, "AttributeType": "S"}, {"AttributeName": SK, "AttributeType": "S"}],
}
