"""The opaque cursors that page through listings: URL-safe base64 of a small JSON state.

``list_jobs`` keeps its time range, the bucket it is in and the last sort key it returned there; ``dead_letters``
keeps the last sort key it returned. A cursor that does not decode to its listing's state is ``InvalidJob`` on
``cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from onthedot.core.errors import InvalidJob
from onthedot.core.keys import format_time, parse_time

_T = TypeVar("_T")


def jobs_cursor(low: datetime, high: datetime, bucket: datetime, after: str | None) -> str:
    """Where ``list_jobs`` goes on: in [low, high], from ``bucket``, after the sort key ``after`` (if any)."""
    return _encode({"start": format_time(low), "end": format_time(high), "bucket": format_time(bucket), "after": after})


def read_jobs_cursor(cursor: str) -> tuple[datetime, datetime, datetime, str | None]:
    """``(low, high, bucket, after)`` of a cursor ``jobs_cursor`` wrote."""

    def read(state: Any) -> tuple[datetime, datetime, datetime, str | None]:
        after = state["after"]
        if after is not None and not isinstance(after, str):
            raise TypeError("after")
        return parse_time(state["start"]), parse_time(state["end"]), parse_time(state["bucket"]), after

    return _decode(cursor, "list_jobs", read)


def dead_letters_cursor(after: str) -> str:
    """Where ``dead_letters`` goes on: after the dead letter with sort key ``after``."""
    return _encode({"dead_after": after})


def read_dead_letters_cursor(cursor: str) -> str:
    """The sort key ``after`` of a cursor ``dead_letters_cursor`` wrote."""

    def read(state: Any) -> str:
        after = state["dead_after"]
        if not isinstance(after, str) or not after:
            raise TypeError("dead_after")
        return after

    return _decode(cursor, "dead_letters", read)


def _encode(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def _decode(cursor: str, returned_by: str, read: Callable[[Any], _T]) -> _T:
    """``read`` applied to the state in ``cursor``; InvalidJob when it is not a cursor ``returned_by`` returned."""
    try:
        return read(json.loads(base64.urlsafe_b64decode(cursor.encode())))
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
        raise InvalidJob("cursor", f"is not a cursor that {returned_by} returned") from None
