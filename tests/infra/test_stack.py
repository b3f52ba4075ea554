"""Property tests of the synthesized template: what each resource is configured to do, and may do."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from infra import read_settings
from infra.functions import POWERTOOLS_LAYER_PARAMETER
from onthedot.deploy.settings import DEFINITION_PATH, Settings, SettingsError, publish_environment, substitutions
from tests.support.synthesis import REPO_ROOT, Synthesized
from tests.support.template import STAR_ONLY_ACTIONS, as_list, flatten, get_att, statements_of_role


def statements_allowing(statements: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [s for s in statements if any(action.startswith(prefix) for action in as_list(s["Action"]))]


@pytest.fixture(scope="module")
def ids(synthesized: Synthesized) -> dict[str, str]:
    """Logical ids of the stack's key resources, found by type (and a property where types repeat)."""
    pk_keyed = Match.array_with([{"AttributeName": "pk", "KeyType": "HASH"}])
    table = synthesized.logical_id("AWS::DynamoDB::Table", KeySchema=pk_keyed, StreamSpecification=Match.any_value())
    dead_letters = synthesized.logical_id(
        "AWS::DynamoDB::Table", KeySchema=pk_keyed, StreamSpecification=Match.absent()
    )
    machine = synthesized.logical_id("AWS::StepFunctions::StateMachine")
    function = synthesized.logical_id("AWS::Lambda::Function", Handler="functions.publish.app.handler")
    resources = synthesized.template.to_json()["Resources"]
    rewind = synthesized.logical_id("AWS::Lambda::Function", Handler="functions.rewind.app.handler")
    return {
        "table": table,
        "dead_letters": dead_letters,
        "rewind": rewind,
        "rewind_role": resources[rewind]["Properties"]["Role"]["Fn::GetAtt"][0],
        "bus": synthesized.logical_id("AWS::Events::EventBus"),
        "machine": machine,
        "machine_role": resources[machine]["Properties"]["RoleArn"]["Fn::GetAtt"][0],
        "function": function,
        "function_role": resources[function]["Properties"]["Role"]["Fn::GetAtt"][0],
        "schedule": synthesized.logical_id("AWS::Events::Rule", ScheduleExpression=Match.any_value()),
    }


class TestStateMachine:
    def test_is_the_one_express_machine_with_logging_and_tracing(self, template: Template) -> None:
        template.resource_count_is("AWS::StepFunctions::StateMachine", 1)
        template.has_resource_properties(
            "AWS::StepFunctions::StateMachine",
            {
                "StateMachineType": "EXPRESS",
                "TracingConfiguration": {"Enabled": True},
                "LoggingConfiguration": {
                    "Level": "ERROR",  # executionLogLevel: only failed runs, by default
                    "IncludeExecutionData": True,
                    "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": Match.any_value()}}],
                },
            },
        )

    def test_execution_log_level_knob_reaches_the_logging_configuration(self, tuned: Synthesized) -> None:
        tuned.template.has_resource_properties(
            "AWS::StepFunctions::StateMachine",
            {"LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": True})},
        )

    def test_logs_to_a_vended_logs_group(self, resources: dict[str, Any], ids: dict[str, str]) -> None:
        logging = resources[ids["machine"]]["Properties"]["LoggingConfiguration"]
        arn = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
        log_group = resources[arn["Fn::GetAtt"][0]]
        assert log_group["Type"] == "AWS::Logs::LogGroup"
        assert log_group["Properties"]["LogGroupName"].startswith("/aws/vendedlogs/states/")
        assert log_group["Properties"]["RetentionInDays"] > 0

    def test_definition_is_the_file_as_written(self, resources: dict[str, Any], ids: dict[str, str]) -> None:
        definition = resources[ids["machine"]]["Properties"]["DefinitionString"]
        assert flatten(definition) == DEFINITION_PATH.read_text(encoding="utf-8")

    def test_every_substitution_key_is_filled(self, resources: dict[str, Any], ids: dict[str, str]) -> None:
        filled = resources[ids["machine"]]["Properties"]["DefinitionSubstitutions"]
        expected = substitutions(
            Settings(), table_name="table", publish_function_arn="function", arrivals_function_arn="arrivals"
        )
        assert set(filled) == set(expected)
        assert filled["JobsTableName"] == {"Ref": ids["table"]}
        assert filled["PublishFunctionArn"] == get_att(ids["function"])
        assert filled["ArrivalsFunctionArn"] == get_att(ids["rewind"])
        resources_named = {"JobsTableName", "PublishFunctionArn", "ArrivalsFunctionArn"}
        knobs = {key: value for key, value in expected.items() if key not in resources_named}
        assert {key: filled[key] for key in knobs} == knobs

    def test_the_schedule_starts_it_every_minute(self, resources: dict[str, Any], ids: dict[str, str]) -> None:
        rule = resources[ids["schedule"]]["Properties"]
        assert rule["ScheduleExpression"] == "rate(1 minute)"
        assert rule["State"] == "ENABLED"
        [target] = rule["Targets"]
        assert target["Arn"] == {"Ref": ids["machine"]}
        events_role = target["RoleArn"]["Fn::GetAtt"][0]
        [start] = statements_of_role(resources, events_role)
        assert start["Action"] == "states:StartExecution"
        assert start["Resource"] == {"Ref": ids["machine"]}


