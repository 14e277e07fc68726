"""The member template the hub's StackSet deploys: the member role's trust and permissions, and the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ami_hygiene.registry import JOBS
from infra.member import AUTOMATION_ROLE_NAME, FORWARDER_ROLE_NAME, MANAGED_POLICIES_PER_ROLE
from infra.parameters import MEMBER_PARAMETERS
from tests.helpers.cfn import Evaluator, parameter_values
from tests.helpers.constants import ACCOUNT, REGION
from tests.helpers.synthesized import Synthesized, member_template, synthesize_organization
from tests.helpers.template import (
    ENFORCE_CONDITION,
    MODE_PARAMETER,
    as_synthesized,
    managed_policies_of,
    policies_of,
    resources_of,
    role_of,
    statements_of,
)

NAMES = tuple(spec.name for spec in JOBS)
HUB_ACCOUNT = "999988887777"
MODES = {"rotate": "RotationMode", **MODE_PARAMETER}
WRITE_CONDITIONS = {"rotate": "EnforceMode", **ENFORCE_CONDITION}
HUB_ROLES = {spec.name: f"arn:aws:iam::{HUB_ACCOUNT}:role/hub-{spec.name}" for spec in JOBS}
HUB_BUS = f"arn:aws:events:{REGION}:{HUB_ACCOUNT}:event-bus/hub"
# The IAM quota a customer managed policy's document must fit (IAM User Guide, "IAM and AWS STS
# quotas": 6,144 characters, white space not counted).
MANAGED_POLICY_CHARACTERS = 6_144


@pytest.fixture(scope="module")
def member() -> Synthesized:
    return as_synthesized(member_template())


def in_member(member: Synthesized, **given: str) -> Evaluator:
    """The member template as CloudFormation evaluates it in a member account, with the hub's values."""
    values = {
        **{f"{spec.construct_id}JobRoleArn": HUB_ROLES[spec.name] for spec in JOBS},
        "HubBusArn": HUB_BUS,
        **given,
    }
    resources = {f"{k}.Arn": f"arn:aws:iam::{ACCOUNT}:role/{k}" for k in member.template["Resources"]}
    return Evaluator(
        member.template,
        parameter_values(member.template, values),
        region=REGION,
        account=ACCOUNT,
        resources=resources,
    )


def member_role(member: Synthesized) -> tuple[str, dict[str, Any]]:
    [(logical_id, role)] = [
        (k, v)
        for k, v in member.resources("AWS::IAM::Role").items()
        if v["Properties"].get("RoleName") == {"Ref": "MemberRoleName"}
    ]
    return logical_id, role


def named(role: dict[str, Any], name: str) -> bool:
    return bool(role["Properties"].get("RoleName") == name)


def job_policies(member: Synthesized, job: str) -> dict[str, dict[str, Any]]:
    """The member role's managed policies of `job`: {"Reads" | "Writes" | "OptionalReads": policy}."""
    role_id, _ = member_role(member)
    prefix = job.capitalize()
    found = {}
    for logical_id, policy in managed_policies_of(member, role_id).items():
        assert logical_id.startswith(tuple(s.construct_id for s in JOBS)), logical_id
        if logical_id.startswith(prefix):
            found[logical_id[len(prefix) : -8]] = policy
    return found


# -- the member role's trust ----------------------------------------------------------------------


def test_the_member_role_trusts_only_the_hubs_job_roles(member: Synthesized) -> None:
    _, role = member_role(member)
    statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    principals = []
    for statement in statements:
        assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
        assert set(statement) == {"Effect", "Action", "Principal"}  # no condition widens or narrows it
        assert list(statement["Principal"]) == ["AWS"]
        given = statement["Principal"]["AWS"]
        principals += given if isinstance(given, list) else [given]
    assert sorted(json.dumps(p) for p in principals) == sorted(
        json.dumps({"Ref": f"{spec.construct_id}JobRoleArn"}) for spec in JOBS
    )
    assert sorted(in_member(member).value(principals)) == sorted(HUB_ROLES.values())
    name = in_member(member, MemberRoleName="TeamMember").value(role["Properties"]["RoleName"])
    assert name == "TeamMember"


def test_the_hub_passes_its_job_roles_as_the_trusted_ones() -> None:
    """What the member template trusts is what the hub's functions run as."""
    hub = synthesize_organization()
    [parameters] = [hub.template["Resources"]["MemberStackSet"]["Properties"]["Parameters"]]
    given = {p["ParameterKey"]: p["ParameterValue"] for p in parameters}
    for spec in JOBS:
        assert given[f"{spec.construct_id}JobRoleArn"] == {"Fn::GetAtt": [role_of(hub, spec.name), "Arn"]}


