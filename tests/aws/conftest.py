"""The opt-in AWS suite: ``pytest tests/aws --stack NAME`` (``make test-aws STACK=NAME``) runs it against a
deployed stack with the default AWS credentials and region; without ``--stack`` it runs against a local cloud
started for it (``onthedot local --every 1 -c precision=minute``), as part of ``make test``."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from onthedot.deploy.settings import Settings
from onthedot.local.names import CREDENTIALS, REGION, Names
from tests.aws.targets import Target, TestWorker, aws_target
from tests.support.processes import Output, free_port, start_local

# Local cloud: dispatched every second; a run on moto takes a good part of a second, and two
# machines' worth of tests may share the cores, so lateness is bounded loosely.
LOCAL_MAX_LATENESS, LOCAL_WAIT = 20.0, 60.0
# AWS: the dispatcher fires jobs within a second of their due time; EventBridge and SQS add a little.
AWS_MAX_LATENESS, AWS_WAIT, AWS_METRICS_WAIT = 10.0, 240.0, 360.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("onthedot AWS suite")
    group.addoption("--stack", metavar="NAME", help="run tests/aws against this deployed onthedot stack")
    group.addoption(
        "--max-lateness",
        type=float,
        metavar="SECONDS",
        help=f"lateness allowed at the test worker (default {AWS_MAX_LATENESS:g} on AWS, "
        f"{LOCAL_MAX_LATENESS:g} on the local cloud)",
    )


def option(config: pytest.Config, name: str) -> Any:
    """An option of this suite; None when its conftest was loaded after the command line was read."""
    return config.getoption(name, default=None)


@pytest.fixture(scope="package")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    stack = option(request.config, "--stack")
    max_lateness = option(request.config, "--max-lateness")
    if stack:
        try:
            boto3.client("sts").get_caller_identity()
        except (BotoCoreError, ClientError) as error:
            pytest.skip(
                f"AWS suite against stack {stack!r} skipped: no usable AWS credentials or region ({error}). "
                "Configure them as boto3 reads them (AWS_PROFILE, AWS_REGION, ...) and run again."
            )
        yield aws_target(
            str(stack),
            max_lateness=float(max_lateness or AWS_MAX_LATENESS),
            wait=AWS_WAIT,
            metrics_wait=AWS_METRICS_WAIT,
        )
        return
    with local_cloud() as (port, environment):
        names, endpoint = Names(), f"http://127.0.0.1:{port}"

        def client(service: str) -> Any:
            return boto3.client(
                service,
                endpoint_url=endpoint,
                region_name=REGION,
                aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            )

        yield Target(
            description=f"the local cloud on {endpoint}",
            table=names.table,
            dead_letter_table=names.dead_letter_table,
            bus=names.bus,
            event_source=Settings().eventSource,
            bucket_minutes=Settings().bucketMinutes,
            max_lateness=float(max_lateness or LOCAL_MAX_LATENESS),
            wait=LOCAL_WAIT,
            cli_options=[],
            cli_environment=environment,  # finds the cloud by ONTHEDOT_LOCAL_PORT
            client=client,
        )


@contextmanager
def local_cloud() -> Iterator[tuple[int, dict[str, str]]]:
    """``onthedot local --every 1`` on a free port, as a user starts it, without the caller's AWS_* variables;
    (its port, the environment that points the CLI at it). Stopped with Ctrl-C; killed if that takes long (a run
    that looks ahead may be waiting for its jobs): the suite needs nothing of it by then."""
    port = free_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    # Runs every second that each drain what is due (precision minute): jobs fire within a second or two, and
    # every run ends quickly, reporting its backlog metric. (With precision second a run waits for the jobs of
    # the next scheduleMinutes, so second-apart runs would overlap for a minute.)
    process = start_local("--every", "1", "-c", "precision=minute", "--port", str(port), env=environment)
    try:
        Output(process).wait_for("Ctrl-C stops it", timeout=60)
        yield port, {**environment, "ONTHEDOT_LOCAL_PORT": str(port)}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="package")
def worker(target: Target) -> Iterator[TestWorker]:
    started = TestWorker(target).start()
    try:
        yield started
    finally:
        started.stop()
