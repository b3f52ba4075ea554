"""Fails loudly when a moto upgrade moves the internals the local cloud patches or works around."""

from __future__ import annotations

import inspect
import sys
import threading
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from jsonata import functions as jsonata_functions
from jsonata.jsonata import Jsonata
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp as moto_timestamp
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
from moto.stepfunctions.parser.asl.utils import boto_client

from onthedot.local import lambda_runtime, metering, moto_speed, patches
from onthedot.local.cloud import LocalCloud
from onthedot.local.patching import FunctionPatch, Patch

# What each patch works around, as it reads in the moto it was written for: if moto rewrites it, the patch
# may be wrong or needless. Keyed by the patched attribute.
MOTO_SOURCE_SAYS = {
    "moto.stepfunctions.parser.asl.component.common.string.string_expression.StringJSONata._eval_body": (
        "compose_jsonata_expression("
    ),
    "moto.stepfunctions.parser.asl.component.common.string.string_expression.StringVariableSample._eval_body": (
        "compose_jsonata_expression("
    ),
    "moto.awslambda.models.LambdaFunction._invoke_lambda": "docker",
    "moto.sqs.models.SQSBackend.send_message": 'queue.attributes.get("ContentBasedDeduplication")',
    "moto.sqs.models.SQSBackend.is_message_valid_based_on_retention_period": "self.get_queue_attributes(",
    "moto.sqs.models.Queue.messages": "for message in self._messages",
    "moto.sqs.models.Queue.delete_message": "new_messages.append(message)",
    "moto.dynamodb.models.table.Table.all_items": "key=lambda x: (x.hash_key, x.range_key)",
    "moto.dynamodb.models.table.Table.query": "possible_results.sort(key=lambda item: item.range_key)",
    "moto.dynamodb.models.DynamoDBBackend.transact_write_items": "original_table_state[table_name] = copy.deepcopy(",
    "moto.moto_server.werkzeug_app.DomainDispatcherApplication.get_backend_for_host": (
        "if host in backends.list_of_moto_modules():"
    ),
    "moto.events.utils.EventTemplateParser.parse": "input_expr = parse(input_paths_map[input_path])",
    "moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for": "return boto3.client(",
    "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function.WaitFunction._eval_body": (
        "self._wait_interval(env=env, wait_seconds=w_sec)"
    ),
    "moto.stepfunctions.parser.asl.component.program.program.Program.eval": "worker_thread.join(timeout=timeout)",
    "moto.stepfunctions.parser.backend.execution.BaseExecutionWorkerCommunication.terminated": (
        "self._reflect_execution_status()"
    ),
    "moto.dynamodb.responses.DynamoHandler.call_action": "return super().call_action()",
    "moto.dynamodb.models.table.StreamShard.add": "send_dynamodb_items(",
    "moto.dynamodb.responses.DynamoHandler.batch_write_item": "self.dynamodb_backend.put_item(table_name, item)",
}


def _function(attribute: Any) -> Any:
    """The function behind a method, staticmethod or property."""
    if isinstance(attribute, staticmethod):
        return attribute.__func__
    if isinstance(attribute, property):
        return attribute.fget
    return attribute


def test_moto_is_the_version_the_patches_were_written_for() -> None:
    assert version("moto") == "5.2.5", "re-check every patch in onthedot/local against the new moto, then update"
    assert version("jsonata-python") == "0.7.1", "re-check jsonata_engine's clock fix against the new jsonata-python"


@pytest.mark.parametrize("patch", patches.MOTO.patches, ids=lambda patch: patch.qualified_name.rsplit(".", 2)[-2:])
def test_each_patched_target_still_reads_as_it_did(patch: Patch) -> None:
    source = inspect.getsource(_function(patch.original))
    assert MOTO_SOURCE_SAYS[patch.qualified_name] in source, f"moto rewrote {patch.qualified_name} ({patch.why})"
    # The replacement takes what moto passes to the original.
    original_parameters = list(inspect.signature(_function(patch.original)).parameters)
    replacement_parameters = list(inspect.signature(_function(patch.replacement)).parameters)
    assert replacement_parameters == original_parameters, patch.qualified_name


