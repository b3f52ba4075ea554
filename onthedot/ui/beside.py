"""The console started beside ``onthedot local``: in a thread of the same process, for the cloud just started,
found as ``onthedot ui --port CLOUD_PORT`` would find it. Light to import: the web modules load on start."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def start_beside(say: Callable[[str], None], cloud_port: int, ui_port: int, bucket_minutes: int) -> Any:
    """Serve the console on 127.0.0.1:``ui_port`` and ``say`` its URL; returns what ``stop()`` stops it, or
    None (said why) when it cannot start: the cloud runs on without it."""
    try:
        from onthedot.ui import server
        from onthedot.ui.app import create_app
    except ImportError as error:
        say(f"console: not started, it needs the ui extra (pip install 'onthedot[ui]'): {error}")
        return None
    from onthedot.cli import connect
    from onthedot.cli.parser import build_parser

    try:
        sock = server.bind(server.LOOPBACK, ui_port)
    except OSError as error:
        say(f"console: cannot listen on {server.LOOPBACK}:{ui_port}: {error.strerror or error}")
        return None
    args = build_parser().parse_args(
        ["ui", "--port", str(cloud_port), "--bucket-minutes", str(bucket_minutes), "--listen", str(ui_port)]
    )
    scheduler, target = connect(args)
    background = server.start(create_app(scheduler, target, refresh_seconds=args.refresh), sock)
    say(f"console: {background.url}")
    return background
