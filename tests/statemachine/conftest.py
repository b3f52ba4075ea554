"""The dispatcher definition executed on the local cloud: one cloud for this folder, emptied between tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from onthedot.deploy.settings import Settings
from onthedot.local.cloud import LocalCloud, free_port
from tests.support.dispatcher import LEDGERS, SHARDS, Jobs, Ledger, redeployed


@pytest.fixture(scope="package")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(port=free_port()) as running:
        yield running


@pytest.fixture
def jobs(cloud: LocalCloud) -> Iterator[Jobs]:
    helper = Jobs(cloud)
    yield helper
    dynamodb = cloud.client("dynamodb")
    for table in (cloud.names.table, cloud.names.dead_letter_table):
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    cloud.receive_events()


# --- the account of every job, for the fault-injection suite ----------------------------------------------


@pytest.fixture
def ledger(jobs: Jobs, request: pytest.FixtureRequest) -> Ledger:
    return Ledger(fault=request.node.name.removeprefix("test_").replace("_", " "), jobs=jobs, scheduled=set(), fired=[])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not LEDGERS:
        return
    terminalreporter.section("no job lost: every fault's account")
    columns = ("scheduled", "published", "dead-lettered", "waiting", "lost", "duplicated")
    terminalreporter.write_line(f"{'fault':<62}" + "".join(f"{name:>14}" for name in columns))
    for fault, row in LEDGERS:
        terminalreporter.write_line(f"{fault[:61]:<62}" + "".join(f"{row[name]:>14}" for name in columns))


@pytest.fixture
def sharded(cloud: LocalCloud) -> Iterator[Settings]:
    """The cloud with its buckets spread over ``SHARDS`` shards, for as long as a test runs."""
    with redeployed(cloud, shards=SHARDS) as settings:
        yield settings
