"""What the options' text means: numbers, ports, durations, times, ids and the JSON ``--detail``."""

from __future__ import annotations

import argparse
import json
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_JSON_KINDS = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}


# -- argparse types: a bad value is a usage error (exit 2) ------------------------------------------------------


def positive(text: str) -> float:
    """A number of seconds, more than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def port(text: str) -> int:
    """A TCP port, 1-65535."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def count(text: str) -> int:
    """A whole number of 1 or more."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {text!r}")
    return int(text)


def bucket_minutes(text: str) -> int:
    """The stack's bucket width: whole minutes that divide an hour."""
    if not text.isdigit() or not 1 <= int(text) <= 60 or 60 % int(text):
        raise argparse.ArgumentTypeError(f"must be a whole number of minutes that divides 60, got {text!r}")
    return int(text)


def parse_duration(text: str) -> timedelta:
    """``45s``, ``10m``, ``1h30m``, ``2d``: whole numbers with units d/h/m/s, largest first; more than 0."""
    compact = text.replace(" ", "")
    sign, body = (compact[0], compact[1:]) if compact[:1] in "+-" and compact else ("", compact)
    match = _DURATION.fullmatch(body)
    if not body or match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; use whole numbers with units d, h, m, s, e.g. 45s, 10m, 1h30m, 2d"
        )
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    delay = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
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
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise InvalidJob("detail", f"cannot read {path}: {reason}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidJob(
            "detail", f"{source} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
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
