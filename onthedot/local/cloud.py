"""The local cloud: moto on loopback with the stack's resources, the dispatcher definition and a ticker.

The same definition file and substitution keys as ``cdk deploy`` (``onthedot.deploy.settings``), the publish handler
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from onthedot.core import keys
from onthedot.core.jobs import TABLE_KEYS
from onthedot.deploy.settings import (
    WINDOW_SLACK_SECONDS,
    Settings,
    publish_environment,
    render_definition,
    rewind_environment,
    substitutions,
)
from onthedot.local import lambda_runtime, patches, step_functions
from onthedot.local.names import CREDENTIALS, REGION, Names
from onthedot.local.persistence import DataFolder

REPO_ROOT = Path(__file__).resolve().parents[2]
# Set for the whole process while the cloud runs (Powertools reads them on every call).
PROCESS_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}


@dataclass(frozen=True)
class Run:
    """One dispatcher execution: its status, its Summarize output and how long it ran."""

    execution_arn: str
    status: str
    output: dict[str, Any]
    seconds: float
    error: str | None = None


class LocalCloud:
    """moto on loopback with the stack's resources.

    moto keeps its state and its patches per process: ``express_limit`` (seconds an Express execution may run
    before it fails with ``States.Timeout``; AWS's 5 minutes by default) applies to every execution in the
    process while this cloud runs, and can be changed on a running cloud (tests shorten it).
    """

    def __init__(
        self,
        port: int = 4566,
        settings: Settings | None = None,
        names: Names | None = None,
        express_limit: float = step_functions.AWS_EXPRESS_LIMIT_SECONDS,
        *,
        data: Path | None = None,
        fresh: bool = False,
    ) -> None:
        self.port = port
        self.settings = settings or Settings()
        self.names = names or Names()
        self._express_limit = express_limit
        self.endpoint = f"http://127.0.0.1:{port}"
        self._server: Any = None
        self._clients: dict[str, Any] = {}
        self.state_machine_arn = ""
        self.queue_url = ""
        self._saved_environment: dict[str, str | None] = {}
        self._started = False
        # The tables kept in ``data`` (None: in memory only); what was restored from it at start, by table.
        self.data = (
            None if data is None else DataFolder(data, [self.names.table, self.names.dead_letter_table], fresh=fresh)
        )
        self.restored: dict[str, list[dict[str, Any]]] = {}

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> LocalCloud:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        _ensure_free(self.port)  # moto's server thread would wait forever on a taken port
        if self.data is not None:
            self.data.lock()  # DataFolderInUse when another cloud keeps its tables there
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        patches.MOTO.install()
        self._started = True
        step_functions.express_limit.seconds = self._express_limit
        # moto's Step Functions interpreter calls the services back on localhost:$MOTO_PORT; Powertools reads
        # its switches on every call of a handler running in this process.
        self._saved_environment = {name: os.environ.get(name) for name in PROCESS_ENVIRONMENT}
        os.environ.update({**PROCESS_ENVIRONMENT, "MOTO_PORT": str(self.port)})
        try:
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            self._server.start()
            self._configure_moto()
            self._create_resources()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        lambda_runtime.unregister(self.names.publish_function)
        lambda_runtime.unregister(self.names.rewind_function)
        if self.data is not None:
            self.data.close()  # compacted from moto's tables, so before the reset
        if self._server is not None:
            self._moto_api("reset", {})  # moto keeps its state in-process: leave none behind
            self._server.stop()
            self._server = None
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment = {}
        if self._started:
            self._started = False
            patches.MOTO.uninstall()  # the last cloud stopped leaves moto as it found it

    @property
    def express_limit(self) -> float:
        return self._express_limit

    @express_limit.setter
    def express_limit(self, seconds: float) -> None:
        self._express_limit = seconds
        if self._started:
            step_functions.express_limit.seconds = seconds

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
        if self.data is not None:  # before the stream is wired: restored items are not arrivals
            self.restored = self.data.restore()
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
        arrivals_arn = self._create_function(
            names.rewind_function,
            "rewind",
            role_arn,
            rewind_environment(self.settings, names.table, names.dead_letter_table),
        )
        self.client("lambda").create_event_source_mapping(
            EventSourceArn=stream_arn, FunctionName=names.rewind_function, StartingPosition="LATEST"
        )

        definition = render_definition(
            substitutions(
                self.settings,
                table_name=names.table,
                publish_function_arn=publish_arn,
                arrivals_function_arn=arrivals_arn,
            )
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
        function = lambda_runtime.InProcessFunction(
            name=name,
            handler_file=REPO_ROOT / "functions" / folder / "app.py",
            handler_name="handler",
            environment={
                **environment,
                **self.environment(),
                "POWERTOOLS_LOG_LEVEL": os.environ.get("ONTHEDOT_LOCAL_LOG_LEVEL", "WARNING"),
            },
        )
        lambda_runtime.register(function)
        function.warm()  # import the handler now, not inside the first run's first tick (a cold start of ~0.5 s)
        return str(arn)

    # -- running the dispatcher --------------------------------------------------------------------------

    def dispatch(self, now: datetime | None = None, until: datetime | None = None, timeout: float = 330.0) -> Run:
        """Run the dispatcher once (as the schedule rule would) and wait for it to finish.

        The default ``timeout`` outlasts the Express limit, so an overrunning run comes back FAILED with
        ``States.Timeout``, as on AWS, rather than as a ``TimeoutError`` here."""
        return self.wait_for(self.start_dispatch(now=now, until=until), timeout=timeout)

    def start_dispatch(self, now: datetime | None = None, until: datetime | None = None) -> str:
        """Start a dispatcher run, as the schedule rule does, and return its execution ARN without waiting.

        ``now`` and ``until`` (optional) reach the definition in the execution input, formatted as keys are."""
        times = {"now": now, "until": until}
        execution_input = {name: keys.format_time(value) for name, value in times.items() if value is not None}
        return str(
            self.client("stepfunctions").start_execution(
                stateMachineArn=self.state_machine_arn, name=uuid.uuid4().hex, input=json.dumps(execution_input)
            )["executionArn"]
        )

    def wait_for(self, execution_arn: str, timeout: float = 330.0) -> Run:
        """Wait for an execution in this cloud to end (told by the interpreter, not polled) and describe it."""
        if not step_functions.finished.wait(execution_arn, timeout=timeout):
            raise TimeoutError(f"execution {execution_arn} still running after {timeout} s")
        described = self.client("stepfunctions").describe_execution(executionArn=execution_arn)
        output = json.loads(described.get("output") or "{}")
        error = None if described["status"] == "SUCCEEDED" else f"{described.get('error')}: {described.get('cause')}"
        seconds = (described["stopDate"] - described["startDate"]).total_seconds()
        return Run(execution_arn, described["status"], output, seconds, error)

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
    """Raise OSError when something already listens on 127.0.0.1:``port``. With SO_REUSEADDR, as werkzeug's
    server binds: a port left in TIME_WAIT by a cloud that just stopped is free (Linux still refuses a port
    that something listens on)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


class Ticker:
    """Starts the dispatcher every ``every`` seconds, as the schedule rule does on AWS: on schedule, whether or
    not the previous run has finished. Each run is reported to ``on_run`` when it ends (a waiting thread per
    run); a failed start or wait goes to ``on_error`` and the schedule goes on."""

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
        self._waiters: list[threading.Thread] = []
        self._closed = False

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Start no more runs, and wait up to ``timeout`` seconds for the runs in flight to be reported. Runs
        still going after that (a dispatcher run may wait out its window) are not reported: the cloud is
        about to stop under them."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._thread.join(timeout=timeout)
        for waiter in list(self._waiters):
            waiter.join(timeout=max(0.0, deadline - time.monotonic()))
        self._closed = True

    def _loop(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            try:
                arn = self.cloud.start_dispatch(until=self._window_end())
            except Exception as error:  # one failed start must not stop the schedule, as on AWS
                self.on_error(error)
            else:
                waiter = threading.Thread(target=self._report, args=(arn,), name="onthedot-run", daemon=True)
                self._waiters = [thread for thread in self._waiters if thread.is_alive()] + [waiter]
                waiter.start()
            next_tick += self.every
            self._stop.wait(max(0.0, next_tick - time.monotonic()))

    def _window_end(self) -> datetime | None:
        """Where a run's window ends: on AWS the rule fires every ``scheduleMinutes`` and the definition looks that
        far ahead (with slack); a ticker with another interval gives its runs windows of its own interval, so
        that ``--every 1`` does not keep seventy runs waiting at once."""
        settings = self.cloud.settings
        if settings.precision == "minute" or self.every == settings.scheduleMinutes * 60:
            return None
        return datetime.now(UTC) + timedelta(seconds=self.every + min(WINDOW_SLACK_SECONDS, self.every))

    def _report(self, execution_arn: str) -> None:
        try:
            run = self.cloud.wait_for(execution_arn)
        except Exception as error:
            if not self._closed:
                self.on_error(error)
        else:
            if not self._closed:
                self.on_run(run)