def test_every_patch_has_its_guard() -> None:
    assert sorted(patch.qualified_name for patch in patches.MOTO.patches) == sorted(MOTO_SOURCE_SAYS)
    assert "call_action" in vars(metering.MOTO_TARGET)


def test_moto_still_has_no_jsonata_evaluator_of_its_own() -> None:
    # If this fails, moto wires JSONata itself (getmoto/moto#10105): check whether jsonata_engine is still needed.
    assert moto_jsonata._eval_jsonata is None


def test_jsonata_python_still_keeps_its_current_instance_per_thread() -> None:
    # jsonata_engine sets it before each evaluation, so that $now() and $millis() read this evaluation's clock.
    assert "Jsonata.CURRENT.jsonata.timestamp" in inspect.getsource(jsonata_functions.Functions.millis)
    assert isinstance(Jsonata.CURRENT, threading.local)


def test_wait_states_still_wait_in_the_base_class_only() -> None:
    # WaitFunction._eval_body is patched: a subclass with its own would escape the patch.
    subclasses = {cls.__name__ for cls in _all_subclasses(WaitFunction)}
    assert {"Seconds", "SecondsJSONata", "SecondsPath", "Timestamp", "TimestampPath"} <= subclasses
    assert not [cls.__name__ for cls in _all_subclasses(WaitFunction) if "_eval_body" in vars(cls)]
    # moto's Timestamp still compares with the naive local clock; when it stops, re-check step_functions.
    assert "datetime.datetime.now()" in inspect.getsource(moto_timestamp.Timestamp._get_wait_seconds)


def test_boto_client_for_is_replaced_where_moto_calls_it(cloud: object) -> None:
    patch = next(p for p in patches.MOTO.patches if isinstance(p, FunctionPatch))
    sites = patch.call_sites()
    assert any(site.endswith("state_task_service_aws_sdk") for site in sites)
    assert any(site.endswith("lambda_eval_utils") for site in sites)
    assert all(vars(sys.modules[site])["boto_client_for"] is patch.replacement for site in sites)
    assert "moto_server_port()" in inspect.getsource(patch.original)  # the endpoint the cached clients use


def _all_subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_all_subclasses(direct))]


def test_the_patches_are_installed_while_a_cloud_runs_and_removed_as_a_pair(cloud: object) -> None:
    assert all(patch.installed for patch in patches.MOTO.patches)
    # a second install (another cloud in the process) is counted: its uninstall leaves them installed
    patches.MOTO.install()
    patches.MOTO.uninstall()
    assert all(patch.installed for patch in patches.MOTO.patches)
    # the last uninstall restores moto exactly
    patches.MOTO.uninstall()
    try:
        for patch in patches.MOTO.patches:
            assert not patch.installed
            assert vars(patch.target)[patch.name] is patch.original
        assert boto_client.boto_client_for is moto_speed.PATCHES[-1].original
    finally:
        patches.MOTO.install()  # for the rest of this package's tests
    assert all(patch.installed for patch in patches.MOTO.patches)


def test_an_asynchronous_invoke_runs_the_handler_in_process_before_it_answers(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    # The dispatcher starts a sweep with InvocationType Event: moto sends it through _invoke_lambda too, and
    # runs it before it answers 202 (AWS queues it), so a run's Sweep state returns once the sweep is done.
    handler = tmp_path / "app.py"
    handler.write_text("CALLS = []\n\ndef handler(event, context):\n    CALLS.append(event)\n    return {}\n")
    name = "onthedot-guard-event-invoke"
    client = cloud.client("lambda")
    client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=client.get_function(FunctionName=cloud.names.rewind_function)["Configuration"]["Role"],
        Handler="app.handler",
        Code={"ZipFile": b"in-process"},
    )
    function = lambda_runtime.InProcessFunction(name=name, handler_file=handler, handler_name="handler", environment={})
    lambda_runtime.register(function)
    try:
        response = client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"sweep": {"start": null}}')
        assert response["StatusCode"] == 202
        assert vars(function._module)["CALLS"] == [{"sweep": {"start": None}}]
    finally:
        lambda_runtime.unregister(name)
        client.delete_function(FunctionName=name)


