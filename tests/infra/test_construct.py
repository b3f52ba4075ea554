"""The ``OnTheDot`` construct in a user's CDK app: the README's sample app synthesizes clean (cfn-lint, cdk-nag,
asl-validator; checkov in test_security.py), its props reach the template, its grants are what they say; and
the app's template is environment-agnostic without credentials."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from infra.construct import DEAD_LETTER_ACTIONS, READ_ACTIONS, SCHEDULE_ACTIONS, OnTheDot
from onthedot.deploy.settings import DEFINITION_PATH, Settings
from tests.support.synthesis import REPO_ROOT, Synthesized
from tests.support.template import as_list, cfn_lint_findings, flatten, get_att


def ids(sample: Synthesized) -> dict[str, str]:
    pk_keyed = Match.array_with([{"AttributeName": "pk", "KeyType": "HASH"}])
    return {
        "table": sample.logical_id("AWS::DynamoDB::Table", KeySchema=pk_keyed, StreamSpecification=Match.any_value()),
        "dead_letters": sample.logical_id(
            "AWS::DynamoDB::Table", KeySchema=pk_keyed, StreamSpecification=Match.absent()
        ),
        "api_role": _api_role(sample),
    }


def _api_role(sample: Synthesized) -> str:
    """The sample's own role ("Api"), the one it grants scheduling to."""
    [role] = [i for i in sample.template.find_resources("AWS::IAM::Role") if i.startswith("Api")]
    return role


