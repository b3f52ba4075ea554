"""The job commands as a user runs them: ``onthedot schedule|get|cancel|reschedule|list|status`` as
subprocesses against one ``onthedot local --every 1`` for the whole module."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from onthedot.core import keys
from onthedot.core.jobs import CURSOR_PK, RUN_PK
from tests.support.processes import ONTHEDOT, REPO, RunningCloud, free_port, running_cloud

FIRED = "fired .* job {}"


class Cloud(RunningCloud):
    def pending_ids(self) -> set[str]:
        """Ids of the jobs due in the next ten minutes (list queries a bucket at a time: keep the range short)."""
        end = keys.format_time(datetime.now(UTC) + timedelta(minutes=10))
        return {job["id"] for job in self.json("list", "--to", end, "--limit", "1000")["jobs"]}

    def items(self) -> list[dict[str, Any]]:
        """Everything in the table but the dispatcher's own items, its run records and its cursor: they
        change with every tick."""
        items = [
            item
            for page in self.dynamodb().get_paginator("scan").paginate(TableName="onthedot-jobs")
            for item in page["Items"]
            if item["pk"]["S"] not in (RUN_PK, CURSOR_PK)
        ]
        return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    with running_cloud("--every", "1") as running:
        yield Cloud(running.port, running.output, running.env)


def due_of(document: dict[str, Any]) -> datetime:
    return keys.parse_time(document["due"].replace("Z", "+00:00"))


def wait_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def test_a_job_is_listed_fires_and_is_gone(cloud: Cloud) -> None:
    # GIVEN a job scheduled from the command line, due in a few seconds
    # (long enough for the six commands below to run before it fires: it fires on its second)
    result = cloud.cli("schedule", "--in", "15s", "--type", "reminder", "--detail", '{"to": "a@b.c"}')
    assert result.stdout.startswith("scheduled\n")
    job_id = re.search(r"^job\s+(\S+)$", result.stdout, re.MULTILINE)[1]  # type: ignore[index]
    assert re.search(r"^due\s+\S+Z  \(in 1[45] s\)$", result.stdout, re.MULTILINE), result.stdout
    assert uuid.UUID(job_id).version == 7

    # THEN before it is due, get, list and status show it
    job = cloud.json("get", job_id)
    assert (job["id"], job["detail_type"], job["detail"]) == (job_id, "reminder", {"to": "a@b.c"})
    assert job_id in cloud.pending_ids()
    listing = cloud.cli("list").stdout
    assert re.search(rf"^\S+Z\s+in \d+ s\s+reminder\s+{job_id}$", listing, re.MULTILINE), listing
    status = cloud.json("status")
    assert status["next"]["id"] == job_id
    bucket = keys.partition_key(due_of(job))
    assert [b["pending"] for b in status["buckets"] if b["partition"] == bucket] == [1]
    text = cloud.cli("status").stdout
    assert f"next due job  {job_id}  reminder" in text
    assert re.search(rf"^  {re.escape(bucket)}\s+1", text, re.MULTILINE), text

    # WHEN its time comes, it fires once
    fired = cloud.output.wait_for(FIRED.format(job_id), timeout=20)
    assert "reminder" in fired

    # THEN it is gone
    gone = cloud.cli("get", job_id, code=1)
    assert gone.stderr.startswith("onthedot: ")
    assert job_id in gone.stderr
    assert job_id not in cloud.pending_ids()
    assert len(cloud.output.matching(FIRED.format(job_id))) == 1


def test_a_cancelled_job_never_fires(cloud: Cloud) -> None:
    job = cloud.json("schedule", "--in", "5s", "--type", "reminder")  # time for the commands below, then it falls due

    cancelled = cloud.cli("cancel", job["id"])
    assert cancelled.stdout.startswith("cancelled\n")
    assert job["id"] not in cloud.pending_ids()
    assert cloud.cli("cancel", job["id"], code=1).stderr.startswith("onthedot: ")

    wait_until(due_of(job) + timedelta(seconds=3))  # three dispatcher runs after it was due
    assert cloud.output.matching(FIRED.format(job["id"])) == []


def test_a_rescheduled_job_fires_at_the_new_time_only(cloud: Cloud) -> None:
    old = cloud.json("schedule", "--in", "2s", "--type", "report", "--detail", '{"name": "daily"}')

    new = cloud.json("reschedule", old["id"], "--in", "5s")
    assert new["id"] != old["id"]
    assert (new["detail_type"], new["detail"]) == ("report", {"name": "daily"})
    assert due_of(new) - due_of(old) > timedelta(seconds=2)
    assert cloud.pending_ids() >= {new["id"]}
    assert old["id"] not in cloud.pending_ids()

    fired = cloud.output.wait_for(FIRED.format(new["id"]), timeout=20)
    assert f"due {due_of(new):%H:%M:%S}" in fired
    assert re.search(r"\+\d+\.\d+ s late$", fired), fired  # not before its new time
    assert cloud.output.matching(FIRED.format(old["id"])) == []  # the old time passed 3+ runs ago


@pytest.fixture
def big_detail(tmp_path: Path) -> str:
    path = tmp_path / "detail.json"
    path.write_text(json.dumps({"blob": "x" * (256 * 1024)}), encoding="utf-8")
    return f"@{path}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "2030-01-01T10:00:00"], r"^onthedot: at: .*(time zone|offset)"),
        (["--cron", "*/5 * * * *", "--tz", "Mars/Olympus_Mons"], r"^onthedot: tz: .*Mars/Olympus_Mons"),
        (["--cron", "61 * * * *"], r"^onthedot: cron: "),
        (["--rate", "5 fortnights"], r"^onthedot: rate: "),
        (["--in", "1m", "--detail", "[1, 2]"], r"^onthedot: detail: must be a JSON object"),
        (["--in", "1m", "--detail", "{'single': 'quotes'}"], r"^onthedot: detail: --detail is not valid JSON"),
        (["--in", "1m", "--detail", "@/no/such/file.json"], r"^onthedot: detail: cannot read /no/such/file.json"),
        (["--in", "1m", "--detail", "BIG"], r"^onthedot: detail: event is \d+ bytes, over EventBridge.s 262144"),
        (["--in", "1m", "--type", ""], r"^onthedot: detail_type: "),
        (["--in", "1m", "--type", "x" * 129], r"^onthedot: detail_type: "),
        (["--in", "0s"], r"argument --in: must be more than 0"),
        (["--in=-5m"], r"argument --in: must be more than 0"),
        (["--in", "-5m"], r"argument --in: expected one argument"),
        (["--in", "10"], r"argument --in: '10' is not a duration"),
        (["--in", "1m", "--tz", "UTC"], r"^onthedot: --tz: applies only to a recurring job"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(cloud: Cloud, big_detail: str, args: list[str], message: str) -> None:
    before = cloud.items()
    args = [big_detail if arg == "BIG" else arg for arg in args]
    if "--type" not in args:
        args += ["--type", "reminder"]

    result = cloud.cli("schedule", *args, code=2)

    assert re.search(message, result.stderr, re.MULTILINE), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert cloud.items() == before


def test_ids_that_are_not_job_or_series_ids_exit_2(cloud: Cloud) -> None:
    assert (
        cloud.cli("get", "not-a-uuid", code=2).stderr
        == "onthedot: id: 'not-a-uuid' is not a job or series id (a UUID)\n"
    )
    assert "UUIDv7" in cloud.cli("cancel", str(uuid.uuid1()), code=2).stderr


def test_recurring_job_series_can_be_looked_up_and_cancelled(cloud: Cloud) -> None:
    # GIVEN a series of two occurrences, the first at the next whole minute
    result = cloud.cli("schedule", "--cron", "* * * * *", "--count", "2", "--type", "tick", "--detail", '{"n": 1}')
    series_id = re.search(r"^series\s+(\S+)$", result.stdout, re.MULTILINE)[1]  # type: ignore[index]
    assert uuid.UUID(series_id).version == 4
    assert re.search(r"^rule\s+cron \* \* \* \* \*  in UTC$", result.stdout, re.MULTILINE), result.stdout

    # THEN get shows the series and its pending occurrence
    series = cloud.json("get", series_id)
    assert (series["id"], series["cron"], series["limit"]) == (series_id, "* * * * *", 2)
    occurrence = series["next"]["id"]
    assert uuid.UUID(occurrence).version == 7
    assert cloud.json("get", occurrence)["series"] == series_id

    # WHEN it is cancelled, the series and its pending occurrence are gone
    cancelled = cloud.json("cancel", series_id)
    assert cancelled["id"] == series_id
    cloud.cli("get", series_id, code=1)
    cloud.cli("get", occurrence, code=1)
    assert occurrence not in cloud.pending_ids()


def test_status_shows_the_last_dispatcher_runs(cloud: Cloud) -> None:
    status = cloud.json("status", "--port", str(cloud.port))  # --port: the same cloud as ONTHEDOT_LOCAL_PORT
    assert status["target"] == {
        "table": "onthedot-jobs",
        "bus": "onthedot",
        "where": f"local cloud on http://127.0.0.1:{cloud.port}",
    }
    runs = status["runs"]
    assert 0 < len(runs) <= 5
    assert [run["time"] for run in runs] == sorted((run["time"] for run in runs), reverse=True)
    assert {"due", "published", "failed", "deleted"} <= runs[0].keys()

    text = cloud.cli("status").stdout
    assert "last dispatcher runs:" in text
    assert re.search(r"^  \S+Z \((\d+ s ago|now)\)  due \d+ · published \d+ · failed \d+", text, re.MULTILINE), text


def test_no_local_cloud_is_a_clear_error() -> None:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    result = subprocess.run(
        [*ONTHEDOT, "list", "--port", str(port)], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"onthedot: no local cloud on 127.0.0.1:{port} (start one with `make run`), and no --stack/--table given\n"
    )
