"""The stack synthesized the way app.py builds it: context -> settings -> stack, cdk-nag as a plugin."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# jsii prints a banner on every start under an end-of-life Node; it says nothing about the stack.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

import aws_cdk as cdk
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra import OnTheDotStack, read_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Synthesized:
    stack: cdk.Stack
    template: Template
    directory: Path  # the cloud assembly: template, assets, validation report

    def logical_id(self, resource_type: str, **properties: Any) -> str:
        """The one resource of this type whose properties include the given ones."""
        found = self.template.find_resources(resource_type, {"Properties": properties} if properties else None)
        assert len(found) == 1, f"expected one {resource_type} with {properties}, found {sorted(found)}"
        return next(iter(found))


def synthesize(outdir: Path, context: Mapping[str, Any] | None = None) -> Synthesized:
    """Synthesize an environment-agnostic app; raises if cdk-nag reports anything not acknowledged."""
    app = cdk.App(outdir=str(outdir), context=dict(context or {}))
    stack = OnTheDotStack(app, "OnTheDot", settings=read_settings(app))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    return Synthesized(stack=stack, template=Template.from_json(template), directory=Path(assembly.directory))


def readme_app_code(heading: str = "### Add onthedot to your CDK app") -> str:
    """The first Python block under ``heading`` in README.md: the sample app users copy."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(heading) :]
    start = section.index("```python\n") + len("```python\n")
    return section[start : section.index("```", start)]


def synthesize_readme_app() -> Synthesized:
    """Run the README's sample app as written; its one stack, synthesized."""
    namespace: dict[str, Any] = {"__name__": "readme_app"}
    exec(compile(readme_app_code(), "README.md", "exec"), namespace)
    app: cdk.App = namespace["app"]
    [stack] = [child for child in app.node.children if isinstance(child, cdk.Stack)]
    assembly = app.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    return Synthesized(stack=stack, template=Template.from_json(template), directory=Path(assembly.directory))
