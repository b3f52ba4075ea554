"""The local cloud: moto on loopback with the stack's resources, the dispatcher definition and a ticker.

The same definition file and substitution keys as ``cdk deploy`` (``onthedot.settings``), the publish handler
from ``functions/`` run in-process, and a console worker: a rule on the bus delivering to a queue that is read
here. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from onthedot import keys
from onthedot.local import jsonata_engine, lambda_runtime
from onthedot.settings import Settings, publish_environment, render_definition, substitutions

REPO_ROOT = Path(__file__).resolve().parents[2]
PUBLISH_HANDLER = REPO_ROOT / "functions" / "publish" / "app.py"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION}


@dataclass(frozen=True)
class Names:
    """Resource names in the local cloud (the stack lets CloudFormation name them)."""

    table: str = "onthedot-jobs"
    bus: str = "onthedot"
    state_machine: str = "onthedot-dispatcher"
    publish_function: str = "onthedot-publish"
    worker_rule: str = "onthedot-console-worker"
    worker_queue: str = "onthedot-console-worker"
    role: str = "onthedot-local"


@dataclass(frozen=True)
class Run:
    """One dispatcher execution: its status, its Summarize output and how long it took."""

    execution_arn: str
    status: str
    output: dict[str, Any]
    seconds: float
    error: str | None = None


class LocalCloud:
    def __init__(self, port: int = 4566, settings: Settings | None = None, names: Names | None = None) -> None:
        self.port = port
        self.settings = settings or Settings()
        self.names = names or Names()
        self.endpoint = f"http://127.0.0.1:{port}"
        self._server: Any = None
        self._clients: dict[str, Any] = {}
        self.state_machine_arn = ""
        self.queue_url = ""

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> LocalCloud:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        _ensure_free(self.port)  # moto's server thread would wait forever on a taken port
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        jsonata_engine.install()
        lambda_runtime.install()
        # moto's Step Functions interpreter calls the services back on localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self._configure_moto()
        self._create_resources()
        return self

    def stop(self) -> None:
        lambda_runtime.unregister(self.names.publish_function)
        if self._server is not None:
            self._moto_api("reset", {})  # moto keeps its state in-process: leave none behind
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """What points boto3 and the AWS CLI at this cloud."""
        return {"AWS_ENDPOINT_URL": self.endpoint, **CREDENTIALS}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                endpoint_url=self.endpoint,
                region_name=REGION,
                aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                config=Config(retries={"mode": "standard"}),
            )
        return self._clients[service]

    def _configure_moto(self) -> None:
        self._moto_api("config", {"stepfunctions": {"execute_state_machine": True}})

    def _moto_api(self, path: str, body: dict[str, Any]) -> None:
        url = f"{self.endpoint}/moto-api/{path}"  # our own loopback endpoint, always http
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")  # noqa: S310
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass

    # -- resources ----------------------------------------------------------------------------------------

    def _create_resources(self) -> None:
        names = self.names
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(
            TableName=names.table,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        events = self.client("events")
        bus_arn = events.create_event_bus(Name=names.bus)["EventBusArn"]

        role_arn = self.client("iam").create_role(
            RoleName=names.role,
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]

        environment = publish_environment(self.settings, table_name=names.table, bus_name=names.bus)
        function_arn = self.client("lambda").create_function(
            FunctionName=names.publish_function,
            Runtime="python3.13",
            Role=role_arn,
            Handler="functions.publish.app.handler",
            Code={"ZipFile": b"in-process"},
            Environment={"Variables": environment},
            Architectures=["arm64"],
            Timeout=60,
        )["FunctionArn"]
        if str(REPO_ROOT) not in sys.path:  # the handler imports functions.publish.* as on Lambda
            sys.path.insert(0, str(REPO_ROOT))
        lambda_runtime.register(
            lambda_runtime.InProcessFunction(
                name=names.publish_function,
                handler_file=PUBLISH_HANDLER,
                handler_name="handler",
                environment={
                    **environment,
                    **self.environment(),
                    "POWERTOOLS_TRACE_DISABLED": "true",
                    "POWERTOOLS_METRICS_DISABLED": "true",
                    "POWERTOOLS_LOG_LEVEL": os.environ.get("ONTHEDOT_LOCAL_LOG_LEVEL", "WARNING"),
                },
            )
        )

        definition = render_definition(
            substitutions(self.settings, table_name=names.table, publish_function_arn=function_arn)
        )
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=names.state_machine, definition=definition, roleArn=role_arn, type="EXPRESS"
        )["stateMachineArn"]

        sqs = self.client("sqs")
        self.queue_url = sqs.create_queue(QueueName=names.worker_queue)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name=names.worker_rule,
            EventBusName=names.bus,
            EventPattern=json.dumps({"source": [self.settings.eventSource]}),
        )
        events.put_targets(
            Rule=names.worker_rule, EventBusName=names.bus, Targets=[{"Id": "console", "Arn": queue_arn}]
        )
        del bus_arn

    # -- running the dispatcher --------------------------------------------------------------------------

    def dispatch(self, now: datetime | None = None, timeout: float = 300.0) -> Run:
        """Run the dispatcher once (as the schedule rule would) and wait for it to finish."""
        sfn = self.client("stepfunctions")
        execution_input = {} if now is None else {"now": keys.format_time(now)}
        started = time.monotonic()
        arn = sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=uuid.uuid4().hex, input=json.dumps(execution_input)
        )["executionArn"]
        while True:
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"dispatcher run {arn} still running after {timeout} s")
            time.sleep(0.02)
        seconds = time.monotonic() - started
        output = json.loads(described.get("output") or "{}")
        error = None if described["status"] == "SUCCEEDED" else f"{described.get('error')}: {described.get('cause')}"
        return Run(arn, described["status"], output, seconds, error)

    def history_stats(self, execution_arn: str) -> tuple[int, int]:
        """(state transitions, largest state input or output in bytes) of a run, from its execution history."""
        transitions, largest = 0, 0
        history = self.client("stepfunctions").get_paginator("get_execution_history")
        for page in history.paginate(executionArn=execution_arn):
            for event in page["events"]:
                transitions += event["type"].endswith("StateEntered")
                for key, details in event.items():
                    if key.endswith("EventDetails") and isinstance(details, dict):
                        payload = details.get("input", details.get("output", ""))
                        largest = max(largest, len(str(payload).encode()))
        return transitions, largest

    def receive_events(self, wait_seconds: int = 0) -> list[dict[str, Any]]:
        """Events the console worker's queue holds (each received once)."""
        sqs = self.client("sqs")
        events: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
            ).get("Messages", [])
            if not messages:
                return events
            events.extend(json.loads(message["Body"]) for message in messages)
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            wait_seconds = 0


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (for tests and benchmarks)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ensure_free(port: int) -> None:
    """Raise OSError when something already listens on 127.0.0.1:``port``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


class Ticker:
    """Starts the dispatcher every ``every`` seconds, as the schedule rule does on AWS."""

    def __init__(self, cloud: LocalCloud, every: float, on_run: Callable[[Run], None]) -> None:
        self.cloud, self.every, self.on_run = cloud, every, on_run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="onthedot-ticker", daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            self.on_run(self.cloud.dispatch())
            next_tick += self.every
            self._stop.wait(max(0.0, next_tick - time.monotonic()))