# -- the member role's permissions: the single-account jobs' ----------------------------------------


@pytest.mark.parametrize("job", NAMES)
def test_member_reads_and_writes_are_the_single_account_jobs_statements(
    member: Synthesized, synth: Synthesized, job: str
) -> None:
    """The same statements as the single-account job role's (built by the same functions), so a
    member's reads equal a single account's, and its writes too, under the same condition."""
    single = policies_of(synth, role_of(synth, job))
    prefix = job.capitalize()

    def single_part(part: str) -> dict[str, Any]:
        [policy] = [
            p for k, p in single.items() if k.startswith(prefix + part) and k[len(prefix + part) :].isalnum()
        ]
        return policy

    mine = job_policies(member, job)
    assert set(mine) >= {"Reads", "Writes"}
    for part, policy in mine.items():
        theirs = single_part(part)
        assert statements_of(policy) == statements_of(theirs), (job, part)
        assert policy.get("Condition") == theirs.get("Condition"), (job, part)
    assert mine["Writes"]["Condition"] == WRITE_CONDITIONS[job]


@pytest.mark.parametrize("job", NAMES)
def test_member_writes_exist_only_in_enforce_mode(member: Synthesized, job: str) -> None:
    writes_id = next(
        k
        for k in managed_policies_of(member, member_role(member)[0])
        if k.startswith(f"{job.capitalize()}Writes")
    )
    assert not in_member(member, **{MODES[job]: "report"}).created(writes_id)
    assert in_member(member, **{MODES[job]: "enforce"}).created(writes_id)
    # Another job's mode does not bring them.
    others = {MODES[o]: "enforce" for o in NAMES if o != job}
    assert not in_member(member, **{MODES[job]: "report"}, **others).created(writes_id)
    # Reads exist in every mode.
    reads_id = next(
        k
        for k in managed_policies_of(member, member_role(member)[0])
        if k.startswith(f"{job.capitalize()}Reads")
    )
    assert member.template["Resources"][reads_id].get("Condition") is None


@pytest.mark.parametrize("job", NAMES)
def test_member_writes_to_images_and_snapshots_hold_to_the_member_accounts_own(
    member: Synthesized, job: str
) -> None:
    policy = job_policies(member, job)["Writes"]
    evaluator = in_member(member, **{MODES[job]: "enforce"})
    checked = 0
    for statement in statements_of(policy):
        arns = [str(a) for a in evaluator.value(resources_of(statement))]
        if any(":image/" in a or ":snapshot/" in a for a in arns):
            assert statement["Condition"]["StringEquals"]["ec2:Owner"] == {"Ref": "AWS::AccountId"}, statement
            assert evaluator.value(statement["Condition"])["StringEquals"]["ec2:Owner"] == ACCOUNT
            checked += 1
    assert checked, job


def test_every_job_of_the_registry_has_its_permissions_in_the_member_role(member: Synthesized) -> None:
    role_id, _ = member_role(member)
    managed = managed_policies_of(member, role_id)
    assert {k[:-8] for k in managed} >= {
        f"{spec.construct_id}{part}" for spec in JOBS for part in ("Reads", "Writes")
    }
    # The role has no inline policy: everything is in its managed policies.
    assert not policies_of(member, role_id)
    assert "Policies" not in member.template["Resources"][role_id]["Properties"]


def test_the_member_roles_policies_fit_iams_quotas_with_everything_on(member: Synthesized) -> None:
    """All modes enforce, five base parameter paths, a consumer role: the largest the policies get."""
    evaluator = in_member(
        member,
        Regions="eu-west-1,us-east-1,ap-southeast-2,eu-central-1",
        ConsumerRoleName="AmiHygieneConsumer",
        BaseParameterPaths="/golden/linux,/golden/windows,/team-a/images,/team-b/images,/shared/base",
        **{MODES[job]: "enforce" for job in NAMES},
    )
    role_id, _ = member_role(member)
    created = {k: p for k, p in managed_policies_of(member, role_id).items() if evaluator.created(k)}
    assert len(created) <= MANAGED_POLICIES_PER_ROLE
    for logical_id, policy in created.items():
        document = evaluator.value(policy["Properties"]["PolicyDocument"])
        document = _without_no_value(document)
        size = len(json.dumps(document, separators=(",", ":")))
        assert size <= MANAGED_POLICY_CHARACTERS, (logical_id, size)


