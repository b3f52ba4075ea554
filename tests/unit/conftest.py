"""Unit tests run against moto in-process, with fake credentials: nothing here can reach AWS."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from moto import mock_aws

from onthedot.core.jobs import TABLE_KEYS

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and moto in-process: nothing can reach AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_EVENTBRIDGE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


@dataclass
class Clock:
    """A clock a test sets: ``clock.now = ...``; the library calls it for the time."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


def create_job_tables(dynamodb: Any, *names: str) -> None:
    """Tables keyed as the jobs table is (a boto3 DynamoDB client or resource)."""
    for name in names:
        dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **TABLE_KEYS)
