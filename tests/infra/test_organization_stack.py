"""The organization hub's template: its StackSets, its bus, its job roles and functions, its sweeps."""

from __future__ import annotations

import json
from fnmatch import fnmatch
from typing import Any

import pytest

from ami_hygiene.registry import JOBS
from infra.organization import TARGETS_READS
from tests.helpers.cfn import Evaluator, parameter_values
from tests.helpers.constants import ACCOUNT, REGION
from tests.helpers.synthesized import Synthesized, stack_set_template, synthesize_organization
from tests.helpers.template import (
    REPORTING_ACTIONS,
    actions_of,
    job_function,
    policies_of,
    resources_of,
    role_of,
    stack_set_parameters,
    statements_of,
)

NAMES = tuple(spec.name for spec in JOBS)
OUS = "r-ab12,ou-ab12-abcdefgh"
ORGANIZATION = "o-a1b2c3d4e5"
EXCLUDED = "111122223333,444455556666"
GIVEN = {"OrganizationalUnitIds": OUS, "OrganizationId": ORGANIZATION}
STACK_SETS = ("MemberStackSet", "ForwardingStackSet")


@pytest.fixture(scope="module")
def hub() -> Synthesized:
    return synthesize_organization()


def evaluated(hub: Synthesized, **given: str) -> Evaluator:
    """The hub as CloudFormation evaluates it for these values (the required ones given)."""
    values = parameter_values(hub.template, {**GIVEN, **given})
    # What GetAtt answers for the roles, functions and bus the tests look at.
    resources = {
        f"{logical_id}.Arn": f"arn:aws:test:{REGION}:{ACCOUNT}:{logical_id}"
        for logical_id in hub.template["Resources"]
    }
    return Evaluator(hub.template, values, region=REGION, account=ACCOUNT, resources=resources)


def stack_set(hub: Synthesized, logical_id: str) -> dict[str, Any]:
    resource = hub.template["Resources"][logical_id]
    assert resource["Type"] == "AWS::CloudFormation::StackSet"
    return dict(resource["Properties"])


# -- the StackSets ------------------------------------------------------------------------------


@pytest.mark.parametrize("logical_id", STACK_SETS)
def test_stack_sets_are_service_managed_and_deploy_to_new_accounts(hub: Synthesized, logical_id: str) -> None:
    props = stack_set(hub, logical_id)
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert props["CallAs"] == {"Ref": "CallAs"}
    assert props["ManagedExecution"] == {"Active": True}
    assert props["OperationPreferences"]["RegionConcurrencyType"] == "PARALLEL"
    assert "management account" in props["Description"]
    for call_as in ("SELF", "DELEGATED_ADMIN"):
        assert evaluated(hub, CallAs=call_as).value(props["CallAs"]) == call_as


@pytest.mark.parametrize("logical_id", STACK_SETS)
def test_stack_sets_target_the_ous_less_the_excluded_accounts(hub: Synthesized, logical_id: str) -> None:
    [group] = stack_set(hub, logical_id)["StackInstancesGroup"]
    targets = group["DeploymentTargets"]
    assert evaluated(hub, ExcludedAccounts=EXCLUDED).value(targets) == {
        "OrganizationalUnitIds": ["r-ab12", "ou-ab12-abcdefgh"],
        "AccountFilterType": "DIFFERENCE",
        "Accounts": ["111122223333", "444455556666"],
    }
    # No exclusion: every account of the OUs (NONE; UNION would be the API's default).
    assert evaluated(hub).value(targets) == {
        "OrganizationalUnitIds": ["r-ab12", "ou-ab12-abcdefgh"],
        "AccountFilterType": "NONE",
        "Accounts": None,  # AWS::NoValue: the property is left out
    }


def test_the_member_roles_go_to_the_hubs_region_and_the_forwarding_rules_to_every_region(
    hub: Synthesized,
) -> None:
    [member] = stack_set(hub, "MemberStackSet")["StackInstancesGroup"]
    [forwarding] = stack_set(hub, "ForwardingStackSet")["StackInstancesGroup"]
    regions = "eu-west-1,us-east-1,ap-southeast-2"
    assert evaluated(hub, Regions=regions).value(member["Regions"]) == [REGION]
    assert evaluated(hub, Regions=regions).value(forwarding["Regions"]) == regions.split(",")
    assert evaluated(hub).value(forwarding["Regions"]) == [REGION]  # Regions empty: the hub's region
    # The forwarding rules need the member stack's forwarder role: created after it.
    assert "MemberStackSet" in hub.template["Resources"]["ForwardingStackSet"]["DependsOn"]
    assert stack_set(hub, "MemberStackSet")["Capabilities"] == ["CAPABILITY_NAMED_IAM"]


