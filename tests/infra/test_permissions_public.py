"""The public-sharing guard's role: reads always, writes only to its own resources in enforce mode."""

from __future__ import annotations

from infra.permissions import SWEEP_READ_ACTIONS
from infra.permissions_public import PUBLIC_LIST_ACTIONS, PUBLIC_WRITE_ACTIONS
from tests.helpers.synthesized import Synthesized
from tests.helpers.template import (
    actions_of,
    arn_of,
    evaluated,
    job_actions,
    resources_of,
    statements_of,
    write_policy,
)


def test_public_role_reads_always_and_writes_only_own_resources_in_enforce(synth: Synthesized) -> None:
    always, conditional = job_actions(synth, "public")
    assert always == {
        *PUBLIC_LIST_ACTIONS,
        *SWEEP_READ_ACTIONS,
        "ec2:DescribeImageAttribute",
        "ec2:DescribeSnapshotAttribute",
    }
    assert conditional == set(PUBLIC_WRITE_ACTIONS)
    _, writes = write_policy(synth, "public")
    evaluator = evaluated(synth.template)
    for statement in statements_of(writes):
        resources = [arn_of(evaluator, r) for r in resources_of(statement)]
        if actions_of(statement) == {"ec2:EnableImageBlockPublicAccess"}:
            assert resources == ["*"]  # an account setting
        else:
            assert statement["Condition"]["StringEquals"]["ec2:Owner"] == {"Ref": "AWS::AccountId"}
            assert resources in (["arn:aws:ec2:*::image/*"], ["arn:aws:ec2:*::snapshot/*"])
        assert "aws:RequestedRegion" in statement["Condition"]["StringEquals"]
