"""Bad input and a closed pipe, as a user meets them: ``onthedot`` as a subprocess, against moto's server.

The in-process sweep (``tests/unit/test_hostile_inputs.py``) covers every field; here a few cases run the real
command, so that what reaches the terminal (exit code, stderr, nothing else) is what a user would see.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from onthedot.core.jobs import TABLE_KEYS
from onthedot.deploy.target import LOCAL
from tests.support.processes import ONTHEDOT, REPO, free_port, local_dynamodb


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, Any]]:
    """moto's server on a free port with the local cloud's jobs table (the CLI finds it with --port)."""
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    moto.start()
    dynamodb = local_dynamodb(port)
    try:
        dynamodb.create_table(TableName=LOCAL.table, BillingMode="PAY_PER_REQUEST", **TABLE_KEYS)
        yield port, dynamodb
    finally:
        # moto keeps its state in this process: a table left behind would clash with a local cloud's own
        with contextlib.suppress(Exception):
            dynamodb.delete_table(TableName=LOCAL.table)
        moto.stop()


def environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}


def onthedot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ONTHEDOT, *args], cwd=REPO, env=environment(), capture_output=True, text=True, timeout=60, check=False
    )


def items(dynamodb: Any) -> list[dict[str, Any]]:
    return list(dynamodb.scan(TableName=LOCAL.table, ConsistentRead=True)["Items"])


@pytest.mark.parametrize(
    "args",
    [["status"], ["list"], ["list", "--json"], ["schedule", "--in", "5m", "--type", "piped"], ["--help"]],
    ids=["status", "list", "list --json", "schedule", "--help"],
)
def test_a_closed_pipe_ends_quietly(server: tuple[int, Any], args: list[str]) -> None:
    # GIVEN a reader that has gone away before the command writes (as `| head -1` does once it has its line)
    port, _ = server
    argv = args if args == ["--help"] else [*args, "--port", str(port)]
    process = subprocess.Popen(
        [*ONTHEDOT, *argv], cwd=REPO, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    process.stdout.close()

    # WHEN it writes, THEN it stops without a traceback or a word on stderr
    _, err = process.communicate(timeout=60)
    assert err == ""
    assert process.returncode in (0, 1)


def test_status_piped_into_head(server: tuple[int, Any]) -> None:
    port, _ = server
    result = subprocess.run(
        f"{' '.join(ONTHEDOT)} status --port {port} 2>&1 | head -1",
        shell=True,
        cwd=REPO,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.startswith("target   local cloud on ")
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["schedule", "--type", "t", "--at", "0001-01-01T00:00:00+01:00"], "onthedot: at: "),
        (["schedule", "--type", "t", "--at", "9999-12-31T23:59:59-01:00"], "onthedot: at: "),
        (["schedule", "--type", "t", "--in", "99999999999999999999d"], "argument --in: "),
        (["schedule", "--type", "t", "--rate", "99999999999999999999999 minutes"], "onthedot: rate: "),
        (["schedule", "--type", "t", "--rate", "1 day", "--tz", ""], "onthedot: tz: "),
        (["schedule", "--type", " ", "--in", "5m"], "onthedot: detail_type: "),
        (["schedule", "--type", "a\x1b[2Jb", "--in", "5m"], "onthedot: detail_type: "),
        (["schedule", "--type", "t", "--in", "5m", "--detail", '{"": 1}'], "onthedot: detail: "),
        (["schedule", "--type", "t", "--in", "5m", "--detail", "@DEEP"], "onthedot: detail: "),
        (["list", "--from", "0001-01-01T00:00:00+01:00"], "onthedot: start: "),
        (["get", "ffffffff-ffff-7fff-bfff-ffffffffffff"], "onthedot: job_id: "),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    server: tuple[int, Any], tmp_path: Path, args: list[str], field: str
) -> None:
    port, dynamodb = server
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    before = items(dynamodb)

    result = onthedot(*[f"@{deep}" if arg == "@DEEP" else arg for arg in args], "--port", str(port))

    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]  # argparse prints its usage first
    assert last.startswith(field) or f": error: {field}" in last, result.stderr
    assert "Traceback" not in result.stderr
    assert "\x1b" not in result.stderr
    assert items(dynamodb) == before


@pytest.mark.parametrize(
    "args",
    [["--every", "inf"], ["--every", "nan"], ["--exit-after", "inf"], ["--exit-after", "nan"], ["-c", "pageSize=inf"]],
)
def test_the_local_cloud_refuses_bad_flags_before_it_starts(args: list[str]) -> None:
    result = onthedot("local", "--port", str(free_port()), *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert args[0] in result.stderr or args[1].partition("=")[0] in result.stderr
