"""The rewind function: a job written into a bucket already drained moves the dispatcher's cursor back."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.functions import OnTheDotFunction
from onthedot.jobs import PK
from onthedot.keys import PK_PREFIX
from onthedot.settings import Settings, rewind_environment


class Rewind(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, table: dynamodb.ITable) -> None:
        super().__init__(scope, construct_id)
        built = OnTheDotFunction(
            self,
            "Rewind",
            function_folder="rewind",
            modules=("keys", "jobs"),
            description="Moves the dispatcher's cursor back when a job lands in a bucket already drained.",
            environment=rewind_environment(settings, table.table_name),
        )
        self.function = built.function
        table.grant(self.function, "dynamodb:UpdateItem")  # the cursor item only ever changes
        # Only inserts of jobs wake the function: deletes and the dispatcher's own items are filtered out by
        # the event source mapping, at no cost.
        self.function.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.LATEST,
                batch_size=100,
                retry_attempts=10,
                filters=[
                    lambda_.FilterCriteria.filter(
                        {
                            "eventName": lambda_.FilterRule.is_equal("INSERT"),
                            "dynamodb": {"Keys": {PK: {"S": lambda_.FilterRule.begins_with(PK_PREFIX)}}},
                        }
                    )
                ],
            )
        )
