"""One synthesized stack per session (synth takes seconds), built the way app.py builds it."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # app.py runs from the root; infra/ is not an installed package

# jsii prints a banner on every start under an end-of-life Node; it says nothing about the stack.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

import aws_cdk as cdk  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra import OnTheDotStack, read_settings  # noqa: E402


@dataclass(frozen=True)
class Synthesized:
    stack: OnTheDotStack
    template: Template
    directory: Path  # the cloud assembly: template, assets, validation report

    def logical_id(self, resource_type: str, **properties: Any) -> str:
        """The one resource of this type whose properties include the given ones."""
        found = self.template.find_resources(resource_type, {"Properties": properties} if properties else None)
        assert len(found) == 1, f"expected one {resource_type} with {properties}, found {sorted(found)}"
        return next(iter(found))


def synthesize(outdir: Path, context: Mapping[str, Any] | None = None) -> Synthesized:
    """As app.py does (context -> settings -> stack, cdk-nag as a validation plugin), env-agnostic."""
    app = cdk.App(outdir=str(outdir), context=dict(context or {}))
    stack = OnTheDotStack(app, "OnTheDot", settings=read_settings(app))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()  # fails here if cdk-nag reports anything not acknowledged
    template = assembly.get_stack_by_name(stack.stack_name).template
    return Synthesized(stack=stack, template=Template.from_json(template), directory=Path(assembly.directory))


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Template:
    return synthesized.template


@pytest.fixture(scope="session")
def resources(template: Template) -> dict[str, dict[str, Any]]:
    return template.to_json()["Resources"]
