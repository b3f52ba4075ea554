"""The dispatcher's planning, in Python: the twin of the JSONata in ``statemachine/dispatcher.asl.json``.

The definition is what runs; these functions say the same thing in Python so that tests can hold the JSONata to
them on any input (``tests/statemachine/test_plan.py``), and so that a reader has the arithmetic in one place.
Times are epoch milliseconds, partitions are ``j#YYYY-MM-DDTHH:MM`` grid keys (``onthedot.core.keys``).

A run at ``now`` claims the window ``[start, until)`` of due times: from where the last run's window ended
(never more than a bucket back: older jobs are the catch-up's) until the next run starts. It first catches up
on the jobs due before ``cutoff`` — before the window, or, while the last run may still be waiting for jobs of
its own window, before that one — then ticks through its window, second by second.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from onthedot.core import keys

_GRID_KEY = re.compile(r"^j#\d{4}-\d\d-\d\dT\d\d:\d\d$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND_MS = 1000


@dataclass(frozen=True)
class Window:
    start: int
    until: int
    cutoff: int
    """Jobs due before this are the catch-up's."""

    @property
    def claimed(self) -> bool:
        """An empty window means another run claimed this one already."""
        return self.until > self.start


def key(ms: int) -> str:
    """The partition key of the bucket starting at ``ms``."""
    return keys.PK_PREFIX + (_EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M")


def bucket_start(pk: str) -> int:
    start = datetime.strptime(pk[len(keys.PK_PREFIX) :], "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
    return (start - _EPOCH) // timedelta(milliseconds=1)


def floor(ms: int, step: int) -> int:
    return ms // step * step


def window(
    now: int,
    bucket_minutes: int,
    look_ahead_ms: int,
    *,
    replay: bool = False,
    until: int | None = None,
    start_read: int | None = None,
    end_read: int | None = None,
) -> Window:
    """The "Plan window" state."""
    bucket_ms = bucket_minutes * 60_000
    start = max(end_read, now - bucket_ms) if end_read is not None else now
    if until is None:
        until = now + (1 if replay else look_ahead_ms)
    # While the last run may still wait for jobs of its window, the catch-up keeps clear of it, and of any window
    # claimed by a run that started less than a look-ahead ago.
    last_still_open = end_read is not None and end_read > now and start_read is not None
    cutoff = min(start_read, now - look_ahead_ms) if last_still_open and start_read is not None else start
    return Window(start, until, cutoff)


def catch_up(cutoff: int, cursor: str | None, bucket_minutes: int, catch_up_buckets: int) -> dict[str, Any]:
    """The "Plan catch-up" state: ``partitions`` oldest first, ``backlog`` (buckets behind), ``last`` (the
    bucket of the cutoff, which the cursor never passes)."""
    bucket_ms = bucket_minutes * 60_000
    last = floor(cutoff - 1, bucket_ms)
    previous = last - bucket_ms
    start = previous
    if cursor is not None and _GRID_KEY.match(cursor):
        start = min(floor(bucket_start(cursor), bucket_ms), previous)
    backlog = (previous - start) // bucket_ms
    older = [key(start + index * bucket_ms) for index in range(min(backlog, catch_up_buckets - 2))]
    return {"partitions": [*older, key(previous), key(last)], "backlog": backlog, "last": key(last)}


def tick(tick_from: int, clock: int, until: int, bucket_minutes: int) -> dict[str, Any]:
    """The "Plan tick" state: the due times ``[tick_from, to)`` this tick publishes, and their partitions."""
    bucket_ms = bucket_minutes * 60_000
    to = max(min(until, floor(clock, SECOND_MS) + SECOND_MS), tick_from + 1)
    first = floor(tick_from, bucket_ms)
    count = (to - 1 - first) // bucket_ms + 1
    return {"to": to, "partitions": [key(first + index * bucket_ms) for index in range(count)]}


def wake(covered: int, clock: int) -> int:
    """The "Wait for due jobs" state: the whole second to wait until (Step Functions waits in whole seconds)."""
    return floor(max(covered, clock), SECOND_MS)


def next_cursor(drained: Sequence[dict[str, Any]], bound: str, bucket_minutes: int) -> str:
    """The "Advance cursor" state: over the buckets the catch-up emptied, oldest first, never past ``bound``."""
    bucket_ms = bucket_minutes * 60_000
    cursor = str(drained[0]["pk"])
    for partition in drained:
        # Left as it was: a job failed, was not deleted or not yet due, or the run's budget paused the partition.
        clean = "error" not in partition and all(
            partition.get(name) == 0 for name in ("failed", "undeleted", "notDue", "paused")
        )
        if partition["pk"] == cursor and clean:
            cursor = key(bucket_start(cursor) + bucket_ms)
    return min(cursor, bound)
