"""``onthedot local``: the -c knobs read, then the local cloud's console (onthedot.local.console) runs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from onthedot.cli.exits import EXIT_USAGE, fail
from onthedot.deploy.settings import Settings, SettingsError


def local(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args.context)
    except SettingsError as error:
        return fail(str(error), EXIT_USAGE)
    from onthedot.local.console import serve

    return serve(
        port=args.port,
        every=args.every,
        demo=args.demo,
        exit_after=args.exit_after,
        settings=settings,
        ui_port=args.ui,
        data=Path(args.data),
        fresh=args.fresh,
    )


def _settings(pairs: Sequence[str]) -> Settings:
    """The settings the ``-c KEY=VALUE`` pairs make."""
    context: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or key not in Settings.knob_names():
            raise SettingsError(f"-c takes KEY=VALUE with KEY one of {', '.join(Settings.knob_names())}; got {pair!r}")
        context[key] = value
    return Settings.from_context(context)
