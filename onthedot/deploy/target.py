"""Which jobs table the CLI talks to, found the usual ways.

In order:

1. ``--table NAME`` (with ``--bus``): that table, on AWS as boto3 resolves region, credentials and endpoint;
2. ``--stack NAME``: the table and bus named by the stack's outputs (``JobsTableName``, ``EventBusName``,
   ``DeadLetterTableName``);
3. ``--port N``: the local cloud on 127.0.0.1:N;
4. ``AWS_ENDPOINT_URL`` set: that endpoint, with the local cloud's table name;
5. otherwise the running local cloud on 127.0.0.1 (``ONTHEDOT_LOCAL_PORT``, default 4566), if one answers.

The dead-letter table (``onthedot dlq``) is ``--dead-letter-table NAME`` when given, else the stack's output, else
the local cloud's ``onthedot-dead-letters`` whenever the jobs table is the local cloud's ``onthedot-jobs``.

The local cloud's names and credentials come from ``onthedot.local.names``, which (unlike
``onthedot.local.cloud``) does not import moto.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
from botocore.config import Config

from onthedot.client.validation import is_bucket_width, is_shards
from onthedot.core.errors import InvalidJob
from onthedot.local.names import CREDENTIALS, REGION, Names

LOCAL_HOST = "127.0.0.1"
DEFAULT_LOCAL_PORT = 4566
LOCAL_PORT_VARIABLE = "ONTHEDOT_LOCAL_PORT"
PROBE_SECONDS = 0.5

# The stack's output keys (infra/stack.py).
TABLE_OUTPUT, BUS_OUTPUT, BUCKET_MINUTES_OUTPUT = "JobsTableName", "EventBusName", "BucketMinutes"
SHARDS_OUTPUT = "Shards"
DEAD_LETTER_OUTPUT = "DeadLetterTableName"


_NAMES = Names()
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}|arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:[0-9]{12}:stack/.+")


class TargetError(Exception):
    """No table to talk to; the message says why and what to do. The CLI exits 1 on it."""


@dataclass(frozen=True)
class LocalNames:
    """What the CLI needs of ``onthedot.local.names``: the tables, the bus, the region and the credentials."""

    table: str = _NAMES.table
    bus: str = _NAMES.bus
    dead_letter_table: str = _NAMES.dead_letter_table
    region: str = REGION
    access_key_id: str = CREDENTIALS["AWS_ACCESS_KEY_ID"]
    secret_access_key: str = CREDENTIALS["AWS_SECRET_ACCESS_KEY"]


LOCAL = LocalNames()


@dataclass(frozen=True)
class Target:
    """A jobs table and how to reach it. ``endpoint``/``region``/``credentials`` None: as boto3 resolves them."""

    table: str
    bus: str | None
    description: str  # for people: where the table was found
    endpoint: str | None = None
    region: str | None = None
    credentials: Mapping[str, str] = field(default_factory=dict)
    bucket_minutes: int | None = None  # given (a flag, a stack output): checked against the table's; else read
    shards: int | None = None  # likewise
    # None: the local cloud's when ``table`` is the local cloud's jobs table, else unknown (dlq commands refuse)
    dead_letter_table: str | None = None

    def __post_init__(self) -> None:
        if self.dead_letter_table is None and self.table == LOCAL.table:
            object.__setattr__(self, "dead_letter_table", LOCAL.dead_letter_table)

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` here; TargetError when boto3 refuses the endpoint it was given."""
        local = self.endpoint is not None
        try:
            return boto3.client(
                service,
                endpoint_url=self.endpoint,
                region_name=self.region,
                config=Config(
                    # A local endpoint either answers at once or is not there: fail fast instead of retrying.
                    connect_timeout=2 if local else 10,
                    retries={"mode": "standard", "max_attempts": 2 if local else 5},
                ),
                **self.credentials,
            )
        except ValueError as error:  # "Invalid endpoint: ...", as from AWS_ENDPOINT_URL=localhost:4566
            raise TargetError(f"{error} (an endpoint is a URL such as http://127.0.0.1:4566)") from None


