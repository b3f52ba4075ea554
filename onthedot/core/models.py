"""What the Python API hands out and takes in: job, series and dead-letter handles, pages, batch requests.

Plain frozen dataclasses; ``as_dict`` gives each handle as JSON-ready values (the CLI's ``--json``). They are
built from stored items in ``onthedot.core.items`` and importable from ``onthedot.client``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from onthedot.core.keys import format_time


@dataclass(frozen=True)
class Job:
    id: str
    due: datetime  # aware, UTC
    detail_type: str
    detail: dict[str, Any]
    series: str | None = None  # the series id, for an occurrence of a recurring job
    created_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:  # JSON-ready, for --json
        return {
            "id": self.id,
            "due": format_time(self.due),
            "detail_type": self.detail_type,
            "detail": self.detail,
            "series": self.series,
            "created_at": _time(self.created_at),
        }


@dataclass(frozen=True)
class Series:
    id: str
    detail_type: str
    detail: dict[str, Any]
    cron: str | None
    rate: str | None
    tz: str
    starts_at: datetime
    ends_at: datetime | None
    limit: int | None
    fired: int
    next: Job | None  # the pending occurrence; None once the series has ended

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "detail_type": self.detail_type,
            "detail": self.detail,
            "cron": self.cron,
            "rate": self.rate,
            "tz": self.tz,
            "starts_at": format_time(self.starts_at),
            "ends_at": _time(self.ends_at),
            "limit": self.limit,
            "fired": self.fired,
            "next": self.next.as_dict() if self.next is not None else None,
        }


@dataclass(frozen=True)
class Page:
    jobs: list[Job]
    cursor: str | None  # pass back to list_jobs for the next page; None when there is none


@dataclass(frozen=True)
class DeadLetter:
    """A job in the dead letter: what it was, why it is there and since when.

    ``due`` is None (and ``job_id`` the sort key's text after ``#``, if any) for a job whose sort key does not
    parse; ``detail`` is whatever the job held, which may not be a map for a poison job.
    """

    job_id: str
    due: datetime | None  # aware, UTC: the due time the job had
    detail_type: str
    detail: Any
    reason: str
    attempts: int
    dead_at: datetime | None
    sk: str  # its sort key, in the jobs table as in the dead letter: redrive takes it too
    series: str | None = None  # the series id, for an occurrence of a recurring job

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "due": _time(self.due),
            "detail_type": self.detail_type,
            "detail": self.detail,
            "reason": self.reason,
            "attempts": self.attempts,
            "dead_at": _time(self.dead_at),
            "sk": self.sk,
            "series": self.series,
        }


@dataclass(frozen=True)
class DeadLetterPage:
    dead_letters: list[DeadLetter]
    cursor: str | None  # pass back to dead_letters for the next page; None when there is none


@dataclass(frozen=True)
class JobRequest:
    """One job for schedule_many; exactly one of ``at`` / ``delay``."""

    detail_type: str
    detail: Mapping[str, Any]
    at: datetime | str | None = None
    delay: timedelta | None = None
    key: str | None = None


def _time(moment: datetime | None) -> str | None:
    return format_time(moment) if moment is not None else None
