"""What the options' text means: numbers, ports, durations, times, ids and the JSON ``--detail``."""

from __future__ import annotations

import argparse
import json
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

_DURATION = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_DIGITS = re.compile(r"[0-9]+")
MAX_SECONDS = 30 * 86400  # --every and --exit-after: a month at most
MAX_COUNT = 10**9  # --count and --limit (which the API bounds further)
MAX_DETAIL_FILE_BYTES = 4 * 1024 * 1024  # --detail @file: far more than an event holds, far less than memory
_JSON_KINDS = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}


# -- argparse types: a bad value is a usage error (exit 2) ------------------------------------------------------


def positive(text: str) -> float:
    """A number of seconds, more than 0 and at most ``MAX_SECONDS`` (so neither inf nor nan)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= MAX_SECONDS:  # also false for nan
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds and at most {MAX_SECONDS:,}, got {text!r}")
    return value


def port(text: str) -> int:
    """A TCP port, 1-65535."""
    if not _whole(text, 5) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def count(text: str) -> int:
    """A whole number from 1 to ``MAX_COUNT``."""
    if not _whole(text, len(str(MAX_COUNT))) or not 1 <= int(text) <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_COUNT:,}, got {text!r}")
    return int(text)


def bucket_minutes(text: str) -> int:
    """The stack's bucket width: whole minutes that divide an hour."""
    if not _whole(text, 2) or not 1 <= int(text) <= 60 or 60 % int(text):
        raise argparse.ArgumentTypeError(f"must be a whole number of minutes that divides 60, got {text!r}")
    return int(text)


def shards(text: str) -> int:
    """The stack's shards knob: a whole number from 1 to the knob's maximum."""
    from onthedot.client.validation import MAX_SHARDS

    if not _whole(text, len(str(MAX_SHARDS))) or not 1 <= int(text) <= MAX_SHARDS:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_SHARDS}, got {text!r}")
    return int(text)


def _whole(text: str, digits: int) -> bool:
    """ASCII digits, at most ``digits`` of them once leading zeros are dropped (int() takes other scripts' too)."""
    return bool(_DIGITS.fullmatch(text)) and len(text.lstrip("0")) <= digits


def parse_duration(text: str) -> timedelta:
    """``45s``, ``10m``, ``1h30m``, ``2d``: whole numbers with units d/h/m/s, largest first; more than 0."""
    compact = text.replace(" ", "")
    sign, body = (compact[0], compact[1:]) if compact[:1] in "+-" and compact else ("", compact)
    match = _DURATION.fullmatch(body)
    if not body or match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; use whole numbers with units d, h, m, s, e.g. 45s, 10m, 1h30m, 2d"
        )
    try:
        days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
        delay = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except (OverflowError, ValueError):  # beyond timedelta's 999,999,999 days, or beyond int()'s 4,300 digits
        raise argparse.ArgumentTypeError(f"{text!r} is too long a duration") from None
    if sign == "-" or delay <= timedelta(0):
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r} (for a time in the past use --at)")
    return delay


# -- read by the commands: a bad value raises InvalidJob (exit 2, nothing written) --------------------------------


def parse_detail(text: str) -> dict[str, Any]:
    """``--detail``: a JSON object, or ``@path`` to a file holding one; raises InvalidJob("detail", ...)."""
    from onthedot.client import InvalidJob

    source = "--detail"
    if text.startswith("@"):
        path = Path(text[1:])
        source = str(path)
        try:
            with path.open("rb") as file:  # bounded: @/dev/zero must not fill the memory
                data = file.read(MAX_DETAIL_FILE_BYTES + 1)
            if len(data) <= MAX_DETAIL_FILE_BYTES:
                text = data.decode("utf-8")
        except (OSError, ValueError) as error:  # ValueError: not UTF-8, or a NUL in the path
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise InvalidJob("detail", f"cannot read {path}: {reason}") from None
        if len(data) > MAX_DETAIL_FILE_BYTES:
            raise InvalidJob("detail", f"{path} is over {MAX_DETAIL_FILE_BYTES:,} bytes; an event holds 256 KB")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidJob(
            "detail", f"{source} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise InvalidJob("detail", f"{source} is nested too deeply to read") from None
    except ValueError:  # json.loads' other refusal: an integer of more than 4,300 digits
        raise InvalidJob("detail", f"{source} holds a number too long to read") from None
    if not isinstance(value, dict):
        kind = "null" if value is None else _JSON_KINDS.get(type(value), type(value).__name__)
        raise InvalidJob("detail", f"must be a JSON object ({{...}}), got {kind}")
    return value


def parse_moment(text: str, now: datetime) -> datetime | str:
    """``now`` or an ISO time for ``--from``/``--to``; the library validates the ISO text."""
    return now if text.strip().lower() == "now" else text


def id_kind(text: str) -> tuple[Literal["job", "series"], str]:
    """Job ids are UUIDv7 (they carry the due time), series ids UUIDv4; the canonical id with its kind."""
    from onthedot.client import InvalidJob

    try:
        value = uuid.UUID(text)
    except ValueError:
        raise InvalidJob("id", f"{text!r} is not a job or series id (a UUID)") from None
    if value.version == 7:
        return "job", str(value)
    if value.version == 4:
        return "series", str(value)
    raise InvalidJob("id", f"{text} is a UUID of version {value.version}; job ids are UUIDv7, series ids UUIDv4")
