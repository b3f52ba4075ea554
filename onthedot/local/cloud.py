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
from onthedot.jobs import TABLE_KEYS
from onthedot.local import jsonata_engine, lambda_runtime
from onthedot.local.names import CREDENTIALS, REGION, Names
from onthedot.settings import Settings, publish_environment, render_definition, rewind_environment, substitutions

REPO_ROOT = Path(__file__).resolve().parents[2]
# Set for the whole process while the cloud runs (Powertools reads them on every call).
PROCESS_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}


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
        self._saved_environment: dict[str, str | None] = {}

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> LocalCloud:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        _ensure_free(self.port)  # moto's server thread would wait forever on a taken port
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        jsonata_engine.install()
        lambda_runtime.install()
        # moto's Step Functions interpreter calls the services back on localhost:$MOTO_PORT; Powertools reads
        # its switches on every call of a handler running in this process.
        self._saved_environment = {name: os.environ.get(name) for name in PROCESS_ENVIRONMENT}
        os.environ.update({**PROCESS_ENVIRONMENT, "MOTO_PORT": str(self.port)})
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self._configure_moto()
        self._create_resources()
        return self

    def stop(self) -> None:
        lambda_runtime.unregister(self.names.publish_function)
        lambda_runtime.unregister(self.names.rewind_function)
        if self._server is not None:
            self._moto_api("reset", {})  # moto keeps its state in-process: leave none behind
            self._server.stop()
            self._server = None
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

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
        stream_arn = self._create_table(names.table, stream=True)
        self._create_table(names.dead_letter_table)
        events = self.client("events")
        events.create_event_bus(Name=names.bus)
        role_arn = self.client("iam").create_role(
            RoleName=names.role,
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        if str(REPO_ROOT) not in sys.path:  # handlers import functions.* and onthedot.* as on Lambda
            sys.path.insert(0, str(REPO_ROOT))

        publish_arn = self._create_function(
            names.publish_function,
            "publish",
            role_arn,
            publish_environment(
                self.settings,
                table_name=names.table,
                bus_name=names.bus,
                dead_letter_table_name=names.dead_letter_table,
            ),
        )
        self._create_function(names.rewind_function, "rewind", role_arn, rewind_environment(self.settings, names.table))
        self.client("lambda").create_event_source_mapping(
            EventSourceArn=stream_arn, FunctionName=names.rewind_function, StartingPosition="LATEST"
        )

        definition = render_definition(
            substitutions(self.settings, table_name=names.table, publish_function_arn=publish_arn)
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

    def _create_table(self, name: str, *, stream: bool = False) -> str:
        """A pk/sk table as the stack has it; the stream's ARN when it has one."""
        table = self.client("dynamodb").create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            **TABLE_KEYS,
            **({"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}} if stream else {}),
        )["TableDescription"]
        return str(table.get("LatestStreamArn", ""))

    def _create_function(self, name: str, folder: str, role_arn: str, environment: dict[str, str]) -> str:
        """A Lambda function whose handler, ``functions/<folder>/app.py``, runs in this process."""
        arn = self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role_arn,
            Handler=f"functions.{folder}.app.handler",
            Code={"ZipFile": b"in-process"},
            Environment={"Variables": environment},
            Architectures=["arm64"],
            Timeout=60,
        )["FunctionArn"]
        lambda_runtime.register(
            lambda_runtime.InProcessFunction(
                name=name,
                handler_file=REPO_ROOT / "functions" / folder / "app.py",
                handler_name="handler",
                environment={
                    **environment,
                    **self.environment(),
                    "POWERTOOLS_LOG_LEVEL": os.environ.get("ONTHEDOT_LOCAL_LOG_LEVEL", "WARNING"),
                },
            )
        )
        return str(arn)

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

    def __init__(
        self,
        cloud: LocalCloud,
        every: float,
        on_run: Callable[[Run], None],
        on_error: Callable[[Exception], None] = lambda _error: None,
    ) -> None:
        self.cloud, self.every, self.on_run, self.on_error = cloud, every, on_run, on_error
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
            try:
                self.on_run(self.cloud.dispatch())
            except Exception as error:  # one failed start must not stop the schedule, as on AWS
                self.on_error(error)
            next_tick += self.every
            self._stop.wait(max(0.0, next_tick - time.monotonic()))