class TestSampleApp:
    def test_the_props_reach_the_template(self, sample_app: Synthesized) -> None:
        template = sample_app.template
        # eventSource="shop.jobs", pageSize=200, alarmEmail="ops@example.com"
        template.has_resource_properties(
            "AWS::Lambda::Function",
            {"Environment": {"Variables": Match.object_like({"EVENT_SOURCE": "shop.jobs"})}},
        )
        template.has_resource_properties(
            "AWS::StepFunctions::StateMachine",
            {"DefinitionSubstitutions": Match.object_like({"PageSize": "200"})},
        )
        template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})
        # and the user's worker is a rule on the construct's bus
        bus = sample_app.logical_id("AWS::Events::EventBus")
        template.has_resource_properties(
            "AWS::Events::Rule",
            {"EventBusName": {"Ref": bus}, "EventPattern": {"source": ["shop.jobs"], "detail-type": ["reminder"]}},
        )

    def test_has_the_dashboard_and_the_alarms(self, sample_app: Synthesized) -> None:
        sample_app.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
        assert len(sample_app.template.find_resources("AWS::CloudWatch::Alarm")) >= 4

    def test_grant_schedule_allows_what_scheduling_needs_on_the_two_tables_only(self, sample_app: Synthesized) -> None:
        resources = sample_app.template.to_json()["Resources"]
        found = ids(sample_app)
        statements = [
            statement
            for resource in resources.values()
            if resource["Type"] == "AWS::IAM::Policy" and {"Ref": found["api_role"]} in resource["Properties"]["Roles"]
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        ]
        rights = {json.dumps(as_list(s["Resource"])): sorted(as_list(s["Action"])) for s in statements}
        assert rights == {
            json.dumps([get_att(found["table"])]): sorted(SCHEDULE_ACTIONS),
            json.dumps([get_att(found["dead_letters"])]): sorted(DEAD_LETTER_ACTIONS),
        }
        assert not any(action.startswith("dynamodb:Scan") for action in SCHEDULE_ACTIONS + DEAD_LETTER_ACTIONS)

    def test_cfn_lint_finds_nothing_but_known_false_positives(self, sample_app: Synthesized) -> None:
        assert cfn_lint_findings(sample_app.template.to_json()) == []

    def test_cdk_nag_reports_nothing_unacknowledged(self, sample_app: Synthesized) -> None:
        report = AwsSolutionsChecks().validate_scope(sample_app.stack)
        assert [f"{v.rule_name} {[r.construct_path for r in v.violating_resources]}" for v in report.violations] == []

    def test_asl_validator_accepts_its_definition(self, sample_app: Synthesized, tmp_path: Path) -> None:
        if not (REPO_ROOT / "node_modules" / ".bin" / "asl-validator").exists():
            pytest.skip("asl-validator is not installed: run `npm ci` (the Makefile does)")
        [machine] = sample_app.template.find_resources("AWS::StepFunctions::StateMachine").values()
        properties = machine["Properties"]
        # GIVEN the definition as CloudFormation makes it: references filled in with names
        definition = flatten(properties["DefinitionString"])
        for key, value in properties["DefinitionSubstitutions"].items():
            filled = value if isinstance(value, str) else f"arn:aws:lambda:eu-west-1:123456789012:function:{key}"
            definition = definition.replace("${" + key + "}", filled)
        assert not re.search(r"\$\{\w+\}", definition)
        rendered = tmp_path / "dispatcher.asl.json"
        rendered.write_text(definition, encoding="utf-8")
        result = subprocess.run(
            ["npx", "--no-install", "asl-validator", "--json-path", str(rendered)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert flatten(properties["DefinitionString"]) == DEFINITION_PATH.read_text(encoding="utf-8")


class TestConstruct:
    def test_props_are_the_settings_so_every_knob_is_a_typed_prop(self) -> None:
        # A knob added to Settings is a prop of the construct with nothing else to change.
        import inspect

        parameter = inspect.signature(OnTheDot.__init__).parameters["settings"]
        assert "Settings" in str(parameter.annotation)
        assert all(field.type in ("int", "str", "bool") for field in fields(Settings))

    @pytest.fixture(scope="class")
    @classmethod
    def custom(cls, tmp_path_factory: pytest.TempPathFactory) -> Template:
        # GIVEN an app with a topic of its own for the alarms, and a role that only reads jobs
        app = cdk.App(outdir=str(tmp_path_factory.mktemp("custom")))
        stack = cdk.Stack(app, "Custom")
        topic = sns.Topic(stack, "Pager", enforce_ssl=True)
        scheduler = OnTheDot(stack, "Scheduler", settings=Settings(alarmEmail="ignored@example.com"), alarm_topic=topic)
        reports = iam.Role(stack, "Reports", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        scheduler.grant_read(reports)
        return Template.from_stack(stack)

    def test_alarms_go_to_the_apps_own_topic(self, custom: Template) -> None:
        [pager] = custom.find_resources("AWS::SNS::Topic")
        alarms = custom.find_resources("AWS::CloudWatch::Alarm")
        assert len(alarms) >= 4
        assert all(alarm["Properties"]["AlarmActions"] == [{"Ref": pager}] for alarm in alarms.values())
        custom.resource_count_is("AWS::SNS::Subscription", 0)  # the topic given wins over alarmEmail
        custom.resource_count_is("AWS::KMS::Key", 0)

    def test_grant_read_allows_reading_jobs_and_dead_letters_only(self, custom: Template) -> None:
        [role] = [i for i in custom.find_resources("AWS::IAM::Role") if i.startswith("Reports")]
        statements = [
            statement
            for policy in custom.find_resources("AWS::IAM::Policy").values()
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]
        tables = {json.dumps(as_list(s["Resource"])): sorted(as_list(s["Action"])) for s in statements}
        assert len(tables) == 2
        assert all(actions == sorted(READ_ACTIONS) for actions in tables.values())
        assert sorted(READ_ACTIONS) == ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"]

    def test_the_stack_keeps_the_logical_ids_the_resources_had(self, synthesized: Synthesized) -> None:
        # "Default" is hidden in logical ids: the jobs table keeps its id, so an update does not replace it.
        table = synthesized.logical_id(
            "AWS::DynamoDB::Table",
            KeySchema=Match.array_with([{"AttributeName": "pk", "KeyType": "HASH"}]),
            StreamSpecification=Match.any_value(),
        )
        assert table.startswith("StorageJobs")


def test_app_without_credentials_writes_no_region_into_the_template(tmp_path: Path) -> None:
    # GIVEN the CDK CLI without credentials: it still sets CDK_DEFAULT_REGION, to its fallback us-east-1
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    environment |= {"CDK_DEFAULT_REGION": "us-east-1", "CDK_OUTDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "OnTheDot.template.json").read_text()
    # THEN the template names no region: ARNs and policies use ${AWS::Region}
    assert re.findall(r"(?:us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d", text) == []
    assert '"Ref": "AWS::Region"' in text or "${AWS::Region}" in text
    manifest: dict[str, Any] = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["artifacts"]["OnTheDot"]["environment"] == "aws://unknown-account/unknown-region"
