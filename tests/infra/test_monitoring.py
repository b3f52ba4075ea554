"""The dashboard and the alarms: what each alarm watches, its threshold knob, where it notifies; what the
dashboard shows. The metric names come from ``onthedot.core.metrics``, the module the publish function emits by."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from onthedot.core import metrics
from tests.support.synthesis import Synthesized, synthesize
from tests.support.template import flatten

SERVICE = [{"Name": metrics.SERVICE_DIMENSION, "Value": metrics.SERVICE}]


def alarms_of(template: Template) -> dict[str, dict[str, Any]]:
    return {i: r["Properties"] for i, r in template.find_resources("AWS::CloudWatch::Alarm").items()}


def alarm_on(template: Template, metric_name: str) -> dict[str, Any]:
    """The one alarm whose (math) metrics include ``metric_name``."""
    found = [
        properties
        for properties in alarms_of(template).values()
        if metric_name in json.dumps(properties.get("MetricName")) + json.dumps(properties.get("Metrics"))
    ]
    assert len(found) == 1, f"{len(found)} alarms on {metric_name}"
    return found[0]


class TestAlarms:
    def test_backlog_alarm_counts_silence_as_behind(self, template: Template) -> None:
        alarm = alarm_on(template, metrics.OLDEST_BUCKET_AGE_SECONDS)
        [metric] = alarm["Metrics"]
        assert metric["MetricStat"] == {
            "Metric": {"MetricName": "OldestBucketAgeSeconds", "Namespace": "onthedot"},  # the dispatcher's own
            "Period": 300,
            "Stat": "Maximum",
        }
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (900, "GreaterThanOrEqualToThreshold")
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (2, 2)
        # every run reports its backlog, 0 when caught up: no data means the dispatcher is not running
        assert alarm["TreatMissingData"] == "breaching"

    def test_lateness_alarm_is_on_the_p99_of_the_published_jobs(self, template: Template) -> None:
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "onthedot",
                "MetricName": metrics.LATENESS_SECONDS,
                "Dimensions": SERVICE,
                "ExtendedStatistic": "p99",
                "Period": 300,
                "Threshold": 120,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        )

    def test_dead_letter_alarm_fires_on_the_first_dead_letter(self, template: Template) -> None:
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "onthedot",
                "MetricName": metrics.DEAD_LETTERED,
                "Dimensions": SERVICE,
                "Statistic": "Sum",
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "EvaluationPeriods": 1,
            },
        )

    def test_failed_runs_alarm_adds_failed_and_timed_out_executions(
        self, template: Template, synthesized: Synthesized
    ) -> None:
        machine = synthesized.logical_id("AWS::StepFunctions::StateMachine")
        alarm = alarm_on(template, "ExecutionsTimedOut")
        by_id = {metric["Id"]: metric for metric in alarm["Metrics"]}
        [expression] = [metric for metric in alarm["Metrics"] if "Expression" in metric]
        assert expression["ReturnData"] is True
        assert expression["Expression"] == "FILL(failed, 0) + FILL(timedOut, 0)"
        for metric_id, name in (("failed", "ExecutionsFailed"), ("timedOut", "ExecutionsTimedOut")):
            assert by_id[metric_id]["MetricStat"] == {
                "Metric": {
                    "Namespace": "AWS/States",
                    "MetricName": name,
                    "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": machine}}],
                },
                "Period": 300,
                "Stat": "Sum",
            }
            assert by_id[metric_id]["ReturnData"] is False
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")

    def test_rewind_failures_alarm_watches_the_stream_mappings_failure_queue(
        self, template: Template, resources: dict[str, Any]
    ) -> None:
        [mapping] = template.find_resources("AWS::Lambda::EventSourceMapping").values()
        queue = mapping["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            },
        )

    def test_every_alarm_says_what_it_means(self, template: Template) -> None:
        alarms = alarms_of(template)
        assert len(alarms) >= 4
        assert all(len(alarm["AlarmDescription"]) > 40 for alarm in alarms.values())

    def test_without_a_topic_or_email_alarms_notify_nobody(self, template: Template) -> None:
        assert [a for a in alarms_of(template).values() if "AlarmActions" in a or "OKActions" in a] == []
        template.resource_count_is("AWS::SNS::Topic", 0)


class TestThresholdKnobs:
    @pytest.mark.parametrize(
        ("metric_name", "threshold"),
        [
            (metrics.OLDEST_BUCKET_AGE_SECONDS, 1800),
            (metrics.LATENESS_SECONDS, 30),
            (metrics.DEAD_LETTERED, 10),
            ("ExecutionsFailed", 2),
        ],
    )
    def test_threshold_comes_from_its_knob(self, tuned: Synthesized, metric_name: str, threshold: int) -> None:
        assert alarm_on(tuned.template, metric_name)["Threshold"] == threshold

    def test_windows_stretch_to_a_run_when_runs_are_further_apart(
        self, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        # GIVEN runs every 10 minutes: a 5-minute window would often hold no run at all
        context = {"precision": "minute", "scheduleMinutes": "10", "bucketMinutes": "10"}
        slow = synthesize(tmp_path_factory.mktemp("slow"), context)
        # THEN every alarm looks at 10-minute windows
        backlog = alarm_on(slow.template, metrics.OLDEST_BUCKET_AGE_SECONDS)
        assert backlog["Metrics"][0]["MetricStat"]["Period"] == 600
        assert alarm_on(slow.template, metrics.DEAD_LETTERED)["Period"] == 600

    def test_monitoring_can_be_switched_off(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        bare = synthesize(tmp_path_factory.mktemp("bare"), {"monitoring": "false"})
        bare.template.resource_count_is("AWS::CloudWatch::Alarm", 0)
        bare.template.resource_count_is("AWS::CloudWatch::Dashboard", 0)
        assert "DashboardName" not in bare.template.to_json()["Outputs"]


class TestEmailTopic:
    def test_alarm_email_is_subscribed_to_an_encrypted_topic(self, tuned: Synthesized) -> None:
        tuned.template.has_resource_properties(
            "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
        )
        [topic_id] = tuned.template.find_resources("AWS::SNS::Topic")
        topic = tuned.template.to_json()["Resources"][topic_id]["Properties"]
        key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
        tuned.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
        assert tuned.template.to_json()["Resources"][key_id]["Type"] == "AWS::KMS::Key"

    def test_every_alarm_notifies_the_topic_on_alarm_and_on_recovery(self, tuned: Synthesized) -> None:
        [topic_id] = tuned.template.find_resources("AWS::SNS::Topic")
        alarms = alarms_of(tuned.template)
        assert len(alarms) >= 4
        for alarm in alarms.values():
            assert alarm["AlarmActions"] == [{"Ref": topic_id}]
            assert alarm["OKActions"] == [{"Ref": topic_id}]

    def test_cloudwatch_may_use_the_key_for_this_account_only(self, tuned: Synthesized) -> None:
        [key] = tuned.template.find_resources("AWS::KMS::Key").values()
        [statement] = [
            s
            for s in key["Properties"]["KeyPolicy"]["Statement"]
            if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        ]
        assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}

    def test_topic_refuses_plain_http(self, tuned: Synthesized) -> None:
        [policy] = tuned.template.find_resources("AWS::SNS::TopicPolicy").values()
        [deny] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


class TestDashboard:
    @pytest.fixture(scope="class")
    @classmethod
    def body(cls, template: Template) -> dict[str, Any]:
        [dashboard] = template.find_resources("AWS::CloudWatch::Dashboard").values()
        return json.loads(flatten(dashboard["Properties"]["DashboardBody"], references=True))

    @staticmethod
    def widget(body: dict[str, Any], title_start: str) -> dict[str, Any]:
        [found] = [w["properties"] for w in body["widgets"] if w["properties"]["title"].startswith(title_start)]
        return found

    @staticmethod
    def metric_lines(widget: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(namespace or expression, metric name, stat) of each line; "..." repeats the line before's value."""
        lines, previous = [], ["", ""]
        for metric in widget["metrics"]:
            options = metric[-1] if isinstance(metric[-1], dict) else {}
            if "expression" in options:
                lines.append(("expression", options["expression"], options.get("label", "")))
                continue
            names = [previous[i] if value == "." else value for i, value in enumerate(metric[:2])]
            previous = names
            lines.append((names[0], names[1], options.get("stat", "")))
        return lines

    def test_shows_every_alarm(self, body: dict[str, Any], template: Template) -> None:
        alarm_widget = self.widget(body, "Alarms")
        assert sorted(alarm_widget["alarms"]) == sorted(f"${{{i}.Arn}}" for i in alarms_of(template))

    def test_runs_and_their_outcome(self, body: dict[str, Any]) -> None:
        lines = self.metric_lines(self.widget(body, "Dispatcher runs"))
        assert {name for namespace, name, _ in lines if namespace == "AWS/States"} >= {
            "ExecutionsStarted",
            "ExecutionsSucceeded",
            "ExecutionsFailed",
            "ExecutionsTimedOut",
        }

    def test_due_published_failed_per_run(self, body: dict[str, Any]) -> None:
        widget = self.widget(body, "Jobs per run")
        lines = self.metric_lines(widget)
        assert ("expression", "FILL(published, 0) + FILL(failed, 0) + FILL(missing, 0) + FILL(dead, 0)", "due") in [
            (kind, expression, label) for kind, expression, label in lines
        ]
        assert {(ns, name, stat) for ns, name, stat in lines if ns == "onthedot"} >= {
            ("onthedot", metrics.PUBLISHED, "Sum"),
            ("onthedot", metrics.FAILED, "Sum"),
            ("onthedot", metrics.DEAD_LETTERED, "Sum"),
        }
        assert all(metric[-1]["period"] == 60 for metric in widget["metrics"] if "stat" in metric[-1])  # a run

    def test_lateness_p50_and_p99(self, body: dict[str, Any]) -> None:
        widget = self.widget(body, "Lateness")
        assert {stat for _, name, stat in self.metric_lines(widget) if name == metrics.LATENESS_SECONDS} >= {
            "p50",
            "p99",
        }
        assert widget["annotations"]["horizontal"][0]["value"] == 120

    def test_backlog_and_dead_letter_size(self, body: dict[str, Any]) -> None:
        backlog = self.metric_lines(self.widget(body, "Backlog"))
        assert ("onthedot", metrics.OLDEST_BUCKET_AGE_SECONDS, "Maximum") in backlog
        dead_letter = self.metric_lines(self.widget(body, "Dead letter"))
        assert ("onthedot", metrics.DEAD_LETTER_SIZE, "Maximum") in dead_letter

    def test_publish_errors_and_duration(self, body: dict[str, Any], synthesized: Synthesized) -> None:
        errors = self.metric_lines(self.widget(body, "Publish function: errors"))
        assert ("AWS/Lambda", "Errors", "Sum") in errors
        duration = self.metric_lines(self.widget(body, "Publish function: duration"))
        assert {stat for _, name, stat in duration if name == "Duration"} >= {"p50", "p99"}
        function = synthesized.logical_id("AWS::Lambda::Function", Handler="functions.publish.app.handler")
        assert f"${{{function}}}" in json.dumps(self.widget(body, "Publish function: errors"))

    def test_the_stack_names_its_dashboard(self, template: Template) -> None:
        [dashboard_id] = template.find_resources("AWS::CloudWatch::Dashboard")
        template.has_output("DashboardName", {"Value": {"Ref": dashboard_id}})
        assert "DashboardName" not in template.to_json()["Resources"][dashboard_id]["Properties"]