def test_the_member_stack_set_passes_the_hub_parameters_of_the_same_name(hub: Synthesized) -> None:
    from infra.parameters import MEMBER_PARAMETERS

    given = stack_set_parameters(hub, "MemberStackSet")
    member = stack_set_template(hub, "MemberStackSet")["Parameters"]
    # Every parameter of the member template without a default is given, and nothing else.
    assert set(given) <= set(member)
    assert {name for name, p in member.items() if "Default" not in p} <= set(given)
    for name in MEMBER_PARAMETERS:
        if name != "Regions":
            assert given[name] == {"Ref": name}, name
    evaluator = evaluated(hub, Regions="eu-west-1,us-east-1", RotationMode="enforce")
    assert evaluator.value(given["Regions"]) == "eu-west-1,us-east-1"
    assert evaluated(hub).value(given["Regions"]) == REGION
    # The hub's job roles, the ones its functions run as, and the hub's bus.
    for spec in JOBS:
        assert given[f"{spec.construct_id}JobRoleArn"] == {"Fn::GetAtt": [role_of(hub, spec.name), "Arn"]}
    [(bus_id, _)] = hub.resources("AWS::Events::EventBus").items()
    assert given["HubBusArn"] == {"Fn::GetAtt": [bus_id, "Arn"]}


