"""The console's writes: cancel, reschedule and redrive, through ``Scheduler`` as the CLI calls it, with the
CLI's readers of ids, durations and details, so the same input passes or fails with the same message."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from onthedot.cli.values import id_kind, parse_detail, parse_duration

if TYPE_CHECKING:
    from onthedot.client import Job, Scheduler, Series

ACTIONS = ("cancel", "reschedule", "redrive")


@dataclass(frozen=True)
class Done:
    heading: str  # what happened, for people
    job: Job | None = None
    series: Series | None = None
    was: str | None = None  # the id the job had, when it changed


def perform(action: str, form: Mapping[str, str], scheduler: Scheduler) -> Done:
    """Run ``action`` with the form's fields; raises InvalidJob (bad input, nothing written) or JobNotFound."""
    from onthedot.client import InvalidJob

    identifier = form.get("id", "").strip()
    if action == "cancel":
        kind, canonical = id_kind(identifier)
        if kind == "series":
            return Done("cancelled, with its pending occurrence", series=scheduler.cancel_series(canonical))
        return Done("cancelled", job=scheduler.cancel(canonical))
    if action == "reschedule":
        kind, canonical = id_kind(identifier)
        if kind == "series":
            raise InvalidJob("id", f"{canonical} is a series; reschedule takes a job id (cancel the series instead)")
        at, delay = form.get("at", "").strip(), form.get("in", "").strip()
        if bool(at) == bool(delay):
            raise InvalidJob("at", "give one of: a due time (at) or a delay from now (in)")
        job = scheduler.reschedule(canonical, at=at or None, delay=_duration(delay) if delay else None)
        return Done("rescheduled (the job id carries the due time, so it changed)", job=job, was=canonical)
    if action == "redrive":
        detail_type = form.get("type", "").strip() or None
        detail = _detail(form.get("detail", "").strip())
        job = scheduler.redrive(identifier, detail_type=detail_type, detail=detail)
        typed = identifier.rpartition("#")[2]
        return Done("sent back: it fires on the next dispatcher run", job=job, was=typed if job.id != typed else None)
    raise InvalidJob("action", f"no action {action!r}; one of {', '.join(ACTIONS)}")


def _duration(text: str) -> Any:
    from onthedot.client import InvalidJob

    try:
        return parse_duration(text)
    except argparse.ArgumentTypeError as error:
        raise InvalidJob("in", str(error)) from None


def _detail(text: str) -> dict[str, Any] | None:
    from onthedot.client import InvalidJob

    if not text:
        return None
    if text.startswith("@"):  # the CLI reads a file there; a web form must not read the server's files
        raise InvalidJob("detail", "paste the JSON object itself (a @file is for the command line)")
    return parse_detail(text)
