"""The dispatcher definition executed on the local cloud: one cloud for this folder, emptied between tests."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from onthedot.core import keys
from onthedot.core.jobs import job_id_of
from onthedot.local.cloud import LocalCloud, free_port


@pytest.fixture(scope="package")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(port=free_port()) as running:
        yield running


@dataclass
class Jobs:
    """Writes jobs in the original item format, as a user would type them in the console."""

    cloud: LocalCloud

    def put(self, due: datetime, detail: Any = None, detail_type: str = "reminder", job_id: str | None = None) -> str:
        job_id = job_id or str(uuid.uuid4())
        item = {
            "pk": keys.partition_key(due),
            "sk": keys.sort_key(due, job_id),
            # DynamoDB holds numbers as Decimal, as boto3 requires
            "detail": json.loads(json.dumps({"n": 1} if detail is None else detail), parse_float=Decimal),
            "detail_type": detail_type,
        }
        serialize = TypeSerializer().serialize
        self.cloud.client("dynamodb").put_item(
            TableName=self.cloud.names.table, Item={name: serialize(value) for name, value in item.items()}
        )
        return job_id

    def remaining(self) -> set[str]:
        """Job ids still in the table."""
        ids: set[str] = set()
        for page in self.cloud.client("dynamodb").get_paginator("scan").paginate(TableName=self.cloud.names.table):
            ids.update(
                keys.parse_sort_key(item["sk"]["S"])[1]
                for item in page["Items"]
                if item["pk"]["S"].startswith(keys.PK_PREFIX)
            )
        return ids

    def dead_letters(self) -> list[dict[str, Any]]:
        """The dead-letter table's jobs, as plain values."""
        deserialize = TypeDeserializer().deserialize
        items = self.cloud.client("dynamodb").query(
            TableName=self.cloud.names.dead_letter_table,
            KeyConditionExpression="pk = :dead",
            ExpressionAttributeValues={":dead": {"S": "dlq"}},
        )["Items"]
        return [{name: deserialize(value) for name, value in item.items()} for item in items]

    def fired(self) -> list[dict[str, Any]]:
        """Events delivered to the console worker since the last call."""
        return self.cloud.receive_events()


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

LEDGERS: list[tuple[str, dict[str, int]]] = []


@dataclass
class Ledger:
    """Every job a fault test scheduled, and what became of it: published (once or more), dead-lettered,
    still waiting (not yet due), or lost."""

    fault: str
    jobs: Jobs
    scheduled: set[str]
    fired: list[str]

    def collect(self) -> None:
        self.fired.extend(job_id_of(event) for event in self.jobs.fired())

    def account(self) -> dict[str, int]:
        self.collect()
        published = set(self.fired) & self.scheduled
        dead = {str(letter["sk"]).rpartition("#")[2] for letter in self.jobs.dead_letters()} & self.scheduled
        waiting = self.jobs.remaining() & self.scheduled
        row = {
            "scheduled": len(self.scheduled),
            "published": len(published),
            "dead-lettered": len(dead),
            "waiting": len(waiting - published - dead),
            "lost": len(self.scheduled - published - dead - waiting),
            "duplicated": sum(count - 1 for count in Counter(self.fired).values() if count > 1),
        }
        LEDGERS.append((self.fault, row))
        return row


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
