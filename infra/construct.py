"""onthedot as one construct to add to any CDK app: ``OnTheDot(self, "Scheduler", settings=Settings(...))``.

Its props are ``onthedot.deploy.settings.Settings``: a frozen dataclass with one typed field per knob, its default
and its validation, the same that ``cdk.json`` context and ``onthedot local -c`` fill in. A knob added there
reaches this construct without a change here.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.bus import DebugWorker, JobsBus
from infra.dispatcher import Dispatcher
from infra.monitoring import Monitoring
from infra.publisher import Publisher
from infra.rewind import Rewind
from infra.storage import JobsStorage
from infra.workers import ExampleWorker
from onthedot.deploy.settings import Settings

# What onthedot.client.Scheduler and the CLI do to the jobs table: write a job (alone, in a batch or in a
# transaction with its idempotency key or series), read, list, cancel, reschedule.
SCHEDULE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)
# ... and to the dead letter: list, redrive (delete the letter, keep the size).
DEAD_LETTER_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:UpdateItem")
READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")


class OnTheDot(Construct):
    """The scheduler: jobs table, bus, dispatcher, publish and rewind functions, dashboard and alarms.

    ``alarm_topic``: where the alarms notify (else a topic e-mailing ``settings.alarmEmail``, if set).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings = settings or Settings()

        self.storage = JobsStorage(self, "Storage")
        self.jobs_bus = JobsBus(self, "Bus")
        self.publisher = Publisher(
            self,
            "Publisher",
            settings=settings,
            table=self.storage.table,
            dead_letter_table=self.storage.dead_letter_table,
            bus=self.jobs_bus.bus,
        )
        self.rewind = Rewind(
            self,
            "Rewind",
            settings=settings,
            table=self.storage.table,
            dead_letter_table=self.storage.dead_letter_table,
        )
        self.dispatcher = Dispatcher(
            self,
            "Dispatcher",
            settings=settings,
            table=self.storage.table,
            publish_function=self.publisher.function,
            arrivals_function=self.rewind.function,  # a run starts its sweep when the bucket width changed
        )
        self.debug_worker = (
            DebugWorker(
                self,
                "DebugWorker",
                bus=self.jobs_bus.bus,
                source=settings.eventSource,
                payloads=settings.logLevel == "DEBUG",
            )
            if settings.debugWorker
            else None
        )
        self.example_worker = (
            ExampleWorker(
                self, "ExampleWorker", bus=self.jobs_bus.bus, source=settings.eventSource, log_level=settings.logLevel
            )
            if settings.exampleWorker
            else None
        )
        self.monitoring = (
            Monitoring(
                self,
                "Monitoring",
                settings=settings,
                state_machine=self.dispatcher.state_machine,
                publish_function=self.publisher.function,
                rewind_failures=self.rewind.failures,
                alarm_topic=alarm_topic,
            )
            if settings.monitoring
            else None
        )

    # -- what an app wires its own parts to -----------------------------------------------------------------

    @property
    def table(self) -> dynamodb.Table:
        """The jobs table (give its name to ``onthedot.client.Scheduler``)."""
        return self.storage.table

    @property
    def dead_letter_table(self) -> dynamodb.Table:
        return self.storage.dead_letter_table

    @property
    def bus(self) -> events.EventBus:
        """The bus due jobs are published to: add your workers as rules on it, matching ``eventSource``."""
        return self.jobs_bus.bus

    @property
    def state_machine(self) -> sfn.StateMachine:
        return self.dispatcher.state_machine

    @property
    def publish_function(self) -> lambda_.Function:
        return self.publisher.function

    def grant_schedule(self, grantee: iam.IGrantable) -> None:
        """Allow what scheduling needs: schedule, get, list, cancel and reschedule jobs, list and redrive
        dead letters (``onthedot.client.Scheduler`` and the CLI)."""
        self.table.grant(grantee, *SCHEDULE_ACTIONS)
        self.dead_letter_table.grant(grantee, *DEAD_LETTER_ACTIONS)

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """Allow reading jobs, the dispatcher's run records and the dead letter, and nothing else."""
        self.table.grant(grantee, *READ_ACTIONS)
        self.dead_letter_table.grant(grantee, *READ_ACTIONS)
