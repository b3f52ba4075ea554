"""Key math: the one Python source of truth for partition and sort keys.

A job lives at ``pk = j#<bucket start>`` and ``sk = <due time>#<job id>``, all times UTC. The bucket is the due
time floored to ``bucket_minutes``. The dispatcher's Plan state computes the same keys in JSONata; the tests
hold the two to the same vectors.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

PK_PREFIX = "j#"
SK_SEPARATOR = "#"
DEFAULT_BUCKET_MINUTES = 5


class KeyFormatError(ValueError):
    """A key or time that does not have the shape onthedot writes."""


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise KeyFormatError(f"datetime {moment.isoformat()} has no time zone; give an aware datetime")
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``: millisecond precision, so that strings sort as instants do."""
    return utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 instant with an offset or ``Z``."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise KeyFormatError(f"{text!r} is not an ISO 8601 time") from error
    return utc(moment)


def bucket_start(moment: datetime, bucket_minutes: int = DEFAULT_BUCKET_MINUTES) -> datetime:
    """The start of the bucket holding ``moment``: floored to ``bucket_minutes`` since the epoch."""
    moment = utc(moment)
    epoch_minutes = int(moment.timestamp() // 60)
    return datetime.fromtimestamp((epoch_minutes - epoch_minutes % bucket_minutes) * 60, UTC)


def partition_key(moment: datetime, bucket_minutes: int = DEFAULT_BUCKET_MINUTES) -> str:
    """``j#YYYY-MM-DDTHH:MM`` of the bucket holding ``moment``."""
    return PK_PREFIX + bucket_start(moment, bucket_minutes).strftime("%Y-%m-%dT%H:%M")


def sort_key(due: datetime, job_id: str) -> str:
    """``<due time>#<job id>``: sorts by due time, unique per job."""
    if not job_id or SK_SEPARATOR in job_id:
        raise KeyFormatError(f"job id {job_id!r} must be non-empty and must not contain {SK_SEPARATOR!r}")
    return f"{format_time(due)}{SK_SEPARATOR}{job_id}"


def parse_sort_key(sk: str) -> tuple[datetime, str]:
    """``(due time, job id)`` from a sort key."""
    due_text, separator, job_id = sk.partition(SK_SEPARATOR)
    if not separator or not job_id:
        raise KeyFormatError(f"sort key {sk!r} is not <due time>#<job id>")
    return parse_time(due_text), job_id


def partitions_to_drain(now: datetime, bucket_minutes: int = DEFAULT_BUCKET_MINUTES) -> list[str]:
    """The partitions one dispatcher run drains at ``now``: the previous bucket, then the current one."""
    current = bucket_start(now, bucket_minutes)
    previous = current - timedelta(minutes=bucket_minutes)
    return [partition_key(previous, bucket_minutes), partition_key(current, bucket_minutes)]
