"""The dispatcher: the Express state machine from statemachine/dispatcher.asl.json, started on a schedule."""

from __future__ import annotations

from typing import cast

from aws_cdk import Acknowledgment, CfnElement, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from onthedot.deploy.settings import DEFINITION_PATH, METRICS_NAMESPACE, Settings, substitutions


class Dispatcher(Construct):
    """The state machine, its execution log, its permissions and the rule that starts it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        table: dynamodb.ITable,
        publish_function: lambda_.IFunction,
        arrivals_function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        # For Express state machines these logs are the console's execution history: every state of every run
        # at ALL, only the runs that fail at ERROR (executionLogLevel).
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{Stack.of(self).stack_name}-dispatcher",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.EXPRESS,
            # Inlined as written; CloudFormation fills in the ${...} keys, as the local cloud does.
            definition_body=sfn.DefinitionBody.from_string(DEFINITION_PATH.read_text(encoding="utf-8")),
            definition_substitutions=substitutions(
                settings,
                table_name=table.table_name,
                publish_function_arn=publish_function.function_arn,
                arrivals_function_arn=arrivals_function.function_arn,
            ),
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel(settings.executionLogLevel),
                include_execution_data=True,
            ),
            tracing_enabled=True,
        )
        # Service integrations in a definition from a file are not granted automatically.
        table.grant(
            self.state_machine,
            "dynamodb:Query",  # Query due jobs
            "dynamodb:BatchWriteItem",  # Delete published
            "dynamodb:PutItem",  # Record run
            "dynamodb:UpdateItem",  # Claim window, Keep the old layout, Advance cursor
            "dynamodb:GetItem",  # Read cursor
        )
        publish_function.grant_invoke(self.state_machine)
        # Sweep (when the bucket width changed): the arrivals function by its unqualified ARN, which is all the
        # definition invokes, so no versions or aliases (grant_invoke would add "<arn>:*").
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[arrivals_function.function_arn])
        )
        # Report backlog: PutMetricData has no resource types; the condition keeps it to onthedot's namespace.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            )
        )
        self._acknowledge_wildcards(publish_function)
        if settings.executionLogLevel != "ALL":
            Validations.of(self.state_machine).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-SF1",
                    reason=f"executionLogLevel is {settings.executionLogLevel}: level ALL logs every state of every "
                    "tick, tens of dollars a month of CloudWatch Logs (benchmarks/cost_model.py); failed runs are "
                    "still logged whole, and `-c executionLogLevel=ALL` logs every run.",
                )
            )

        self.schedule = events.Rule(
            self,
            "Schedule",
            description="Starts the dispatcher.",
            schedule=events.Schedule.rate(Duration.minutes(settings.scheduleMinutes)),
            targets=[targets.SfnStateMachine(self.state_machine)],
        )

    def _acknowledge_wildcards(self, publish_function: lambda_.IFunction) -> None:
        """The two wildcards in the state machine's policy that no narrower statement can replace."""
        stack = Stack.of(self)
        function_id = stack.resolve(stack.get_logical_id(cast(CfnElement, publish_function.node.default_child)))
        Validations.of(self.state_machine.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, "
                "GetSamplingTargets) and CloudWatch Logs delivery (logs:*LogDelivery*, PutResourcePolicy, "
                "DescribeResourcePolicies, DescribeLogGroups) support no resource-level permissions; AWS "
                "requires Resource '*' for them (Step Functions logging and X-Ray documentation).",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{function_id}.Arn>:*]",
                reason="Versions and aliases of the publish function only, as grant_invoke adds them.",
            ),
        )
