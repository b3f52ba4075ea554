"""The ``onthedot ui`` command's options, added to the CLI's parser (kept free of web imports)."""

from __future__ import annotations

import argparse
from typing import Any

from onthedot.cli import values

DEFAULT_UI_PORT = 4567
LOOPBACK = "127.0.0.1"


def add_ui_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """``ui``, with the target options every command takes (``common``)."""
    ui = commands.add_parser(
        "ui",
        parents=[common],
        help="a web console: jobs, series, runs, lateness, backlog, dead letters",
        description="Serve a web console on 127.0.0.1 for the table the target options point at: upcoming jobs, "
        "recurring series, dispatcher runs with their lateness, the backlog and the dead letter, refreshed live; "
        "cancel, reschedule and redrive behind a confirmation.",
    )
    ui.add_argument(
        "--listen",
        type=values.port,
        default=DEFAULT_UI_PORT,
        metavar="PORT",
        help=f"its port (default {DEFAULT_UI_PORT})",
    )
    ui.add_argument(
        "--bind",
        default=LOOPBACK,
        metavar="HOST",
        help="the address to listen on and be reached at (default 127.0.0.1); anything else lets other machines "
        "reach it",
    )
    ui.add_argument("--read-only", action="store_true", help="show, but refuse cancel, reschedule and redrive")
    ui.add_argument(
        "--refresh", type=values.positive, default=3.0, metavar="SECONDS", help="how often pages refresh (default 3)"
    )
