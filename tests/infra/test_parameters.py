"""The template's parameters: descriptions, constraints, labels, groups, defaults; what they let through."""

from __future__ import annotations

from typing import Any

import pytest

from ami_hygiene.jobs.settings import Settings
from infra.parameters import GROUPS, SPECS
from tests.helpers.cfn import ParameterError, parameter_values
from tests.helpers.constants import REGION
from tests.helpers.synthesized import Synthesized


@pytest.fixture(scope="module")
def template(synth: Synthesized) -> dict[str, Any]:
    return synth.template


# -- every parameter -----------------------------------------------------------------------------


def test_every_parameter_has_a_description_a_constraint_and_a_label(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [name for group in interface["ParameterGroups"] for name in group["Parameters"]]
    for spec in SPECS:
        param = params[spec.name]
        assert param["Description"] and param["ConstraintDescription"], spec.name
        assert {"AllowedValues", "AllowedPattern", "MinValue"} & set(param), spec.name
        assert interface["ParameterLabels"][spec.name]["default"] == spec.label
        assert grouped.count(spec.name) == 1, spec.name
    assert [g["Label"]["default"] for g in interface["ParameterGroups"]] == [label for label, _ in GROUPS]
    # Only CDK's bootstrap-version check is left out of the groups.
    assert set(params) - set(grouped) == {"BootstrapVersion"}


def test_the_issue_parameters_and_their_defaults(template: dict[str, Any]) -> None:
    defaults = parameter_values(template, {})
    assert defaults == {
        "RotationMode": "report",
        "RetentionDays": "90",
        "KeepLatest": "3",
        "DisableGraceDays": "14",
        "MaxActionsPerRun": "100",
        "AllowedShareAccounts": "",
        "ConsumerRoleName": "",
        "ConsumerUsageUnknown": "keep",
        "Regions": "",
        "RotationSchedule": "cron(0 6 * * ? *)",
        "AlertEmail": "",
        "NotifyAllClean": "false",
        "ComingUpDays": "28",
        "RecycleBinDays": "14",
        "TagPolicyMode": "enforce",
        "RequiredTags": "",
        "TagGraceHours": "24",
        "TagEscalationDays": "0",
        "PropagateTags": "",
        "PublicSharingMode": "report",
        "SharingChecksPerRun": "1000",
        "RebuildMode": "report",
        "MaxImageAgeDays": "30",
        "FamilyPipelines": "",
        "AutomationInstanceProfile": "",
        "AutomationSecurityGroupIds": "",
        "AutomationSubnetId": "",
        "AutomationInstanceTypes": "arm64=t4g.medium,x86_64=t3.medium",
        "BaseParameterPaths": "",
        "CreateSamplePipeline": "false",
        "TagSweepSchedule": "rate(1 day)",
        "PublicScanSchedule": "rate(6 hours)",
        "RebuildSchedule": "rate(1 day)",
        "ReadsPerSecond": "18",
        "WritesPerSecond": "3",
    }


# -- the tag, public and rebuild jobs' parameters ------------------------------------------------


NEW_PARAMETERS: dict[str, dict[str, Any]] = {
    "TagPolicyMode": {"Type": "String", "Default": "enforce", "AllowedValues": ["report", "enforce"]},
    "RequiredTags": {"Type": "String", "Default": "", "MaxLength": 1024},
    "TagGraceHours": {"Type": "Number", "Default": 24, "MinValue": 0, "MaxValue": 8760},
    "TagEscalationDays": {"Type": "Number", "Default": 0, "MinValue": 0, "MaxValue": 3650},
    "PropagateTags": {"Type": "String", "Default": ""},
    "TagSweepSchedule": {"Type": "String", "Default": "rate(1 day)"},
    "PublicSharingMode": {"Type": "String", "Default": "report", "AllowedValues": ["report", "enforce"]},
    "PublicScanSchedule": {"Type": "String", "Default": "rate(6 hours)"},
    "RebuildMode": {"Type": "String", "Default": "report", "AllowedValues": ["report", "enforce"]},
    "MaxImageAgeDays": {"Type": "Number", "Default": 30, "MinValue": 1, "MaxValue": 3650},
    "RebuildSchedule": {"Type": "String", "Default": "rate(1 day)"},
    "FamilyPipelines": {"Type": "String", "Default": "", "MaxLength": 2048},
    "AutomationInstanceProfile": {"Type": "String", "Default": ""},
    "AutomationSecurityGroupIds": {"Type": "String", "Default": ""},
    "AutomationSubnetId": {"Type": "String", "Default": ""},
    "AutomationInstanceTypes": {
        "Type": "String",
        "Default": "arm64=t4g.medium,x86_64=t3.medium",
        "MaxLength": 1024,
    },
    "BaseParameterPaths": {"Type": "String", "Default": "", "MaxLength": 1024},
    "CreateSamplePipeline": {"Type": "String", "Default": "false", "AllowedValues": ["true", "false"]},
}


def test_every_new_parameter_has_its_type_default_and_bounds(synth: Synthesized) -> None:
    params = synth.template["Parameters"]
    for name, expected in NEW_PARAMETERS.items():
        param = params[name]
        assert {k: param.get(k) for k in expected} == expected, name
        assert param["Description"] and param["ConstraintDescription"].startswith(name), name
        assert {"AllowedValues", "AllowedPattern", "MinValue"} & set(param), name


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TagPolicyMode", "delete"),
        ("RequiredTags", "=^x$"),
        ("RequiredTags", "Owner\nTeam"),
        ("RequiredTags", "O" * 1025),
        ("TagGraceHours", "-1"),
        ("TagGraceHours", "8761"),
        ("TagEscalationDays", "3651"),
        ("PropagateTags", "Owner,,Team"),
        ("PropagateTags", "Owner=x"),
        ("TagSweepSchedule", "every day"),
        ("PublicSharingMode", "revoke"),
        ("PublicScanSchedule", "rate(0 hours)"),
        ("RebuildMode", "yes"),
        ("MaxImageAgeDays", "0"),
        ("MaxImageAgeDays", "3651"),
        ("RebuildSchedule", "cron(0 6 * *)"),
        ("FamilyPipelines", "web"),
        ("FamilyPipelines", "web=arn:aws:imagebuilder:eu-west-1:123456789012:image-pipeline/Web"),
        ("FamilyPipelines", "web=arn:aws:imagebuilder:eu-west-1:123456789012:image-recipe/web"),
        ("AutomationInstanceProfile", "bad profile"),
        ("AutomationSecurityGroupIds", "sg-123"),
        ("AutomationSecurityGroupIds", "sg-0123456789abcdef0, sg-0123456789abcdef1"),
        ("AutomationSubnetId", "subnet-xyz"),
        ("AutomationInstanceTypes", ""),
        ("AutomationInstanceTypes", "arm64"),
        ("AutomationInstanceTypes", "aarch64=t4g.medium"),
        ("AutomationInstanceTypes", "arm64=T4G.MEDIUM"),
        ("AutomationInstanceTypes", "arm64=t4g.medium, x86_64=t3.medium"),
        ("BaseParameterPaths", "golden"),
        ("BaseParameterPaths", "/golden/"),
        ("BaseParameterPaths", "/golden base"),
        ("BaseParameterPaths", "/golden, /team"),
        ("BaseParameterPaths", "/a,/b,/c,/d,/e,/f"),
        ("CreateSamplePipeline", "yes"),
    ],
)
def test_a_bad_new_parameter_is_refused_with_its_constraint(
    synth: Synthesized, name: str, value: str
) -> None:
    with pytest.raises(ParameterError) as refused:
        parameter_values(synth.template, {name: value})
    message = str(refused.value)
    assert synth.template["Parameters"][name]["ConstraintDescription"] in message or "number" in message


