"""The dispatcher on the local cloud: jobs typed as a user would type them, runs at a time a test names, a deploy
with other knobs, and the account of every job a fault test scheduled."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from onthedot.core import keys
from onthedot.core.jobs import job_id_of
from onthedot.deploy.settings import Settings, publish_environment, render_definition, rewind_environment, substitutions
from onthedot.local import lambda_runtime
from onthedot.local.cloud import LocalCloud, Run


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


def stored(cloud: LocalCloud) -> dict[tuple[str, str], dict[str, Any]]:
    """The job items in the table, by (pk, sk)."""
    items = cloud.client("dynamodb").scan(TableName=cloud.names.table)["Items"]
    return {(item["pk"]["S"], item["sk"]["S"]): item for item in items if item["pk"]["S"].startswith(keys.PK_PREFIX)}


def run(cloud: LocalCloud, ledger: Ledger, now: datetime) -> Run:
    done = cloud.dispatch(now=now)
    assert done.status == "SUCCEEDED", done.error
    ledger.collect()
    return done


def settled(ledger: Ledger, scheduled: int, published: int, dead: int = 0) -> None:
    assert ledger.account() == {
        "scheduled": scheduled,
        "published": published,
        "dead-lettered": dead,
        "waiting": 0,
        "lost": 0,
        "duplicated": 0,
    }


DUE_IN_BUCKET = timedelta(minutes=3, seconds=12)  # two minutes before it is still in the same bucket


SHARDS = 4  # the shards of the drills on a sharded cloud (the `sharded` fixture)


def due_lately() -> datetime:
    """A due time a few minutes ago (in a bucket the dispatcher has drained, well inside what one run catches up):
    the runs replay the minutes around it, while the publish function sees it due by the real clock."""
    return keys.bucket_start(datetime.now(UTC)) - 2 * timedelta(minutes=keys.DEFAULT_BUCKET_MINUTES) + DUE_IN_BUCKET


def deploy(cloud: LocalCloud, settings: Settings, **overrides: str) -> None:
    """What ``cdk deploy`` with other knobs does to the running stack: a new definition, new function environments.

    ``overrides``: definition substitutions no knob sets directly (``CatchUpBudgetMs="0"``), for drills."""
    names = cloud.names
    functions = cloud.client("lambda")
    arn = {
        name: functions.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        for name in (names.publish_function, names.rewind_function)
    }
    definition = render_definition(
        substitutions(
            settings,
            table_name=names.table,
            publish_function_arn=arn[names.publish_function],
            arrivals_function_arn=arn[names.rewind_function],
        )
        | overrides
    )
    cloud.client("stepfunctions").update_state_machine(stateMachineArn=cloud.state_machine_arn, definition=definition)
    environments = {
        names.publish_function: publish_environment(
            settings, table_name=names.table, bus_name=names.bus, dead_letter_table_name=names.dead_letter_table
        ),
        names.rewind_function: rewind_environment(settings, names.table, names.dead_letter_table),
    }
    for name, environment in environments.items():
        functions.update_function_configuration(FunctionName=name, Environment={"Variables": environment})
        # The handler module is imported anew in the new environment, as Lambda starts new instances.
        running = lambda_runtime._functions[name]
        lambda_runtime.register(
            dataclasses.replace(running, environment={**running.environment, **environment}, _module=None)
        )


@contextmanager
def redeployed(cloud: LocalCloud, overrides: dict[str, str] | None = None, **knobs: Any) -> Iterator[Settings]:
    """The cloud deployed with other knobs (and definition ``overrides``, see ``deploy``) for the block, then
    with its own again."""
    settings = dataclasses.replace(cloud.settings, **knobs)
    deploy(cloud, settings, **(overrides or {}))
    try:
        yield settings
    finally:
        deploy(cloud, cloud.settings)
