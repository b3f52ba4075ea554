"""The local cloud keeps its data: ``onthedot local --data DIR`` killed with SIGKILL while jobs are pending and
runs are in flight, restarted at once on the same port, and every job fires once or is dead-lettered."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from onthedot import keys
from onthedot.client import Scheduler
from tests.e2e.processes import Output, RunningCloud, free_port, start_local

BANNER = "Ctrl-C stops it"
RESTORED = r"data in .*: restored (\d+) pending jobs, (\d+) series, (\d+) dead letters"
FIRED = re.compile(r"fired\s+\S+\s+job (\S+)")


class Session:
    """``onthedot local`` started, killed and started again on one port and one data folder."""

    def __init__(self, data: Path, *extra: str) -> None:
        self.port = free_port()
        self.data = data
        self.extra = extra
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        self.outputs: list[Output] = []
        self.process: subprocess.Popen[str] | None = None

    def start(self, *args: str) -> RunningCloud:
        self.process = start_local(*self.extra, *args, "--port", str(self.port), "--data", str(self.data), env=self.env)
        output = Output(self.process)
        self.outputs.append(output)
        output.wait_for(BANNER, timeout=60)
        return RunningCloud(self.port, output, {**self.env, "ONTHEDOT_LOCAL_PORT": str(self.port)})

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(timeout=30) == 0

    def restored(self) -> tuple[int, int, int]:
        found = re.search(RESTORED, self.outputs[-1].text)
        assert found, self.outputs[-1].text
        return int(found[1]), int(found[2]), int(found[3])

    def fired(self) -> Counter[str]:
        return Counter(match[1] for output in self.outputs for line in output.lines if (match := FIRED.search(line)))


def job_of(output: str) -> str:
    return re.search(r"^job\s+(\S+)$", output, re.MULTILINE)[1]  # type: ignore[index]


def schedule(cloud: RunningCloud, due: datetime) -> str:
    """A job scheduled with the Python API (the CLI takes a second a call: too slow to place due times)."""
    return Scheduler("onthedot-jobs", dynamodb=cloud.dynamodb()).schedule("reminder", {}, at=due).id


def poison(cloud: RunningCloud, due: datetime) -> str:
    """A job typed in by hand with an empty detail-type: it is dead-lettered, never published."""
    job_id = str(uuid.uuid4())
    cloud.dynamodb().put_item(
        TableName="onthedot-jobs",
        Item={
            "pk": {"S": keys.partition_key(due)},
            "sk": {"S": keys.sort_key(due, job_id)},
            "detail": {"M": {}},
            "detail_type": {"S": ""},
        },
    )
    return job_id


def wait_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def test_kill_9_while_jobs_are_pending_and_runs_in_flight_loses_no_job(tmp_path: Path) -> None:
    session = Session(tmp_path / "data", "--every", "1")
    cloud = session.start()

    # GIVEN a series and a job with an idempotency key, not due in the test; jobs that fire before the first
    # kill, between the kills and after the second; a poison job before the first kill and one after
    series = cloud.cli("schedule", "--cron", "0 0 1 1 *", "--count", "3", "--type", "new-year").stdout
    keyed = cloud.cli("schedule", "--in", "1h", "--type", "keyed", "--key", "once").stdout
    t0 = datetime.now(UTC)
    before = [schedule(cloud, t0 + timedelta(seconds=s)) for s in (4, 4.5)]
    dead_before = poison(cloud, t0 + timedelta(seconds=4))
    between = [schedule(cloud, t0 + timedelta(seconds=s)) for s in (17, 17.5)]
    after = [schedule(cloud, t0 + timedelta(seconds=s)) for s in (24, 24.25, 25)]
    dead_after = poison(cloud, t0 + timedelta(seconds=24.5))
    scheduled = [*before, *between, *after]
    pending = {job["id"] for job in cloud.json("list", "--limit", "100")["jobs"]}
    assert set(scheduled) | {dead_before, dead_after} <= pending
    for job_id in before:
        cloud.output.wait_for(f"fired .* job {job_id}", timeout=15)

    # WHEN it is killed with SIGKILL between due times (a run starts every second and lives about two, so
    # runs are in flight), and started again at once on the same port and folder
    wait_until(t0 + timedelta(seconds=9))
    assert cloud.output.matching("dispatcher run"), cloud.output.text
    session.kill()
    cloud = session.start()
    # THEN everything pending came back: the jobs due later, the series' occurrence, the keyed job
    assert session.restored() == (len(between) + len(after) + 1 + 1 + 1, 1, 1), session.outputs[-1].text
    again = cloud.cli("schedule", "--in", "2h", "--type", "keyed", "--key", "once").stdout
    assert job_of(again) == job_of(keyed)  # the idempotency key came back too
    for job_id in between:
        cloud.output.wait_for(f"fired .* job {job_id}", timeout=20)

    # WHEN killed again between due times and restarted at once
    wait_until(t0 + timedelta(seconds=20))
    session.kill()
    cloud = session.start()
    assert session.restored() == (len(after) + 1 + 1 + 1, 1, 1), session.outputs[-1].text
    for job_id in after:
        cloud.output.wait_for(f"fired .* job {job_id}", timeout=20)
    deadline = time.monotonic() + 15
    while dead_after not in {dead["job_id"] for dead in cloud.json("dlq", "list")["dead_letters"]}:
        assert time.monotonic() < deadline, cloud.output.text
        time.sleep(0.5)

    # THEN each job fired exactly once or was dead-lettered, and only the jobs not yet due are waiting
    fired = session.fired()
    dead = {dead["job_id"] for dead in cloud.json("dlq", "list")["dead_letters"]}
    waiting = {job["id"] for job in cloud.json("list", "--limit", "100")["jobs"]}
    published = [job_id for job_id in scheduled if fired[job_id] == 1]
    dead_lettered = [job_id for job_id in (dead_before, dead_after) if job_id in dead and not fired[job_id]]
    lost = len(scheduled) + 2 - len(published) - len(dead_lettered) - len(waiting & set(scheduled))
    print(
        f"\naccount: scheduled {len(scheduled) + 2}, published {len(published)}, dead-lettered"
        f" {len(dead_lettered)}, waiting {len(waiting & set(scheduled))}, lost: {lost}"
    )
    assert (len(published), len(dead_lettered), lost) == (len(scheduled), 2, 0), dict(fired)
    assert max(fired.values()) == 1, dict(fired)
    assert waiting == {job_of(keyed)}  # due in an hour (the series' occurrence, on January 1, is not listed)
    assert series.startswith("scheduled")
    session.stop()


def test_a_clean_stop_keeps_the_data_the_same_port_is_free_at_once_and_fresh_starts_empty(tmp_path: Path) -> None:
    # GIVEN a local cloud with a job not due for an hour, stopped cleanly
    session = Session(tmp_path / "data")
    cloud = session.start()
    job_id = job_of(cloud.cli("schedule", "--in", "1h", "--type", "later").stdout)
    session.stop()
    stopped = time.monotonic()

    # WHEN it starts again on the same port at once, THEN it listens, and the job is there
    cloud = session.start()
    assert time.monotonic() - stopped < 30
    assert "cannot listen" not in cloud.output.text
    assert session.restored() == (1, 0, 0)
    assert [job["id"] for job in cloud.json("list")["jobs"]] == [job_id]
    session.stop()

    # WHEN it starts with --fresh, THEN it is empty
    cloud = session.start("--fresh")
    assert session.restored() == (0, 0, 0)
    assert cloud.json("list")["jobs"] == []
    session.stop()