class TestStorage:
    def test_jobs_table(self, template: Template) -> None:
        template.has_resource_properties(
            "AWS::DynamoDB::Table",
            {
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "AttributeDefinitions": Match.array_equals(
                    [
                        {"AttributeName": "pk", "AttributeType": "S"},
                        {"AttributeName": "sk", "AttributeType": "S"},
                    ]
                ),
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
                # idempotency keys and run records expire on their own
                "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            },
        )

    def test_dead_letters_are_a_durable_table_of_their_own(
        self, resources: dict[str, Any], ids: dict[str, str]
    ) -> None:
        dead_letters = resources[ids["dead_letters"]]
        assert dead_letters["DeletionPolicy"] == "Retain"
        properties = dead_letters["Properties"]
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert properties["SSESpecification"] == {"SSEEnabled": True}
        assert "TimeToLiveSpecification" not in properties  # dead letters never expire

    def test_inserts_of_jobs_reach_the_rewind_function(
        self, template: Template, resources: dict[str, Any], ids: dict[str, str]
    ) -> None:
        assert resources[ids["table"]]["Properties"]["StreamSpecification"] == {"StreamViewType": "KEYS_ONLY"}
        template.has_resource_properties(
            "AWS::Lambda::EventSourceMapping",
            {
                "FunctionName": {"Ref": ids["rewind"]},
                "EventSourceArn": {"Fn::GetAtt": [ids["table"], "StreamArn"]},
                "StartingPosition": "LATEST",
                "FilterCriteria": {
                    "Filters": [
                        {
                            "Pattern": json.dumps(
                                {"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "j#"}]}}}},
                                separators=(",", ":"),
                            )
                        }
                    ]
                },
            },
        )

    def test_jobs_outlive_the_stack(self, resources: dict[str, Any], ids: dict[str, str]) -> None:
        assert resources[ids["table"]]["DeletionPolicy"] == "Retain"


class TestPublishFunction:
    def test_runtime_and_handler(self, template: Template) -> None:
        template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Architectures": ["arm64"],
                "Runtime": "python3.13",
                "Handler": "functions.publish.app.handler",
                "Timeout": 60,
                "TracingConfig": {"Mode": "Active"},
            },
        )

    def test_environment_comes_from_settings(self, resources: dict[str, Any], ids: dict[str, str]) -> None:
        expected: dict[str, Any] = publish_environment(
            Settings(), table_name="table", bus_name="bus", dead_letter_table_name="dead"
        )
        expected |= {
            "JOBS_TABLE_NAME": {"Ref": ids["table"]},
            "EVENT_BUS_NAME": {"Ref": ids["bus"]},
            "DEAD_LETTER_TABLE_NAME": {"Ref": ids["dead_letters"]},
        }
        assert resources[ids["function"]]["Properties"]["Environment"]["Variables"] == expected

    def test_powertools_layer_is_the_release_the_tests_run_resolved_in_the_deploy_region(
        self, template: Template, resources: dict[str, Any], ids: dict[str, str]
    ) -> None:
        powertools, dependencies = resources[ids["function"]]["Properties"]["Layers"]
        parameter = template.to_json()["Parameters"][powertools["Ref"]]
        # GIVEN the Powertools pinned in pyproject.toml, which this environment runs
        pinned = re.search(r'"aws-lambda-powertools==([^"]+)"', (REPO_ROOT / "pyproject.toml").read_text())
        assert pinned is not None
        assert version("aws-lambda-powertools") == pinned[1]
        # THEN the layer is AWS's public layer of that release, named by its public SSM parameter
        assert parameter == {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": f"/aws/service/powertools/python/arm64/python3.13/{pinned[1]}",
        }
        assert parameter["Default"] == POWERTOOLS_LAYER_PARAMETER
        assert resources[dependencies["Ref"]]["Type"] == "AWS::Lambda::LayerVersion"

    def test_dependencies_layer_holds_croniter_and_tzdata_importable_from_python(
        self, synthesized: Synthesized, resources: dict[str, Any]
    ) -> None:
        [layer] = [r for r in resources.values() if r["Type"] == "AWS::Lambda::LayerVersion"]
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
        key = layer["Properties"]["Content"]["S3Key"]
        asset = synthesized.directory / f"asset.{key.removesuffix('.zip')}"
        for module in ("croniter/__init__.py", "dateutil/__init__.py", "six.py", "tzdata/__init__.py"):
            assert (asset / "python" / module).is_file(), module
        assert (asset / "python" / "tzdata" / "zoneinfo" / "Australia" / "Sydney").is_file()

    def test_code_asset_holds_only_the_function_and_the_core(
        self, synthesized: Synthesized, resources: dict[str, Any], ids: dict[str, str]
    ) -> None:
        key = resources[ids["function"]]["Properties"]["Code"]["S3Key"]
        asset = synthesized.directory / f"asset.{key.removesuffix('.zip')}"
        files = {path.relative_to(asset).as_posix() for path in asset.rglob("*") if path.is_file()}
        core = {f"onthedot/core/{path.name}" for path in (REPO_ROOT / "onthedot" / "core").glob("*.py")}
        assert "functions/publish/app.py" in files
        assert core <= files, "the core package ships whole"
        assert {f for f in files if not f.startswith("functions/publish/")} - core == {
            "functions/__init__.py",
            "onthedot/__init__.py",
        }
        assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]

    def test_logs_to_its_own_group_with_retention(self, resources: dict[str, Any], ids: dict[str, str]) -> None:
        log_group = resources[ids["function"]]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert resources[log_group]["Properties"]["RetentionInDays"] > 0