def _without_no_value(node: Any) -> Any:
    """AWS::NoValue items (None once evaluated) are left out of lists, as CloudFormation does."""
    if isinstance(node, dict):
        return {k: _without_no_value(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_without_no_value(v) for v in node if v is not None]
    return node


# -- the other roles, the Recycle Bin, the parameters -------------------------------------------------


def test_the_automation_role_has_the_name_the_hub_gives_its_rebuild_job(member: Synthesized) -> None:
    [role] = [
        r
        for r in member.resources("AWS::IAM::Role").values()
        if r["Properties"].get("RoleName") == AUTOMATION_ROLE_NAME
    ]
    [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "ssm.amazonaws.com"}
    hub = synthesize_organization()
    [fn] = [
        v
        for v in hub.resources("AWS::Lambda::Function").values()
        if v["Properties"]["Handler"] == "ami_hygiene.handlers.rebuild.handler"
    ]
    template = fn["Properties"]["Environment"]["Variables"]["AUTOMATION_ROLE_ARN"]
    arn = Evaluator(hub.template, {}, region=REGION, account=HUB_ACCOUNT).value(template)
    assert arn.replace("{account}", ACCOUNT) == f"arn:aws:iam::{ACCOUNT}:role/{AUTOMATION_ROLE_NAME}"


def test_the_forwarder_role_may_only_put_events_on_the_hub_bus(member: Synthesized) -> None:
    [role] = [
        r
        for r in member.resources("AWS::IAM::Role").values()
        if r["Properties"].get("RoleName") == FORWARDER_ROLE_NAME
    ]
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    [policy] = role["Properties"]["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert in_member(member).value(statement["Resource"]) == HUB_BUS
    assert "ManagedPolicyArns" not in role["Properties"]


def test_the_recycle_bin_rules_follow_recycle_bin_days(member: Synthesized) -> None:
    rules = member.resources("AWS::Rbin::Rule")
    assert {r["Properties"]["ResourceType"] for r in rules.values()} == {"EC2_IMAGE", "EBS_SNAPSHOT"}
    for logical_id in rules:
        assert in_member(member).created(logical_id)
        assert not in_member(member, RecycleBinDays="0").created(logical_id)


def test_member_parameters_are_the_hubs_of_the_same_name(member: Synthesized) -> None:
    hub = synthesize_organization().template["Parameters"]
    params = member.template["Parameters"]
    for name in MEMBER_PARAMETERS:
        assert params[name] == hub[name], name
    assert "BootstrapVersion" not in params  # no bootstrap stack is needed in member accounts
    assert "Rules" not in member.template


def test_the_member_template_body_fits_a_stack_set() -> None:
    from infra.member import TEMPLATE_BODY_MAX, member_template_body

    body = member_template_body()
    assert len(body.encode()) <= TEMPLATE_BODY_MAX
    assert json.loads(body)["Resources"].keys() == member_template()["Resources"].keys()


def test_the_member_template_is_what_the_member_stack_set_deploys() -> None:
    from infra.member import member_template_body

    hub = synthesize_organization()
    assert hub.template["Resources"]["MemberStackSet"]["Properties"]["TemplateBody"] == member_template_body()


def test_the_member_forwarding_template_names_the_member_accounts_own_roles() -> None:
    """forwarding_template, told the forwarder and member roles are the account's own: no
    ForwarderRoleArn parameter, the member role's name the hub's MemberRoleName (same rule)."""
    from infra.member import member_forwarding_template

    template = member_forwarding_template()
    params = template["Parameters"]
    assert set(params) == {"TargetBusArn", "OwnRoleArns", "SkipRegion", "MemberRoleName"}
    hub_name = synthesize_organization().template["Parameters"]["MemberRoleName"]
    assert params["MemberRoleName"]["AllowedPattern"] == hub_name["AllowedPattern"]
    values = parameter_values(template, {"TargetBusArn": HUB_BUS, "MemberRoleName": "Member"})
    instance = Evaluator(template, values, region=REGION, account=ACCOUNT)
    calls = template["Resources"]["PublicSharingCalls"]["Properties"]
    [target] = instance.value(calls["Targets"])
    assert target["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{FORWARDER_ROLE_NAME}"
    issuer = instance.value(calls["EventPattern"])["detail"]["$or"][1]["userIdentity"]["sessionContext"]
    assert issuer["sessionIssuer"]["arn"] == [{"anything-but": [f"arn:aws:iam::{ACCOUNT}:role/Member"]}]
