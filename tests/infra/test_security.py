"""Security properties of what is deployed, over every template the tests synthesize (defaults, tuned knobs,
the opt-in workers, the README's sample app): wildcards justified, failures kept, no payload in logs, checkov."""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.synthesis import REPO_ROOT, Synthesized
from tests.support.template import WILDCARD_REASONS, as_list, flatten

TEMPLATES = ("synthesized", "tuned", "with_workers", "sample_app")

# In a key policy, Resource "*" is the key the policy is attached to.
KEY_POLICY_REASON = "a KMS key policy's Resource '*' means this key only"


def policy_documents(resources: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(logical id, resource type, policy document) of every policy in the template."""
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::IAM::Policy":
            yield logical_id, kind, properties["PolicyDocument"]
        elif kind == "AWS::KMS::Key":
            yield logical_id, kind, properties["KeyPolicy"]
        elif kind in ("AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
            yield logical_id, kind, properties["PolicyDocument"]
        elif kind == "AWS::Logs::ResourcePolicy":
            yield logical_id, kind, json.loads(flatten(properties["PolicyDocument"], references=True))
        elif kind == "AWS::IAM::Role":
            yield logical_id, kind, properties["AssumeRolePolicyDocument"]
            for policy in properties.get("Policies", []):
                yield logical_id, kind, policy["PolicyDocument"]


@pytest.fixture(params=TEMPLATES)
def stack(request: pytest.FixtureRequest) -> Synthesized:
    synthesized: Synthesized = request.getfixturevalue(request.param)
    return synthesized


def test_policies_are_found_in_every_template(stack: Synthesized) -> None:
    kinds = {kind for _, kind, _ in policy_documents(stack.template.to_json()["Resources"])}
    assert {"AWS::IAM::Policy", "AWS::IAM::Role"} <= kinds


def test_every_wildcard_resource_has_a_condition_or_a_written_reason(stack: Synthesized) -> None:
    unexplained = []
    for logical_id, kind, document in policy_documents(stack.template.to_json()["Resources"]):
        for statement in document["Statement"]:
            if "*" not in as_list(statement.get("Resource")) or "Condition" in statement:
                continue
            if kind == "AWS::KMS::Key":
                continue  # KEY_POLICY_REASON
            actions = as_list(statement["Action"])
            if not all(action in WILDCARD_REASONS for action in actions):
                unexplained.append((logical_id, actions))
    assert unexplained == []
    assert all(len(reason) > 30 for reason in WILDCARD_REASONS.values())


def test_every_partial_wildcard_is_a_functions_versions(stack: Synthesized) -> None:
    # "<function arn>:*": the versions and aliases of one function, as grant_invoke writes them
    partial = [
        resource
        for _, _, document in policy_documents(stack.template.to_json()["Resources"])
        for statement in document["Statement"]
        for resource in as_list(statement.get("Resource"))
        if resource != "*" and "*" in json.dumps(resource)
    ]
    for resource in partial:
        target, suffix = resource["Fn::Join"][1]
        assert suffix == ":*"
        assert set(target) == {"Fn::GetAtt"}
        assert target["Fn::GetAtt"][1] == "Arn"


def test_the_stream_mapping_keeps_what_it_cannot_handle(stack: Synthesized) -> None:
    resources = stack.template.to_json()["Resources"]
    [mapping] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    queue = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"]
    assert queue[1] == "Arn"
    assert resources[queue[0]]["Type"] == "AWS::SQS::Queue"
    assert resources[queue[0]]["Properties"]["SqsManagedSseEnabled"] is True
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 10
    # ... and the rewind function may send to that queue, and to no other
    function = mapping["FunctionName"]["Ref"]
    role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    sends = [
        statement
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
        if any(action.startswith("sqs:") for action in as_list(statement["Action"]))
    ]
    assert [as_list(s["Resource"]) for s in sends] == [[{"Fn::GetAtt": queue}]]


class TestNoPayloadAboveDebug:
    LEVELS_ABOVE_DEBUG = {"info", "warning", "error", "exception", "critical"}
    # Names that hold a job's content: detail, the event, whole items
    PAYLOAD_NAMES = {"detail", "details", "payload", "event", "events", "item", "items", "entries", "body"}

    @staticmethod
    def sources() -> list[Path]:
        return [*sorted((REPO_ROOT / "functions").rglob("*.py")), REPO_ROOT / "onthedot" / "worker.py"]

    def test_no_log_call_above_debug_passes_a_payload(self) -> None:
        offending = []
        for path in self.sources():
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                if node.func.attr not in self.LEVELS_ABOVE_DEBUG or "log" not in ast.unparse(node.func.value):
                    continue
                names = {keyword.arg for keyword in node.keywords} | {
                    name.id for arg in node.args for name in ast.walk(arg) if isinstance(name, ast.Name)
                }
                if names & self.PAYLOAD_NAMES:
                    offending.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {ast.unparse(node)}")
        assert offending == []

    def test_no_handler_logs_its_event(self) -> None:
        # Powertools logs the whole incoming event with inject_lambda_context(log_event=True)
        offending = [
            f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
            for path in self.sources()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.keyword) and node.arg == "log_event"
        ]
        assert offending == []

    def test_no_function_is_told_to_log_events_and_none_logs_at_debug_by_default(
        self, stack: Synthesized, request: pytest.FixtureRequest
    ) -> None:
        functions = stack.template.find_resources("AWS::Lambda::Function")
        assert functions
        for function in functions.values():
            variables = function["Properties"].get("Environment", {}).get("Variables", {})
            assert "POWERTOOLS_LOGGER_LOG_EVENT" not in variables
            if stack is not request.getfixturevalue("tuned") and "POWERTOOLS_LOG_LEVEL" in variables:
                assert variables["POWERTOOLS_LOG_LEVEL"] != "DEBUG"

    def test_the_example_worker_logs_the_detail_only_at_debug(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from datetime import UTC, datetime

        # importing the handler builds its idempotency table client (no call is made)
        monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "idempotency")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

        from functions.example_worker.app import logger, remind
        from onthedot.worker import Job

        job = Job(
            id="job-1",
            due=datetime(2026, 2, 9, 11, 33, tzinfo=UTC),
            detail_type="reminder",
            detail={"recipient": "ada@example.com", "message": "secret-4711"},
        )
        previous = logger.log_level
        # the handler writes to the stdout it found when the module was first imported (perhaps by another
        # test): read what it writes from a stream of our own
        written = io.StringIO()
        stream = logger.registered_handler.setStream(written)
        try:
            for level, shown in (("INFO", False), ("DEBUG", True)):
                # GIVEN the worker's logger at this level WHEN it handles a job
                logger.setLevel(level)
                remind(job, send=lambda _to, _message: None)
                # THEN the detail's content appears in the log only at DEBUG
                assert ("secret-4711" in written.getvalue()) is shown, level
                written.seek(0)
                written.truncate()
        finally:
            logger.setLevel(previous)
            logger.registered_handler.setStream(stream)


# -- checkov ---------------------------------------------------------------------------------------------------

# Checks this project does not follow, each for its reason. Anything else checkov reports fails the test, and
# a reason whose check no longer fails anywhere is reported as stale.
CHECKOV_SKIPS = {
    "CKV_AWS_119": "DynamoDB tables are encrypted with the AWS managed key (SSE-KMS, aws/dynamodb). A customer "
    "managed key adds a key to run and pay for, and a way to make every job unreadable, for no reader that the "
    "table's IAM policies do not already stop.",
    "CKV_AWS_158": "Log groups are encrypted by CloudWatch Logs. What they hold is not user data: the dispatcher "
    "passes keys and counts between states (never a job's detail), and the functions log payloads only at DEBUG "
    "(tested here).",
    "CKV_AWS_116": "A Lambda DLQ applies to asynchronous invocations only. The publish function is invoked "
    "synchronously by the state machine (a failure fails the page, and the job stays in the table), the rewind "
    "function by an event source mapping whose failures go to its on-failure queue (tested here); the example "
    "worker, the one asynchronous function, has a DLQ.",
    "CKV_AWS_117": "The functions call only AWS APIs (DynamoDB, EventBridge) and reach no private resource; a VPC "
    "would add NAT gateways or endpoints to pay for and no isolation.",
    "CKV_AWS_115": "Concurrency is bounded by the design, not by a reservation: the publish function by "
    "mapConcurrency per run, the rewind function by the stream's shards. Reserving it would take capacity from "
    "the account's pool and throttle overlapping runs.",
    "CKV_AWS_173": "Function environments hold resource names and knob values, no secrets; Lambda encrypts them "
    "at rest with its AWS managed key.",
    "CKV_AWS_27": "Queues use SQS-managed server-side encryption (SqsManagedSseEnabled); this check recognizes "
    "only KmsMasterKeyId. The AWS managed SQS key cannot be used: EventBridge cannot send to a queue under it.",
}


def checkov_command() -> list[str]:
    """checkov from its own virtual environment (see the Makefile: it cannot share the project's)."""
    executable = Path(os.environ.get("CHECKOV") or REPO_ROOT / ".venv-checkov" / "bin" / "checkov")
    if not executable.exists():
        pytest.skip(f"checkov is not installed at {executable}: run `make setup` (or set CHECKOV)")
    return [str(executable)]


@pytest.fixture(scope="module")
def checkov_results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One checkov run over every template: {template name: checkov's report}."""
    command = checkov_command()
    directory = tmp_path_factory.mktemp("checkov")
    files = []
    for name in TEMPLATES:
        path = directory / f"{name}.template.json"
        path.write_text(json.dumps(request.getfixturevalue(name).template.to_json()), encoding="utf-8")
        files += ["--file", str(path)]
    result = subprocess.run(
        # --skip-download: no call to the vendor's platform; every check runs from the installed package
        [*command, *files, "--framework", "cloudformation", "--output", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr  # 1: checks failed, read below
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    by_file: dict[str, Any] = {}
    for report in reports:
        for check in report["results"]["failed_checks"] + report["results"]["passed_checks"]:
            by_file.setdefault(Path(check["file_path"]).name.removesuffix(".template.json"), []).append(check)
    return {"checks": by_file, "summary": [report["summary"] for report in reports]}


@pytest.mark.parametrize("name", TEMPLATES)
def test_checkov_finds_nothing_but_the_justified_skips(checkov_results: dict[str, Any], name: str) -> None:
    checks = checkov_results["checks"][name]
    assert len(checks) > 50  # checkov did look at this template
    failed = [(c["check_id"], c["resource"]) for c in checks if c["check_result"]["result"] == "FAILED"]
    assert [finding for finding in failed if finding[0] not in CHECKOV_SKIPS] == []


def test_every_checkov_skip_is_still_needed_and_explained(checkov_results: dict[str, Any]) -> None:
    failing = {
        c["check_id"]
        for checks in checkov_results["checks"].values()
        for c in checks
        if c["check_result"]["result"] == "FAILED"
    }
    assert set(CHECKOV_SKIPS) - failing == set()
    assert all(len(reason) > 80 for reason in CHECKOV_SKIPS.values())