@pytest.mark.parametrize("range_type", ["N", "S"])
def test_sorting_and_querying_the_table_answer_as_moto_does(cloud: LocalCloud, range_type: str) -> None:
    # GIVEN a table with string hash keys and range keys of either type (numbers sort by value, not as text)
    dynamodb = cloud.client("dynamodb")
    name = f"guard-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "h", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "h", "AttributeType": "S"},
            {"AttributeName": "r", "AttributeType": range_type},
        ],
    )
    try:
        for h, r in [("b", "10"), ("a", "9"), ("b", "-1"), ("a", "100"), ("ä", "0"), ("b", "2.5"), ("b", "7")]:
            dynamodb.put_item(TableName=name, Item={"h": {"S": h}, "r": {range_type: r}, "x": {"S": f"{h}{r}"}})
        table = dynamodb_backends["123456789012"]["us-east-1"].tables[name]
        sort = next(p for p in patches.MOTO.patches if p.name == "all_items")
        query = next(p for p in patches.MOTO.patches if p.name == "query")
        # WHEN the patched sort and moto's own sort the table, THEN they agree
        assert [(i.hash_key, i.range_key) for i in sort.replacement(table)] == [
            (i.hash_key, i.range_key) for i in sort.original(table)
        ]
        # and so do the patched query and moto's, page by page, both ways, with and without a range condition
        b, seven = DynamoType({"S": "b"}), [DynamoType({range_type: "7"})]
        for comparison, values in ((None, []), ("<", seven), (">=", seven)):
            for forward in (True, False):
                start = None
                for _ in range(5):
                    arguments = (b, comparison, values, 2, start, forward, None)
                    ours, theirs = query.replacement(table, *arguments), query.original(table, *arguments)
                    assert [i.to_json() for i in ours[0]] == [i.to_json() for i in theirs[0]], arguments
                    assert ours[1:] == theirs[1:], arguments
                    start = theirs[2]
                    if start is None:
                        break
    finally:
        dynamodb.delete_table(TableName=name)


def test_every_item_write_goes_through_the_journaled_actions() -> None:
    # persistence journals the keys named by five actions (and compacts after PartiQL): a moto that writes items
    # from another action, or keeps them elsewhere than Table.items, escapes the journal.
    journaled = {"put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items"}
    partiql = {"execute_statement", "execute_transaction", "batch_execute_statement"}
    writers = ("put_item(", "update_item(", "delete_item(", "transact_write_items(", "execute_statement(")
    for name, method in vars(DynamoHandler).items():
        if callable(method) and name not in journaled | partiql:
            source = inspect.getsource(_function(method))
            assert not [w for w in writers if f"dynamodb_backend.{w}" in source], f"{name} writes items"
    # restoring writes through Table.put_item with the stream switched off; snapshots read Table.items
    assert "if self.stream_shard is not None:" in inspect.getsource(Table.put_item)
    assert "self.items[hash_value][range_value] = item" in inspect.getsource(Table.put_item)
    # a failed transaction puts back what it wrote, item by item, through Table.put_item and delete_item on the keys
    # the action names: the journal reads those keys after each call (moto's own swaps in a copy of the table)
    rollback = inspect.getsource(moto_speed._roll_back)
    assert "table.delete_item(" in rollback
    assert "table.put_item(" in rollback
    assert [patch.replacement for patch in moto_speed.PATCHES if patch.name == "transact_write_items"] == [
        moto_speed._transact_write_items
    ]
