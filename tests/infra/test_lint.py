"""Linters over what is deployed: cfn-lint (template), cdk-nag (stack), asl-validator (definition)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

from onthedot.deploy.settings import Settings, render_definition, substitutions
from tests.support.synthesis import REPO_ROOT, Synthesized
from tests.support.template import cfn_lint_findings


def test_cfn_lint_finds_nothing_but_known_false_positives(synthesized: Synthesized) -> None:
    assert cfn_lint_findings(synthesized.template.to_json()) == []


def test_cdk_nag_reports_nothing_unacknowledged(synthesized: Synthesized) -> None:
    report = AwsSolutionsChecks().validate_scope(synthesized.stack)
    violations = [f"{v.rule_name} {[r.construct_path for r in v.violating_resources]}" for v in report.violations]
    assert violations == []
    assert report.success


def test_cdk_nag_acknowledgments_are_the_known_few_each_with_a_reason(synthesized: Synthesized) -> None:
    acknowledged = {
        (construct.node.path, rule): reason
        for construct in synthesized.stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        for rule, reason in entry.data.items()
    }
    rules = sorted(re.sub(r"<\w+\.Arn>", "<function>", rule) for _, rule in acknowledged)
    assert rules == [
        # X-Ray on each function's role (publish, rewind (+ ListStreams)); X-Ray and log delivery on the state
        # machine's
        "Annotation::AwsSolutions-IAM5[Resource::*]",
        "Annotation::AwsSolutions-IAM5[Resource::*]",
        "Annotation::AwsSolutions-IAM5[Resource::*]",
        "Annotation::AwsSolutions-IAM5[Resource::<function>:*]",  # grant_invoke: the function's versions
        "Annotation::AwsSolutions-L1",  # the pinned Python runtime (publish, rewind)
        "Annotation::AwsSolutions-L1",
        "Annotation::AwsSolutions-SF1",  # executionLogLevel ERROR by default: ALL costs (benchmarks/cost_model.py)
        "Annotation::AwsSolutions-SQS3",  # the rewind mapping's on-failure queue is itself a dead letter
    ]
    assert all(len(reason) > 40 for reason in acknowledged.values()), acknowledged


@pytest.fixture(scope="module")
def asl_validator() -> list[str]:
    if shutil.which("npx") is None or not (REPO_ROOT / "node_modules" / ".bin" / "asl-validator").exists():
        pytest.skip("asl-validator is not installed: run `npm ci` (the Makefile does)")
    return ["npx", "--no-install", "asl-validator"]


def test_asl_validator_accepts_the_definition_as_deployed(asl_validator: list[str], tmp_path: Path) -> None:
    # GIVEN the definition with its ${...} keys filled in, as CloudFormation's DefinitionSubstitutions does
    values = substitutions(
        Settings(),
        table_name="onthedot-jobs",
        publish_function_arn="onthedot-publish",
        arrivals_function_arn="onthedot-rewind",
    )
    rendered = tmp_path / "dispatcher.asl.json"
    rendered.write_text(render_definition(values), encoding="utf-8")
    # WHEN asl-validator checks it
    result = subprocess.run(
        [*asl_validator, "--json-path", str(rendered)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # THEN it is valid Amazon States Language
    assert result.returncode == 0, result.stdout + result.stderr
