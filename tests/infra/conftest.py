"""Synthesizing takes seconds: one stack with the defaults per session, one with tuned knobs, one with the
opt-in workers."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.support.synthesis import Synthesized, synthesize, synthesize_readme_app


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    # GIVEN knobs as `cdk synth -c pageSize=200 -c scheduleMinutes=5 ...` passes them: as strings
    context = {
        "pageSize": "200",
        "scheduleMinutes": "3",
        "bucketMinutes": "5",
        "eventSource": "acme.jobs",
        "logLevel": "DEBUG",
        "executionLogLevel": "ALL",
        "debugWorker": "true",
        "exampleWorker": "true",
        "alarmBacklogSeconds": "1800",
        "alarmLatenessSeconds": "30",
        "alarmDeadLetters": "10",
        "alarmFailedRuns": "2",
        "alarmEmail": "ops@example.com",
    }
    return synthesize(tmp_path_factory.mktemp("tuned"), context)


@pytest.fixture(scope="session")
def with_workers(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    # GIVEN the opt-in workers switched on, as cdk.json would (JSON booleans)
    return synthesize(tmp_path_factory.mktemp("workers"), {"exampleWorker": True, "debugWorker": True})


@pytest.fixture(scope="session")
def sample_app() -> Synthesized:
    # GIVEN the README's "add onthedot to your CDK app" code, as a user copies it (non-default props)
    return synthesize_readme_app()


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Template:
    return synthesized.template


@pytest.fixture(scope="session")
def resources(template: Template) -> dict[str, dict[str, Any]]:
    return template.to_json()["Resources"]
