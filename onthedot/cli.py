"""The ``onthedot`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from onthedot.settings import Settings, SettingsError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


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
    return parser


def _settings(pairs: Sequence[str]) -> Settings:
    context: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or key not in Settings.knob_names():
            raise SettingsError(f"-c takes KEY=VALUE with KEY one of {', '.join(Settings.knob_names())}; got {pair!r}")
        context[key] = value
    return Settings.from_context(context)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args.context)
    except SettingsError as error:
        print(f"onthedot: {error}", file=sys.stderr)
        return EXIT_USAGE
    from onthedot.local.console import serve

    return serve(port=args.port, every=args.every, demo=args.demo, exit_after=args.exit_after, settings=settings)


if __name__ == "__main__":
    sys.exit(main())
