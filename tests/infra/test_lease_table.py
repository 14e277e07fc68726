"""The sweep lease table, and each job's right to take its own lease only (not reserved concurrency)."""

from __future__ import annotations

import pytest

from tests.helpers.synthesized import Synthesized
from tests.helpers.template import HANDLERS, actions_of, job_function, policies_of, role_of, statements_of


def test_the_lease_table_is_on_demand_encrypted_recoverable_expiring_and_deleted_with_the_stack(
    synth: Synthesized,
) -> None:
    [(table_id, table)] = synth.resources("AWS::DynamoDB::Table").items()
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "job", "KeyType": "HASH"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Delete", "Delete")
    assert synth.template["Outputs"]["SweepLeaseTable"]["Value"] == {"Ref": table_id}


@pytest.mark.parametrize("job", sorted(HANDLERS))
def test_each_job_may_take_and_give_back_only_its_own_lease(synth: Synthesized, job: str) -> None:
    _, fn = job_function(synth, job)
    [table_id] = synth.resources("AWS::DynamoDB::Table")
    statements = [
        (policy_id, s)
        for policy_id, p in policies_of(synth, role_of(synth, job)).items()
        for s in statements_of(p)
        if any(a.startswith("dynamodb:") for a in actions_of(s))
    ]
    [(policy_id, statement)] = statements
    assert actions_of(statement) == {"dynamodb:PutItem", "dynamodb:DeleteItem"}
    assert statement["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}
    assert statement["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [job]}}
    # It always exists (sweeps take the lease in report mode too), and the function waits for it.
    assert "Condition" not in synth.template["Resources"][policy_id]
    assert policy_id in fn["DependsOn"]
