"""What invokes each job: its schedule rule and exactly its event patterns, with their delivery settings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers.synthesized import Synthesized
from tests.helpers.template import job_function, role_of


def test_schedule_rule_invokes_the_function_with_the_schedule_parameter(synth: Synthesized) -> None:
    fn_id, _ = job_function(synth, "rotate")
    [rule] = [
        r
        for r in synth.resources("AWS::Events::Rule").values()
        if r["Properties"].get("ScheduleExpression") == {"Ref": "RotationSchedule"}
    ]
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [fn_id, "Arn"]}
    assert "DeadLetterConfig" in target


def _rules_of(synth: Synthesized, job: str) -> list[dict[str, Any]]:
    fn_id, _ = job_function(synth, job)
    rules = []
    for rule in synth.resources("AWS::Events::Rule").values():
        [target] = rule["Properties"]["Targets"]
        if target["Arn"] == {"Fn::GetAtt": [fn_id, "Arn"]}:
            rules.append(rule["Properties"])
    return rules


CLOUDTRAIL = "AWS API Call via CloudTrail"


EXPECTED_RULES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "tags": (
        "TagSweepSchedule",
        [
            {
                "source": ["aws.ec2"],
                "detail-type": ["EC2 AMI State Change"],
                "detail": {"State": ["available"]},
            },
            {
                "source": ["aws.ec2"],
                "detail-type": [CLOUDTRAIL],
                "detail": {
                    "eventSource": ["ec2.amazonaws.com"],
                    # No ImportImage: its CloudTrail record names an import task, never an image.
                    "eventName": ["CreateImage", "CopyImage", "RegisterImage", "CreateTags", "DeleteTags"],
                },
            },
        ],
    ),
    "public": (
        "PublicScanSchedule",
        [
            {
                "source": ["aws.ec2"],
                "detail-type": [CLOUDTRAIL],
                "detail": {
                    "eventSource": ["ec2.amazonaws.com"],
                    "eventName": [
                        "ModifyImageAttribute",
                        "ModifySnapshotAttribute",
                        "DisableImageBlockPublicAccess",
                    ],
                },
            }
        ],
    ),
    "rebuild": (
        "RebuildSchedule",
        [
            {"source": ["aws.imagebuilder"], "detail-type": ["EC2 Image Builder Image State Change"]},
            {
                "source": ["aws.ssm"],
                "detail-type": ["EC2 Automation Execution Status-change Notification"],
                "detail": {"Definition": ["AWS-UpdateLinuxAmi", "AWS-UpdateWindowsAmi"]},
            },
        ],
    ),
}


def _own_roles_clause(synth: Synthesized) -> list[dict[str, Any]]:
    roles = [{"Fn::GetAtt": [role_of(synth, job), "Arn"]} for job in ("rotate", "tags", "public", "rebuild")]

    def issuer(matchers: list[Any]) -> dict[str, Any]:
        return {"userIdentity": {"sessionContext": {"sessionIssuer": {"arn": matchers}}}}

    return [issuer([{"exists": False}]), issuer([{"anything-but": roles}])]


@pytest.mark.parametrize("job", sorted(EXPECTED_RULES))
def test_each_job_has_its_schedule_and_exactly_its_event_patterns(synth: Synthesized, job: str) -> None:
    schedule, patterns = EXPECTED_RULES[job]
    rules = _rules_of(synth, job)
    assert [r["ScheduleExpression"] for r in rules if "ScheduleExpression" in r] == [{"Ref": schedule}]
    # Copies: the synthesized template is shared by every test of the process (tests/helpers/synthesized.py).
    found = [json.loads(json.dumps(r["EventPattern"])) for r in rules if "EventPattern" in r]
    own = _own_roles_clause(synth)
    for pattern in found:
        # CloudTrail rules leave out the calls of the stack's own job roles (they would trigger themselves).
        if pattern["detail-type"] == [CLOUDTRAIL]:
            assert pattern["detail"].pop("$or") == own

    def key(pattern: dict[str, Any]) -> str:
        return json.dumps(pattern, sort_keys=True)

    assert sorted(found, key=key) == sorted(patterns, key=key)
    for rule in rules:
        assert rule["State"] == "ENABLED"
        [target] = rule["Targets"]
        # Same delivery settings as the rotate schedule: two retries in an hour, then the job's queue.
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2}
        assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][1] == "Arn"
