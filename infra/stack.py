"""The onthedot stack: the ``OnTheDot`` construct on its own, with the outputs the CLI reads (``--stack``)."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.construct import OnTheDot
from onthedot.deploy.settings import Settings


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
        # "Default" is left out of logical ids: the resources keep the ids they had before the construct.
        self.onthedot = onthedot = OnTheDot(self, "Default", settings=settings)

        CfnOutput(self, "JobsTableName", value=onthedot.table.table_name)
        CfnOutput(self, "DeadLetterTableName", value=onthedot.dead_letter_table.table_name)
        CfnOutput(self, "EventBusName", value=onthedot.bus.event_bus_name)
        CfnOutput(self, "BucketMinutes", value=str(settings.bucketMinutes))
        CfnOutput(self, "Shards", value=str(settings.shards))
        CfnOutput(self, "EventSource", value=settings.eventSource)
        CfnOutput(self, "StateMachineArn", value=onthedot.state_machine.state_machine_arn)
        CfnOutput(self, "PublishFunctionName", value=onthedot.publish_function.function_name)
        if onthedot.monitoring is not None:
            CfnOutput(self, "DashboardName", value=onthedot.monitoring.dashboard.dashboard_name)
        if onthedot.example_worker is not None:
            CfnOutput(self, "ExampleWorkerFunctionName", value=onthedot.example_worker.function.function_name)
