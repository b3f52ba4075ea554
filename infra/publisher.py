"""The publish function: puts a page of due jobs on the bus and says which ones EventBridge accepted."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.dependencies import DependenciesLayer
from onthedot.settings import Settings, publish_environment

REPO_ROOT = Path(__file__).resolve().parent.parent

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
HANDLER = "functions.publish.app.handler"

# AWS's public parameter naming the Powertools layer for this runtime and architecture in the deploy
# region, documented as /aws/service/powertools/python/{arch}/{python_version}/{version}. CloudFormation
# resolves it at deploy time, so synth needs no AWS call and no account number is written down.
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/latest"

# The asset is the repository root with everything excluded but the function and the library modules
# it imports. GLOB mode: a later "!" pattern re-includes; an excluded directory is not descended into.
CODE_EXCLUDE = [
    "*",
    ".*",
    "!functions",
    "!functions/__init__.py",
    "!functions/publish",
    "!functions/publish/**",
    "!onthedot",
    "!onthedot/__init__.py",
    "!onthedot/keys.py",
    "!onthedot/jobs.py",
    "!onthedot/errors.py",
    "!onthedot/recurrence.py",
    "__pycache__",
    "*.pyc",
]


class Publisher(Construct):
    """The publish function with the Powertools layer, allowed to read the table and put events."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        table: dynamodb.ITable,
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        powertools = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_LAYER_PARAMETER),
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # A role of its own instead of AWSLambdaBasicExecutionRole, which may write to every log group.
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description="Publishes a page of due jobs to the onthedot bus.",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(REPO_ROOT), exclude=CODE_EXCLUDE),
            layers=[
                powertools,
                DependenciesLayer(self, "Dependencies", runtime=RUNTIME, architecture=ARCHITECTURE).layer,
            ],
            memory_size=256,
            timeout=Duration.seconds(60),
            environment=publish_environment(settings, table_name=table.table_name, bus_name=bus.event_bus_name),
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
        )
        table.grant(self.function, "dynamodb:BatchGetItem")
        bus.grant_put_events_to(self.function)

        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing): X-Ray "
                "defines no resource types for them, so AWS requires Resource '*'.",
            )
        )
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason=f"{RUNTIME.name} is the runtime the function and its Powertools layer are pinned to; "
                "moving to a newer Python is a tested upgrade, not something synth should do silently.",
            )
        )
