"""Checks at synth: cdk-nag packs, cfn-lint, parameter constraints, the bundling recipe."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ami_hygiene.jobs.settings import Settings, SettingsError
from infra.packaging import RUNTIME_DISTRIBUTIONS, pip_command, runtime_pins, source_hash
from infra.parameters import SPECS
from tests.helpers.cfn import ParameterError, parameter_values
from tests.helpers.synthesized import (
    Synthesized,
    member_template,
    stack_set_template,
    synthesize_organization,
)

LINT_REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"]


# -- cdk-nag -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub() -> Synthesized:
    return synthesize_organization()


@pytest.mark.parametrize("stack", ["AmiHygiene", "AmiHygieneOrganization"])
def test_nag_packs_find_nothing_unacknowledged(synth: Synthesized, stack: str) -> None:
    # synthesize() would have raised ValidationFailed on any finding; ask the packs once more, directly.
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    checked = synth if stack == "AmiHygiene" else synthesize_organization()
    assert not [p for p in checked.validation_report()["pluginReports"] if p["conclusion"] != "success"]
    for pack in (AwsSolutionsChecks(), ServerlessChecks()):
        report = pack.validate_scope(checked.stack)
        findings = [(v.rule_name, [r.locations for r in v.violating_resources]) for v in report.violations]
        assert report.success and findings == [], (pack.name, findings)


def test_nag_packs_find_nothing_unacknowledged_in_the_member_template() -> None:
    """The member template is synthesized in an App of its own (infra/member.py) with the same packs."""
    from aws_cdk import App
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    from infra.member import MemberStack

    stack = MemberStack(App())
    for pack in (AwsSolutionsChecks(), ServerlessChecks()):
        report = pack.validate_scope(stack)
        findings = [(v.rule_name, [r.locations for r in v.violating_resources]) for v in report.violations]
        assert report.success and findings == [], (pack.name, findings)


def test_nag_packs_are_wired_to_the_app_and_fail_a_bad_construct() -> None:
    """Guards the wiring: the same add_checks on an app with a bare bucket fails the synth."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3

    from infra.nag import add_checks

    app = App()
    s3.Bucket(Stack(app, "Bad"), "Bare")
    add_checks(app)
    with pytest.raises(Exception, match=r"ValidationFailed(.|\n)*AwsSolutions-S1"):
        app.synth()