@pytest.fixture(scope="module")
def debug(with_workers: Synthesized) -> dict[str, Any]:
    resources = with_workers.template.to_json()["Resources"]
    rule = with_workers.logical_id("AWS::Events::Rule", EventPattern={"detail-type": Match.absent()})
    [target] = resources[rule]["Properties"]["Targets"]
    return {"resources": resources, "rule": rule, "target": target}


class TestDebugWorker:
    """Opt-in (``debugWorker``): absent by default; when on, it logs which job fired, the payload only at DEBUG."""

    def test_is_off_by_default(self, template: Template) -> None:
        assert (
            template.find_resources(
                "AWS::Events::Rule", {"Properties": {"EventPattern": {"detail-type": Match.absent()}}}
            )
            == {}
        )
        assert template.find_resources("AWS::Logs::ResourcePolicy") == {}

    def test_rule_on_the_bus_matches_the_event_source(self, debug: dict[str, Any], with_workers: Synthesized) -> None:
        rule = debug["resources"][debug["rule"]]["Properties"]
        assert rule["EventBusName"] == {"Ref": with_workers.logical_id("AWS::Events::EventBus")}
        assert rule["EventPattern"] == {"source": ["onthedot"]}

    def test_logs_which_job_fired_but_not_its_payload(self, debug: dict[str, Any]) -> None:
        transformer = debug["target"]["InputTransformer"]
        paths = transformer["InputPathsMap"]
        assert sorted(paths.values()) == ["$.detail-type", "$.resources[0]", "$.time"]  # never $.detail
        # a CloudWatch Logs target takes {"timestamp": ..., "message": "<a string>"}
        names = {path: f"<{name}>" for name, path in paths.items()}
        template = transformer["InputTemplate"]
        assert template == (
            f'{{"timestamp":{names["$.time"]},"message":"fired {names["$.detail-type"]} '
            f'{names["$.resources[0]"]} due {names["$.time"]}"}}'
        )

    def test_logs_whole_events_only_at_log_level_debug(self, tuned: Synthesized) -> None:
        tuned.template.has_resource_properties(
            "AWS::Events::Rule",
            {
                "EventPattern": {"source": ["acme.jobs"]},
                "Targets": [Match.object_like({"InputTransformer": Match.absent(), "Input": Match.absent()})],
            },
        )

    def test_delivers_to_a_log_group_with_retention(self, debug: dict[str, Any]) -> None:
        arn = flatten(debug["target"]["Arn"], references=True)
        prefix = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
        assert arn.startswith(prefix)
        log_group = debug["resources"][arn.removeprefix(prefix).strip("${}")]
        assert log_group["Type"] == "AWS::Logs::LogGroup"
        assert log_group["Properties"]["LogGroupName"].startswith("/aws/events/")  # EventBridge's requirement
        assert log_group["Properties"]["RetentionInDays"] > 0

    def test_events_may_write_to_that_log_group_only(self, debug: dict[str, Any]) -> None:
        resources = debug["resources"]
        [policy] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Logs::ResourcePolicy"]
        [statement] = json.loads(flatten(policy["PolicyDocument"], references=True))["Statement"]
        log_group_id = flatten(debug["target"]["Arn"], references=True).rsplit("${", 1)[1].rstrip("}")
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert statement["Resource"] == "${" + log_group_id + ".Arn}"

    def test_no_custom_resources(self, debug: dict[str, Any]) -> None:
        custom = [r["Type"] for r in debug["resources"].values() if r["Type"].startswith("Custom::")]
        assert custom == []
        assert "AWS::CloudFormation::CustomResource" not in {r["Type"] for r in debug["resources"].values()}


