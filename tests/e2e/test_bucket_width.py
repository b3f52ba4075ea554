"""One bucket width for every writer: the CLI keys jobs with the width the dispatcher records on its cursor item,
on a local cloud started with ``-c bucketMinutes=15``, and a width given that differs is refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from onthedot.core import keys
from onthedot.core.jobs import CURSOR_BUCKET_MINUTES, CURSOR_PK, CURSOR_SK
from tests.support.processes import RunningCloud, running_cloud


@pytest.fixture(scope="module")
def cloud() -> Iterator[RunningCloud]:
    with running_cloud("--every", "1", "-c", "bucketMinutes=15") as running:
        yield running


def recorded_width(cloud: RunningCloud, timeout: float = 30) -> int:
    """The width on the dispatcher's cursor item, once its first run has written it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = cloud.dynamodb().get_item(
            TableName="onthedot-jobs", Key={"pk": {"S": CURSOR_PK}, "sk": {"S": CURSOR_SK}}, ConsistentRead=True
        )
        if CURSOR_BUCKET_MINUTES in item.get("Item", {}):
            return int(item["Item"][CURSOR_BUCKET_MINUTES]["N"])
        time.sleep(0.5)
    raise AssertionError(f"no {CURSOR_BUCKET_MINUTES} on the dispatcher's cursor item within {timeout} s")


def test_the_cli_writes_the_dispatchers_width_and_the_job_fires(cloud: RunningCloud) -> None:
    # GIVEN a dispatcher running 15-minute buckets
    assert recorded_width(cloud) == 15

    # WHEN jobs are scheduled with no width given
    later = json.loads(cloud.cli("schedule", "--in", "20m", "--type", "width-check", "--json").stdout)
    soon = json.loads(cloud.cli("schedule", "--in", "5s", "--type", "width-check", "--json").stdout)

    # THEN they are keyed on the 15-minute grid, where the dispatcher looks, and they fire
    due = keys.parse_time(later["due"].replace("Z", "+00:00"))
    key = {"pk": {"S": keys.partition_key(due, 15)}, "sk": {"S": keys.sort_key(due, later["id"])}}
    assert "Item" in cloud.dynamodb().get_item(TableName="onthedot-jobs", Key=key, ConsistentRead=True)
    cloud.output.wait_for(f"fired .* job {soon['id']}", timeout=45)
    cloud.cli("cancel", later["id"])


def test_a_width_that_differs_from_the_dispatchers_is_exit_2(cloud: RunningCloud) -> None:
    assert recorded_width(cloud) == 15
    later = keys.format_time(datetime.now(UTC) + timedelta(hours=1))
    before = cloud.json("list", "--to", later)["jobs"]

    result = cloud.cli("schedule", "--in", "10m", "--type", "t", "--bucket-minutes", "5", code=2)

    assert "5-minute buckets were asked for, but table onthedot-jobs records 15-minute buckets" in result.stderr
    assert "Traceback" not in result.stderr
    assert cloud.json("list", "--to", later)["jobs"] == before
