"""``onthedot ui`` and ``onthedot local --ui`` at their edges: no table, a busy port, an unreachable table."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from starlette.testclient import TestClient

from onthedot import cli
from onthedot.client import Scheduler
from onthedot.deploy.target import Target
from onthedot.local.cloud import free_port
from onthedot.ui import server
from onthedot.ui.app import create_app
from onthedot.ui.beside import start_beside
from tests.support.console import ORIGIN


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_no_local_cloud_is_said_plainly(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    port = free_port()

    assert cli.main(["ui", "--port", str(port)]) == 1

    assert f"no local cloud on 127.0.0.1:{port}" in capsys.readouterr().err


def test_table_and_stack_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ui", "--table", "Jobs", "--stack", "OnTheDot"]) == 2
    assert "give one of them, not both" in capsys.readouterr().err


def test_a_busy_port_is_reported_and_the_cloud_runs_on(busy_port: int) -> None:
    said: list[str] = []

    assert start_beside(said.append, free_port(), busy_port, 5) is None

    assert said == [f"console: cannot listen on 127.0.0.1:{busy_port}: Address already in use"]


def test_loopback_names() -> None:
    assert all(map(server.is_loopback, ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"]))
    assert not any(map(server.is_loopback, ["0.0.0.0", "192.0.2.1", "::", "example.com"]))


def test_an_unreachable_table_shows_the_error_and_the_page_lives_on() -> None:
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(connect_timeout=0.5, retries={"max_attempts": 1}),
    )
    scheduler = Scheduler("Jobs", dead_letter_table="Dead", dynamodb=dynamodb)
    app = create_app(scheduler, Target("Jobs", None, "nowhere", dead_letter_table="Dead"))
    with TestClient(app, base_url=ORIGIN) as client:
        for path in ("/", "/runs", "/dead-letters"):
            live = client.get(path, params={"part": "live"})
            assert live.status_code == 200
            assert 'class="error"' in live.text
            assert "Could not connect to the endpoint URL" in live.text
