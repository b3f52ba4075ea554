"""Where the suite runs: a deployed stack (``--stack NAME``) or the local cloud, behind one interface, and the
test worker it waits at: a queue of its own behind a rule on the stack's bus, removed afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from onthedot.client import Scheduler
from tests.support.processes import ONTHEDOT, REPO


@dataclass
class Target:
    """A running onthedot: how to reach it with boto3 and with the CLI, and what to expect of it."""

    description: str
    table: str
    dead_letter_table: str
    bus: str
    event_source: str
    bucket_minutes: int
    max_lateness: float  # seconds from a job's due time to its arrival at the test worker
    wait: float  # how long to wait for a job at the worker
    cli_options: list[str]  # appended to every CLI command: ["--stack", NAME] or nothing (the local cloud)
    cli_environment: dict[str, str]
    client: Callable[[str], Any]
    dashboard: str | None = None  # the stack's dashboard; the local cloud has none
    function_metrics: bool = False  # the publish function's metrics (Powertools) reach CloudWatch
    metrics_wait: float = 0.0  # how long CloudWatch may take to show a metric

    def cli(self, *args: str, code: int | None = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*ONTHEDOT, *args, *self.cli_options],
            cwd=REPO,
            env=self.cli_environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if code is not None:
            assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def scheduler(self) -> Scheduler:
        return Scheduler(
            self.table,
            dead_letter_table=self.dead_letter_table,
            dynamodb=self.client("dynamodb"),
            bucket_minutes=self.bucket_minutes,
        )


def aws_target(stack: str, *, max_lateness: float, wait: float, metrics_wait: float) -> Target:
    """The deployed stack ``stack``, as the default credentials and region reach it."""
    session = boto3.Session()
    config = Config(retries={"mode": "standard"})
    described = session.client("cloudformation", config=config).describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
    return Target(
        description=f"stack {stack} in {session.region_name}",
        table=outputs["JobsTableName"],
        dead_letter_table=outputs["DeadLetterTableName"],
        bus=outputs["EventBusName"],
        event_source=outputs.get("EventSource", "onthedot"),
        bucket_minutes=int(outputs["BucketMinutes"]),
        max_lateness=max_lateness,
        wait=wait,
        cli_options=["--stack", stack],
        cli_environment=dict(os.environ),
        client=lambda service: session.client(service, config=config),
        dashboard=outputs.get("DashboardName"),
        function_metrics=True,
        metrics_wait=metrics_wait,
    )


@dataclass
class TestWorker:
    """A rule on the bus for one detail-type of this run, delivering to a queue of its own."""

    __test__ = False  # not a test class

    target: Target
    detail_type: str = field(default_factory=lambda: f"onthedot-suite-{uuid.uuid4().hex[:12]}")
    received: dict[str, tuple[dict[str, Any], datetime]] = field(default_factory=dict)  # job id -> event, arrival
    deliveries: dict[str, int] = field(default_factory=dict)  # job id -> how often it arrived
    _queue_url: str = ""
    _rule: str = ""

    def start(self) -> TestWorker:
        sqs, events = self.target.client("sqs"), self.target.client("events")
        self._rule = self.detail_type
        self._queue_url = sqs.create_queue(QueueName=self.detail_type, Attributes={"SqsManagedSseEnabled": "true"})[
            "QueueUrl"
        ]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        rule_arn = events.put_rule(
            Name=self._rule,
            EventBusName=self.target.bus,
            EventPattern=json.dumps({"source": [self.target.event_source], "detail-type": [self.detail_type]}),
        )["RuleArn"]
        # Only this rule may send to the queue.
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=self._queue_url, Attributes={"Policy": json.dumps(policy)})
        events.put_targets(Rule=self._rule, EventBusName=self.target.bus, Targets=[{"Id": "suite", "Arn": queue_arn}])
        return self

    def stop(self) -> None:
        events, sqs = self.target.client("events"), self.target.client("sqs")
        if self._rule:
            events.remove_targets(Rule=self._rule, EventBusName=self.target.bus, Ids=["suite"])
            events.delete_rule(Name=self._rule, EventBusName=self.target.bus)
        if self._queue_url:
            sqs.delete_queue(QueueUrl=self._queue_url)

    def poll(self) -> None:
        """Take what arrived, noting when."""
        sqs = self.target.client("sqs")
        while True:
            messages = sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            )
            if not messages:
                return
            arrived = datetime.now(UTC)
            for message in messages:
                event = json.loads(message["Body"])
                job_id = event["resources"][0].rpartition("/")[2]
                self.received.setdefault(job_id, (event, arrived))
                self.deliveries[job_id] = self.deliveries.get(job_id, 0) + 1
            sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

    def wait_for(self, job_ids: set[str]) -> dict[str, tuple[dict[str, Any], datetime]]:
        """The events of ``job_ids`` with their arrival times; fails naming the jobs that did not come."""
        deadline = time.monotonic() + self.target.wait
        while not job_ids <= self.received.keys() and time.monotonic() < deadline:
            self.poll()
        missing = job_ids - self.received.keys()
        assert not missing, f"not at the worker within {self.target.wait:g} s on {self.target.description}: {missing}"
        return {job_id: self.received[job_id] for job_id in job_ids}
