"""Property tests of the example worker in the synthesized stack: its rule, dead letters, table and rights."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.functions import POWERTOOLS_LAYER_PARAMETER
from infra.workers import IDEMPOTENCY_ACTIONS
from onthedot.worker import IDEMPOTENCY_EXPIRY_ATTRIBUTE, IDEMPOTENCY_KEY_ATTRIBUTE, IDEMPOTENCY_TABLE_ENV
from tests.support.synthesis import REPO_ROOT, Synthesized
from tests.support.template import STAR_ONLY_ACTIONS, as_list, get_att, statements_of_role

HANDLER = "functions.example_worker.app.handler"


def test_the_example_worker_is_opt_in(synthesized: Synthesized) -> None:
    assert synthesized.template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": HANDLER}}) == {}
    assert "ExampleWorkerFunctionName" not in synthesized.template.to_json()["Outputs"]


# The stack with the example worker switched on (exampleWorker), for every test below.
@pytest.fixture(scope="module")
def template(with_workers: Synthesized) -> Template:
    return with_workers.template


@pytest.fixture(scope="module")
def resources(template: Template) -> dict[str, dict[str, Any]]:
    return template.to_json()["Resources"]


@pytest.fixture(scope="module")
def worker(with_workers: Synthesized) -> dict[str, str]:
    """Logical ids of the example worker's resources."""
    synthesized = with_workers
    resources = synthesized.template.to_json()["Resources"]
    function = synthesized.logical_id("AWS::Lambda::Function", Handler=HANDLER)
    rule = synthesized.logical_id("AWS::Events::Rule", EventPattern={"detail-type": Match.any_value()})
    [target] = resources[rule]["Properties"]["Targets"]
    return {
        "function": function,
        "role": resources[function]["Properties"]["Role"]["Fn::GetAtt"][0],
        "rule": rule,
        "queue": target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0],
        "table": synthesized.logical_id(
            "AWS::DynamoDB::Table", KeySchema=[{"AttributeName": IDEMPOTENCY_KEY_ATTRIBUTE, "KeyType": "HASH"}]
        ),
        "bus": synthesized.logical_id("AWS::Events::EventBus"),
    }


class TestRule:
    def test_matches_the_event_source_and_the_detail_type_on_the_bus(
        self, resources: dict[str, Any], worker: dict[str, str]
    ) -> None:
        rule = resources[worker["rule"]]["Properties"]
        assert rule["EventBusName"] == {"Ref": worker["bus"]}
        assert rule["EventPattern"] == {"source": ["onthedot"], "detail-type": ["reminder"]}
        assert rule["State"] == "ENABLED"

    def test_targets_the_worker_with_retries_and_a_dead_letter_queue(
        self, resources: dict[str, Any], worker: dict[str, str]
    ) -> None:
        [target] = resources[worker["rule"]]["Properties"]["Targets"]
        assert target["Arn"] == get_att(worker["function"])
        assert target["DeadLetterConfig"] == {"Arn": get_att(worker["queue"])}
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 24 * 3600}
        assert resources[worker["queue"]]["Type"] == "AWS::SQS::Queue"

    def test_only_this_rule_may_invoke_the_worker(self, template: Template, worker: dict[str, str]) -> None:
        permissions = template.find_resources(
            "AWS::Lambda::Permission", {"Properties": {"FunctionName": get_att(worker["function"])}}
        )
        assert [p["Properties"] for p in permissions.values()] == [
            {
                "Action": "lambda:InvokeFunction",
                "FunctionName": get_att(worker["function"]),
                "Principal": "events.amazonaws.com",
                "SourceArn": get_att(worker["rule"]),
            }
        ]

    def test_event_source_knob_reaches_the_rule(self, tuned: Synthesized) -> None:
        tuned.template.has_resource_properties(
            "AWS::Events::Rule", {"EventPattern": {"source": ["acme.jobs"], "detail-type": ["reminder"]}}
        )


