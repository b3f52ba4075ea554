"""The local cloud's resource names, region and credentials: light to import (no moto), for the CLI too."""

from __future__ import annotations

from dataclasses import dataclass

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION}


@dataclass(frozen=True)
class Names:
    """Resource names in the local cloud (the stack lets CloudFormation name them)."""

    table: str = "onthedot-jobs"
    bus: str = "onthedot"
    state_machine: str = "onthedot-dispatcher"
    dead_letter_table: str = "onthedot-dead-letters"
    publish_function: str = "onthedot-publish"
    rewind_function: str = "onthedot-rewind"
    worker_rule: str = "onthedot-console-worker"
    worker_queue: str = "onthedot-console-worker"
    role: str = "onthedot-local"
