"""Each job's role is granted what its writers declare, and writes nothing they do not declare.

A job's writes live in jobs/<job>/actions.py, each declared with the IAM actions it
calls (core/executor.writes). The stack scopes the grants (infra/permissions_<job>.py);
this test holds the two together, so a new write without its grant, or a grant that
outgrew the code, fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from ami_hygiene.core.executor import permissions_of
from ami_hygiene.registry import JOBS
from tests.helpers.synthesized import synthesize

# Services whose calls are the jobs' own work; the rest (logs, X-Ray, SNS, S3, KMS, SQS,
# DynamoDB, STS) serve reporting, leases and consumer reads, granted to every job alike.
WORK_SERVICES = ("ec2", "imagebuilder", "ssm", "iam")
READ_VERBS = ("Describe", "Get", "List")


def _granted(role_logical_id: str) -> set[str]:
    template = synthesize().template
    found: set[str] = set()
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        props = resource["Properties"]
        if {"Ref": role_logical_id} not in props.get("Roles", []):
            continue
        for statement in props["PolicyDocument"]["Statement"]:
            actions: Any = statement["Action"]
            found.update([actions] if isinstance(actions, str) else actions)
    return found


def _role_of(job: str) -> str:
    stack = synthesize().stack
    role = stack.functions[job].role
    return str(stack.resolve(role.node.default_child.logical_id))


def _writes(actions: set[str]) -> set[str]:
    return {
        a for a in actions if a.split(":")[0] in WORK_SERVICES and not a.split(":")[1].startswith(READ_VERBS)
    }


@pytest.mark.parametrize("spec", JOBS, ids=[spec.name for spec in JOBS])
def test_a_jobs_role_is_granted_every_action_its_writers_declare(spec: Any) -> None:
    declared = set(permissions_of(spec.writers.values()))
    assert declared, f"{spec.name} declares no writes"
    assert declared <= _granted(_role_of(spec.name))


@pytest.mark.parametrize("spec", JOBS, ids=[spec.name for spec in JOBS])
def test_a_jobs_role_may_write_only_what_its_writers_declare(spec: Any) -> None:
    declared = set(permissions_of(spec.writers.values()))
    assert _writes(_granted(_role_of(spec.name))) == _writes(declared)


def test_the_check_sees_a_write_and_ignores_reads_and_reporting() -> None:
    assert _writes({"ec2:CreateTags", "ec2:DescribeImages", "sns:Publish", "ssm:GetParameters"}) == {
        "ec2:CreateTags"
    }


@pytest.mark.parametrize("spec", JOBS, ids=[spec.name for spec in JOBS])
def test_a_jobs_role_is_granted_the_reads_its_inventory_declares(spec: Any) -> None:
    """Each job's inventory lists the IAM actions of its reads beside them (READS)."""
    import importlib

    from ami_hygiene.core.allowed_images import READS as SWEEP_READS

    declared = set(importlib.import_module(f"ami_hygiene.jobs.{spec.name}.inventory").READS)
    assert declared and all(a.split(":")[1].startswith(READ_VERBS) for a in declared)
    assert declared | set(SWEEP_READS) <= _granted(_role_of(spec.name))
