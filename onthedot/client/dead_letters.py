"""The dead letter: list it, read its size and send jobs back (the ``Scheduler`` methods, as a part).

The dead letter is a table of its own, written by ``functions/publish/dead_letter.py``: ``pk = dlq``, ``sk`` =
the job's sort key, ``job`` (the job item as it was), ``reason``, ``attempts`` and ``dead_at``; its size is
``size`` in the item ``pk = meta``, ``sk = size``. ``redrive`` puts a job back in the jobs table, due now, in
three steps: ``find`` the dead letter, ``plan`` what goes back (checked, nothing written), ``commit`` it in one
transaction of named writes (``Step``). What can go wrong is named: ``Missing`` and ``Ambiguous`` (find),
``Unpublishable`` and ``SeriesMoved`` (plan), and what changed between the plan and the commit: ``SentBack``,
``SeriesMoved``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from onthedot.client import idempotency
from onthedot.client.clock import Clock
from onthedot.client.cursors import dead_letters_cursor, read_dead_letters_cursor
from onthedot.client.table import ConditionFailed, JobsTable, Table
from onthedot.client.validation import check_content, check_limit, series_key_of, to_millisecond
from onthedot.core.errors import InvalidJob, JobNotFound
from onthedot.core.items import dead_letter_from_item, job_from_item
from onthedot.core.jobs import (
    ATTEMPTS,
    CURRENT,
    DEAD_PK,
    DETAIL,
    DETAIL_TYPE,
    IDEMPOTENCY_KEY,
    JOB,
    JOB_ID,
    LAST_ERROR,
    LAST_FAILED_RUN,
    PK,
    SERIES,
    SIZE,
    SIZE_PK,
    SIZE_SK,
    SK,
)
from onthedot.core.keys import SK_SEPARATOR, KeyFormatError, due_of, new_job_id, sort_key, with_due
from onthedot.core.models import DeadLetterPage, Job

_FAILED_RUN = (ATTEMPTS, LAST_ERROR, LAST_FAILED_RUN)  # what a job back from the dead letter starts without


class Step(StrEnum):
    """The writes of a redrive's transaction."""

    JOB = "the job, back in the jobs table"
    DEAD_LETTER = "the dead letter, deleted"
    SIZE = "the dead letter's size, down by one"
    SERIES = "the series, pointed at its occurrence's new sort key"
    KEY = "the idempotency key, moved to the job's new id"


@dataclass(frozen=True)
class Plan:
    """A dead-lettered job, ready to go back: the job item under its new key, and the series it is the pending
    occurrence of (its id and item) or the idempotency key to move along with it."""

    wanted: str  # the job id or sort key the caller gave
    dead_sk: str
    old_id: str
    new_id: str
    due: datetime
    item: dict[str, Any]
    series_id: str | None = None
    series_item: dict[str, Any] | None = None
    key: str | None = None  # an idempotency key that names the job and moves to its new id


