"""Where jobs wait until they are due, and where those that cannot be published end up."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from onthedot.core.jobs import EXPIRES_AT, PK, SK


class JobsStorage(Construct):
    """The jobs table and the dead-letter table, keyed as ``onthedot.core.keys`` computes: on demand,
    point-in-time recovery on, encrypted with the AWS managed key, kept when the stack is deleted (user data)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = self._table(
            "Jobs",
            # Idempotency keys and run records expire; jobs carry no expiry.
            time_to_live_attribute=EXPIRES_AT,
            # Keys of new items reach the rewind function, which moves the dispatcher back to late buckets.
            stream=dynamodb.StreamViewType.KEYS_ONLY,
        )
        # Jobs that could not be published, with the reason: kept until redriven or deleted, never expired.
        # A table rather than an SQS queue: no 14-day retention limit, listable in due order, redriven by id.
        self.dead_letter_table = self._table("DeadLetters")

    def _table(self, construct_id: str, **options: Any) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(name=PK, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SK, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
            **options,
        )
