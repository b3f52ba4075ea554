"""The dead letter as a user meets it: a poison job typed in by hand is dead-lettered by the dispatcher,
``onthedot dlq list`` shows it with its reason, and ``onthedot dlq redrive --type`` sends it back fixed, and it
fires. Subprocesses against one ``onthedot local --every 1``."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from onthedot.core import keys
from tests.support.processes import RunningCloud, running_cloud

FIRED = "fired .* job {}"


class Cloud(RunningCloud):
    def dead_letters(self) -> Any:
        return self.json("dlq", "list")


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    with running_cloud("--every", "1") as running:
        yield Cloud(running.port, running.output, running.env)


def write_poison_job(cloud: Cloud) -> str:
    """A job typed in by hand in the original item format, with an empty detail-type: poison. Its id is a
    UUIDv4, as a person would make one up."""
    job_id = str(uuid.uuid4())
    due = datetime.now(UTC)
    cloud.dynamodb().put_item(
        TableName="onthedot-jobs",
        Item={
            "pk": {"S": keys.partition_key(due)},
            "sk": {"S": keys.sort_key(due, job_id)},
            "detail": {"M": {"recipient": {"S": "ada@example.com"}}},
            "detail_type": {"S": ""},
        },
    )
    return job_id


def wait_for_dead_letter(cloud: Cloud, job_id: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        document = cloud.dead_letters()
        for dead in document["dead_letters"]:
            if dead["job_id"] == job_id:
                return {**dead, "size": document["size"]}
        assert time.monotonic() < deadline, f"{job_id} was not dead-lettered within {timeout} s:\n{cloud.output.text}"
        time.sleep(0.5)


def test_a_poison_job_is_dead_lettered_then_sent_back_fixed_and_fires(cloud: Cloud) -> None:
    # GIVEN a poison job typed in by hand
    job_id = write_poison_job(cloud)

    # WHEN the dispatcher has run over it, it is in the dead letter with its reason, and not fired
    dead = wait_for_dead_letter(cloud, job_id)
    assert "detail_type" in dead["reason"]
    assert dead["reason"].startswith("poison job: ")
    assert (dead["detail_type"], dead["detail"]) == ("", {"recipient": "ada@example.com"})
    assert dead["size"] >= 1
    assert cloud.output.matching(FIRED.format(job_id)) == []
    listing = cloud.cli("dlq", "list").stdout
    assert re.search(rf"^{job_id}\s+\S+Z\s+-\s+0\s+poison job: 'detail_type'", listing, re.MULTILINE), listing
    assert re.search(r"^\d+ dead-lettered jobs? in all$", listing, re.MULTILINE), listing

    # AND sent back as it is, it is refused (exit 2) and stays where it is
    refused = cloud.cli("dlq", "redrive", job_id, code=2)
    assert refused.stderr.startswith("onthedot: detail_type: ")
    assert wait_for_dead_letter(cloud, job_id)["sk"] == dead["sk"]

    # WHEN it is sent back with a detail-type
    result = cloud.cli("dlq", "redrive", job_id, "--type", "reminder")
    assert result.stdout.startswith("sent back: it fires on the next dispatcher run\n")
    assert re.search(rf"^job\s+{job_id}$", result.stdout, re.MULTILINE), result.stdout  # a UUIDv4 keeps its id
    assert re.search(r"^due\s+\S+Z  \(now\)$", result.stdout, re.MULTILINE), result.stdout

    # THEN it fires on the next dispatcher run, once, with its detail-type
    fired = cloud.output.wait_for(FIRED.format(job_id), timeout=15)
    assert "reminder" in fired
    # AND the dead letter no longer holds it
    document = cloud.dead_letters()
    assert document["dead_letters"] == []
    assert document["size"] == 0
    assert cloud.cli("dlq", "list").stdout == "no dead-lettered jobs\n"
    assert len(cloud.output.matching(FIRED.format(job_id))) == 1


def test_sending_back_an_unknown_job_exits_1(cloud: Cloud) -> None:
    job_id = str(uuid.uuid4())
    result = cloud.cli("dlq", "redrive", job_id, "--type", "reminder", code=1)
    assert result.stderr.startswith(f"onthedot: no dead letter {job_id}: ")
    assert result.stdout == ""