def test_the_forwarding_stack_set_sends_to_the_hub_bus_leaving_out_the_member_roles_writes(
    hub: Synthesized,
) -> None:
    given = stack_set_parameters(hub, "ForwardingStackSet")
    template = stack_set_template(hub, "ForwardingStackSet")
    [(bus_id, _)] = hub.resources("AWS::Events::EventBus").items()
    assert given == {
        "TargetBusArn": {"Fn::GetAtt": [bus_id, "Arn"]},
        "MemberRoleName": {"Ref": "MemberRoleName"},
        "OwnRoleArns": "",
        "SkipRegion": "",
    }
    assert set(given) == set(template["Parameters"])
    rules = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Events::Rule"}
    assert set(rules) == {rule.name for spec in JOBS for rule in spec.events}
    # In a member account (ACCOUNT), as the StackSet deploys it.
    values = parameter_values(
        template,
        {"TargetBusArn": f"arn:aws:events:{REGION}:999988887777:event-bus/hub", "MemberRoleName": "Member"},
    )
    member = Evaluator(template, values, region="us-east-1", account=ACCOUNT)
    for name, rule in rules.items():
        assert member.created(name)
        [target] = member.value(rule["Properties"]["Targets"])
        assert target["Arn"] == values["TargetBusArn"]
        assert target["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/AmiHygieneForwarder"
    spec_rules = {rule.name: rule for spec in JOBS for rule in spec.events}
    excluded = [n for n, r in spec_rules.items() if r.own_writes_excluded]
    assert excluded
    for name in excluded:
        pattern = json.dumps(member.value(rules[name]["Properties"]["EventPattern"]))
        assert f'"anything-but": ["arn:aws:iam::{ACCOUNT}:role/Member"]' in pattern, name


def test_the_stack_sets_fit_a_template_body(hub: Synthesized) -> None:
    for logical_id in STACK_SETS:
        body = stack_set(hub, logical_id)["TemplateBody"]
        assert len(body.encode()) <= 51_200, logical_id  # CreateStackSet TemplateBody


# -- the bus ------------------------------------------------------------------------------------


def test_the_bus_admits_only_the_organization(hub: Synthesized) -> None:
    [(bus_id, _)] = hub.resources("AWS::Events::EventBus").items()
    [policy] = hub.resources("AWS::Events::EventBusPolicy").values()
    props = policy["Properties"]
    assert props["EventBusName"] == {"Ref": bus_id}
    statement = props["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}
    assert evaluated(hub).value(statement["Condition"]) == {
        "StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}
    }


def test_the_bus_routes_each_job_rule_to_its_hub_function(hub: Synthesized) -> None:
    [(bus_id, _)] = hub.resources("AWS::Events::EventBus").items()
    on_bus = [r for r in hub.resources("AWS::Events::Rule").values() if "EventPattern" in r["Properties"]]
    assert all(r["Properties"]["EventBusName"] == {"Ref": bus_id} for r in on_bus)
    for spec in JOBS:
        function_id, _ = job_function(hub, spec.name)
        mine = [
            r for r in on_bus if r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
        ]
        patterns = sorted(json.dumps(r["Properties"]["EventPattern"], sort_keys=True) for r in mine)
        expected = sorted(
            json.dumps(
                {
                    "source": [rule.source],
                    "detail-type": [rule.detail_type],
                    **({"detail": {k: list(v) for k, v in rule.detail.items()}} if rule.detail else {}),
                },
                sort_keys=True,
            )
            for rule in spec.events
        )
        assert patterns == expected, spec.name
        for rule in mine:
            [target] = rule["Properties"]["Targets"]
            assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 2


# -- the hub's job roles and functions ----------------------------------------------------------


@pytest.mark.parametrize("job", NAMES)
def test_hub_job_roles_may_only_assume_the_member_role_in_the_organization(
    hub: Synthesized, job: str
) -> None:
    policies = policies_of(hub, role_of(hub, job))
    assert not [p for p in policies.values() if p.get("Condition")]  # no writes in the hub's account
    statements = [s for p in policies.values() for s in statements_of(p)]
    actions = {a for s in statements for a in actions_of(s)}
    assert actions - REPORTING_ACTIONS == {"sts:AssumeRole"}
    [assume] = [s for s in statements if "sts:AssumeRole" in actions_of(s)]
    assert actions_of(assume) == {"sts:AssumeRole"}
    assert assume["Condition"] == {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}}
    for name in ("AmiHygieneMember", "TeamMember"):
        [resource] = evaluated(hub, MemberRoleName=name).value(resources_of(assume))
        assert resource == f"arn:aws:iam::*:role/{name}"
    # Its reports: its own prefixes only.
    [store] = [s for s in statements if s.get("Sid") == "StoreOversizedReports"]
    assert [r.split("/", 1)[1] for r in evaluated(hub).value(resources_of(store))] == [
        f"reports/{job}/*",
        f"organization/{job}/*",
    ]


@pytest.mark.parametrize("job", NAMES)
def test_hub_job_roles_hold_only_their_targets_leases(hub: Synthesized, job: str) -> None:
    from ami_hygiene.organization.sweep import lease_name

    [lease] = [
        s
        for p in policies_of(hub, role_of(hub, job)).values()
        for s in statements_of(p)
        if "dynamodb:PutItem" in actions_of(s)
    ]
    [pattern] = lease["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    assert fnmatch(lease_name(job, "111122223333", "eu-west-1"), pattern)
    others = [other for other in NAMES if other != job]
    assert not any(fnmatch(lease_name(other, "111122223333", "eu-west-1"), pattern) for other in others)


@pytest.mark.parametrize("job", NAMES)
def test_hub_job_functions_run_in_hub_mode_with_the_single_account_settings(
    hub: Synthesized, synth: Synthesized, job: str
) -> None:
    env = job_function(hub, job)[1]["Properties"]["Environment"]["Variables"]
    single = job_function(synth, job)[1]["Properties"]["Environment"]["Variables"]
    params = set(synth.template["Parameters"])
    # Every setting the single-account function gets from a parameter, from the same parameter.
    settings = {k: v for k, v in single.items() if isinstance(v, dict) and v.get("Ref") in params}
    assert settings and settings.items() <= env.items()
    assert env["MEMBER_ROLE_NAME"] == {"Ref": "MemberRoleName"}
    assert env["EXCLUDED_ACCOUNTS"] == {"Ref": "ExcludedAccounts"}
    assert env["REGIONS"] == {"Ref": "Regions"}
    if job == "rebuild":
        arn = evaluated(hub).value(env["AUTOMATION_ROLE_ARN"])
        assert arn == "arn:aws:iam::{account}:role/AmiHygieneRebuildAutomation"
    spec = next(s for s in JOBS if s.name == job)
    if spec.realtime:
        regions = evaluated(hub, Regions="eu-west-1,us-east-1").value(env["REALTIME_REGIONS"])
        assert regions == "eu-west-1,us-east-1"  # every region forwards to the bus


def test_the_targets_function_lists_the_organization_and_writes_only_run_files(hub: Synthesized) -> None:
    fn = next(
        v
        for v in hub.resources("AWS::Lambda::Function").values()
        if v["Properties"]["Handler"] == "ami_hygiene.handlers.organization_targets.handler"
    )
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["ORGANIZATIONAL_UNIT_IDS"] == {"Ref": "OrganizationalUnitIds"}
    assert env["EXCLUDED_ACCOUNTS"] == {"Ref": "ExcludedAccounts"}
    assert env["REGIONS"] == {"Ref": "Regions"}
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [s for p in policies_of(hub, role).values() for s in statements_of(p)]
    [organizations] = [s for s in statements if any(a.startswith("organizations:") for a in actions_of(s))]
    assert actions_of(organizations) == set(TARGETS_READS)
    assert {a for s in statements for a in actions_of(s)} - REPORTING_ACTIONS == set(TARGETS_READS)
    [store] = [s for s in statements if "s3:PutObject" in actions_of(s)]
    assert [r.split("/", 1)[1] for r in evaluated(hub).value(resources_of(store))] == ["organization/*"]


def test_the_digest_function_reads_the_run_files_and_publishes(hub: Synthesized) -> None:
    fn = next(
        v
        for v in hub.resources("AWS::Lambda::Function").values()
        if v["Properties"]["Handler"] == "ami_hygiene.handlers.organization_digest.handler"
    )
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [s for p in policies_of(hub, role).values() for s in statements_of(p)]
    actions = {a for s in statements for a in actions_of(s)}
    assert actions - REPORTING_ACTIONS == {"s3:GetObject", "s3:ListBucket"}
    assert {"sns:Publish", "kms:Decrypt"} <= actions
    [read] = [s for s in statements if actions_of(s) == {"s3:GetObject"}]
    assert [r.split("/", 1)[1] for r in evaluated(hub).value(resources_of(read))] == ["organization/*"]
    [listing] = [s for s in statements if actions_of(s) == {"s3:ListBucket"}]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["organization/*"]}}


