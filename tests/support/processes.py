"""Running ``onthedot`` as a user does: a subprocess, its output as it arrives, a free port."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from onthedot.local.cloud import free_port

__all__ = [
    "ONTHEDOT",
    "REPO",
    "Output",
    "RunningCloud",
    "free_port",
    "local_dynamodb",
    "running_cloud",
    "start_local",
]

REPO = Path(__file__).resolve().parents[2]
ONTHEDOT = [sys.executable, "-m", "onthedot.cli"]


class Output:
    """Collects a process's stdout lines as they arrive."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def matching(self, pattern: str) -> list[str]:
        return [line for line in list(self.lines) if re.search(pattern, line)]

    def wait_for(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ended = not self._thread.is_alive()  # read before the lines: no line can arrive after it
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            if ended:
                raise AssertionError(f"the process ended without a line matching {pattern!r}; got:\n" + self.text)
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s; got:\n" + self.text)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def start_local(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``onthedot local ARGS`` with its stdout (and stderr) on a pipe; its tables in a new temporary folder
    unless ARGS name one with ``--data`` (each test starts empty, and tests run side by side)."""
    if "--data" not in args:
        args = (*args, "--data", tempfile.mkdtemp(prefix="onthedot-local-data-"))
    return subprocess.Popen(
        [*ONTHEDOT, "local", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
    )


def local_dynamodb(port: int) -> Any:
    """A DynamoDB client for the local cloud on ``port``, as `aws ... --endpoint-url` would be."""
    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@dataclass
class RunningCloud:
    """A local cloud subprocess and the CLI pointed at it (by ONTHEDOT_LOCAL_PORT)."""

    port: int
    output: Output
    env: dict[str, str]

    def cli(self, *args: str, code: int | None = 0) -> subprocess.CompletedProcess[str]:
        """``onthedot ARGS``; checks the exit code unless ``code`` is None."""
        result = subprocess.run(
            [*ONTHEDOT, *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=60, check=False
        )
        if code is not None:
            assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def dynamodb(self) -> Any:
        return local_dynamodb(self.port)


@contextmanager
def running_cloud(*args: str) -> Iterator[RunningCloud]:
    """``onthedot local ARGS`` on a free port, without the caller's AWS_* variables (the CLI must find it
    by the port alone), stopped with Ctrl-C at the end."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    process = start_local(*args, "--port", str(port), env=env)
    output = Output(process)
    try:
        output.wait_for("Ctrl-C stops it", timeout=60)
        yield RunningCloud(port, output, {**env, "ONTHEDOT_LOCAL_PORT": str(port)})
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