class TestPermissions:
    def test_state_machine_may_query_and_delete_jobs_and_keep_its_cursor_and_runs_only(
        self, resources: dict[str, Any], ids: dict[str, str]
    ) -> None:
        [dynamodb] = statements_allowing(statements_of_role(resources, ids["machine_role"]), "dynamodb:")
        assert sorted(as_list(dynamodb["Action"])) == [
            "dynamodb:BatchWriteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ]
        assert as_list(dynamodb["Resource"]) == [get_att(ids["table"])]

    def test_state_machine_may_invoke_the_publish_and_the_arrivals_function(
        self, resources: dict[str, Any], ids: dict[str, str]
    ) -> None:
        invokes = statements_allowing(statements_of_role(resources, ids["machine_role"]), "lambda:")
        # the arrivals function (a sweep after a width change) by its ARN only
        [sweep] = [s for s in invokes if get_att(ids["rewind"]) in as_list(s["Resource"])]
        assert (sweep["Action"], sweep["Resource"]) == ("lambda:InvokeFunction", get_att(ids["rewind"]))
        [invoke] = [s for s in invokes if s is not sweep]
        assert invoke["Action"] == "lambda:InvokeFunction"
        function_arn = get_att(ids["function"])
        assert function_arn in invoke["Resource"]
        # the other resource is that same function's versions and aliases ("<arn>:*")
        versions = {"Fn::Join": ["", [function_arn, ":*"]]}
        assert all(resource in (function_arn, versions) for resource in invoke["Resource"])

    def test_function_may_read_jobs_put_events_and_write_dead_letters_only(
        self, resources: dict[str, Any], ids: dict[str, str]
    ) -> None:
        statements = statements_of_role(resources, ids["function_role"])
        jobs, dead_letters = statements_allowing(statements, "dynamodb:")
        # reading jobs, counting attempts, and the transaction that replaces a published occurrence by the next
        assert as_list(jobs["Action"]) == [
            "dynamodb:BatchGetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
        ]
        assert as_list(jobs["Resource"]) == [get_att(ids["table"])]
        assert as_list(dead_letters["Action"]) == ["dynamodb:PutItem", "dynamodb:UpdateItem"]
        assert as_list(dead_letters["Resource"]) == [get_att(ids["dead_letters"])]
        [events] = statements_allowing(statements, "events:")
        assert events["Action"] == "events:PutEvents"
        assert events["Resource"] == get_att(ids["bus"])

    def test_state_machine_puts_metrics_in_its_own_namespace_only(
        self, resources: dict[str, Any], ids: dict[str, str]
    ) -> None:
        [metrics] = statements_allowing(statements_of_role(resources, ids["machine_role"]), "cloudwatch:")
        assert metrics["Action"] == "cloudwatch:PutMetricData"
        assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "onthedot"}}

    def test_rewind_may_move_the_cursor_refile_and_bury_jobs_and_read_the_stream(
        self, resources: dict[str, Any], ids: dict[str, str]
    ) -> None:
        statements = statements_allowing(statements_of_role(resources, ids["rewind_role"]), "dynamodb:")
        rights = {
            json.dumps(as_list(s["Resource"])): sorted(as_list(s["Action"]))
            for s in statements
            if "dynamodb:GetRecords" not in as_list(s["Action"]) and "dynamodb:ListStreams" not in as_list(s["Action"])
        }
        assert rights == {
            # read the cursor and a job, move the cursor, re-file a job (delete + put), count its attempts, and
            # sweep the table after a width change
            json.dumps([get_att(ids["table"])]): [
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Scan",
                "dynamodb:UpdateItem",
            ],
            # bury a job whose due time cannot be read, and keep the dead letter's size
            json.dumps([get_att(ids["dead_letters"])]): ["dynamodb:PutItem", "dynamodb:UpdateItem"],
        }
        stream_actions = {
            action
            for s in statements
            for action in as_list(s["Action"])
            if "dynamodb:GetRecords" in as_list(s["Action"]) or "dynamodb:ListStreams" in as_list(s["Action"])
        }
        assert stream_actions == {
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        }

    def test_rewind_may_invoke_itself_only_and_a_failed_sweep_leg_is_kept(
        self, resources: dict[str, Any], ids: dict[str, str]
    ) -> None:
        [invoke] = statements_allowing(statements_of_role(resources, ids["rewind_role"]), "lambda:")
        assert (invoke["Action"], invoke["Resource"]) == ("lambda:InvokeFunction", get_att(ids["rewind"]))
        # a leg that fails for good goes to the alarmed queue the stream's failures go to
        [config] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
        assert config["FunctionName"] == {"Ref": ids["rewind"]}
        [mapping] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
        failures = mapping["DestinationConfig"]["OnFailure"]["Destination"]
        assert config["DestinationConfig"] == {"OnFailure": {"Destination": failures}}

    def test_rewind_asset_holds_its_folder_the_dead_letter_and_the_core(
        self, synthesized: Synthesized, resources: dict[str, Any], ids: dict[str, str]
    ) -> None:
        # (tests/infra/test_assets.py imports each handler from its built asset)
        key = resources[ids["rewind"]]["Properties"]["Code"]["S3Key"]
        asset = synthesized.directory / f"asset.{key.removesuffix('.zip')}"
        files = {path.relative_to(asset).as_posix() for path in asset.rglob("*") if path.is_file()}
        core = {f"onthedot/core/{path.name}" for path in (REPO_ROOT / "onthedot" / "core").glob("*.py")}
        assert core <= files, "the core package ships whole"
        assert {f for f in files if not f.startswith("functions/rewind/")} - core == {
            "functions/__init__.py",
            "functions/publish/__init__.py",
            "functions/publish/dead_letter.py",  # shared: how a job is buried
            "onthedot/__init__.py",
        }
        variables = resources[ids["rewind"]]["Properties"]["Environment"]["Variables"]
        assert variables["DEAD_LETTER_TABLE_NAME"] == {"Ref": ids["dead_letters"]}

    def test_no_wildcard_resource_but_where_aws_requires_it(self, resources: dict[str, Any]) -> None:
        offending = [
            (logical_id, statement["Action"])
            for logical_id, resource in resources.items()
            if resource["Type"] == "AWS::IAM::Policy"
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]
            if "*" in as_list(statement.get("Resource")) and not set(as_list(statement["Action"])) <= STAR_ONLY_ACTIONS
        ]
        assert offending == []

    def test_no_wildcard_actions(self, resources: dict[str, Any]) -> None:
        actions = [
            action
            for resource in resources.values()
            if resource["Type"] == "AWS::IAM::Policy"
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]
            for action in as_list(statement["Action"])
        ]
        assert actions
        assert [action for action in actions if "*" in action] == []

    def test_roles_carry_no_aws_managed_policies(self, resources: dict[str, Any]) -> None:
        roles = {i: r["Properties"] for i, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
        assert roles
        assert [i for i, role in roles.items() if "ManagedPolicyArns" in role or "Policies" in role] == []


class TestOutputs:
    @pytest.mark.parametrize(
        ("output", "value"),
        [
            ("JobsTableName", lambda ids: {"Ref": ids["table"]}),
            ("EventBusName", lambda ids: {"Ref": ids["bus"]}),
            ("StateMachineArn", lambda ids: {"Ref": ids["machine"]}),
            ("PublishFunctionName", lambda ids: {"Ref": ids["function"]}),
            ("EventSource", lambda ids: "onthedot"),  # what the AWS suite's test worker matches on
        ],
    )
    def test_output(self, template: Template, ids: dict[str, str], output: str, value: Any) -> None:
        template.has_output(output, {"Value": value(ids)})


class TestKnobs:
    def test_page_size_reaches_the_definition(self, tuned: Synthesized) -> None:
        tuned.template.has_resource_properties(
            "AWS::StepFunctions::StateMachine",
            {"DefinitionSubstitutions": Match.object_like({"PageSize": "200"})},
        )

    def test_schedule_minutes_reach_the_rule(self, tuned: Synthesized) -> None:
        tuned.template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(3 minutes)"})

    def test_event_source_reaches_the_function_and_the_debug_rule(self, tuned: Synthesized) -> None:
        tuned.template.has_resource_properties(
            "AWS::Lambda::Function",
            {"Environment": {"Variables": Match.object_like({"EVENT_SOURCE": "acme.jobs"})}},
        )
        tuned.template.has_resource_properties("AWS::Events::Rule", {"EventPattern": {"source": ["acme.jobs"]}})

    def test_log_level_reaches_the_function(self, tuned: Synthesized) -> None:
        tuned.template.has_resource_properties(
            "AWS::Lambda::Function",
            {"Environment": {"Variables": Match.object_like({"POWERTOOLS_LOG_LEVEL": "DEBUG"})}},
        )

    def test_cdk_json_lists_every_knob_with_its_default(self) -> None:
        context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
        defaults = Settings()
        assert {name: context.get(name) for name in Settings.knob_names()} == {
            name: getattr(defaults, name) for name in Settings.knob_names()
        }

    @pytest.mark.parametrize(
        ("knob", "value"),
        [
            ("pageSize", "0"),
            ("pageSize", "many"),
            ("bucketMinutes", "7"),
            ("scheduleMinutes", "61"),
            ("mapConcurrency", "0"),
            ("eventSource", "aws.events"),
            ("logLevel", "LOUD"),
            ("debugWorker", "yes"),
            ("exampleWorker", "1"),
            ("monitoring", "off"),
            ("alarmEmail", "nobody"),
            ("alarmBacklogSeconds", "10"),
            ("alarmLatenessSeconds", "0"),
            ("alarmDeadLetters", "0"),
            ("alarmFailedRuns", "many"),
        ],
    )
    def test_bad_knob_is_refused_by_name(self, knob: str, value: str) -> None:
        with pytest.raises(SettingsError, match=knob):
            read_settings(cdk.App(context={knob: value}))

    def test_app_exits_with_the_message_not_a_traceback(self, tmp_path: Path) -> None:
        # GIVEN `cdk synth -c pageSize=0`: the CLI hands context to the app in CDK_CONTEXT_JSON
        env = os.environ | {"CDK_CONTEXT_JSON": json.dumps({"pageSize": "0"}), "CDK_OUTDIR": str(tmp_path)}
        # WHEN the app runs
        result = subprocess.run(
            [sys.executable, "app.py"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        # THEN it stops with the SettingsError message, naming the knob
        assert result.returncode != 0
        assert "pageSize" in result.stderr
        assert "Traceback" not in result.stderr
