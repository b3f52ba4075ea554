"""A Lambda layer of the pure-Python packages the publish function needs beyond Powertools.

The packages are copied from this Python environment, where ``constraints.txt`` pins them: no Docker, no
download at synth, and the layer holds exactly the tested versions. Every one of them is pure Python, so the
same files run on the function's arm64 runtime.
"""

from __future__ import annotations

import shutil
from importlib.metadata import distribution
from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

# croniter computes the next occurrence of a recurring job (with python-dateutil, its dependency); tzdata
# gives zoneinfo the IANA time zones wherever the runtime image lacks them.
LAYER_DISTRIBUTIONS = ("croniter", "python-dateutil", "six", "tzdata")
STAGING = Path(__file__).resolve().parent.parent / "build" / "lambda-deps"


def stage(distributions: tuple[str, ...] = LAYER_DISTRIBUTIONS, into: Path = STAGING) -> Path:
    """Copy the installed files of ``distributions`` to ``into/python`` (the layer's import path)."""
    target = into / "python"
    if into.exists():
        shutil.rmtree(into)
    for name in distributions:
        dist = distribution(name)
        for file in dist.files or []:
            if file.suffix == ".pyc" or "__pycache__" in file.parts or file.parts[0] in ("..", "bin"):
                continue
            source = Path(str(dist.locate_file(file)))
            destination = target / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
    return into


class DependenciesLayer(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, runtime: lambda_.Runtime, architecture: lambda_.Architecture
    ) -> None:
        super().__init__(scope, construct_id)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            description=f"onthedot function dependencies: {', '.join(LAYER_DISTRIBUTIONS)}",
            code=lambda_.Code.from_asset(str(stage())),
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
        )
