"""The onthedot stack: jobs wait in a table, a scheduled state machine publishes them to a bus."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.bus import DebugWorker, JobsBus
from infra.dispatcher import Dispatcher
from infra.publisher import Publisher
from infra.rewind import Rewind
from infra.storage import JobsStorage
from infra.workers import ExampleWorker
from onthedot.settings import Settings


def read_settings(scope: Construct) -> Settings:
    """The knobs from CDK context (``cdk.json``, then ``-c`` overrides), validated; raises SettingsError."""
    context = {}
    for name in Settings.knob_names():
        value = scope.node.try_get_context(name)
        if value is not None:
            context[name] = value
    return Settings.from_context(context)


class OnTheDotStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings

        self.storage = JobsStorage(self, "Storage")
        self.bus = JobsBus(self, "Bus")
        self.publisher = Publisher(
            self,
            "Publisher",
            settings=settings,
            table=self.storage.table,
            dead_letter_table=self.storage.dead_letter_table,
            bus=self.bus.bus,
        )
        self.dispatcher = Dispatcher(
            self,
            "Dispatcher",
            settings=settings,
            table=self.storage.table,
            publish_function=self.publisher.function,
        )
        self.rewind = Rewind(self, "Rewind", settings=settings, table=self.storage.table)
        self.debug_worker = DebugWorker(self, "DebugWorker", bus=self.bus.bus, source=settings.eventSource)
        self.example_worker = ExampleWorker(
            self, "ExampleWorker", bus=self.bus.bus, source=settings.eventSource, log_level=settings.logLevel
        )

        CfnOutput(self, "JobsTableName", value=self.storage.table.table_name)
        CfnOutput(self, "DeadLetterTableName", value=self.storage.dead_letter_table.table_name)
        CfnOutput(self, "EventBusName", value=self.bus.bus.event_bus_name)
        CfnOutput(self, "BucketMinutes", value=str(settings.bucketMinutes))
        CfnOutput(self, "StateMachineArn", value=self.dispatcher.state_machine.state_machine_arn)
        CfnOutput(self, "PublishFunctionName", value=self.publisher.function.function_name)
        CfnOutput(self, "ExampleWorkerFunctionName", value=self.example_worker.function.function_name)