def test_the_run_files_expire_like_the_reports(hub: Synthesized) -> None:
    [bucket] = hub.resources("AWS::S3::Bucket").values()
    rules = {r["Prefix"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["organization/"]["ExpirationInDays"] == rules["reports/"]["ExpirationInDays"] == 90


# -- the sweeps ---------------------------------------------------------------------------------


def test_each_job_schedule_starts_its_state_machine_with_bounded_concurrency(hub: Synthesized) -> None:
    machines = hub.resources("AWS::StepFunctions::StateMachine")
    assert len(machines) == len(JOBS)
    schedules = [
        r for r in hub.resources("AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]
    ]
    started = {}
    for rule in schedules:
        [target] = rule["Properties"]["Targets"]
        [machine] = [k for k in machines if target["Arn"] == {"Ref": k}]
        started[rule["Properties"]["ScheduleExpression"]["Ref"]] = machine
        assert "DeadLetterConfig" in target and "RoleArn" in target
    assert set(started) == {spec.schedule_parameter for spec in JOBS}
    assert len(set(started.values())) == len(JOBS)
    for machine in machines.values():
        definition = json.dumps(machine["Properties"]["DefinitionString"])
        assert '\\"MaxConcurrency\\":", {"Ref": "MaxConcurrentTargets"}' in definition


def test_outputs_name_the_bus_the_machines_the_topic_the_bucket_and_the_member_role(hub: Synthesized) -> None:
    outputs = hub.template["Outputs"]
    assert {"EventBusArn", "TopicArn", "ReportBucket", "MemberRoleName", "MemberStackSets"} <= set(outputs)
    assert {f"{spec.construct_id}StateMachineArn" for spec in JOBS} <= set(outputs)
    assert outputs["MemberRoleName"]["Value"] == {"Ref": "MemberRoleName"}
    assert "management account" in outputs["MemberRoleName"]["Description"]
    assert "management account" in hub.template["Description"]


def test_a_failed_sweep_execution_alarms_to_the_topic(hub: Synthesized) -> None:
    """A sweep whose targets or digest function crashed fails its execution: someone must hear of it."""
    machines = set(hub.resources("AWS::StepFunctions::StateMachine"))
    topics = set(hub.resources("AWS::SNS::Topic"))
    alarmed = {}
    for alarm in hub.resources("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("MetricName") != "ExecutionsFailed":
            continue
        assert props["Namespace"] == "AWS/States"
        assert props["Threshold"] == 1
        (dimension,) = props["Dimensions"]
        machine = dimension["Value"]["Ref"]
        assert [a["Ref"] for a in props["AlarmActions"]] == [next(iter(topics))]
        alarmed[machine] = alarm
    assert set(alarmed) == machines
    assert len(machines) == len(NAMES)
