"""The publish function: puts a page of due jobs on the bus and says which ones EventBridge accepted."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from constructs import Construct

from infra.dependencies import DependenciesLayer
from infra.functions import ARCHITECTURE, RUNTIME, OnTheDotFunction
from onthedot.deploy.settings import Settings, publish_environment

# What the function does to the jobs table (tests/unit/test_publish.py holds its calls to this list).
JOBS_TABLE_ACTIONS = (
    "dynamodb:BatchGetItem",  # read jobs
    "dynamodb:UpdateItem",  # count attempts; replace an occurrence: move its series on
    # replace an occurrence by the next (TransactWriteItems is authorised per item action)
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
)


class Publisher(Construct):
    """The publish function, allowed to read jobs, count their attempts, put events and write dead letters."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        table: dynamodb.ITable,
        dead_letter_table: dynamodb.ITable,
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        dependencies = DependenciesLayer(self, "Dependencies", runtime=RUNTIME, architecture=ARCHITECTURE)
        built = OnTheDotFunction(
            self,
            "Publish",
            function_folder="publish",
            description="Publishes a page of due jobs to the onthedot bus.",
            environment=publish_environment(
                settings,
                table_name=table.table_name,
                bus_name=bus.event_bus_name,
                dead_letter_table_name=dead_letter_table.table_name,
            ),
            # PutEvents retries back off up to 2 s a round; a page of 1,000 keys stays far inside this.
            timeout=Duration.seconds(60),
            layers=[dependencies.layer],
        )
        self.function, self.role, self.log_group = built.function, built.role, built.log_group
        table.grant(self.function, *JOBS_TABLE_ACTIONS)
        dead_letter_table.grant(self.function, "dynamodb:PutItem", "dynamodb:UpdateItem")  # bury, keep the size
        bus.grant_put_events_to(self.function)
