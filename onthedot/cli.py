"""The ``onthedot`` command line: the local cloud, jobs scheduled, inspected and cancelled, and the dead letter.

Exit codes: 0 ok, 2 bad input (nothing was written), 1 failure (not found, AWS error, no target).
Every command but ``local`` prints one JSON document on stdout with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from onthedot.settings import Settings, SettingsError

if TYPE_CHECKING:
    from onthedot.client import DeadLetter, Job, Scheduler, Series
    from onthedot.target import Target

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
RECENT_RUNS = 5
STATUS_HORIZON = timedelta(hours=1)
REASON_WIDTH = 60  # dlq list shortens reasons to this many characters (--json has them whole)
MAX_BACKLOG_BUCKETS = 48  # status counts at most this many buckets behind the previous one

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_JSON_KINDS = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}


# -- argument types --------------------------------------------------------------------------------------------


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {text!r}")
    return int(text)


def _bucket_minutes(text: str) -> int:
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


# -- what the commands read ------------------------------------------------------------------------------------


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


# -- the parser ------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onthedot", description="A serverless scheduler for AWS.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    local = commands.add_parser(
        "local",
        help="run the scheduler on an embedded local cloud (offline, no Docker)",
        description="Start moto on 127.0.0.1 with the stack's resources, run the dispatcher definition every "
        "--every seconds, and print every job that fires.",
    )
    local.add_argument("--port", type=_port, default=4566, help="port of the local AWS endpoint (default 4566)")
    local.add_argument(
        "--every",
        type=_positive,
        default=60.0,
        help="seconds between dispatcher runs (default 60, as on AWS)",
    )
    local.add_argument("--demo", action="store_true", help="schedule a few sample jobs due in the next two minutes")
    local.add_argument("--exit-after", type=_positive, metavar="SECONDS", help="stop cleanly after SECONDS")
    local.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a tuning knob, as with cdk -c (e.g. -c pageSize=200); repeatable",
    )

    common = _common_options()
    schedule = commands.add_parser(
        "schedule",
        parents=[common],
        help="schedule a job (--at, --in) or a recurring job (--cron, --rate)",
        description="Schedule a job. A due time in the past is not an error: the job fires on the next dispatcher run.",
    )
    when = schedule.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", metavar="ISO", help="due time with an offset, e.g. 2026-02-09T11:33:00Z")
    when.add_argument("--in", dest="delay", type=parse_duration, metavar="DURATION", help="e.g. 45s, 10m, 1h30m, 2d")
    when.add_argument("--cron", metavar="EXPR", help='recurring: a 5-field cron expression, e.g. "*/5 * * * *"')
    when.add_argument("--rate", metavar="RATE", help='recurring: "15 minutes", "2 hours", "1 day"')
    schedule.add_argument("--tz", metavar="ZONE", help="recurring: IANA time zone the rule is read in (default UTC)")
    schedule.add_argument("--ends", metavar="ISO", help="recurring: no occurrence after this time")
    schedule.add_argument("--count", type=_count, metavar="N", help="recurring: at most N occurrences")
    schedule.add_argument(
        "--type",
        dest="detail_type",
        required=True,
        metavar="TYPE",
        help="the event's detail-type (workers route on it)",
    )
    schedule.add_argument(
        "--detail", default="{}", metavar="JSON", help="the event's detail: a JSON object, or @file.json (default {})"
    )
    schedule.add_argument("--key", metavar="KEY", help="idempotency key: scheduling again with it yields the same job")

    for name, text in (("get", "show a pending job or a series"), ("cancel", "cancel a pending job or a series")):
        command = commands.add_parser(name, parents=[common], help=text, description=text.capitalize() + ".")
        command.add_argument("id", metavar="ID", help="a job id (UUIDv7) or a series id (UUIDv4)")

    reschedule = commands.add_parser(
        "reschedule",
        parents=[common],
        help="move a pending job to a new due time (it gets a new id)",
        description="Move a pending job to a new due time. Job ids carry the due time, so the job gets a new id.",
    )
    reschedule.add_argument("id", metavar="ID", help="a job id (UUIDv7)")
    new_time = reschedule.add_mutually_exclusive_group(required=True)
    new_time.add_argument("--at", metavar="ISO", help="the new due time, with an offset")
    new_time.add_argument("--in", dest="delay", type=parse_duration, metavar="DURATION", help="from now: 45s, 1h30m")

    listing = commands.add_parser(
        "list",
        parents=[common],
        help="pending jobs in due order",
        description="Pending jobs due between --from and --to, in due order (default: what the dispatcher has "
        "not drained yet, up to a day ahead).",
    )
    listing.add_argument("--from", dest="start", metavar="TIME", help="ISO time with an offset, or now")
    listing.add_argument("--to", dest="end", metavar="TIME", help="ISO time with an offset, or now")
    listing.add_argument("--limit", type=_count, default=100, metavar="N", help="jobs a page (default 100)")
    listing.add_argument("--cursor", metavar="CURSOR", help="the next page, as printed by the previous one")

    commands.add_parser(
        "status",
        parents=[common],
        help="pending jobs by bucket, the next due job, the last dispatcher runs",
        description="Pending jobs in the buckets the dispatcher drains now and in the next hour, the next due "
        "job, and the last dispatcher runs with their counts.",
    )

    dlq = commands.add_parser(
        "dlq",
        help="dead-lettered jobs: list them, send them back",
        description="Jobs the dispatcher could not publish: poison jobs at once, others after their last attempt.",
    )
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True, metavar="COMMAND")
    dlq_list = dlq_commands.add_parser(
        "list",
        parents=[common],
        help="dead-lettered jobs in due order, with why they are there",
        description="Dead-lettered jobs in due order: id, due time, detail-type, attempts, reason and when they "
        "were dead-lettered; then the dead letter's size.",
    )
    dlq_list.add_argument("--limit", type=_count, default=100, metavar="N", help="dead letters a page (default 100)")
    dlq_list.add_argument("--cursor", metavar="CURSOR", help="the next page, as printed by the previous one")
    redrive = dlq_commands.add_parser(
        "redrive",
        parents=[common],
        help="send a dead-lettered job back, due now, optionally fixed",
        description="Send a dead-lettered job back into the jobs table, due now, with its attempts cleared: it "
        "fires on the next dispatcher run. --type and --detail fix it first; the fixed job is checked as "
        "schedule checks it. An onthedot job id carries the due time, so the job gets a new id.",
    )
    redrive.add_argument("id", metavar="ID", help="the job id, or its sort key (dlq list --json shows both)")
    redrive.add_argument("--type", dest="detail_type", metavar="TYPE", help="fix: the event's detail-type")
    redrive.add_argument("--detail", metavar="JSON", help="fix: the event's detail, a JSON object or @file.json")
    return parser


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    target = common.add_argument_group(
        "target", "default: AWS_ENDPOINT_URL if set, else the local cloud on 127.0.0.1:4566 (ONTHEDOT_LOCAL_PORT)"
    )
    target.add_argument("--stack", metavar="NAME", help="a deployed stack: its table and bus from its outputs")
    target.add_argument("--table", metavar="NAME", help="the jobs table (with --bus); region as boto3 resolves it")
    target.add_argument("--bus", metavar="NAME", help="the event bus, shown by status")
    target.add_argument("--port", type=_port, metavar="PORT", help="the local cloud on 127.0.0.1:PORT")
    target.add_argument(
        "--dead-letter-table",
        metavar="NAME",
        help="the dead-letter table, for dlq (default: the stack's output, or the local cloud's)",
    )
    target.add_argument(
        "--bucket-minutes",
        type=_bucket_minutes,
        metavar="N",
        help="the stack's bucketMinutes knob (default: the stack's output, else 5)",
    )
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return common


# -- running a command -----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "local":
        return _local(args)
    if args.command == "schedule" and not (args.cron or args.rate):
        given = [flag for flag, value in (("--tz", args.tz), ("--ends", args.ends), ("--count", args.count)) if value]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            return _fail(f"{', '.join(given)}: {verb} only to a recurring job (--cron or --rate)", EXIT_USAGE)
    if args.table is not None and args.stack is not None:
        return _fail("--table, --stack: give one of them, not both", EXIT_USAGE)
    return run(args)


def _local(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args.context)
    except SettingsError as error:
        print(f"onthedot: {error}", file=sys.stderr)
        return EXIT_USAGE
    from onthedot.local.console import serve

    return serve(port=args.port, every=args.every, demo=args.demo, exit_after=args.exit_after, settings=settings)


def _settings(pairs: Sequence[str]) -> Settings:
    context: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or key not in Settings.knob_names():
            raise SettingsError(f"-c takes KEY=VALUE with KEY one of {', '.join(Settings.knob_names())}; got {pair!r}")
        context[key] = value
    return Settings.from_context(context)


def connect(args: argparse.Namespace) -> tuple[Scheduler, Target]:
    """The scheduler over the table the options (and the environment) point at."""
    from onthedot.client import Scheduler
    from onthedot.target import TargetError, resolve

    target = resolve(
        table=args.table,
        bus=args.bus,
        stack=args.stack,
        port=args.port,
        bucket_minutes=args.bucket_minutes,
        dead_letter_table=getattr(args, "dead_letter_table", None),
    )
    if args.command == "dlq" and target.dead_letter_table is None:
        raise TargetError(
            f"no dead-letter table known for {target.description}: give --dead-letter-table NAME "
            "(a stack names it in its DeadLetterTableName output)"
        )
    scheduler = Scheduler(
        target.table,
        dead_letter_table=target.dead_letter_table,
        dynamodb=target.client("dynamodb"),
        bucket_minutes=target.bucket_minutes,
    )
    return scheduler, target


def run(args: argparse.Namespace) -> int:
    """Run a job command; map what goes wrong to an exit code and one line on stderr."""
    from botocore.exceptions import BotoCoreError, ClientError

    from onthedot.client import InvalidJob, JobNotFound
    from onthedot.target import TargetError

    target: Target | None = None
    try:
        scheduler, target = connect(args)
        document, text = COMMANDS[args.command](args, scheduler, target, datetime.now(UTC))
    except InvalidJob as error:
        return _fail(str(error), EXIT_USAGE)
    except (JobNotFound, TargetError) as error:
        return _fail(str(error), EXIT_FAILURE)
    except ClientError as error:
        details = error.response.get("Error", {})
        operation = getattr(error, "operation_name", "request")
        message = f"AWS {operation} failed: {details.get('Code', '?')}: {details.get('Message', error)}"
        if details.get("Code") == "ResourceNotFoundException" and target is not None:
            if args.command == "dlq":
                message += (
                    f" (dead-letter table {target.dead_letter_table}, table {target.table}, {target.description})"
                )
            else:
                message += f" (table {target.table}, {target.description})"
        return _fail(message, EXIT_FAILURE)
    except BotoCoreError as error:  # no credentials or region, endpoint unreachable, timeouts
        return _fail(str(error), EXIT_FAILURE)
    print(json.dumps(document, indent=2, ensure_ascii=False, default=_json_default) if args.json else text)
    return EXIT_OK


def _fail(message: str, code: int) -> int:
    print(f"onthedot: {message}", file=sys.stderr)
    return code


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# -- the commands: each returns (the --json document, the human text) ------------------------------------------

Output = tuple[Any, str]


def _schedule(args: argparse.Namespace, scheduler: Scheduler, _target: Target, now: datetime) -> Output:
    detail = parse_detail(args.detail)
    if args.cron or args.rate:
        series = scheduler.schedule_recurring(
            args.detail_type,
            detail,
            cron=args.cron,
            rate=args.rate,
            tz=args.tz or "UTC",
            ends_at=args.ends,
            limit=args.count,
            key=args.key,
        )
        return series.as_dict(), "scheduled\n" + _series_text(series, now)
    job = scheduler.schedule(args.detail_type, detail, at=args.at, delay=args.delay, key=args.key)
    return job.as_dict(), "scheduled\n" + _job_text(job, now)


def _get(args: argparse.Namespace, scheduler: Scheduler, _target: Target, now: datetime) -> Output:
    kind, identifier = id_kind(args.id)
    if kind == "series":
        with _hand_written_hint():
            series = scheduler.get_series(identifier)
        return series.as_dict(), _series_text(series, now)
    job = scheduler.get(identifier)
    return job.as_dict(), _job_text(job, now)


def _cancel(args: argparse.Namespace, scheduler: Scheduler, _target: Target, now: datetime) -> Output:
    kind, identifier = id_kind(args.id)
    if kind == "series":
        with _hand_written_hint():
            series = scheduler.cancel_series(identifier)
        return series.as_dict(), "cancelled, with its pending occurrence\n" + _series_text(series, now)
    job = scheduler.cancel(identifier)
    return job.as_dict(), "cancelled\n" + _job_text(job, now)


@contextmanager
def _hand_written_hint() -> Iterator[None]:
    """A UUIDv4 is a series id to onthedot, but a job typed in by hand may carry one too: say so."""
    from onthedot.client import JobNotFound

    try:
        yield
    except JobNotFound as error:
        raise JobNotFound(
            f"{error} (a UUIDv4 is read as a series id; a job written by hand with such an id "
            "cannot be looked up by id: find it with `onthedot list`)"
        ) from None


def _reschedule(args: argparse.Namespace, scheduler: Scheduler, _target: Target, now: datetime) -> Output:
    from onthedot.client import InvalidJob

    kind, identifier = id_kind(args.id)
    if kind == "series":
        raise InvalidJob("id", f"{identifier} is a series; reschedule takes a job id (cancel the series instead)")
    job = scheduler.reschedule(identifier, at=args.at, delay=args.delay)
    return job.as_dict(), f"rescheduled (the job id carries the due time, so it changed)\nwas      {identifier}\n" + (
        _job_text(job, now)
    )


def _list(args: argparse.Namespace, scheduler: Scheduler, _target: Target, now: datetime) -> Output:
    page = scheduler.list_jobs(
        start=None if args.start is None else parse_moment(args.start, now),
        end=None if args.end is None else parse_moment(args.end, now),
        limit=args.limit,
        cursor=args.cursor,
    )
    document = {"jobs": [job.as_dict() for job in page.jobs], "cursor": page.cursor}
    if not page.jobs:
        if args.start is None and args.end is None and args.cursor is None:
            return document, "no pending jobs due up to a day from now (--from/--to choose another range)"
        return document, "no pending jobs in that range"
    rows = [("DUE", "WHEN", "TYPE", "JOB")]
    rows += [
        (
            _iso(job.due),
            _relative(job.due, now),
            job.detail_type,
            job.id + (f"  series {job.series}" if job.series else ""),
        )
        for job in page.jobs
    ]
    text = _table(rows)
    if page.cursor:
        text += f"\nmore: onthedot list --cursor {page.cursor}" + (
            f" --limit {args.limit}" if args.limit != 100 else ""
        )
    return document, text


def _status(args: argparse.Namespace, scheduler: Scheduler, target: Target, now: datetime) -> Output:
    from onthedot import keys

    dynamodb = target.client("dynamodb")
    minutes = target.bucket_minutes
    width = timedelta(minutes=minutes)
    current = keys.bucket_start(now, minutes)
    cursor = _dispatcher_cursor(dynamodb, target.table)
    first = current - width  # the previous bucket: every run drains it and the current one
    behind_from = _bucket_of(cursor)
    if behind_from is not None and behind_from < first:  # the dispatcher is catching up from its cursor
        first = max(behind_from, first - MAX_BACKLOG_BUCKETS * width)
    buckets = []
    start = first
    while start <= now + STATUS_HORIZON:
        partition = keys.partition_key(start, minutes)
        state = "behind" if start < current - width else "draining" if start <= current else "ahead"
        pending = _count_partition(dynamodb, target.table, partition)
        buckets.append({"partition": partition, "start": _iso(start), "pending": pending, "state": state})
        start += width
    upcoming = _first_job(scheduler, buckets, width)
    runs = _recent_runs(dynamodb, target.table)
    document = {
        "target": {"table": target.table, "bus": target.bus, "where": target.description},
        "now": _iso(now),
        "bucket_minutes": minutes,
        "cursor": cursor,
        "buckets": buckets,
        "next": upcoming.as_dict() if upcoming else None,
        "runs": runs,
    }
    return document, _status_text(document, upcoming, target, now)


def _first_job(scheduler: Scheduler, buckets: Sequence[dict[str, Any]], width: timedelta) -> Job | None:
    """The first pending job in the buckets counted: one query in the first bucket that holds any."""
    from onthedot.keys import parse_time

    for bucket in buckets:
        if bucket["pending"]:
            start = parse_time(bucket["start"].replace("Z", "+00:00"))
            jobs = scheduler.list_jobs(start=start, end=start + width - timedelta(milliseconds=1), limit=1).jobs
            if jobs:
                return jobs[0]
    return None


def _status_text(document: dict[str, Any], upcoming: Job | None, target: Target, now: datetime) -> str:
    buckets = document["buckets"]
    lines = [f"target   {target.description} · table {target.table}" + (f" · bus {target.bus}" if target.bus else "")]
    lines.append(f"now      {document['now']}")
    behind = [bucket for bucket in buckets if bucket["state"] == "behind"]
    if behind:
        lines.append(f"dispatcher cursor  {document['cursor']}: catching up, {len(behind)} buckets behind")
    lines.append(f"pending jobs by {document['bucket_minutes']}-minute bucket:")
    labels = {"behind": "  behind", "draining": "  draining now", "ahead": ""}
    lines += [
        f"  {bucket['partition']}  {bucket['pending']:>6}{labels[bucket['state']]}"
        for bucket in buckets
        if bucket["state"] == "draining" or bucket["pending"]
    ]
    ahead = [bucket for bucket in buckets if bucket["state"] == "ahead"]
    lines.append(
        f"  next hour: {sum(bucket['pending'] for bucket in ahead)} pending"
        f" ({sum(not bucket['pending'] for bucket in ahead)} of {len(ahead)} buckets empty)"
    )
    if upcoming is None:
        lines.append("next due job  none in the next hour")
    else:
        lines.append(
            f"next due job  {upcoming.id}  {upcoming.detail_type}"
            f"  due {_iso(upcoming.due)} ({_relative(upcoming.due, now)})"
        )
    if not document["runs"]:
        lines.append("dispatcher runs  no runs recorded yet")
    else:
        lines.append("last dispatcher runs:")
        for record in document["runs"]:
            counts = " · ".join(f"{name} {value}" for name, value in record.items() if name != "time")
            lines.append(f"  {record['time']} ({_relative_text(record['time'], now)})  {counts}")
    return "\n".join(lines)


def _dlq(args: argparse.Namespace, scheduler: Scheduler, _target: Target, now: datetime) -> Output:
    if args.dlq_command == "redrive":
        return _redrive(args, scheduler, now)
    return _dlq_list(args, scheduler, now)


def _dlq_list(args: argparse.Namespace, scheduler: Scheduler, now: datetime) -> Output:
    page = scheduler.dead_letters(limit=args.limit, cursor=args.cursor)
    size = scheduler.dead_letter_size()
    document = {"dead_letters": [dead.as_dict() for dead in page.dead_letters], "cursor": page.cursor, "size": size}
    if not page.dead_letters:
        return document, "no dead-lettered jobs" if args.cursor is None else "no more dead-lettered jobs"
    rows: list[tuple[str, ...]] = [("JOB", "DUE", "TYPE", "ATTEMPTS", "REASON", "DEAD-LETTERED")]
    rows += [_dead_letter_row(dead, now) for dead in page.dead_letters]
    text = _table(rows) + f"\n{size} dead-lettered job{'' if size == 1 else 's'} in all"
    if page.cursor:
        text += f"\nmore: onthedot dlq list --cursor {page.cursor}" + (
            f" --limit {args.limit}" if args.limit != 100 else ""
        )
    return document, text


def _dead_letter_row(dead: DeadLetter, now: datetime) -> tuple[str, ...]:
    return (
        dead.job_id + (f" (series {dead.series})" if dead.series else ""),
        _iso(dead.due) if dead.due is not None else "?",
        dead.detail_type or "-",
        str(dead.attempts),
        _shorten(dead.reason, REASON_WIDTH),
        f"{_iso(dead.dead_at)} ({_relative(dead.dead_at, now)})" if dead.dead_at is not None else "?",
    )


def _redrive(args: argparse.Namespace, scheduler: Scheduler, now: datetime) -> Output:
    detail = None if args.detail is None else parse_detail(args.detail)
    job = scheduler.redrive(args.id, detail_type=args.detail_type, detail=detail)
    lines = ["sent back: it fires on the next dispatcher run"]
    typed_id = args.id.strip().rpartition("#")[2]  # the id, also when the sort key was given
    if job.id != typed_id:  # an onthedot job id carries the due time: it changed
        lines.append(f"was      {typed_id}")
    return job.as_dict(), "\n".join(lines) + "\n" + _job_text(job, now)


COMMANDS: dict[str, Callable[[argparse.Namespace, Any, Any, datetime], Output]] = {
    "schedule": _schedule,
    "get": _get,
    "cancel": _cancel,
    "reschedule": _reschedule,
    "list": _list,
    "status": _status,
    "dlq": _dlq,
}


def _count_partition(dynamodb: Any, table: str, partition: str) -> int:
    """Items in one bucket partition: a COUNT query, page by page."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": partition}},
        "Select": "COUNT",
    }
    total = 0
    while True:
        response = dynamodb.query(**request)
        total += int(response["Count"])
        if "LastEvaluatedKey" not in response:
            return total
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _dispatcher_cursor(dynamodb: Any, table: str) -> str | None:
    """The dispatcher's cursor: the oldest bucket (a pk) that may still hold due jobs; None before any run."""
    from onthedot.jobs import CURSOR_BUCKET, CURSOR_PK, CURSOR_SK

    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": CURSOR_PK}, "sk": {"S": CURSOR_SK}}).get("Item", {})
    return item.get(CURSOR_BUCKET, {}).get("S")


