"""Every patch of moto the local cloud installs, as one set: ``MOTO.install()`` and ``MOTO.uninstall()``."""

from __future__ import annotations

from onthedot.local import jsonata_engine, lambda_runtime, moto_speed, persistence, step_functions, stream_batches
from onthedot.local.patching import PatchSet

MOTO = PatchSet(
    [
        *jsonata_engine.PATCHES,
        *lambda_runtime.PATCHES,
        *moto_speed.PATCHES,
        *stream_batches.PATCHES,
        *step_functions.PATCHES,
        *persistence.PATCHES,
    ]
)
