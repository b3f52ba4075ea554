"""The rewind function: a job written into a bucket already drained moves the dispatcher's cursor back."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.functions import OnTheDotFunction
from onthedot.core.jobs import PK
from onthedot.core.keys import PK_PREFIX
from onthedot.deploy.settings import Settings, rewind_environment


class Rewind(Construct):
    """The arrivals function (``functions/rewind``): sees every job written, moves the cursor back over a
    drained bucket, re-files a job under canonical keys, dead-letters one whose due time cannot be read."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        table: dynamodb.ITable,
        dead_letter_table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        built = OnTheDotFunction(
            self,
            "Rewind",
            function_folder="rewind",
            shared=("publish/dead_letter.py",),  # how a job is buried, shared with the publish function
            description="Checks each job written: moves the cursor back, re-files or dead-letters odd keys.",
            environment=rewind_environment(settings, table.table_name, dead_letter_table.table_name),
        )
        self.function = built.function
        # Stream records the function could not handle after its retries: each is a job insert whose bucket
        # may stay behind the cursor, so it is kept (14 days, the most SQS allows) and alarmed on.
        self.failures = sqs.Queue(
            self,
            "Failures",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        Validations.of(self.failures).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is itself a dead letter: the on-failure destination of the rewind function's "
                "stream mapping and of its asynchronous invocations (the sweep). Nothing consumes it; its depth is "
                "alarmed on (infra/monitoring.py).",
            )
        )
        # Read the cursor and the job; move the cursor back; re-file a job (delete and put in one transaction);
        # bury one (its attempts, then the dead letter and its size); sweep the table (scan) after a width change.
        table.grant(
            self.function,
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:Scan",
        )
        # A sweep goes on in a new invocation of this function. Its exact ARN, in a policy of its own: in the role's
        # default policy it would be a cycle (the function waits for that policy, the policy for the function's
        # ARN), and a fixed function name or an ARN pattern would do instead only at the cost of replacements
        # that collide or of a wider grant.
        iam.Policy(
            self,
            "SweepOn",
            roles=[built.role],
            statements=[iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.function.function_arn])],
        )
        # A sweep leg that fails after Lambda's own retries lands beside the stream's failures, alarmed on: its
        # event holds where the scan stopped, so it can be sent again.
        self.function.configure_async_invoke(on_failure=destinations.SqsDestination(self.failures))
        dead_letter_table.grant(self.function, "dynamodb:PutItem", "dynamodb:UpdateItem")
        # Only inserts of jobs wake the function: deletes and the dispatcher's own items are filtered out by
        # the event source mapping, at no cost.
        self.function.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.LATEST,
                batch_size=100,
                retry_attempts=10,
                bisect_batch_on_error=True,  # one record that keeps failing does not hold back the others
                on_failure=sources.SqsDlq(self.failures),
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
