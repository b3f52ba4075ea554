"""The console's tests: HTTP tests against an in-process moto (``aws``), browser tests against a running local
cloud (``test_browser``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from starlette.testclient import TestClient

from onthedot.client import Scheduler
from onthedot.deploy.target import Target
from onthedot.ui.app import create_app
from tests.support import REGION, create_job_tables
from tests.support.console import DEAD, JOBS, ORIGIN


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    create_job_tables(client, JOBS, DEAD)
    return client


@pytest.fixture
def scheduler(dynamodb: Any) -> Scheduler:
    return Scheduler(JOBS, dead_letter_table=DEAD, dynamodb=dynamodb)


@pytest.fixture
def target() -> Target:
    return Target(JOBS, "bus", "test tables", dead_letter_table=DEAD)


@pytest.fixture
def client(scheduler: Scheduler, target: Target) -> Iterator[TestClient]:
    with TestClient(create_app(scheduler, target), base_url=ORIGIN) as client:
        yield client
