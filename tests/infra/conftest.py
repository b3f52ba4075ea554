"""Synthesizing takes seconds: one stack with the defaults per session, one with tuned knobs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.infra.synthesis import Synthesized, synthesize


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    # GIVEN knobs as `cdk synth -c pageSize=200 -c scheduleMinutes=5 ...` passes them: as strings
    context = {"pageSize": "200", "scheduleMinutes": "5", "eventSource": "acme.jobs", "logLevel": "DEBUG"}
    return synthesize(tmp_path_factory.mktemp("tuned"), context)


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Template:
    return synthesized.template


@pytest.fixture(scope="session")
def resources(template: Template) -> dict[str, dict[str, Any]]:
    return template.to_json()["Resources"]
