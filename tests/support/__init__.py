"""What the tests share, importable from any of them: conftest files hold fixtures only, and no test module
imports another.

Here: the fake AWS region, a clock a test sets, and tables keyed as the jobs table is. Beside it:
``arrivals`` (the arrivals function over in-process tables), ``dispatcher`` (jobs typed into the local cloud,
and the account of every job), ``console`` (the web console's tables and origin), ``template`` (reading a
synthesized template), ``synthesis`` (synthesizing the stack) and ``processes`` (the CLI and the local cloud as
processes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from onthedot.core.jobs import TABLE_KEYS

REGION = "us-east-1"


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
