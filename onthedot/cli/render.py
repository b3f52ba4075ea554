"""What the commands print: key-value lines, tables and relative times for people, one JSON document for --json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias

from onthedot.cli.parser import DEFAULT_LIMIT

if TYPE_CHECKING:
    from onthedot.client import Job, Series

Output: TypeAlias = tuple[Any, str]  # what a command returns: (the --json document, the human text)


# -- a job or a series -----------------------------------------------------------------------------------------


def job_output(job: Job, now: datetime, *heading: str) -> Output:
    """The job as its --json document, and as key-value lines under the ``heading`` lines."""
    return job.as_dict(), "\n".join([*heading, job_text(job, now)])


def series_output(series: Series, now: datetime, *heading: str) -> Output:
    """The series as its --json document, and as key-value lines under the ``heading`` lines."""
    return series.as_dict(), "\n".join([*heading, series_text(series, now)])


def was_line(job_id: str) -> str:
    """The id a job had before it moved, aligned with the job's lines."""
    return f"was      {job_id}"


def job_text(job: Job, now: datetime) -> str:
    rows = [
        ("job", job.id),
        ("due", when(job.due, now)),
        ("type", job.detail_type),
        ("detail", compact(job.detail)),
    ]
    if job.series:
        rows.append(("series", job.series))
    if job.created_at:
        rows.append(("created", when(job.created_at, now)))
    return pairs(rows)


def series_text(series: Series, now: datetime) -> str:
    rule = f"cron {series.cron}" if series.cron else f"rate {series.rate}"
    rows = [
        ("series", series.id),
        ("rule", f"{rule}  in {series.tz}"),
        ("type", series.detail_type),
        ("detail", compact(series.detail)),
        ("starts", iso(series.starts_at)),
        ("ends", iso(series.ends_at) if series.ends_at else "never"),
        ("limit", f"{series.limit} occurrences" if series.limit else "none"),
        ("fired", str(series.fired)),
    ]
    if series.next is None:
        rows.append(("next", "none: the series has ended"))
    else:
        rows.append(("next", f"job {series.next.id}  due {when(series.next.due, now)}"))
    return pairs(rows)


def more_hint(command: str, cursor: str, limit: int) -> str:
    """The command line that prints the next page."""
    return f"more: onthedot {command} --cursor {cursor}" + (f" --limit {limit}" if limit != DEFAULT_LIMIT else "")


# -- times -----------------------------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    from onthedot.core.keys import format_time

    return format_time(moment)


def when(moment: datetime, now: datetime, gap: str = "  ") -> str:
    """``2026-02-09T11:33:29.000Z  (in 29 s)``."""
    return f"{iso(moment)}{gap}({relative(moment, now)})"


def relative(moment: datetime, now: datetime) -> str:
    """``in 29 s``, ``3 min ago``, ``in 2 h``, ``in 4 d``."""
    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    if size < 1:
        return "now"
    if size < 90:
        amount = f"{size:.0f} s"
    elif size < 90 * 60:
        amount = f"{size / 60:.0f} min"
    elif size < 48 * 3600:
        amount = f"{size / 3600:.0f} h"
    else:
        amount = f"{size / 86400:.0f} d"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def relative_text(text: Any, now: datetime) -> str:
    """:func:`relative` for a time as stored; ``?`` when it is not one."""
    from onthedot.core.keys import KeyFormatError, parse_time

    try:
        return relative(parse_time(str(text).replace("Z", "+00:00")), now)
    except KeyFormatError:
        return "?"


# -- layout ----------------------------------------------------------------------------------------------------


def shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters, with an ellipsis when cut."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def compact(detail: Any) -> str:
    return json.dumps(detail, ensure_ascii=False, default=json_default)


def pairs(rows: Sequence[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows) + 2
    return "\n".join(f"{name:<{width}}{printable(value)}" for name, value in rows)


def table(rows: Sequence[Sequence[str]]) -> str:
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in rows
    )


def printable(text: str) -> str:
    """``text`` with every character a terminal could act on (controls, line separators, ...) as an escape:
    ``\\x1b``, ``\\u2028``. Stored data is anyone's, so no cell may move the cursor or forge a row."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def printable_lines(text: str) -> str:
    """:func:`printable`, line by line: what a command prints, whose own line breaks stay."""
    return "\n".join(printable(line) for line in text.split("\n"))


# -- JSON ------------------------------------------------------------------------------------------------------


def as_json(document: Any) -> str:
    """The --json document: times as onthedot writes them, numbers exact, and no character a terminal acts on
    (JSON escapes C0 controls but not DEL, C1 controls or line separators: they are escaped here too)."""
    text = json.dumps(document, indent=2, ensure_ascii=False, default=json_default)
    if text.replace("\n", "").isprintable():
        return text
    # Outside strings a JSON document holds only printable ASCII, spaces and line breaks: the rest is in strings.
    return "".join(c if c.isprintable() or c == "\n" else json.dumps(c)[1:-1] for c in text)


def json_default(value: Any) -> Any:
    """Times as onthedot writes them; stored values (Decimal numbers, sets) as ``onthedot.core.items.plain`` does."""
    from onthedot.core.items import plain

    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, (Decimal, set, frozenset)):
        return plain(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