class DeadLetterQueue:
    """The dead-letter table of ``jobs``: ``Scheduler.dead_letters``, ``dead_letter_size``, ``redrive``.
    ``table`` None: the Scheduler was given no dead-letter table, and every method says so (InvalidJob)."""

    def __init__(self, jobs: JobsTable, table: Table | None, clock: Clock) -> None:
        self.jobs = jobs
        self._table = table
        self.clock = clock

    @property
    def table(self) -> Table:
        if self._table is None:
            raise InvalidJob(
                "dead_letter_table",
                "this Scheduler has no dead-letter table: pass dead_letter_table= (the stack's DeadLetterTableName "
                "output; onthedot-dead-letters on the local cloud)",
            )
        return self._table

    def page(self, *, limit: int, cursor: str | None) -> DeadLetterPage:
        table = self.table
        check_limit(limit)
        after = None if cursor is None else read_dead_letters_cursor(cursor)
        found: list[dict[str, Any]] = []
        while len(found) <= limit:  # one more than a page: a cursor is given only when a next page holds any
            page = table.query(DEAD_PK, after=after, limit=limit + 1 - len(found))
            found.extend(page.items)
            if page.after is None:
                break
            after = page.after
        letters = [dead_letter_from_item(item) for item in found[:limit]]
        more = len(found) > limit
        return DeadLetterPage(letters, dead_letters_cursor(letters[-1].sk) if more else None)

    def size(self) -> int:
        item = self.table.get(SIZE_PK, SIZE_SK) or {}
        return int(item.get(SIZE, 0))

    def redrive(self, job_id_or_sk: str, *, detail_type: str | None, detail: Mapping[str, Any] | None) -> Job:
        plan = self.plan(self.find(job_id_or_sk), job_id_or_sk, detail_type, detail)
        self.commit(plan)
        return job_from_item(plan.item, plan.series_item)

    # -- find -------------------------------------------------------------------------------------------------------

    def find(self, job_id_or_sk: Any) -> dict[str, Any]:
        """The dead letter of a job id or sort key: ``Missing`` when there is none, ``Ambiguous`` when a
        hand-written id names more than one."""
        table = self.table
        if not isinstance(job_id_or_sk, str) or not job_id_or_sk.strip():
            raise InvalidJob("job_id", "must be a job id or a sort key (a non-empty string)")
        wanted = job_id_or_sk.strip()
        if SK_SEPARATOR in wanted:  # a sort key
            candidates = [wanted]
        else:
            try:
                candidates = [sort_key(due_of(wanted), wanted)]
            except (KeyFormatError, OverflowError):  # OverflowError: a UUIDv7 whose time is after the year 9999
                candidates = []  # not an onthedot id: a job typed by hand, found by its id's suffix
            found = self._get(candidates[0]) if candidates else None
            if found is not None:
                return found
            keys = (str(item[SK]) for item in table.query_all(DEAD_PK, attributes=(SK,)))
            candidates = [sk for sk in keys if sk == wanted or sk.endswith(SK_SEPARATOR + wanted)]
            if len(candidates) > 1:
                raise Ambiguous(wanted, candidates)
        found = self._get(candidates[0]) if candidates else None
        if found is None:
            raise Missing(wanted)
        return found

    def _get(self, sk: str) -> dict[str, Any] | None:
        return self.table.get(DEAD_PK, sk)

    # -- plan -------------------------------------------------------------------------------------------------------

    def plan(
        self, dead: Mapping[str, Any], wanted: str, detail_type: str | None, detail: Mapping[str, Any] | None
    ) -> Plan:
        """What goes back, checked as ``schedule`` checks a job (``Unpublishable``, InvalidJob naming the field);
        an occurrence goes back as its series' pending occurrence, without fixes. Nothing is written."""
        dead_sk = str(dead[SK])
        job = dead.get(JOB)
        due = to_millisecond(self.clock.now())
        old_id, new_id = dead_sk.partition(SK_SEPARATOR)[2], _redriven_id(dead_sk, due)
        sk = sort_key(due, new_id)
        kept = job.items() if isinstance(job, Mapping) else ()
        item = {name: value for name, value in kept if name not in _FAILED_RUN}
        item |= {PK: self.jobs.partition_of(due, new_id), SK: sk}
        plan = Plan(wanted.strip(), dead_sk, old_id, new_id, due, item)
        series_id = item.get(SERIES)
        if series_id is not None:
            series_item = self._occurrence_series(str(series_id), dead_sk, sk, detail_type, detail)
            item.pop(DETAIL, None)  # an occurrence's detail lives in its series
            item[DETAIL_TYPE] = series_item.get(DETAIL_TYPE)
            return replace(plan, series_id=str(series_id), series_item=series_item)
        item[DETAIL_TYPE] = item.get(DETAIL_TYPE) if detail_type is None else detail_type
        fixed_detail = item.get(DETAIL, {}) if detail is None else detail
        item[DETAIL] = _publishable(item[DETAIL_TYPE], fixed_detail, sk, fixed=(detail_type, detail))
        key = item.get(IDEMPOTENCY_KEY)
        if isinstance(key, str) and new_id != old_id:
            record = self.jobs.get(*idempotency.record_key(key))
            if record is not None and record.get(JOB_ID) == old_id:  # the key still names the job: move it along
                return replace(plan, key=key)
        return plan

    def _occurrence_series(
        self, series_id: str, old_sk: str, new_sk: str, detail_type: str | None, detail: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """The series of a dead-lettered occurrence, checked: no fixes, still waiting on it, publishable."""
        job_id = old_sk.partition(SK_SEPARATOR)[2]
        if detail_type is not None or detail is not None:
            field = "detail" if detail is not None else "detail_type"
            raise InvalidJob(
                field,
                f"{job_id} is an occurrence of series {series_id}, whose detail and detail-type it takes: fix the "
                "series instead (cancel it and schedule it again), or send the occurrence back without a fix",
            )
        series_item = self.jobs.series_item(series_id)
        if series_item is None or series_item.get(CURRENT) != old_sk:
            raise SeriesMoved(job_id, series_id)
        try:
            check_content("", series_item.get(DETAIL_TYPE), series_item.get(DETAIL, {}), new_sk)
        except InvalidJob as error:
            raise Unpublishable(
                error.field, f"series {series_id}: {error.reason} (fix the series: cancel it and schedule it again)"
            ) from None
        return series_item

    # -- commit -----------------------------------------------------------------------------------------------------

    def commit(self, plan: Plan) -> None:
        """Put the job back, delete the dead letter and count it out, in one transaction (with the series or the
        idempotency key); ``SentBack`` or ``SeriesMoved`` when that changed since the plan."""
        writes = [
            self.jobs.put_new(Step.JOB, plan.item),
            self.table.delete_existing(Step.DEAD_LETTER, DEAD_PK, plan.dead_sk),
            self.table.update(
                Step.SIZE,
                SIZE_PK,
                SIZE_SK,
                expression="ADD #size :minus_one",
                names={"#size": SIZE},
                values={":minus_one": -1},
            ),
        ]
        if plan.series_id is not None:
            writes.append(
                self.jobs.update(
                    Step.SERIES,
                    *series_key_of(plan.series_id),
                    expression="SET #current = :new",
                    names={"#current": CURRENT},
                    values={":new": plan.item[SK], ":old": plan.dead_sk},
                    condition="#current = :old",
                )
            )
        if plan.key is not None:
            writes.append(
                idempotency.move_record(
                    self.jobs, plan.key, plan.old_id, plan.new_id, plan.due, or_recreate=False, name=Step.KEY
                )
            )
        try:
            self.jobs.transact(writes)
        except ConditionFailed as failed:
            if Step.DEAD_LETTER in failed.names:
                raise SentBack(plan.wanted) from None
            if Step.SERIES in failed.names and plan.series_id is not None:
                raise SeriesMoved(plan.old_id, plan.series_id) from None
            raise failed.error from None


class Missing(JobNotFound):
    """No dead letter has the job id or sort key asked for."""

    def __init__(self, wanted: str) -> None:
        super().__init__(
            f"no dead letter {wanted}: it was sent back, or the job was never dead-lettered "
            "(`onthedot dlq list` shows what is there)"
        )


class Ambiguous(InvalidJob):
    """A hand-written job id that more than one dead letter carries."""

    def __init__(self, wanted: str, matches: list[str]) -> None:
        super().__init__(
            "job_id",
            f"{len(matches)} dead letters have the id {wanted}: send one back by its sort key, one of "
            + ", ".join(matches),
        )


class SentBack(JobNotFound):
    """The dead letter was sent back by another caller between the plan and the commit."""

    def __init__(self, wanted: str) -> None:
        super().__init__(f"no dead letter {wanted}: it was sent back meanwhile")


class Unpublishable(InvalidJob):
    """What would go back could not be published (the field and why); nothing was written."""


class SeriesMoved(InvalidJob):
    """The series of a dead-lettered occurrence was cancelled or has moved on past it."""

    def __init__(self, job_id: str, series_id: str) -> None:
        super().__init__(
            "job_id",
            f"{job_id} is an occurrence of series {series_id}, which was cancelled or has moved on: it cannot be "
            "sent back (schedule the series again)",
        )


def _publishable(detail_type: Any, detail: Any, sk: str, *, fixed: tuple[Any, Any]) -> dict[str, Any]:
    """The detail as stored, checked; a fault in what was dead-lettered, not in the caller's ``fixed``
    (detail-type, detail), says how to fix it."""
    try:
        return check_content("", detail_type, detail, sk)
    except InvalidJob as error:
        if fixed[0 if error.field == DETAIL_TYPE else 1] is not None:
            raise Unpublishable(error.field, error.reason) from None
        what = "detail-type" if error.field == DETAIL_TYPE else "detail"
        advice = f"(as dead-lettered: send it back with a fixed {what})"
        raise Unpublishable(error.field, f"{error.reason} {advice}") from None


def _redriven_id(old_sk: str, due: datetime) -> str:
    """The id a dead-lettered job goes back under: an onthedot id moved to ``due``, any other id as it is, and a
    fresh id for a sort key that carries none."""
    old_id = old_sk.partition(SK_SEPARATOR)[2]
    try:
        return with_due(old_id, due)
    except KeyFormatError:
        pass
    try:
        sort_key(due, old_id)
    except KeyFormatError:
        return new_job_id(due)
    return old_id
