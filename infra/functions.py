"""What an onthedot Lambda function is made of, in one place: arm64 Python 3.13 with AWS's Powertools layer,
code from the repository root without Docker, a role of its own, its own log group, active tracing.

The runtime, architecture, layer parameter and asset root are ``infra.publisher``'s, imported rather than
copied, so every function runs on the same pinned runtime and layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64

# The Powertools release the tests run (pinned in pyproject.toml), so the deployed layer is the tested one.
POWERTOOLS_VERSION = version("aws-lambda-powertools")
# AWS's public parameter naming the Powertools layer of that release for this runtime and architecture in the
# deploy region, documented as /aws/service/powertools/python/{arch}/{python_version}/{version}. CloudFormation
# resolves it at deploy time, so synth needs no AWS call and no region or account number is written down.
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{POWERTOOLS_VERSION}"


def code_exclude(function_folder: str, modules: Sequence[str] = (), shared: Sequence[str] = ()) -> list[str]:
    """Asset exclude patterns that keep only ``functions/<function_folder>``, the core package whole
    (``onthedot/core``: it imports nothing else of the repository), ``onthedot/<module>.py`` for the few modules
    beside it a function needs (the worker kit), and the ``shared`` files of other function folders
    (``"publish/dead_letter.py"``, with that folder's __init__.py).

    GLOB mode: a later "!" pattern re-includes; an excluded directory is not descended into.
    """
    shared_folders = sorted({path.split("/")[0] for path in shared})
    return [
        "*",
        ".*",
        "!functions",
        "!functions/__init__.py",
        f"!functions/{function_folder}",
        f"!functions/{function_folder}/**",
        *(
            pattern
            for folder in shared_folders
            for pattern in (f"!functions/{folder}", f"!functions/{folder}/__init__.py")
        ),
        *(f"!functions/{path}" for path in shared),
        "!onthedot",
        "!onthedot/__init__.py",
        "!onthedot/core",
        "!onthedot/core/**",
        *(f"!onthedot/{module}.py" for module in modules),
        "__pycache__",
        "*.pyc",
    ]


def powertools_layer(scope: Construct, construct_id: str = "Powertools") -> lambda_.ILayerVersion:
    """AWS's public Powertools layer, its ARN resolved from SSM at deploy time (one template parameter)."""
    return lambda_.LayerVersion.from_layer_version_arn(
        scope, construct_id, ssm.StringParameter.value_for_string_parameter(scope, POWERTOOLS_LAYER_PARAMETER)
    )


class OnTheDotFunction(Construct):
    """A function from ``functions/<function_folder>`` with the Powertools layer, its own role and log group.

    ``function_options`` go to ``aws_lambda.Function`` as they are (e.g. ``dead_letter_queue``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_folder: str,
        modules: Sequence[str] = (),
        description: str,
        shared: Sequence[str] = (),
        environment: Mapping[str, str],
        memory_size: int = 256,
        timeout: Duration | None = None,
        layers: Sequence[lambda_.ILayerVersion] = (),
        **function_options: Any,
    ) -> None:
        super().__init__(scope, construct_id)
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
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"functions.{function_folder}.app.handler",
            code=lambda_.Code.from_asset(str(REPO_ROOT), exclude=code_exclude(function_folder, modules, shared)),
            layers=[powertools_layer(self), *layers],
            memory_size=memory_size,
            timeout=timeout or Duration.seconds(30),
            environment=dict(environment),
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
            **function_options,
        )

        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) and, for a "
                "function reading a DynamoDB stream, dynamodb:ListStreams: none defines resource types, so AWS "
                "requires Resource '*'.",
            )
        )
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason=f"{RUNTIME.name} is the runtime the function and its Powertools layer are pinned to; "
                "moving to a newer Python is a tested upgrade, not something synth should do silently.",
            )
        )
