"""Running ``onthedot`` as a user does: a subprocess, its output as it arrives, a free port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ONTHEDOT = [sys.executable, "-m", "onthedot.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    """``onthedot local ARGS`` with its stdout (and stderr) on a pipe."""
    return subprocess.Popen(
        [*ONTHEDOT, "local", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
    )