GOOD = {
    "TagPolicyMode": "report",
    "RequiredTags": r"Owner,Environment=^(prod|staging|dev)$,CostCenter=^\d{1\,4}$",
    "TagGraceHours": "0",
    "TagEscalationDays": "3650",
    "PropagateTags": "Owner,Cost Center,team:name",
    "TagSweepSchedule": "cron(0 7 * * ? *)",
    "PublicSharingMode": "enforce",
    "PublicScanSchedule": "rate(30 minutes)",
    "RebuildMode": "enforce",
    "MaxImageAgeDays": "3650",
    "RebuildSchedule": "rate(12 hours)",
    "FamilyPipelines": "web=arn:aws:imagebuilder:eu-west-1:123456789012:image-pipeline/web-al2023,"
    "db=arn:aws:imagebuilder:eu-west-1:123456789012:image-pipeline/db",
    "AutomationInstanceProfile": "ManagedInstanceProfile",
    "AutomationSecurityGroupIds": "sg-0123456789abcdef0,sg-01234567",
    "AutomationSubnetId": "subnet-0123456789abcdef0",
    "AutomationInstanceTypes": "arm64=m7g.large,x86_64=c7i.metal-24xl,i386=t2.medium,arm64_mac=mac2.metal",
    "BaseParameterPaths": "/golden,/team-a/images.v2,/a/b/c,/d,/e_f",
    "CreateSamplePipeline": "true",
}