class TestDeadLetters:
    def test_queue_is_encrypted_and_refuses_plain_http(self, resources: dict[str, Any], worker: dict[str, str]) -> None:
        queue = resources[worker["queue"]]["Properties"]
        # SQS-managed keys: EventBridge cannot deliver to a queue under the AWS managed KMS key
        assert queue["SqsManagedSseEnabled"] is True
        assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
        [policy] = [
            r["Properties"]
            for r in resources.values()
            if r["Type"] == "AWS::SQS::QueuePolicy" and {"Ref": worker["queue"]} in r["Properties"]["Queues"]
        ]
        statements = policy["PolicyDocument"]["Statement"]
        [deny] = [s for s in statements if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Resource"] == get_att(worker["queue"])
        # ... and only this rule's deliveries may be sent to it by EventBridge
        [allow] = [s for s in statements if s["Effect"] == "Allow"]
        assert allow["Principal"] == {"Service": "events.amazonaws.com"}
        assert allow["Action"] == "sqs:SendMessage"
        assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": get_att(worker["rule"])}}

    def test_invocations_that_keep_failing_end_in_the_same_queue(
        self, template: Template, resources: dict[str, Any], worker: dict[str, str]
    ) -> None:
        function = resources[worker["function"]]["Properties"]
        assert function["DeadLetterConfig"] == {"TargetArn": get_att(worker["queue"])}
        template.has_resource_properties(
            "AWS::Lambda::EventInvokeConfig",
            {"FunctionName": {"Ref": worker["function"]}, "MaximumRetryAttempts": 2, "Qualifier": "$LATEST"},
        )


class TestIdempotencyTable:
    def test_key_ttl_billing_recovery_encryption(self, resources: dict[str, Any], worker: dict[str, str]) -> None:
        table = resources[worker["table"]]["Properties"]
        assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
        assert table["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
        assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
        assert (IDEMPOTENCY_KEY_ATTRIBUTE, IDEMPOTENCY_EXPIRY_ATTRIBUTE) == ("id", "expiration")
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert table["SSESpecification"] == {"SSEEnabled": True}

    def test_the_function_is_told_its_name(self, resources: dict[str, Any], worker: dict[str, str]) -> None:
        variables = resources[worker["function"]]["Properties"]["Environment"]["Variables"]
        assert variables[IDEMPOTENCY_TABLE_ENV] == {"Ref": worker["table"]}


class TestFunction:
    def test_runtime_tracing_and_powertools_layer(
        self, template: Template, resources: dict[str, Any], worker: dict[str, str]
    ) -> None:
        function = resources[worker["function"]]["Properties"]
        assert function["Architectures"] == ["arm64"]
        assert function["Runtime"] == "python3.13"
        assert function["TracingConfig"] == {"Mode": "Active"}
        [layer] = function["Layers"]
        assert template.to_json()["Parameters"][layer["Ref"]]["Default"] == POWERTOOLS_LAYER_PARAMETER

    def test_logs_to_its_own_group_at_the_log_level_knob(
        self, resources: dict[str, Any], worker: dict[str, str], tuned: Synthesized
    ) -> None:
        function = resources[worker["function"]]["Properties"]
        log_group = function["LoggingConfig"]["LogGroup"]["Ref"]
        assert resources[log_group]["Properties"]["RetentionInDays"] > 0
        assert function["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == "INFO"
        tuned.template.has_resource_properties(
            "AWS::Lambda::Function",
            {"Handler": HANDLER, "Environment": {"Variables": Match.object_like({"POWERTOOLS_LOG_LEVEL": "DEBUG"})}},
        )

    def test_code_asset_is_the_worker_and_the_kit_and_imports_on_its_own(
        self, with_workers: Synthesized, resources: dict[str, Any], worker: dict[str, str]
    ) -> None:
        key = resources[worker["function"]]["Properties"]["Code"]["S3Key"]
        asset = with_workers.directory / f"asset.{key.removesuffix('.zip')}"
        files = {path.relative_to(asset).as_posix() for path in asset.rglob("*") if path.is_file()}
        core = {f"onthedot/core/{path.name}" for path in (REPO_ROOT / "onthedot" / "core").glob("*.py")}
        assert files - core == {
            "functions/__init__.py",
            "functions/example_worker/__init__.py",
            "functions/example_worker/app.py",
            "onthedot/__init__.py",
            "onthedot/worker.py",
        }
        assert core <= files, "the core package ships whole"
        # GIVEN only the asset and what the Powertools layer brings (powertools, boto3 in this environment)
        environment = os.environ | {IDEMPOTENCY_TABLE_ENV: "table", "AWS_DEFAULT_REGION": "us-east-1"}
        # WHEN the handler module is imported from the asset THEN everything it needs is there
        result = subprocess.run(
            [sys.executable, "-c", "import functions.example_worker.app as a, onthedot; print(onthedot.__file__)"],
            cwd=asset,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(asset / "onthedot" / "__init__.py")


class TestPermissions:
    def test_idempotency_table_only_with_what_powertools_needs(
        self, resources: dict[str, Any], worker: dict[str, str]
    ) -> None:
        statements = statements_of_role(resources, worker["role"])
        dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
        assert len(dynamodb) == 1
        assert sorted(as_list(dynamodb[0]["Action"])) == sorted(IDEMPOTENCY_ACTIONS)
        assert sorted(IDEMPOTENCY_ACTIONS) == [
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ]
        assert as_list(dynamodb[0]["Resource"]) == [get_att(worker["table"])]

    def test_every_other_right_names_its_resource_but_x_ray(
        self, resources: dict[str, Any], worker: dict[str, str]
    ) -> None:
        rights = {
            action: as_list(statement["Resource"])
            for statement in statements_of_role(resources, worker["role"])
            for action in as_list(statement["Action"])
            if not action.startswith("dynamodb:")
        }
        log_group = resources[worker["function"]]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert rights == {
            "logs:CreateLogStream": [get_att(log_group)],
            "logs:PutLogEvents": [get_att(log_group)],
            "sqs:SendMessage": [get_att(worker["queue"])],  # the function's own dead letters
            "xray:PutTraceSegments": ["*"],
            "xray:PutTelemetryRecords": ["*"],
        }
        assert {action for action, resource in rights.items() if resource == ["*"]} <= STAR_ONLY_ACTIONS

    def test_role_is_its_own(self, resources: dict[str, Any], worker: dict[str, str]) -> None:
        role = resources[worker["role"]]["Properties"]
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]
        assert "ManagedPolicyArns" not in role


def test_output_names_the_worker_function(template: Template, worker: dict[str, str]) -> None:
    template.has_output("ExampleWorkerFunctionName", {"Value": {"Ref": worker["function"]}})
