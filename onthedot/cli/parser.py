"""The ``onthedot`` argument parser: every command with its options and help."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TypeAlias

from onthedot.cli import values
from onthedot.ui.options import add_ui_command

if TYPE_CHECKING:
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

DEFAULT_LIMIT = 100  # list and dlq list: rows a page


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onthedot", description="A serverless scheduler for AWS.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_local(commands)
    common = _common_options()
    _add_schedule(commands, common)
    for name, text in (("get", "show a pending job or a series"), ("cancel", "cancel a pending job or a series")):
        command = commands.add_parser(name, parents=[common], help=text, description=text.capitalize() + ".")
        command.add_argument("id", metavar="ID", help="a job id (UUIDv7) or a series id (UUIDv4)")
    _add_reschedule(commands, common)
    _add_list(commands, common)
    commands.add_parser(
        "status",
        parents=[common],
        help="pending jobs by bucket, the next due job, the last dispatcher runs",
        description="Pending jobs in the buckets the dispatcher drains now and in the next hour, the next due "
        "job, and the last dispatcher runs with their counts.",
    )
    _add_dlq(commands, common)
    add_ui_command(commands, common)  # onthedot ui: its options live with it
    return parser


def _add_local(commands: Commands) -> None:
    local = commands.add_parser(
        "local",
        help="run the scheduler on an embedded local cloud (offline, no Docker)",
        description="Start moto on 127.0.0.1 with the stack's resources, run the dispatcher definition every "
        "--every seconds, and print every job that fires.",
    )
    local.add_argument("--port", type=values.port, default=4566, help="port of the local AWS endpoint (default 4566)")
    local.add_argument(
        "--every",
        type=values.positive,
        default=60.0,
        help="seconds between dispatcher runs (default 60, as on AWS)",
    )
    local.add_argument("--demo", action="store_true", help="schedule a few sample jobs due in the next two minutes")
    local.add_argument("--ui", type=values.port, metavar="PORT", help="also serve the web console on 127.0.0.1:PORT")
    local.add_argument("--exit-after", type=values.positive, metavar="SECONDS", help="stop cleanly after SECONDS")
    local.add_argument(
        "--data",
        default=".onthedot/local-data",
        metavar="DIR",
        help="folder the jobs and dead-letter tables are kept in, across restarts (default .onthedot/local-data)",
    )
    local.add_argument("--fresh", action="store_true", help="start with empty tables (deletes what --data holds)")
    local.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a tuning knob, as with cdk -c (e.g. -c pageSize=200); repeatable",
    )


def _add_schedule(commands: Commands, common: argparse.ArgumentParser) -> None:
    schedule = commands.add_parser(
        "schedule",
        parents=[common],
        help="schedule a job (--at, --in) or a recurring job (--cron, --rate)",
        description="Schedule a job. A due time in the past is not an error: the job fires on the next dispatcher run.",
    )
    when = _due_time_options(
        schedule,
        at_help="due time with an offset, e.g. 2026-02-09T11:33:00Z",
        in_help="e.g. 45s, 10m, 1h30m, 2d",
    )
    when.add_argument("--cron", metavar="EXPR", help='recurring: a 5-field cron expression, e.g. "*/5 * * * *"')
    when.add_argument("--rate", metavar="RATE", help='recurring: "15 minutes", "2 hours", "1 day"')
    schedule.add_argument("--tz", metavar="ZONE", help="recurring: IANA time zone the rule is read in (default UTC)")
    schedule.add_argument("--ends", metavar="ISO", help="recurring: no occurrence after this time")
    schedule.add_argument("--count", type=values.count, metavar="N", help="recurring: at most N occurrences")
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


def _add_reschedule(commands: Commands, common: argparse.ArgumentParser) -> None:
    reschedule = commands.add_parser(
        "reschedule",
        parents=[common],
        help="move a pending job to a new due time (it gets a new id)",
        description="Move a pending job to a new due time. Job ids carry the due time, so the job gets a new id.",
    )
    reschedule.add_argument("id", metavar="ID", help="a job id (UUIDv7)")
    _due_time_options(reschedule, at_help="the new due time, with an offset", in_help="from now: 45s, 1h30m")


def _due_time_options(
    parser: argparse.ArgumentParser, *, at_help: str, in_help: str
) -> argparse._MutuallyExclusiveGroup:
    """``--at ISO`` or ``--in DURATION``, one of them required; the group, for more choices."""
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", metavar="ISO", help=at_help)
    when.add_argument("--in", dest="delay", type=values.parse_duration, metavar="DURATION", help=in_help)
    return when


def _add_list(commands: Commands, common: argparse.ArgumentParser) -> None:
    listing = commands.add_parser(
        "list",
        parents=[common],
        help="pending jobs in due order",
        description="Pending jobs due between --from and --to, in due order (default: what the dispatcher has "
        "not drained yet, up to a day ahead).",
    )
    listing.add_argument("--from", dest="start", metavar="TIME", help="ISO time with an offset, or now")
    listing.add_argument("--to", dest="end", metavar="TIME", help="ISO time with an offset, or now")
    _page_options(listing, "jobs")


def _add_dlq(commands: Commands, common: argparse.ArgumentParser) -> None:
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
    _page_options(dlq_list, "dead letters")
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


def _page_options(parser: argparse.ArgumentParser, rows: str) -> None:
    """``--limit N`` and ``--cursor CURSOR``, for a command that prints ``rows`` page by page."""
    parser.add_argument(
        "--limit",
        type=values.count,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"{rows} a page (default {DEFAULT_LIMIT})",
    )
    parser.add_argument("--cursor", metavar="CURSOR", help="the next page, as printed by the previous one")


def _common_options() -> argparse.ArgumentParser:
    """The options every command but ``local`` takes: where the table is, and ``--json``."""
    common = argparse.ArgumentParser(add_help=False)
    target = common.add_argument_group(
        "target", "default: AWS_ENDPOINT_URL if set, else the local cloud on 127.0.0.1:4566 (ONTHEDOT_LOCAL_PORT)"
    )
    target.add_argument("--stack", metavar="NAME", help="a deployed stack: its table and bus from its outputs")
    target.add_argument("--table", metavar="NAME", help="the jobs table (with --bus); region as boto3 resolves it")
    target.add_argument("--bus", metavar="NAME", help="the event bus, shown by status")
    target.add_argument("--port", type=values.port, metavar="PORT", help="the local cloud on 127.0.0.1:PORT")
    target.add_argument(
        "--dead-letter-table",
        metavar="NAME",
        help="the dead-letter table, for dlq (default: the stack's output, or the local cloud's)",
    )
    target.add_argument(
        "--bucket-minutes",
        type=values.bucket_minutes,
        metavar="N",
        help="the stack's bucketMinutes knob (default: the stack's output, else 5)",
    )
    target.add_argument(
        "--shards",
        type=values.shards,
        metavar="N",
        help="the stack's shards knob (default: the stack's output, else the table's)",
    )
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return common