def test_good_new_parameters_are_accepted_and_load_as_settings(synth: Synthesized) -> None:
    values = parameter_values(synth.template, GOOD)
    assert values.items() >= GOOD.items()
    # What CloudFormation lets through is what the functions accept.
    settings = Settings.load(
        {
            "AWS_REGION": REGION,
            "MODE": "enforce",
            "REQUIRED_TAGS": GOOD["RequiredTags"],
            "TAG_GRACE_HOURS": GOOD["TagGraceHours"],
            "TAG_ESCALATION_DAYS": GOOD["TagEscalationDays"],
            "PROPAGATE_TAGS": GOOD["PropagateTags"],
            "MAX_IMAGE_AGE_DAYS": GOOD["MaxImageAgeDays"],
            "FAMILY_PIPELINES": GOOD["FamilyPipelines"],
            "AUTOMATION_INSTANCE_PROFILE": GOOD["AutomationInstanceProfile"],
            "AUTOMATION_SECURITY_GROUP_IDS": GOOD["AutomationSecurityGroupIds"],
            "AUTOMATION_SUBNET_ID": GOOD["AutomationSubnetId"],
            "AUTOMATION_INSTANCE_TYPES": GOOD["AutomationInstanceTypes"],
            "BASE_PARAMETER_PATHS": GOOD["BaseParameterPaths"],
        }
    )
    assert [r.key for r in settings.required_tags] == ["Owner", "Environment", "CostCenter"]
    assert set(settings.family_pipelines) == {"web", "db"}
    assert settings.automation_security_group_ids == ("sg-0123456789abcdef0", "sg-01234567")
    assert settings.automation_instance_types["x86_64"] == "c7i.metal-24xl"
    assert settings.base_parameter_paths == ("/golden", "/team-a/images.v2", "/a/b/c", "/d", "/e_f")
    # The default too is what the function accepts, and means what the function's own default means.
    default = parameter_values(synth.template, {})["AutomationInstanceTypes"]
    assert dict(
        Settings.load({"AWS_REGION": REGION, "AUTOMATION_INSTANCE_TYPES": default}).automation_instance_types
    ) == (dict(Settings.load({"AWS_REGION": REGION}).automation_instance_types))


def test_new_parameters_are_grouped_and_labelled(synth: Synthesized) -> None:
    interface = synth.template["Metadata"]["AWS::CloudFormation::Interface"]
    groups = {g["Label"]["default"]: g["Parameters"] for g in interface["ParameterGroups"]}
    assert groups["Tag policy"] == [
        "TagPolicyMode",
        "RequiredTags",
        "TagGraceHours",
        "TagEscalationDays",
        "PropagateTags",
    ]
    assert groups["Public sharing"] == ["PublicSharingMode", "SharingChecksPerRun"]
    assert groups["Rebuild"][0] == "RebuildMode" and "CreateSamplePipeline" in groups["Rebuild"]
    assert {"TagSweepSchedule", "PublicScanSchedule", "RebuildSchedule"} <= set(groups["Where and when"])
    assert all(name in interface["ParameterLabels"] for name in NEW_PARAMETERS)


# -- the organization hub's parameters -----------------------------------------------------------

HUB_GIVEN = {"OrganizationalUnitIds": "ou-ab12-abcdefgh", "OrganizationId": "o-a1b2c3d4e5"}


@pytest.fixture(scope="module")
def hub_template() -> dict[str, Any]:
    from tests.helpers.synthesized import synthesize_organization

    return synthesize_organization().template


def test_the_hub_has_every_job_parameter_of_the_single_account_stack_with_the_same_name_and_meaning(
    template: dict[str, Any], hub_template: dict[str, Any]
) -> None:
    from infra.parameters import HUB_OMITTED, ORGANIZATION_SPECS

    single, hub = template["Parameters"], hub_template["Parameters"]
    assert set(HUB_OMITTED) <= set(single)
    assert set(hub) == (set(single) - set(HUB_OMITTED)) | {s.name for s in ORGANIZATION_SPECS}
    labels = [
        t["Metadata"]["AWS::CloudFormation::Interface"]["ParameterLabels"] for t in (template, hub_template)
    ]
    for name in set(single) - set(HUB_OMITTED):
        assert hub[name] == single[name], name  # type, default, constraints, description: all the same
        assert labels[1].get(name) == labels[0].get(name), name


