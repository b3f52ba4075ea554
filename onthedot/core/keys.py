"""Key math: the one Python source of truth for partition and sort keys.

A job lives at ``pk = j#<bucket start>`` and ``sk = <due time>#<job id>``, all times UTC. The bucket is the due
time floored to ``bucket_minutes``. The dispatcher's Plan state computes the same keys in JSONata; the tests
hold the two to the same vectors.

With ``shards`` > 1 a bucket is spread over that many partitions, so that DynamoDB's 1,000 writes a second per
partition cap neither scheduling nor deleting the jobs of a busy second: shard 0 is ``j#<bucket start>`` (the
original item format is shard 0 whatever the knob says), shard ``n`` is ``j#<bucket start>#<n>``. A job's shard
follows from its id (``shard_of``), so writing it twice writes the same item.

Job ids are UUIDv7 values (RFC 9562) whose 48-bit millisecond timestamp is the job's *due time*, so the id
alone gives the item's key (``job_key``): get, cancel and reschedule are single key operations. A rescheduled
job keeps its 74 random bits under a new timestamp (``with_due``).
"""

from __future__ import annotations

import re
import secrets
import uuid
import zlib
from datetime import UTC, datetime, timedelta, timezone

PK_PREFIX = "j#"
SK_SEPARATOR = "#"
DEFAULT_BUCKET_MINUTES = 5
# A job id typed by hand may be any text without "#", up to this many bytes: the dispatcher carries a page of up to
# 1,000 sort keys from state to state, and 1,000 keys of at most 125 bytes stay far below Step Functions' 256 KB.
MAX_JOB_ID_BYTES = 100
MAX_SHARDS = 100  # the shards knob's maximum (onthedot.deploy.settings)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_TIMESTAMP_BITS = 48
_RANDOM_BITS = 74  # rand_a (12) and rand_b (62); the version (4) and variant (2) bits sit between them
_RANDOM_A_BITS = 12
_RANDOM_B_BITS = 62


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


def partition_key(moment: datetime, bucket_minutes: int = DEFAULT_BUCKET_MINUTES, shard: int = 0) -> str:
    """``j#YYYY-MM-DDTHH:MM`` of the bucket holding ``moment``, with ``#<shard>`` after it for shards past 0."""
    bucket = PK_PREFIX + bucket_start(moment, bucket_minutes).isoformat()[:16]  # strftime drops zeros before 1000
    return shard_key(bucket, shard)


def shard_key(bucket_key: str, shard: int) -> str:
    """The partition key of ``shard`` of the bucket whose (shard 0) key is ``bucket_key``."""
    return bucket_key if shard == 0 else f"{bucket_key}{SK_SEPARATOR}{shard}"


def shard_of(job_id: str, shards: int) -> int:
    """The shard a job is written to: the same for the same id on every writer (CRC-32 of the id)."""
    return 0 if shards <= 1 else zlib.crc32(job_id.encode()) % shards


def split_partition_key(pk: str) -> tuple[str, int]:
    """``(bucket key, shard)`` of a partition key ``j#<bucket>`` or ``j#<bucket>#<shard>``."""
    bucket, separator, shard = pk[len(PK_PREFIX) :].partition(SK_SEPARATOR)
    if not separator:
        return pk, 0
    if not shard.isdigit() or shard != str(int(shard)) or int(shard) == 0:
        raise KeyFormatError(f"partition key {pk!r}: {shard!r} is not a shard number")
    return PK_PREFIX + bucket, int(shard)


def sort_key(due: datetime, job_id: str) -> str:
    """``<due time>#<job id>``: sorts by due time, unique per job."""
    if not job_id or SK_SEPARATOR in job_id:
        raise KeyFormatError(f"job id {job_id!r} must be non-empty and must not contain {SK_SEPARATOR!r}")
    if len(job_id.encode()) > MAX_JOB_ID_BYTES:
        raise KeyFormatError(
            f"job id {job_id[:40]!r}... is longer than {MAX_JOB_ID_BYTES} bytes: a page of 1,000 such keys must fit "
            "in a Step Functions state (256 KB)"
        )
    return f"{format_time(due)}{SK_SEPARATOR}{job_id}"


def parse_sort_key(sk: str) -> tuple[datetime, str]:
    """``(due time, job id)`` from a sort key."""
    due_text, separator, job_id = sk.partition(SK_SEPARATOR)
    if not separator or not job_id:
        raise KeyFormatError(f"sort key {sk!r} is not <due time>#<job id>")
    return parse_time(due_text), job_id


# -- keys typed by hand ----------------------------------------------------------------------------------------
# A due time as people write it: ISO 8601 in the extended or the basic form, "T", "t" or a space between date and
# time, seconds and fraction optional, "Z", "z" or a UTC offset. Each form is spelled out, so that nothing is read
# leniently (datetime.fromisoformat would also take a time without a zone).
_ZONE = r"(?P<zone>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?"
_FRACTION = r"(?:[.,](?P<fraction>[0-9]{1,9}))?"
_TIME_FORMS = (
    re.compile(
        r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
        r"(?:[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})" + _FRACTION + r")?)?" + _ZONE
    ),
    re.compile(
        r"(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})"
        r"(?:[Tt ](?P<hour>[0-9]{2})(?P<minute>[0-9]{2})(?:(?P<second>[0-9]{2})" + _FRACTION + r")?)?" + _ZONE
    ),
)


