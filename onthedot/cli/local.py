"""``onthedot local``: the -c knobs read, then the local cloud's console (onthedot.local.console) runs.

The local cloud runs the repository's own definition (``statemachine/``) and functions (``functions/``), which a
wheel does not carry, on moto and jsonata-python, which only the ``local`` extra installs. Without either it
says what it needs and exits 2; nothing here imports moto until both are there.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from onthedot.cli.exits import EXIT_USAGE, fail
from onthedot.deploy.settings import DEFINITION_PATH, Settings, SettingsError

CHECKOUT = Path(__file__).resolve().parents[2]
# What the local cloud runs from the checkout, beside the package: the definition and each function's handler.
CHECKOUT_FILES = (DEFINITION_PATH, *(CHECKOUT / "functions" / name / "app.py" for name in ("publish", "rewind")))
LOCAL_EXTRA = "pip install -e '.[local]'"


def local(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args.context)
    except SettingsError as error:
        return fail(str(error), EXIT_USAGE)
    missing = needs()
    if missing:
        return fail(missing, EXIT_USAGE)
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


def needs() -> str | None:
    """What ``onthedot local`` lacks here, said so that the user knows what to do; None when nothing."""
    absent = [path for path in CHECKOUT_FILES if not path.is_file()]
    if absent:
        return (
            "onthedot local needs a checkout of the onthedot repository: it runs the repository's statemachine/ "
            f"and functions/, and {absent[0]} is not there (this onthedot is an installed package). In a checkout: "
            f"make run, or {LOCAL_EXTRA} and then onthedot local"
        )
    try:
        import onthedot.local.console  # noqa: F401  # moto, jsonata-python, aws-xray-sdk: the local extra
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] == "onthedot":
            raise  # a module of our own missing is a bug, not a missing extra
        return f"onthedot local needs the local extra ({error.name} is not installed): {LOCAL_EXTRA}"
    return None


def _settings(pairs: Sequence[str]) -> Settings:
    """The settings the ``-c KEY=VALUE`` pairs make."""
    context: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or key not in Settings.knob_names():
            raise SettingsError(f"-c takes KEY=VALUE with KEY one of {', '.join(Settings.knob_names())}; got {pair!r}")
        context[key] = value
    return Settings.from_context(context)
