"""What the parts of ``Scheduler`` share: the jobs table, the dead-letter table and the clock.

``onthedot.client.Scheduler`` is assembled from parts, one a module: ``scheduling`` (one-off jobs), ``series``
(recurring jobs), ``listing`` and ``dead_letters``. Each part is a class over ``SchedulerContext``; the
Scheduler's ``__init__`` sets the state declared here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from onthedot.client.table import JobsTable, Table
from onthedot.core.errors import InvalidJob


class SchedulerContext:
    """The tables and the clock; ``_now`` reads the clock, checked."""

    _jobs: JobsTable
    _dlq: Table | None  # None when the Scheduler was given no dead-letter table
    _clock: Callable[[], datetime]

    def _now(self) -> datetime:
        now = self._clock()
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise InvalidJob("clock", f"clock() must return an aware datetime, got {now!r}")
        return now.astimezone(UTC)
