"""The local cloud's own surface: starting a dispatcher run without waiting, waiting for it, and a bounded memory
of past runs in moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from moto.stepfunctions.parser.utils import TMP_THREADS

from onthedot.core import keys
from onthedot.local import step_functions
from onthedot.local.cloud import LocalCloud
from tests.support.dispatcher import Jobs

NOW = datetime(2026, 2, 9, 11, 33, tzinfo=UTC)


def test_a_run_started_without_waiting_gets_now_and_until_and_is_waited_for(cloud: LocalCloud, jobs: Jobs) -> None:
    until = NOW + timedelta(milliseconds=1)  # a window ending at once: the run does not wait

    arn = cloud.start_dispatch(now=NOW, until=until)
    run = cloud.wait_for(arn)

    assert run.execution_arn == arn
    assert run.status == "SUCCEEDED", run.error
    described = cloud.client("stepfunctions").describe_execution(executionArn=arn)
    assert json.loads(described["input"]) == {"now": keys.format_time(NOW), "until": keys.format_time(until)}
    assert run.seconds >= 0


def test_waiting_for_a_run_that_does_not_end_times_out(cloud: LocalCloud) -> None:
    with pytest.raises(TimeoutError):
        cloud.wait_for(f"{cloud.state_machine_arn.replace(':stateMachine:', ':execution:')}:never-started", 0.05)


def test_moto_keeps_only_the_last_finished_runs(cloud: LocalCloud, jobs: Jobs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(step_functions, "KEEP_FINISHED", 3)
    arns = [cloud.dispatch(now=NOW).execution_arn for _ in range(5)]

    listed = cloud.client("stepfunctions").list_executions(stateMachineArn=cloud.state_machine_arn)["executions"]
    assert {execution["executionArn"] for execution in listed} == set(arns[-3:])
    assert cloud.history_stats(arns[-1])[0] > 0  # the run just finished is still readable
    assert not [thread for thread in list(TMP_THREADS) if not thread.is_alive()][10:]  # finished threads forgotten


def test_a_queue_drained_for_long_remembers_a_bounded_number_of_deleted_handles(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sqs.models import sqs_backends

    from onthedot.local import moto_speed

    # GIVEN a local cloud that remembers at most 5 deleted receipt handles
    monkeypatch.setattr(moto_speed, "DELETED_HANDLES_KEPT", 5)
    sqs = cloud.client("sqs")
    queue = sqs_backends["123456789012"]["us-east-1"].queues[cloud.names.worker_queue]

    # WHEN 12 messages are received and deleted, one by one
    for index in range(12):
        sqs.send_message(QueueUrl=cloud.queue_url, MessageBody=json.dumps({"n": index}))
        [message] = sqs.receive_message(QueueUrl=cloud.queue_url)["Messages"]
        sqs.delete_message(QueueUrl=cloud.queue_url, ReceiptHandle=message["ReceiptHandle"])
        # THEN deleting the last one again still succeeds, as on AWS
        sqs.delete_message(QueueUrl=cloud.queue_url, ReceiptHandle=message["ReceiptHandle"])

    # AND what the queue remembers stays bounded
    assert len(queue.deleted_messages) <= 6