# Every finding this stack acknowledges. A new acknowledgement is a review decision: add it here.
ACKNOWLEDGED = {
    "AwsSolutions-S1",  # report bucket: no access-log bucket
    "AwsSolutions-SQS3",  # the failure and undelivered queues are last stops themselves
    "Serverless-SQSRedrivePolicy",
    "Serverless-LambdaDLQ",  # on-failure destination instead
    "AwsSolutions-IAM5[Resource::*]",  # Describe*/List* and X-Ray have no resource-level permissions
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:*::image/*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:*::snapshot/*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:parameter/*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:imagebuilder:*:<AWS::AccountId>:container-recipe/*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/<ConsumerRoleName>]",
    "AwsSolutions-IAM5[Resource::<ReportingReports.Arn>/reports/rotate/*]",
    "AwsSolutions-IAM5[Resource::<ReportingReports.Arn>/reports/tags/*]",
    "AwsSolutions-IAM5[Resource::<ReportingReports.Arn>/reports/public/*]",
    "AwsSolutions-IAM5[Resource::<ReportingReports.Arn>/reports/rebuild/*]",
    # rebuild: base images are public /aws/service/* parameters; pipelines, builds and automation
    # executions of this account are named at run time; the two AWS-owned runbooks, any version
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*::parameter/aws/service/*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:imagebuilder:*:<AWS::AccountId>:image-pipeline/*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:imagebuilder:*:<AWS::AccountId>:image/*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:automation-execution/*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*:*:automation-definition/AWS-UpdateLinuxAmi:*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*:*:automation-definition/AWS-UpdateWindowsAmi:*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*:*:document/AWS-UpdateLinuxAmi]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*:*:document/AWS-UpdateWindowsAmi]",
    # the runbooks' automation role passes the (unknown) role of AutomationInstanceProfile, only to EC2
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*]",
    # regional forwarding (infra/forwarding.py): the StackSets execution role's documented minimum, and
    # the forwarding rules CloudFormation names in each region
    "AwsSolutions-IAM5[Action::cloudformation:*]",
    "AwsSolutions-IAM5[Action::s3:*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:events:*:<AWS::AccountId>:rule/*]",
    # sample pipeline instance role: the two managed policies Image Builder documents
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/EC2InstanceProfileForImageBuilder]",
    # rebuild: this account's parameters at and under each BaseParameterPaths path (any region, held
    # to the Regions by aws:RequestedRegion), each item only when given
    *(
        "AwsSolutions-IAM5[Resource::"
        + json.dumps(
            {
                "Fn::If": [
                    f"HasBaseParameterPath{index + 1}",
                    {
                        "Fn::Join": [
                            "",
                            [
                                "arn:",
                                {"Ref": "AWS::Partition"},
                                ":ssm:*:",
                                {"Ref": "AWS::AccountId"},
                                ":parameter",
                                {
                                    "Fn::Select": [
                                        index,
                                        {
                                            "Fn::Split": [
                                                ",",
                                                {"Fn::Join": ["", [{"Ref": "BaseParameterPaths"}, ",,,,"]]},
                                            ]
                                        },
                                    ]
                                },
                                *tail,
                            ],
                        ]
                    },
                    {"Ref": "AWS::NoValue"},
                ]
            },
            separators=(",", ":"),
        )
        + "]"
        for index in range(5)
        for tail in ([], ["/*"])
    ),
}


def _acknowledged(template: dict[str, Any]) -> set[str]:
    """Every acknowledgement's finding in the template, logical ids without their hash."""
    found = set()
    for resource in template["Resources"].values():
        for ack in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            assert len(ack["reason"]) > 40, ack
            found.add(re.sub(r"\b([A-Za-z]+)[0-9A-F]{8}(?=[.\"])", r"\1", ack["id"]))
    return found


def test_every_acknowledgement_is_known_and_has_a_reason_in_the_template(synth: Synthesized) -> None:
    assert _acknowledged(synth.template) == ACKNOWLEDGED


def _executions(job: str) -> tuple[str, ...]:
    """The Distributed Map's grants on its state machine's executions and its Map Runs (CDK's)."""
    machine = f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{job.capitalize()}SweepStateMachine"}}]}}]}}'
    prefix = (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
    )
    return (f"{prefix}{machine}:*]", f"{prefix}{machine}/{job}:*]")


JOB_NAMES = ("rotate", "tags", "public", "rebuild")
# Every finding the organization hub acknowledges; a new one is a review decision: add it here.
HUB_ACKNOWLEDGED = {
    "AwsSolutions-S1",
    "AwsSolutions-SQS3",
    "Serverless-SQSRedrivePolicy",
    "Serverless-LambdaDLQ",
    "AwsSolutions-IAM5[Resource::*]",  # X-Ray, log delivery, Organizations' lists
    # the hub's jobs assume the member role, by name, in accounts of the organization only
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/<MemberRoleName>]",
    # each job's reports and its runs' files; the targets and digest functions' run files
    *(f"AwsSolutions-IAM5[Resource::<ReportingReports.Arn>/reports/{job}/*]" for job in JOB_NAMES),
    *(f"AwsSolutions-IAM5[Resource::<ReportingReports.Arn>/organization/{job}/*]" for job in JOB_NAMES),
    "AwsSolutions-IAM5[Resource::<ReportingReports.Arn>/organization/*]",
    "AwsSolutions-IAM5[Resource::<ReportingReports.Arn>/reports/*]",  # a digest too long for one message
    # the state machines (infra/sweep_machine.py): their targets and result files, the functions'
    # versions, their own executions and Map Runs
    "AwsSolutions-IAM5[Resource::<ReportingReports.Arn>/organization/*/targets.json]",
    "AwsSolutions-IAM5[Resource::<ReportingReports.Arn>/organization/*/results/*]",
    *(f"AwsSolutions-IAM5[Resource::<{job.capitalize()}Function.Arn>:*]" for job in JOB_NAMES),
    "AwsSolutions-IAM5[Resource::<TargetsFunction.Arn>:*]",
    "AwsSolutions-IAM5[Resource::<DigestFunction.Arn>:*]",
    *(finding for job in JOB_NAMES for finding in _executions(job)),
    # CDK's template validation: Fn::Split of an empty default, used only when not empty
    "CloudFormation-Validate::F3031",
}


def test_every_acknowledgement_of_the_hub_is_known_and_has_a_reason(hub: Synthesized) -> None:
    assert _acknowledged(hub.template) == HUB_ACKNOWLEDGED


def test_the_member_template_acknowledges_what_the_single_account_stack_does(synth: Synthesized) -> None:
    """Its roles hold the single-account jobs' statements: the same findings, no new one."""
    from infra.member import member_template as synthesized_member

    member = _acknowledged(dict(synthesized_member()))
    assert member and member <= ACKNOWLEDGED


def test_acknowledgements_need_a_reason() -> None:
    from aws_cdk import App

    from infra.nag import acknowledge

    with pytest.raises(ValueError, match="reason"):
        acknowledge(App(), ["AwsSolutions-S1"], "  ")


# -- cfn-lint ------------------------------------------------------------------------------


def _lint(template: dict[str, Any]) -> list[str]:
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(template), config=ManualArgs(regions=LINT_REGIONS))
    return [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches]


