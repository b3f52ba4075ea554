"""Workers on the bus built with the worker kit (``onthedot.worker``): each job's work done once.

A worker is a rule on the bus for one ``detail-type``, a function that runs its handler under
``idempotent_job``, and the idempotency table that remembers which jobs are done. Deliveries that fail
end in the worker's dead-letter queue, whichever side failed:

- EventBridge could not invoke the function (throttled, no permission): the rule target's retry policy,
  then the queue;
- the function ran and raised: Lambda's asynchronous retries, then the same queue.

Either way the message body is the event, job id included, ready to inspect or send again.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.functions import OnTheDotFunction
from onthedot.worker import IDEMPOTENCY_EXPIRY_ATTRIBUTE, IDEMPOTENCY_KEY_ATTRIBUTE, IDEMPOTENCY_TABLE_ENV

# What Powertools idempotency does to its table: read a record, write it (conditionally), complete it,
# delete it when the handler raised.
IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")

# EventBridge's retry policy for invoking the function: its maxima, so a throttled worker catches up.
DELIVERY_RETRY_ATTEMPTS = 185
DELIVERY_MAX_EVENT_AGE = Duration.hours(24)
# Lambda's own retries when the handler raises; more than two rarely help a job that failed twice.
FUNCTION_RETRY_ATTEMPTS = 2
FUNCTION_MAX_EVENT_AGE = Duration.hours(6)


class ExampleWorker(Construct):
    """The example reminder worker (``functions/example_worker``), listening for one detail-type."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        source: str,
        detail_type: str = "reminder",
        log_level: str = "INFO",
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Idempotency",
            partition_key=dynamodb.Attribute(name=IDEMPOTENCY_KEY_ATTRIBUTE, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=IDEMPOTENCY_EXPIRY_ATTRIBUTE,
            # Records of work done, kept a day: nothing to keep once the worker is gone.
            removal_policy=RemovalPolicy.DESTROY,
        )
        # SQS-managed encryption: EventBridge cannot send to a queue under the AWS managed KMS key.
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.worker = OnTheDotFunction(
            self,
            "Worker",
            function_folder="example_worker",
            modules=("worker",),
            description=f"Example onthedot worker: sends each '{detail_type}' job once.",
            environment={
                IDEMPOTENCY_TABLE_ENV: self.table.table_name,
                "POWERTOOLS_SERVICE_NAME": "onthedot-example-worker",
                "POWERTOOLS_LOG_LEVEL": log_level,
            },
            dead_letter_queue=self.dead_letters,
            retry_attempts=FUNCTION_RETRY_ATTEMPTS,
            max_event_age=FUNCTION_MAX_EVENT_AGE,
        )
        self.function = self.worker.function
        self.table.grant(self.function, *IDEMPOTENCY_ACTIONS)
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"'{detail_type}' jobs from {source}, to the example worker.",
            event_bus=bus,
            event_pattern=events.EventPattern(source=[source], detail_type=[detail_type]),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letters,
                    retry_attempts=DELIVERY_RETRY_ATTEMPTS,
                    max_event_age=DELIVERY_MAX_EVENT_AGE,
                )
            ],
        )