def _bucket_of(partition: str | None) -> datetime | None:
    """The start of the bucket a ``j#YYYY-MM-DDTHH:MM`` partition key names; None for anything else."""
    from onthedot.keys import PK_PREFIX

    if partition is None or not partition.startswith(PK_PREFIX):
        return None
    try:
        return datetime.strptime(partition[len(PK_PREFIX) :], "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
    except ValueError:
        return None


_RUN_COUNTS = ("due", "published", "failed", "missing", "deleted", "advanced", "undeleted", "partitions")
_RUN_HIDDEN = {"pk", "sk", "expires_at"}


def _recent_runs(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """The last dispatcher runs, newest first: the run time and its Summarize counts."""
    from boto3.dynamodb.types import TypeDeserializer

    from onthedot.jobs import RUN_PK

    response = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": RUN_PK}},
        ScanIndexForward=False,
        Limit=RECENT_RUNS,
    )
    deserialize = TypeDeserializer().deserialize
    runs = []
    for item in response.get("Items", []):
        values = {name: deserialize(raw) for name, raw in item.items()}  # numbers stay Decimal: exact in JSON
        record = {"time": values.get("sk")}
        record |= {name: values[name] for name in _RUN_COUNTS if name in values}
        record |= {name: value for name, value in values.items() if name not in record and name not in _RUN_HIDDEN}
        runs.append(record)
    return runs


# -- human output ----------------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    from onthedot.keys import format_time

    return format_time(moment)


def _relative(moment: datetime, now: datetime) -> str:
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


def _relative_text(text: Any, now: datetime) -> str:
    from onthedot.keys import KeyFormatError, parse_time

    try:
        return _relative(parse_time(str(text).replace("Z", "+00:00")), now)
    except KeyFormatError:
        return "?"


def _job_text(job: Job, now: datetime) -> str:
    rows = [
        ("job", job.id),
        ("due", f"{_iso(job.due)}  ({_relative(job.due, now)})"),
        ("type", job.detail_type),
        ("detail", _compact(job.detail)),
    ]
    if job.series:
        rows.append(("series", job.series))
    if job.created_at:
        rows.append(("created", f"{_iso(job.created_at)}  ({_relative(job.created_at, now)})"))
    return _pairs(rows)


def _series_text(series: Series, now: datetime) -> str:
    rule = f"cron {series.cron}" if series.cron else f"rate {series.rate}"
    rows = [
        ("series", series.id),
        ("rule", f"{rule}  in {series.tz}"),
        ("type", series.detail_type),
        ("detail", _compact(series.detail)),
        ("starts", _iso(series.starts_at)),
        ("ends", _iso(series.ends_at) if series.ends_at else "never"),
        ("limit", f"{series.limit} occurrences" if series.limit else "none"),
        ("fired", str(series.fired)),
    ]
    if series.next is None:
        rows.append(("next", "none: the series has ended"))
    else:
        rows.append(("next", f"job {series.next.id}  due {_iso(series.next.due)}  ({_relative(series.next.due, now)})"))
    return _pairs(rows)


def _shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters, with an ellipsis when cut."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def _compact(detail: Any) -> str:
    return json.dumps(detail, ensure_ascii=False, default=_json_default)


def _pairs(rows: Sequence[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows) + 2
    return "\n".join(f"{name:<{width}}{value}" for name, value in rows)


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in rows
    )


if __name__ == "__main__":
    sys.exit(main())
