"""The clock every part of ``Scheduler`` reads: the caller's, checked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from onthedot.core.errors import InvalidJob


class Clock:
    """``now()`` reads ``read`` (``datetime.now(UTC)`` when None) and refuses anything but an aware datetime."""

    def __init__(self, read: Callable[[], datetime] | None = None) -> None:
        self._read = read or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        now = self._read()
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise InvalidJob("clock", f"clock() must return an aware datetime, got {now!r}")
        return now.astimezone(UTC)
