"""Questions the infra tests ask of the synthesized template: a job's function, its role and policies.

`evaluated(template, **parameters)` says what CloudFormation would make of the template
for those parameter values (tests/helpers/cfn.py), in ACCOUNT and REGION.
"""

from __future__ import annotations

from typing import Any

from infra.lease_table import LEASE_ACTIONS
from tests.helpers.cfn import Evaluator, parameter_values
from tests.helpers.constants import ACCOUNT, REGION
from tests.helpers.synthesized import Synthesized

JOBS = ("rotate", "tags", "public", "rebuild")
HANDLERS = {job: f"ami_hygiene.handlers.{job}.handler" for job in JOBS}
# The job's mode parameter, and the condition its write policy exists under.
MODE_PARAMETER = {"tags": "TagPolicyMode", "public": "PublicSharingMode", "rebuild": "RebuildMode"}
ENFORCE_CONDITION = {
    "tags": "TagsEnforceMode",
    "public": "PublicEnforceMode",
    "rebuild": "RebuildEnforceMode",
}
# What every job's role may do to report and to run: publish, store, log, trace, its failure queue.
REPORTING_ACTIONS = frozenset(
    {
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "s3:PutObject",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        *LEASE_ACTIONS,  # the job's own sweep lease (tests/infra/test_lease_table.py)
    }
)


def evaluated(template: dict[str, Any], **given: str) -> Evaluator:
    """The template as CloudFormation evaluates it for the `given` parameter values (the rest: defaults)."""
    return Evaluator(template, parameter_values(template, given), region=REGION, account=ACCOUNT)


def one_resource(synth: Synthesized, resource_type: str) -> tuple[str, dict[str, Any]]:
    """The only resource of `resource_type`: (logical id, resource)."""
    found = synth.resources(resource_type)
    assert len(found) == 1, (resource_type, list(found))
    return next(iter(found.items()))


def job_function(synth: Synthesized, job: str) -> tuple[str, dict[str, Any]]:
    """The job's Lambda function: (logical id, resource)."""
    [(logical_id, fn)] = [
        (k, v)
        for k, v in synth.resources("AWS::Lambda::Function").items()
        if v["Properties"]["Handler"] == HANDLERS[job]
    ]
    return logical_id, fn


def role_of(synth: Synthesized, job: str) -> str:
    """The logical id of the job function's role."""
    return str(job_function(synth, job)[1]["Properties"]["Role"]["Fn::GetAtt"][0])


def policies_of(synth: Synthesized, role: str) -> dict[str, dict[str, Any]]:
    """Every IAM policy attached to the role `role` (a logical id), by logical id."""
    return {
        k: v
        for k, v in synth.resources("AWS::IAM::Policy").items()
        if {"Ref": role} in v["Properties"]["Roles"]
    }


def statements_of(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def actions_of(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def resources_of(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def arn_of(evaluator: Evaluator, node: Any) -> str:
    """`node` (an ARN, maybe built with Fn::Join / Fn::Sub) as the evaluated template has it."""
    return str(evaluator.value(node))


def write_policy(synth: Synthesized, job: str) -> tuple[str, dict[str, Any]]:
    """The job role's conditional policy (its writes): (logical id, resource)."""
    [(policy_id, policy)] = [
        (k, p) for k, p in policies_of(synth, role_of(synth, job)).items() if p.get("Condition")
    ]
    return policy_id, policy


def job_actions(synth: Synthesized, job: str) -> tuple[set[str], set[str]]:
    """(actions in policies that always exist but REPORTING_ACTIONS, actions only in the write policy)."""
    always: set[str] = set()
    conditional: set[str] = set()
    for policy in policies_of(synth, role_of(synth, job)).values():
        actions = {a for s in statements_of(policy) for a in actions_of(s)}
        (conditional if policy.get("Condition") else always).update(actions)
    return always - REPORTING_ACTIONS, conditional


# -- the organization hub and its member template ------------------------------------------------


def as_synthesized(template: dict[str, Any]) -> Synthesized:
    """A template that is not a stack of the app (one a StackSet deploys), for the questions above."""
    from pathlib import Path

    return Synthesized(template=template, outdir=Path("."), stack=None)


def managed_policies_of(synth: Synthesized, role: str) -> dict[str, dict[str, Any]]:
    """Every managed policy attached to the role `role` (a logical id), by logical id."""
    return {
        k: v
        for k, v in synth.resources("AWS::IAM::ManagedPolicy").items()
        if {"Ref": role} in v["Properties"].get("Roles", [])
    }


def stack_set_parameters(synth: Synthesized, logical_id: str) -> dict[str, Any]:
    """A StackSet's Parameters as {key: value}."""
    props = synth.template["Resources"][logical_id]["Properties"]
    return {p["ParameterKey"]: p["ParameterValue"] for p in props.get("Parameters", [])}
