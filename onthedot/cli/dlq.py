"""``onthedot dlq``: the dead-lettered jobs listed with why they are there, and sent back (redrive)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

from onthedot.cli.render import Output, iso, job_output, more_hint, shorten, table, was_line, when
from onthedot.cli.values import parse_detail

if TYPE_CHECKING:
    from onthedot.client import DeadLetter, Scheduler
    from onthedot.deploy.target import Target

REASON_WIDTH = 60  # dlq list shortens reasons to this many characters (--json has them whole)


def dlq(args: argparse.Namespace, scheduler: Scheduler, _target: Target, now: datetime) -> Output:
    if args.dlq_command == "redrive":
        return _redrive(args, scheduler, now)
    return _list(args, scheduler, now)


def _list(args: argparse.Namespace, scheduler: Scheduler, now: datetime) -> Output:
    page = scheduler.dead_letters(limit=args.limit, cursor=args.cursor)
    size = scheduler.dead_letter_size()
    document = {"dead_letters": [dead.as_dict() for dead in page.dead_letters], "cursor": page.cursor, "size": size}
    if not page.dead_letters:
        return document, "no dead-lettered jobs" if args.cursor is None else "no more dead-lettered jobs"
    rows: list[tuple[str, ...]] = [("JOB", "DUE", "TYPE", "ATTEMPTS", "REASON", "DEAD-LETTERED")]
    rows += [_row(dead, now) for dead in page.dead_letters]
    text = table(rows) + f"\n{size} dead-lettered job{'' if size == 1 else 's'} in all"
    if page.cursor:
        text += "\n" + more_hint("dlq list", page.cursor, args.limit)
    return document, text


def _row(dead: DeadLetter, now: datetime) -> tuple[str, ...]:
    return (
        dead.job_id + (f" (series {dead.series})" if dead.series else ""),
        iso(dead.due) if dead.due is not None else "?",
        dead.detail_type or "-",
        str(dead.attempts),
        shorten(dead.reason, REASON_WIDTH),
        when(dead.dead_at, now, gap=" ") if dead.dead_at is not None else "?",
    )


def _redrive(args: argparse.Namespace, scheduler: Scheduler, now: datetime) -> Output:
    detail = None if args.detail is None else parse_detail(args.detail)
    job = scheduler.redrive(args.id, detail_type=args.detail_type, detail=detail)
    heading = ["sent back: it fires on the next dispatcher run"]
    typed_id = args.id.strip().rpartition("#")[2]  # the id, also when the sort key was given
    if job.id != typed_id:  # an onthedot job id carries the due time: it changed
        heading.append(was_line(typed_id))
    return job_output(job, now, *heading)
