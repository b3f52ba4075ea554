"""A dashboard and alarms over onthedot's metrics (names from ``onthedot.core.metrics``), and where alarms go.

Alarms, each with its threshold knob:

- **Backlog**: the oldest bucket still to drain is older than ``alarmBacklogSeconds``; no report at all counts
  as behind, so a dispatcher that stopped running raises it too.
- **Lateness**: p99 of the jobs' lateness above ``alarmLatenessSeconds``.
- **DeadLetters**: ``alarmDeadLetters`` jobs or more went to the dead letter.
- **FailedRuns**: ``alarmFailedRuns`` dispatcher runs or more failed or timed out.
- **RewindFailures**: a stream record the rewind function gave up on: a late job may wait behind the cursor.

Each is judged over 5-minute periods (longer if runs are further apart). They notify ``alarm_topic`` when
given, else a topic made here when ``alarmEmail`` is set, else nobody (they still show on the dashboard).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from onthedot.core import metrics
from onthedot.deploy.settings import Settings

ALARM_MINUTES = 5


def job_metric(name: str, statistic: str, period: Duration, label: str | None = None) -> cloudwatch.Metric:
    """A metric of the publish function (Powertools EMF: namespace and the service dimension)."""
    return cloudwatch.Metric(
        namespace=metrics.NAMESPACE,
        metric_name=name,
        dimensions_map={metrics.SERVICE_DIMENSION: metrics.SERVICE},
        statistic=statistic,
        period=period,
        label=label,
    )


def backlog_metric(period: Duration) -> cloudwatch.Metric:
    """The dispatcher's own metric (PutMetricData in Report backlog, no dimensions)."""
    return cloudwatch.Metric(
        namespace=metrics.NAMESPACE,
        metric_name=metrics.OLDEST_BUCKET_AGE_SECONDS,
        statistic="Maximum",
        period=period,
        label="oldest bucket age",
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        state_machine: sfn.StateMachine,
        publish_function: lambda_.IFunction,
        rewind_failures: sqs.IQueue,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # A run's figures fall in one datapoint; alarms look at whole 5-minute windows, or a run's if longer.
        run = Duration.minutes(settings.scheduleMinutes)
        window = Duration.minutes(max(ALARM_MINUTES, settings.scheduleMinutes))

        alarms = (
            self._alarm(
                "Backlog",
                "The dispatcher is behind: the oldest bucket still to drain is older than "
                f"{settings.alarmBacklogSeconds} s, or no run reported its backlog (alarmBacklogSeconds).",
                backlog_metric(window),
                settings.alarmBacklogSeconds,
                periods=2,
                # Every run reports, 0 when caught up: silence means the dispatcher is not running.
                missing=cloudwatch.TreatMissingData.BREACHING,
            ),
            self._alarm(
                "Lateness",
                f"Jobs fire late: p99 lateness above {settings.alarmLatenessSeconds} s (alarmLatenessSeconds).",
                job_metric(metrics.LATENESS_SECONDS, "p99", window),
                settings.alarmLatenessSeconds,
                above=True,
                periods=2,
            ),
            self._alarm(
                "DeadLetters",
                f"{settings.alarmDeadLetters} or more jobs went to the dead letter in "
                f"{window.to_minutes()} minutes (alarmDeadLetters): `onthedot dlq list` shows why.",
                job_metric(metrics.DEAD_LETTERED, "Sum", window),
                settings.alarmDeadLetters,
            ),
            self._alarm(
                "FailedRuns",
                f"{settings.alarmFailedRuns} or more dispatcher runs failed or timed out in "
                f"{window.to_minutes()} minutes (alarmFailedRuns): their logs are in the state machine's log group.",
                cloudwatch.MathExpression(
                    expression="FILL(failed, 0) + FILL(timedOut, 0)",
                    using_metrics={
                        "failed": state_machine.metric_failed(period=window, statistic="Sum"),
                        "timedOut": state_machine.metric_timed_out(period=window, statistic="Sum"),
                    },
                    label="failed or timed-out runs",
                    period=window,
                ),
                settings.alarmFailedRuns,
            ),
            self._alarm(
                "RewindFailures",
                "The rewind function gave up on table stream records (its failure queue): a job "
                "written into a drained bucket may wait until the cursor is moved back by hand.",
                rewind_failures.metric_approximate_number_of_messages_visible(period=window, statistic="Maximum"),
                1,
            ),
        )
        self.alarms: dict[str, cloudwatch.Alarm] = {alarm.node.id: alarm for alarm in alarms}

        self.topic = alarm_topic or (self._email_topic(settings.alarmEmail) if settings.alarmEmail else None)
        if self.topic is not None:
            action = actions.SnsAction(self.topic)
            for alarm in self.alarms.values():
                alarm.add_alarm_action(action)
                alarm.add_ok_action(action)

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24, height=3)
        )
        published, failed, missing, dead = (
            job_metric(name, "Sum", run, label)
            for name, label in (
                (metrics.PUBLISHED, "published"),
                (metrics.FAILED, "failed (retried)"),
                (metrics.MISSING, "missing"),
                (metrics.DEAD_LETTERED, "dead-lettered"),
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Dispatcher runs and their outcome",
                left=[
                    state_machine.metric_started(period=run, statistic="Sum", label="started"),
                    state_machine.metric_succeeded(period=run, statistic="Sum", label="succeeded"),
                    state_machine.metric_failed(period=run, statistic="Sum", label="failed"),
                    state_machine.metric_timed_out(period=run, statistic="Sum", label="timed out"),
                    state_machine.metric_aborted(period=run, statistic="Sum", label="aborted"),
                ],
                right=[state_machine.metric_time(period=run, statistic="Maximum", label="longest run (ms)")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Jobs per run: due, published, failed",
                left=[
                    cloudwatch.MathExpression(
                        expression="FILL(published, 0) + FILL(failed, 0) + FILL(missing, 0) + FILL(dead, 0)",
                        using_metrics={"published": published, "failed": failed, "missing": missing, "dead": dead},
                        label="due",
                        period=run,
                    ),
                    published,
                    failed,
                    missing,
                    dead,
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Lateness (s): due time to published",
                left=[
                    job_metric(metrics.LATENESS_SECONDS, "p50", run, "p50"),
                    job_metric(metrics.LATENESS_SECONDS, "p99", run, "p99"),
                    job_metric(metrics.LATENESS_SECONDS, "Maximum", run, "max"),
                ],
                left_annotations=[_line(settings.alarmLatenessSeconds, "alarm (p99)")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Backlog: oldest bucket still to drain (s)",
                left=[backlog_metric(run)],
                left_annotations=[_line(settings.alarmBacklogSeconds, "alarm")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Dead letter",
                left=[job_metric(metrics.DEAD_LETTER_SIZE, "Maximum", run, "jobs in the dead letter")],
                right=[dead],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Publish function: errors",
                left=[
                    publish_function.metric_errors(period=run, statistic="Sum", label="errors"),
                    publish_function.metric_throttles(period=run, statistic="Sum", label="throttles"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Publish function: duration (ms)",
                left=[
                    publish_function.metric_duration(period=run, statistic="p50", label="p50"),
                    publish_function.metric_duration(period=run, statistic="p99", label="p99"),
                    publish_function.metric_duration(period=run, statistic="Maximum", label="max"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Rewind: stream records given up",
                left=[
                    rewind_failures.metric_approximate_number_of_messages_visible(
                        period=run, statistic="Maximum", label="in the failure queue"
                    )
                ],
                width=8,
            ),
        )

    def _alarm(
        self,
        name: str,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        *,
        above: bool = False,
        periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        """An alarm when ``metric`` reaches ``threshold`` (passes it, with ``above``) in ``periods`` periods in a
        row; no data counts as ``missing`` says (by default: all is well)."""
        operator = cloudwatch.ComparisonOperator
        return cloudwatch.Alarm(
            self,
            name,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=operator.GREATER_THAN_THRESHOLD
            if above
            else operator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=periods,
            datapoints_to_alarm=periods if periods > 1 else None,
            treat_missing_data=missing,
        )

    def _email_topic(self, email: str) -> sns.Topic:
        """A topic for the alarms, e-mailing ``email``, encrypted with a key CloudWatch may use."""
        # CloudWatch cannot publish to a topic under the AWS managed SNS key: a key of its own, rotated.
        key = kms.Key(self, "AlarmKey", description="onthedot alarm notifications", enable_key_rotation=True)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, the key itself
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        topic = sns.Topic(self, "Alarms", display_name="onthedot alarms", master_key=key, enforce_ssl=True)
        topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic


def _line(value: float, label: str) -> cloudwatch.HorizontalAnnotation:
    return cloudwatch.HorizontalAnnotation(value=value, label=label, color=cloudwatch.Color.RED)
