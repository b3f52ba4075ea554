"""Jobs that cannot be published: their attempts are counted, and after the last one they go to the dead letter.

A poison job (one no retry can publish: no detail-type, a detail that is not a map, an event over 256 KB, an
unparseable sort key) goes there at once. The dead letter is a DynamoDB table of its own: durable, listable in
due order and redriven by job id. A job is written there before the dispatcher deletes it from the jobs
table, so it is never in neither.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from onthedot.core import jobs
from onthedot.core.keys import format_time

POISON = "poison job: "


@dataclass
class DeadLetters:
    jobs_table: Any  # boto3 DynamoDB Table resources
    dead_letter_table: Any
    max_attempts: int
    now: Callable[[], datetime]

    def count_failure(self, item: Mapping[str, Any], error: str, run: str | None = None) -> int:
        """Record a failed attempt on the job; the attempts so far (0 when the job is gone meanwhile).

        A run tries a job again on each tick that reads it; ``run`` (the run's time) makes that count once a run,
        so that ``max_attempts`` stays a number of runs."""
        names = {"#attempts": jobs.ATTEMPTS, "#error": jobs.LAST_ERROR, "#pk": jobs.PK}
        values: dict[str, Any] = {":one": 1, ":error": error}
        update, condition = "ADD #attempts :one SET #error = :error", "attribute_exists(#pk)"
        if run:
            names["#run"], values[":run"] = jobs.LAST_FAILED_RUN, run
            update += ", #run = :run"
            condition += " AND (attribute_not_exists(#run) OR #run <> :run)"
        try:
            response = self.jobs_table.update_item(
                Key={jobs.PK: item[jobs.PK], jobs.SK: item[jobs.SK]},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as failure:
            if failure.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                old = failure.response.get("Item") or {}  # absent: the job is gone; present: counted this run
                return int(old.get(jobs.ATTEMPTS, {}).get("N", 0)) if old else 0
            raise
        return int(response["Attributes"][jobs.ATTEMPTS])

    def bury(self, item: Mapping[str, Any], reason: str, attempts: int) -> bool:
        """Write the job to the dead letter; False when it is there already (a run that died before deleting)."""
        try:
            self.dead_letter_table.put_item(
                Item={
                    jobs.PK: jobs.DEAD_PK,
                    jobs.SK: item[jobs.SK],
                    jobs.JOB: dict(item),
                    jobs.REASON: reason,
                    jobs.ATTEMPTS: attempts,
                    jobs.DEAD_AT: format_time(self.now()),
                },
                ConditionExpression="attribute_not_exists(#sk)",
                ExpressionAttributeNames={"#sk": jobs.SK},
            )
        except ClientError as failure:
            if failure.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def grow(self, count: int) -> int | None:
        """Add ``count`` to the dead letter's size; the new size (None if it could not be read)."""
        try:
            response = self.dead_letter_table.update_item(
                Key={jobs.PK: jobs.SIZE_PK, jobs.SK: jobs.SIZE_SK},
                UpdateExpression="ADD #size :count",
                ExpressionAttributeNames={"#size": jobs.SIZE},
                ExpressionAttributeValues={":count": count},
                ReturnValues="UPDATED_NEW",
            )
        except (BotoCoreError, ClientError):
            return None
        return int(response["Attributes"][jobs.SIZE])