def test_the_organization_parameters_come_first_in_the_console_and_every_parameter_is_grouped(
    hub_template: dict[str, Any],
) -> None:
    interface = hub_template["Metadata"]["AWS::CloudFormation::Interface"]
    groups = interface["ParameterGroups"]
    assert groups[0]["Label"]["default"] == "Organization"
    assert groups[0]["Parameters"][:2] == ["OrganizationalUnitIds", "OrganizationId"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(set(hub_template["Parameters"]) - {"BootstrapVersion"})
    assert all(name in interface["ParameterLabels"] for name in grouped)


def test_the_organization_parameters_and_their_defaults(hub_template: dict[str, Any]) -> None:
    with pytest.raises(ParameterError, match="OrganizationalUnitIds must have a value"):
        parameter_values(hub_template, {})
    values = parameter_values(hub_template, HUB_GIVEN)
    assert {
        k: values[k] for k in ("ExcludedAccounts", "MemberRoleName", "CallAs", "MaxConcurrentTargets")
    } == {
        "ExcludedAccounts": "",
        "MemberRoleName": "AmiHygieneMember",
        "CallAs": "SELF",
        "MaxConcurrentTargets": "20",
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OrganizationalUnitIds", ""),
        ("OrganizationalUnitIds", "ou-ab12-abcdefgh, r-ab12"),
        ("OrganizationalUnitIds", "ou-ab12"),
        ("OrganizationalUnitIds", "o-a1b2c3d4e5"),
        ("OrganizationalUnitIds", "r-ab12,,ou-ab12-abcdefgh"),
        ("OrganizationId", "o-short"),
        ("OrganizationId", "O-A1B2C3D4E5"),
        ("OrganizationId", "r-a1b2c3d4e5"),
        ("ExcludedAccounts", "1234"),
        ("ExcludedAccounts", "111122223333, 444455556666"),
        ("ExcludedAccounts", "111122223333,"),
        ("MemberRoleName", ""),
        ("MemberRoleName", "a role"),
        ("MemberRoleName", "r" * 65),
        ("CallAs", "ADMIN"),
        ("MaxConcurrentTargets", "0"),
        ("MaxConcurrentTargets", "1001"),
        ("MaxConcurrentTargets", "many"),
    ],
)
def test_a_bad_organization_parameter_is_refused_with_its_constraint(
    hub_template: dict[str, Any], name: str, value: str
) -> None:
    with pytest.raises(ParameterError) as refused:
        parameter_values(hub_template, {**HUB_GIVEN, name: value})
    message = str(refused.value)
    assert name in message
    assert (
        hub_template["Parameters"][name]["ConstraintDescription"] in message or "must be a number" in message
    )


@pytest.mark.parametrize(
    "given",
    [
        {"OrganizationalUnitIds": "r-ab12"},
        {"OrganizationalUnitIds": "r-ab12,ou-ab12-abcdefgh,ou-0123456789-0123456789abcdef"},
        {"ExcludedAccounts": "111122223333"},
        {"ExcludedAccounts": "111122223333,444455556666"},
        {"MemberRoleName": "Team+AMI=hygiene,v2.@-_"},
        {"CallAs": "DELEGATED_ADMIN", "MaxConcurrentTargets": "1000"},
        {"MaxConcurrentTargets": "1"},
    ],
)
def test_good_organization_parameters_are_accepted(
    hub_template: dict[str, Any], given: dict[str, str]
) -> None:
    assert parameter_values(hub_template, {**HUB_GIVEN, **given}).items() >= given.items()


def test_organization_patterns_agree_with_the_functions() -> None:
    """What CloudFormation lets through, the hub's functions accept (core/members.py)."""
    import re

    from ami_hygiene.core.members import PARENT_ID, parse_accounts
    from infra.parameters import HUB_SPECS

    specs = {spec.name: spec for spec in HUB_SPECS}
    units = specs["OrganizationalUnitIds"].allowed_pattern
    accounts = specs["ExcludedAccounts"].allowed_pattern
    assert units is not None and accounts is not None
    for good in ("r-ab12", "ou-ab12-abcdefgh", "ou-0123456789-0123456789abcdef"):
        assert re.fullmatch(units, good) and PARENT_ID.match(good), good
    for text in ("111122223333", "111122223333,444455556666"):
        assert re.fullmatch(accounts, text)
        assert parse_accounts(text) == tuple(text.split(","))