def test_cfn_lint_finds_no_error_or_warning(synth: Synthesized) -> None:
    assert _lint(synth.template) == []


def test_cfn_lint_finds_no_error_or_warning_in_the_hub(hub: Synthesized) -> None:
    assert _lint(hub.template) == []


@pytest.mark.parametrize("stack_set", ["MemberStackSet", "ForwardingStackSet"])
def test_cfn_lint_finds_no_error_or_warning_in_what_the_hub_deploys_to_members(
    hub: Synthesized, stack_set: str
) -> None:
    template = member_template() if stack_set == "MemberStackSet" else stack_set_template(hub, stack_set)
    assert _lint(template) == []


# -- parameter constraints -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RetentionDays", "0"),
        ("RotationMode", "delete-all"),
        ("RetentionDays", "ninety"),
        ("KeepLatest", "0"),
        ("DisableGraceDays", "-1"),
        ("MaxActionsPerRun", "10001"),
        ("Regions", "eu-west-1, us-east-1"),
        ("Regions", "europe"),
        ("RotationSchedule", "daily"),
        ("RotationSchedule", "rate(0 days)"),
        ("AlertEmail", "not-an-address"),
        ("AlertEmail", "a@example.com,b@example.com"),
        ("RecycleBinDays", "366"),
        ("NotifyAllClean", "yes"),
        ("AllowedShareAccounts", "1234"),
    ],
)
def test_a_bad_parameter_is_refused_with_its_constraint(synth: Synthesized, name: str, value: str) -> None:
    with pytest.raises(ParameterError) as refused:
        parameter_values(synth.template, {name: value})
    message = str(refused.value)
    assert name in message
    assert (
        synth.template["Parameters"][name]["ConstraintDescription"] in message
        or "must be a number" in message
    )


def test_the_issue_examples_are_refused_with_readable_messages(synth: Synthesized) -> None:
    with pytest.raises(ParameterError, match="RetentionDays must be a whole number from 1 to 3650"):
        parameter_values(synth.template, {"RetentionDays": "0"})
    with pytest.raises(ParameterError, match="RotationMode must be report or enforce"):
        parameter_values(synth.template, {"RotationMode": "delete-all"})


@pytest.mark.parametrize(
    "given",
    [
        {},
        {"RotationMode": "enforce", "RetentionDays": "1", "KeepLatest": "100", "DisableGraceDays": "0"},
        {"Regions": "eu-west-1,us-east-1,ap-southeast-2", "RotationSchedule": "rate(12 hours)"},
        {"RotationSchedule": "cron(30 2 ? * MON-FRI *)", "AlertEmail": "ops+ami@example.com"},
        {"AllowedShareAccounts": "111122223333,arn:aws:organizations::111122223333:organization/o-abc123"},
        {"RecycleBinDays": "0", "NotifyAllClean": "true", "MaxActionsPerRun": "10000"},
    ],
)
def test_good_parameters_are_accepted(synth: Synthesized, given: dict[str, str]) -> None:
    assert parameter_values(synth.template, given).items() >= given.items()


def test_template_bounds_are_exactly_what_the_functions_accept(synth: Synthesized) -> None:
    """Every value CloudFormation lets through loads as Settings; one step outside is refused by both."""
    for spec in SPECS:
        param: dict[str, Any] = synth.template["Parameters"][spec.name]
        if param["Type"] != "Number" or spec.env_var is None:
            continue
        low, high = int(param["MinValue"]), int(param["MaxValue"])
        for value in (low, high):
            Settings.load({"AWS_REGION": "eu-west-1", spec.env_var: str(value)})
        for value in (low - 1, high + 1):
            with pytest.raises(SettingsError):
                Settings.load({"AWS_REGION": "eu-west-1", spec.env_var: str(value)})


# -- bundling recipe -----------------------------------------------------------------------


def test_bundle_uses_the_pinned_runtime_dependencies() -> None:
    import aws_lambda_powertools.shared.version as powertools

    pins = runtime_pins()
    assert [p.split("==")[0] for p in pins] == list(RUNTIME_DISTRIBUTIONS)
    assert f"aws-lambda-powertools=={powertools.VERSION}" in pins
    command = pip_command("/out", pins)
    assert command[command.index("--platform") + 1] == "manylinux2014_aarch64"
    assert command[command.index("--python-version") + 1] == "3.14"
    assert "--only-binary=:all:" in command


def test_bundle_hash_follows_the_pins(tmp_path: Path) -> None:
    pins = runtime_pins()
    assert source_hash(pins) == source_hash(list(pins))
    assert source_hash(pins) != source_hash([*pins[:-1], "aws-xray-sdk==0.0.1"])
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("boto3==1.0\n")
    with pytest.raises(ValueError, match="must pin"):
        runtime_pins(requirements)
