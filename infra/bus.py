"""The bus jobs are published to, and the workers that listen on it."""

from __future__ import annotations

import jsii
from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk.interfaces import aws_events as events_refs
from constructs import Construct


class JobsBus(Construct):
    """The EventBridge bus every due job is published to; workers are rules on it."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus")


class DebugWorker(Construct):
    """The original design's debug worker: every job event, as it fires, into a log group.

    Without ``payloads`` a line says only which job fired (detail-type, job id, due time): details can hold
    personal data, so the whole event is logged only when asked (the ``logLevel`` knob at DEBUG).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, bus: events.IEventBus, source: str, payloads: bool = False
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # EventBridge delivers only to log groups whose name starts with /aws/events/.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/events/{stack.stack_name}-debug",
            retention=logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.rule = events.Rule(
            self,
            "Rule",
            description="Every job event, logged as it fires (debug worker).",
            event_bus=bus,
            event_pattern=events.EventPattern(source=[source]),
            targets=[_LogGroupTarget(self.log_group, input=None if payloads else _ENVELOPE)],
        )


# A CloudWatch Logs target takes a transformed event only as {"timestamp": ..., "message": "<a string>"}.
_ENVELOPE = events.RuleTargetInput.from_object(
    {
        "timestamp": events.EventField.time,
        "message": f"fired {events.EventField.detail_type} {events.EventField.from_path('$.resources[0]')} "
        f"due {events.EventField.time}",
    }
)


@jsii.implements(events.IRuleTarget)
class _LogGroupTarget:
    """A log group as a rule target, allowed through a native ``AWS::Logs::ResourcePolicy``.

    ``aws_events_targets.CloudWatchLogGroup`` writes the same policy through a custom resource: a
    Lambda function whose role may call ``logs:PutResourcePolicy`` on every log group.
    """

    def __init__(self, log_group: logs.LogGroup, input: events.RuleTargetInput | None = None) -> None:
        self._log_group, self._input = log_group, input

    def bind(self, rule: events_refs.IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        self._log_group.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                resources=[self._log_group.log_group_arn],
            )
        )
        arn = Stack.of(self._log_group).format_arn(
            service="logs",
            resource="log-group",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
            resource_name=self._log_group.log_group_name,
        )
        return events.RuleTargetConfig(arn=arn, target_resource=self._log_group, input=self._input)
