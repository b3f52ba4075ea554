"""The ``onthedot`` command line: the local cloud, jobs scheduled, inspected and cancelled, and the dead letter.

Exit codes: 0 ok, 2 bad input (nothing was written), 1 failure (not found, AWS error, no target, and a reader
that closed the pipe: that one quietly). What is printed escapes control characters: stored data is anyone's.
Every command but ``local`` prints one JSON document on stdout with ``--json``.

Here: the command line read, the table found, the command run, and what goes wrong mapped to an exit code.
The parser is in ``parser``, the option values in ``values``, the commands in ``commands`` (``status`` and
``dlq`` in their own modules), what they print in ``render``, ``onthedot local`` in ``local``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from onthedot.cli.commands import COMMANDS
from onthedot.cli.exits import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, fail
from onthedot.cli.local import local
from onthedot.cli.parser import build_parser
from onthedot.cli.render import as_json, printable_lines
from onthedot.cli.render import job_text as _job_text  # noqa: F401 - the names cli.py had, for its tests
from onthedot.cli.render import relative as _relative  # noqa: F401
from onthedot.cli.render import series_text as _series_text  # noqa: F401
from onthedot.cli.values import id_kind, parse_detail, parse_duration, parse_moment

if TYPE_CHECKING:
    from onthedot.client import Scheduler
    from onthedot.deploy.target import Target

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "connect",
    "id_kind",
    "main",
    "parse_detail",
    "parse_duration",
    "parse_moment",
    "run",
]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # the reader went away (`onthedot status | head -1`): stop quietly, as cat does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the flush at exit does not fail again
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130  # as a shell reports a command stopped by Ctrl-C


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "local":
        return local(args)
    if args.command == "schedule" and args.cron is None and args.rate is None:
        options = (("--tz", args.tz), ("--ends", args.ends), ("--count", args.count))
        given = [flag for flag, value in options if value is not None]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            return fail(f"{', '.join(given)}: {verb} only to a recurring job (--cron or --rate)", EXIT_USAGE)
    if args.command == "ui":
        from onthedot.ui.command import ui

        return ui(args)
    if args.table is not None and args.stack is not None:
        return fail("--table, --stack: give one of them, not both", EXIT_USAGE)
    return run(args)


def connect(args: argparse.Namespace) -> tuple[Scheduler, Target]:
    """The scheduler over the table the options (and the environment) point at."""
    from onthedot.client import Scheduler
    from onthedot.deploy.target import TargetError, resolve

    target = resolve(
        table=args.table,
        bus=args.bus,
        stack=args.stack,
        port=args.port,
        bucket_minutes=args.bucket_minutes,
        shards=args.shards,
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
        shards=target.shards,
    )
    return scheduler, target


def run(args: argparse.Namespace) -> int:
    """Run a job command; map what goes wrong to an exit code and one line on stderr."""
    from botocore.exceptions import BotoCoreError, ClientError

    from onthedot.client import InvalidJob, JobNotFound
    from onthedot.deploy.target import TargetError

    target: Target | None = None
    try:
        scheduler, target = connect(args)
        document, text = COMMANDS[args.command](args, scheduler, target, datetime.now(UTC))
    except InvalidJob as error:
        return fail(str(error), EXIT_USAGE)
    except (JobNotFound, TargetError) as error:
        return fail(str(error), EXIT_FAILURE)
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
        return fail(message, EXIT_FAILURE)
    except BotoCoreError as error:  # no credentials or region, endpoint unreachable, timeouts
        return fail(str(error), EXIT_FAILURE)
    print(as_json(document) if args.json else printable_lines(text))
    sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
    return EXIT_OK
