"""Where jobs wait until they are due: one DynamoDB table keyed as ``onthedot.keys`` computes."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from onthedot.jobs import EXPIRES_AT, PK, SK


class JobsStorage(Construct):
    """The jobs table: on demand, point-in-time recovery on, encrypted with the AWS managed key."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Jobs",
            partition_key=dynamodb.Attribute(name=PK, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SK, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # Idempotency keys and run records expire; jobs carry no expiry.
            time_to_live_attribute=EXPIRES_AT,
            # Keys of new items reach the rewind function, which moves the dispatcher back to late buckets.
            stream=dynamodb.StreamViewType.KEYS_ONLY,
            # Jobs not yet fired are user data: deleting the stack must not delete them.
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Jobs that could not be published, with the reason: kept until redriven or deleted, never expired.
        # A table rather than an SQS queue: no 14-day retention limit, listable in due order, redriven by id.
        self.dead_letter_table = dynamodb.Table(
            self,
            "DeadLetters",
            partition_key=dynamodb.Attribute(name=PK, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SK, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )
