"""``onthedot ui``: the console for the table the target options point at, in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from onthedot.cli.exits import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, fail

EXTRA_HINT = "onthedot ui needs the ui extra: pip install 'onthedot[ui]'"


def ui(args: argparse.Namespace) -> int:
    try:
        from onthedot.ui import server
        from onthedot.ui.app import create_app
        from onthedot.ui.guard import LOOPBACK_NAMES
    except ImportError as error:
        return fail(f"{EXTRA_HINT} ({error})", EXIT_FAILURE)
    from botocore.exceptions import BotoCoreError, ClientError

    from onthedot.cli import connect
    from onthedot.deploy.target import TargetError

    if args.table is not None and args.stack is not None:
        return fail("--table, --stack: give one of them, not both", EXIT_USAGE)
    try:
        scheduler, target = connect(args)
    except (TargetError, BotoCoreError, ClientError) as error:
        return fail(str(error), EXIT_FAILURE)
    try:
        sock = server.bind(args.bind, args.listen)
    except OSError as error:
        return fail(f"cannot listen on {args.bind}:{args.listen}: {error.strerror or error}", EXIT_FAILURE)
    hosts = LOOPBACK_NAMES if server.is_loopback(args.bind) else (*LOOPBACK_NAMES, args.bind)
    app = create_app(scheduler, target, read_only=args.read_only, refresh_seconds=args.refresh, allowed_hosts=hosts)
    print(f"console: {server.url_of(sock)}  ({target.description}{' · read-only' if args.read_only else ''})")
    if not server.is_loopback(args.bind):
        print(f"  listening on {args.bind}: anyone who can reach it can act on the table (--read-only prevents that)")
    print("  Ctrl-C stops it", flush=True)
    sys.stdout.flush()
    server.run(app, sock)
    return EXIT_OK