def resolve(
    *,
    table: str | None = None,
    bus: str | None = None,
    stack: str | None = None,
    port: int | None = None,
    bucket_minutes: int | None = None,
    shards: int | None = None,
    dead_letter_table: str | None = None,
    environ: Mapping[str, str] = os.environ,
    probe: Callable[[str, int], bool] | None = None,
    cloudformation: Any = None,
) -> Target:
    """The target, from the options in the order of this module's docstring; raises TargetError."""
    if table is not None:
        return Target(
            table,
            bus,
            f"table {table}",
            bucket_minutes=bucket_minutes,
            shards=shards,
            dead_letter_table=dead_letter_table,
        )
    if stack is not None:
        if not _STACK_NAME.fullmatch(stack):
            raise InvalidJob(
                "stack", f"{stack!r} is not a CloudFormation stack name (a letter, then letters, digits, -)"
            )
        found = _from_stack(stack, bucket_minutes, shards, cloudformation or boto3.client("cloudformation"))
        return found if dead_letter_table is None else replace(found, dead_letter_table=dead_letter_table)
    dead_letters = LOCAL.dead_letter_table if dead_letter_table is None else dead_letter_table
    if port is None and environ.get("AWS_ENDPOINT_URL"):
        endpoint = environ["AWS_ENDPOINT_URL"]
        return Target(
            LOCAL.table,
            LOCAL.bus,
            f"table {LOCAL.table} on {endpoint}",
            bucket_minutes=bucket_minutes,
            shards=shards,
            dead_letter_table=dead_letters,
        )
    if port is None:
        port = local_port(environ)
    if not (probe or listening)(LOCAL_HOST, port):
        raise TargetError(
            f"no local cloud on {LOCAL_HOST}:{port} (start one with `make run`), and no --stack/--table given"
        )
    endpoint = f"http://{LOCAL_HOST}:{port}"
    return Target(
        LOCAL.table,
        LOCAL.bus,
        f"local cloud on {endpoint}",
        endpoint=endpoint,
        region=LOCAL.region,
        credentials={"aws_access_key_id": LOCAL.access_key_id, "aws_secret_access_key": LOCAL.secret_access_key},
        bucket_minutes=bucket_minutes,
        shards=shards,
        dead_letter_table=dead_letters,
    )


def local_port(environ: Mapping[str, str]) -> int:
    text = environ.get(LOCAL_PORT_VARIABLE, "")
    if not text:
        return DEFAULT_LOCAL_PORT
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise TargetError(f"{LOCAL_PORT_VARIABLE}={text!r} is not a port number (1-65535)")
    return int(text)


def listening(host: str, port: int, timeout: float = PROBE_SECONDS) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _from_stack(stack: str, bucket_minutes: int | None, shards: int | None, cloudformation: Any) -> Target:
    from botocore.exceptions import ClientError

    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise TargetError(f"cannot read stack {stack!r}: {message}") from None
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described[0].get("Outputs", [])}
    if TABLE_OUTPUT not in outputs:
        raise TargetError(f"stack {stack!r} has no output {TABLE_OUTPUT!r}; is it an onthedot stack?")
    if bucket_minutes is None and BUCKET_MINUTES_OUTPUT in outputs:
        text = outputs[BUCKET_MINUTES_OUTPUT]
        if not text.isdigit() or not is_bucket_width(int(text)):
            raise TargetError(f"stack {stack!r} has {BUCKET_MINUTES_OUTPUT} {text!r}, which is not a bucket width")
        bucket_minutes = int(text)
    if shards is None and SHARDS_OUTPUT in outputs:
        text = outputs[SHARDS_OUTPUT]
        if not text.isdigit() or not is_shards(int(text)):
            raise TargetError(f"stack {stack!r} has {SHARDS_OUTPUT} {text!r}, which is not a number of shards")
        shards = int(text)
    return Target(
        outputs[TABLE_OUTPUT],
        outputs.get(BUS_OUTPUT),
        f"stack {stack}",
        bucket_minutes=bucket_minutes,
        shards=shards,
        dead_letter_table=outputs.get(DEAD_LETTER_OUTPUT),
    )
