"""Reading a synthesized template: its strings, its references, the statements of a role, the actions AWS allows
only on every resource, and cfn-lint's findings but for what it gets wrong."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from cfnlint.api import ManualArgs, lint

# Resource "*" without a condition is allowed only for these actions, each for its reason.
WILDCARD_REASONS = {
    **dict.fromkeys(
        ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"),
        "X-Ray defines no resource types: active tracing needs Resource '*'.",
    ),
    **dict.fromkeys(
        (
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups",
        ),
        "Step Functions logging to CloudWatch Logs: these actions support no resource-level permissions.",
    ),
    "dynamodb:ListStreams": "Reading a table's stream (event source mapping): ListStreams has no resource type.",
}
# Actions AWS allows only on Resource "*": those, and the dispatcher's PutMetricData (no resource type either),
# which its statement holds to the namespace by a condition. Any other statement must name its resources.
STAR_ONLY_ACTIONS = {*WILDCARD_REASONS, "cloudwatch:PutMetricData"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def flatten(value: Any, *, references: bool = False) -> str:
    """A template string as text: plain, or the Fn::Join CDK makes when it splits out tokens.

    With ``references``, a Ref or GetAtt inside becomes ``${Id}`` or ``${Id.Attribute}``, as in Fn::Sub.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(flatten(part, references=references) for part in parts)
    if references and isinstance(value, dict) and set(value) == {"Ref"}:
        return "${" + value["Ref"] + "}"
    if references and isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"not a literal string: {value!r}")


def statements_of_role(resources: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of every AWS::IAM::Policy attached to the role."""
    return [
        statement
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def get_att(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


# Findings the tools get wrong, each with its reason. Everything else fails the test.
CFN_LINT_ACCEPTED = {
    # CDK puts DependsOn on a function's (and a state machine's) role next to the GetAtt of that role.
    "W3005": re.compile(r"dependency already enforced by a 'GetAtt'"),
    # A JSONata Map state may give MaxConcurrency as an expression that evaluates to an integer
    # (Step Functions "Map state" docs); cfn-lint's schema still wants a number (cf. cfn-lint#4342, #4096).
    "E3601": re.compile(r"^'\{% .* %\}' is not of type 'number' at '.*/MaxConcurrency'$"),
}


def cfn_lint_findings(template: Mapping[str, Any]) -> list[str]:
    """What cfn-lint finds in a template, but for ``CFN_LINT_ACCEPTED``."""
    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    return [
        f"{m.rule.id} {m.message}"
        for m in matches
        if not (m.rule.id in CFN_LINT_ACCEPTED and CFN_LINT_ACCEPTED[m.rule.id].search(m.message))
    ]