def read_time(text: str) -> datetime:
    """The instant a due time typed by hand names, when it can be read without doubt.

    A fraction finer than a millisecond is rounded up, so that a job is never early. ``KeyFormatError`` says
    why for anything else: a time without a zone (UTC would be a guess, and a wrong one fires hours early or
    late), a date without a time of day, a date that does not exist, any other text.
    """
    match = next((found for form in _TIME_FORMS if (found := form.fullmatch(text))), None)
    if match is None:
        raise KeyFormatError(f"{text!r} is not an ISO 8601 date and time")
    if match["hour"] is None:
        raise KeyFormatError(f"{text!r} is a date without a time of day")
    if match["zone"] is None:
        raise KeyFormatError(f"{text!r} has no time zone: write Z for UTC, or an offset such as +01:00")
    fraction = match["fraction"] or "0"
    milliseconds = -(-int(fraction) * 1000 // 10 ** len(fraction))
    try:
        moment = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"] or 0),
            tzinfo=_offset(match["zone"]),
        )
        return (moment + milliseconds * _MS).astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise KeyFormatError(f"{text!r} is not a date and time that exists ({error})") from None


def _offset(zone: str) -> timezone:
    if zone in ("Z", "z"):
        return UTC
    hours, minutes = int(zone[1:3]), int(zone[-2:]) if len(zone) > 3 else 0
    if hours > 23 or minutes > 59:
        raise ValueError(f"{zone} is not a UTC offset")
    return timezone((-1 if zone[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes))


def canonical_keys(pk: str, sk: str, bucket_minutes: int = DEFAULT_BUCKET_MINUTES, shards: int = 1) -> tuple[str, str]:
    """The ``(pk, sk)`` a job item with these keys belongs under: the same job id and due time, the due time in
    onthedot's form and in the bucket that holds it, in the shard it names if that shard is one of ``shards``
    (else in the shard of its id). Canonical keys come back unchanged.

    The due time is the sort key's (it is the time the job's event carries); the partition key only has to be a
    job's. ``KeyFormatError`` with the reason when the keys do not name a job id and a due time without doubt.
    """
    if not pk.startswith(PK_PREFIX):
        raise KeyFormatError(f"partition key {pk!r} does not start with {PK_PREFIX!r}")
    due_text, separator, job_id = sk.partition(SK_SEPARATOR)
    if not separator or not job_id:
        raise KeyFormatError(f"sort key {sk!r} is not <due time>#<job id>")
    if SK_SEPARATOR in job_id:
        raise KeyFormatError(f"sort key {sk!r} has more than one {SK_SEPARATOR!r}: where the job id starts is in doubt")
    due = read_time(due_text)
    canonical_sk = sort_key(due, job_id)
    try:
        shard = split_partition_key(pk)[1]
    except KeyFormatError:
        shard = shards  # not a shard number: filed by its id below
    if shard >= shards:
        shard = shard_of(job_id, shards)
    return partition_key(due, bucket_minutes, shard), canonical_sk


def partitions_to_drain(now: datetime, bucket_minutes: int = DEFAULT_BUCKET_MINUTES) -> list[str]:
    """The partitions one dispatcher run drains at ``now``: the previous bucket, then the current one."""
    current = bucket_start(now, bucket_minutes)
    previous = current - timedelta(minutes=bucket_minutes)
    return [partition_key(previous, bucket_minutes), partition_key(current, bucket_minutes)]


# -- job ids ----------------------------------------------------------------------------------------------------


def _epoch_ms(due: datetime) -> int:
    """Whole milliseconds since the Unix epoch (floored, as ``format_time`` truncates)."""
    ms = (utc(due) - _EPOCH) // _MS
    if not 0 <= ms < 1 << _TIMESTAMP_BITS:
        raise KeyFormatError(f"due time {format_time(due)} is outside what a UUIDv7 timestamp can hold")
    return ms


def _uuid7(ms: int, random_bits: int) -> str:
    random_a = random_bits >> _RANDOM_B_BITS
    random_b = random_bits & ((1 << _RANDOM_B_BITS) - 1)
    value = (ms << 80) | (0x7 << 76) | (random_a << 64) | (0b10 << 62) | random_b
    return str(uuid.UUID(int=value))


def _parse_job_id(job_id: str) -> uuid.UUID:
    try:
        parsed = uuid.UUID(job_id)
    except (TypeError, ValueError, AttributeError):
        parsed = None
    if parsed is None or parsed.version != 7 or parsed.variant != uuid.RFC_4122 or str(parsed) != job_id:
        raise KeyFormatError(
            f"{job_id!r} is not an onthedot job id: job ids from onthedot are lowercase UUIDv7 values that carry "
            "their due time, so a hand-typed id (any other shape) can't be looked up by id; find it with a "
            "listing instead"
        )
    return parsed


def new_job_id(due: datetime) -> str:
    """A fresh job id: a UUIDv7 whose timestamp is ``due`` (to the millisecond), with 74 random bits."""
    return _uuid7(_epoch_ms(due), secrets.randbits(_RANDOM_BITS))


def due_of(job_id: str) -> datetime:
    """The due time carried by a job id (millisecond precision, UTC); ``KeyFormatError`` for any other id."""
    ms = _parse_job_id(job_id).int >> 80
    return _EPOCH + ms * _MS


def with_due(job_id: str, due: datetime) -> str:
    """The id of the same job at another due time: same random bits, new timestamp."""
    value = _parse_job_id(job_id).int
    random_a = (value >> 64) & ((1 << _RANDOM_A_BITS) - 1)
    random_b = value & ((1 << _RANDOM_B_BITS) - 1)
    return _uuid7(_epoch_ms(due), (random_a << _RANDOM_B_BITS) | random_b)


def job_key(job_id: str, bucket_minutes: int = DEFAULT_BUCKET_MINUTES, shards: int = 1) -> tuple[str, str]:
    """``(pk, sk)`` of the job with this id."""
    due = due_of(job_id)
    return partition_key(due, bucket_minutes, shard_of(job_id, shards)), sort_key(due, job_id)
