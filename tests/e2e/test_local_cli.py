"""`onthedot local` as a user runs it: a subprocess, its output, its exit code."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from onthedot.core import keys
from tests.support.processes import ONTHEDOT, REPO, Output, free_port, local_dynamodb, start_local


@pytest.fixture
def port() -> int:
    return free_port()


def test_demo_jobs_fire_and_exit_after_stops_cleanly(port: int) -> None:
    process = start_local("--demo", "--every", "2", "--exit-after", "12", "--port", str(port))
    stdout, _ = process.communicate(timeout=90)

    assert process.returncode == 0, stdout
    assert f"http://127.0.0.1:{port}" in stdout
    assert f"AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in stdout
    fired = [line for line in stdout.splitlines() if " fired " in line]
    assert len(fired) == 4, stdout  # every demo job, once
    assert {"reminder", "price-change", "report"} <= {line.split()[2] for line in fired}
    assert all(re.search(r"job [0-9a-f-]{36} .* s late$", line) for line in fired), fired
    assert stdout.rstrip().endswith("stopped")


def test_a_job_typed_in_the_original_item_format_fires(port: int) -> None:
    process = start_local("--every", "1", "--port", str(port))
    output = Output(process)
    try:
        output.wait_for("Ctrl-C stops it", timeout=60)
        # GIVEN a job put by hand, as `aws dynamodb put-item --endpoint-url ...` would, due now
        due = datetime.now(UTC) + timedelta(milliseconds=500)
        job_id = str(uuid.uuid4())
        local_dynamodb(port).put_item(
            TableName="onthedot-jobs",
            Item=json.loads(
                json.dumps(
                    {
                        "pk": {"S": keys.partition_key(due)},
                        "sk": {"S": keys.sort_key(due, job_id)},
                        "detail": {"M": {"recipient": {"S": "ada@example.com"}}},
                        "detail_type": {"S": "reminder"},
                    }
                )
            ),
        )
        # THEN the console worker prints it within a few runs
        line = output.wait_for(f"fired .* job {job_id}", timeout=30)
        assert "reminder" in line
    finally:
        # AND Ctrl-C stops it cleanly
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0
    assert output.lines[-1] == "stopped"


def test_a_busy_port_is_a_clear_error(port: int) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = subprocess.run(
            [*ONTHEDOT, "local", "--port", str(port), "--exit-after", "1"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--every", "0"], "must be more than 0 seconds"),
        (["--port", "70000"], "is not a port number"),
        (["-c", "pageSize=0"], "'pageSize' must be a whole number from 1 to 1000"),
        (["-c", "nosuchknob=1"], "KEY one of"),
    ],
)
def test_bad_options_exit_2_with_the_reason(args: list[str], message: str) -> None:
    result = subprocess.run(
        [*ONTHEDOT, "local", *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert message in result.stderr
