"""Consumers: rotation never retires an image another account still uses, or whose use it cannot read.

Several accounts in the embedded AWS: credentials from STS AssumeRole act as the
role's account (sandbox/accounts.py makes AssumeRole need the role and its trust).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from ami_hygiene import cli
from ami_hygiene.core import members
from ami_hygiene.core.clients import Clients
from ami_hygiene.core.plan import Decision
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.rotate.run import run_rotation
from ami_hygiene.jobs.settings import Settings
from sandbox.accounts import create_role
from sandbox.demo import ACCOUNT_ID, CONSUMER_ROLE, Seeder, consumer_session
from tests.helpers.cli import run_cli
from tests.helpers.constants import OTHER_REGION, REAL_NOW, REGION
from tests.helpers.faults import deny
from tests.helpers.reasons import Reason

C1, C2, C3 = "111122223333", "444455556666", "777788889999"
# What a consumer account's usage costs, whatever the number of images: the page reads.
PAGE_READS = (
    "ec2.DescribeInstances",
    "ec2.DescribeLaunchTemplateVersions",
    "auto-scaling.DescribeAutoScalingGroups",
    "auto-scaling.DescribeLaunchConfigurations",
    "ssm.DescribeParameters",
)


@pytest.fixture
def seeder(aws: None) -> Iterator[Seeder]:
    yield Seeder(REGION, REAL_NOW)


def _old_images(s: Seeder, family: str, count: int) -> list[str]:
    """`count` images past the 90-day retention, behind the 3 newest of their family (which are kept)."""
    ages = [1, 31, 61] + [100 + k for k in range(count)]
    return s.family([(f"{family}-v{len(ages) - k}", age) for k, age in enumerate(ages)])[3:]


def _share(region: str, image_id: str, *principals: str) -> None:
    def permission(p: str) -> dict[str, str]:
        if p.isdigit():
            return {"UserId": p}
        return {"OrganizationalUnitArn": p} if ":ou/" in p else {"OrganizationArn": p}

    boto3.client("ec2", region_name=region).modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [permission(p) for p in principals]}
    )


def _rotate(
    mode: str = "report",
    *,
    regions: tuple[str, ...] = (REGION,),
    allowed: tuple[str, ...] = (C1, C2, C3),
    role: str = CONSUMER_ROLE,
    clients: Clients | None = None,
    **overrides: Any,
) -> Report:
    env = {
        "REGIONS": ",".join(regions),
        "ALLOWED_SHARE_ACCOUNTS": ",".join(allowed),
        "CONSUMER_ROLE_NAME": role,
    }
    settings = Settings.load(env, overrides={"mode": mode, **overrides})
    return run_rotation(settings, clients or Clients(), now=REAL_NOW)


def _decided(report: Report, image_id: str) -> Any:
    (found,) = [d for d in report.decisions if d.image_id == image_id]
    return found


def _cli(argv: list[str], env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    code, out = run_cli([*argv, "--format", "json"], env)
    return code, json.loads(out)


def _json_decision(report: dict[str, Any], image_id: str) -> dict[str, Any]:
    (found,) = [d for d in report["decisions"] if d["image_id"] == image_id]
    return found


# -- a consumer uses it: kept; it does not: retired ----------------------------------------------


def test_an_image_a_consumer_launch_template_uses_is_kept_and_one_it_does_not_use_is_retired(
    seeder: Seeder,
) -> None:
    used, unused = _old_images(seeder, "golden", 2)
    for image_id in (used, unused):
        _share(REGION, image_id, C1)
    ec2 = consumer_session(C1).client("ec2", region_name=REGION)
    template = ec2.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": "ami-0aaaaaaaaaaaaaaaa"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_launch_template_version(LaunchTemplateId=template, LaunchTemplateData={"ImageId": used})
    ec2.create_launch_template_version(
        LaunchTemplateId=template, LaunchTemplateData={"ImageId": "ami-0bbbbbbbbbbbbbbbb"}
    )
    ec2.modify_launch_template(LaunchTemplateId=template, DefaultVersion="2")

    report = _rotate("enforce")

    kept = _decided(report, used)
    assert kept.action.value == "keep"
    assert kept.reasons[0] == Reason(
        "kept", f"launch template {template}", "version 2, $Default", f"account {C1}"
    )
    assert Reason("consumers checked", f"{C1} (uses it)") in kept.reasons
    retired = _decided(report, unused)
    assert (retired.action.value, retired.outcome.value) == ("disable", "done")
    assert Reason("consumers checked", C1, "none uses it") in retired.reasons
    owner = boto3.client("ec2", region_name=REGION)
    states = {
        i["ImageId"]: i["State"]
        for i in owner.describe_images(ImageIds=[used, unused], IncludeDisabled=True)["Images"]
    }
    assert states == {used: "available", unused: "disabled"}
    assert report.all_errors == () and report.severity != "error"
    # The report says who was checked and what was found, for people and machines.
    data = report.to_dict()
    assert data["summary"]["consumers"] == {
        "accounts_checked": [C1],
        "accounts_failed": [],
        "images_kept_by_consumer_use": 1,
    }
    assert _json_decision(data, used)["consumers"] == {"checked": [C1], "using": [C1], "unknown": {}}
    assert _json_decision(data, unused)["consumers"] == {"checked": [C1], "using": [], "unknown": {}}
    assert data["api_calls_by_account"][C1]["ec2.DescribeInstances"] == 1
    assert data["api_calls_by_account"][ACCOUNT_ID]["sts.AssumeRole"] == 1
    assert "consumer accounts    1 checked; 1 images kept for their use" in report.render_text()


def test_an_image_a_consumer_stopped_instance_uses_is_kept(seeder: Seeder) -> None:
    (image_id,) = _old_images(seeder, "golden", 1)
    _share(REGION, image_id, C1)
    ec2 = consumer_session(C1).client("ec2", region_name=REGION)
    instance = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance])

    decision = _decided(_rotate("enforce"), image_id)
    assert decision.action.value == "keep"
    assert decision.reasons[0] == Reason("kept", f"instance {instance}", "stopped", f"account {C1}")


def test_an_image_named_by_a_consumer_ssm_parameter_is_kept(seeder: Seeder) -> None:
    (image_id,) = _old_images(seeder, "golden", 1)
    _share(REGION, image_id, C1)
    ssm = consumer_session(C1).client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/golden/approved", Value=image_id, Type="String", DataType="aws:ec2:image")

    decision = _decided(_rotate(), image_id)
    assert decision.action.value == "keep"
    assert decision.reasons[0] == Reason("kept", "SSM parameter /golden/approved", f"account {C1}")


# -- unknown means keep ---------------------------------------------------------------------------


def test_a_consumer_whose_role_cannot_be_assumed_keeps_what_is_shared_with_it_and_fails_the_run(
    seeder: Seeder,
) -> None:
    only_c2, both, only_c1 = _old_images(seeder, "golden", 3)
    _share(REGION, only_c2, C2)  # C2 has no role
    _share(REGION, both, C1, C2)
    _share(REGION, only_c1, C1)
    consumer_session(C1)  # C1 has one
    env = {"ALLOWED_SHARE_ACCOUNTS": f"{C1},{C2}", "CONSUMER_ROLE_NAME": CONSUMER_ROLE}

    code, report = _cli(["rotate", "--region", REGION, "--mode", "enforce"], env)

    assert code == 1
    role = f"arn:aws:iam::{C2}:role/{CONSUMER_ROLE}"
    for image_id in (only_c2, both):
        decision = _json_decision(report, image_id)
        assert decision["action"] == "keep", decision
        assert decision["reasons"][0] == Reason(
            "kept", f"account {C2}", "unknown", f"could not assume {role}", "AccessDenied"
        )
        assert decision["consumers"]["unknown"][C2].startswith(f"could not assume {role}")
    assert _json_decision(report, both)["consumers"]["checked"] == [C1]
    assert _json_decision(report, only_c1)["action"] == "disable"  # a readable consumer's image still retires
    [error] = [e for e in report["errors"] if C2 in e]
    assert error.startswith(f"could not read the use of images by account {C2} in {REGION} (could not assume")
    assert report["summary"]["consumers"]["accounts_failed"] == [C2]
    assert report["summary"]["consumers"]["accounts_checked"] == [C1]
    # One AssumeRole per account, however many images are shared with it.
    assert report["api_calls_by_account"][ACCOUNT_ID]["sts.AssumeRole"] == 2
    ec2 = boto3.client("ec2", region_name=REGION)
    states = {
        i["ImageId"]: i["State"]
        for i in ec2.describe_images(ImageIds=[only_c2, both], IncludeDisabled=True)["Images"]
    }
    assert states == {only_c2: "available", both: "available"}


def test_a_role_that_does_not_trust_this_account_is_unknown_too(seeder: Seeder) -> None:
    (image_id,) = _old_images(seeder, "golden", 1)
    _share(REGION, image_id, C1)
    create_role(C1, CONSUMER_ROLE, trusted=(C3,))  # trusts someone else
    report = _rotate()
    decision = _decided(report, image_id)
    assert decision.action.value == "keep" and decision.reasons[0] == Reason("AccessDenied")
    assert report.severity == "error"


def test_a_consumer_read_that_is_denied_keeps_the_image(
    seeder: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    (image_id,) = _old_images(seeder, "golden", 1)
    _share(REGION, image_id, C1)
    consumer_session(C1)

    def denied_clients(session: boto3.Session) -> Clients:
        deny(session, "ec2", "DescribeLaunchTemplateVersions", "UnauthorizedOperation")
        return Clients(session)

    monkeypatch.setattr(members, "Clients", denied_clients)  # the Clients of an assumed role
    report = _rotate()
    decision = _decided(report, image_id)
    assert decision.action.value == "keep"
    assert decision.reasons[0] == Reason(
        "kept", f"account {C1}", "unknown", "could not read launch-templates", "UnauthorizedOperation"
    )
    assert any(C1 in e and "launch-templates" in e for e in report.all_errors)
    assert report.severity == "error"


# -- organizations and OUs ------------------------------------------------------------------------


def test_an_organization_share_covers_its_accounts_and_an_ou_share_its_child_ous(seeder: Seeder) -> None:
    org = boto3.client("organizations", region_name=REGION)
    organization = org.create_organization(FeatureSet="ALL")["Organization"]["Arn"]
    root = org.list_roots()["Roots"][0]["Id"]
    workloads = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]
    team = org.create_organizational_unit(ParentId=workloads["Id"], Name="team")["OrganizationalUnit"]

    def account(name: str, parent: str) -> str:
        created = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        org.move_account(AccountId=created["AccountId"], SourceParentId=root, DestinationParentId=parent)
        return str(created["AccountId"])

    in_ou, in_child, in_root = account("x", workloads["Id"]), account("y", team["Id"]), account("z", root)
    sessions = {a: consumer_session(a) for a in (in_ou, in_child, in_root)}
    by_ou_used, by_ou_unused, by_org_used, by_org_unused = _old_images(seeder, "golden", 4)
    for image_id in (by_ou_used, by_ou_unused):
        _share(REGION, image_id, workloads["Arn"])
    for image_id in (by_org_used, by_org_unused):
        _share(REGION, image_id, organization)
    # The child OU's account names one image; an account outside the OU, the other.
    sessions[in_child].client("ssm", region_name=REGION).put_parameter(
        Name="/golden/ami", Value=by_ou_used, Type="String", DataType="aws:ec2:image"
    )
    sessions[in_root].client("autoscaling", region_name=REGION).create_launch_configuration(
        LaunchConfigurationName="legacy", ImageId=by_org_used, InstanceType="t3.micro"
    )

    report = _rotate(allowed=(organization, workloads["Arn"]))

    ou_used = _decided(report, by_ou_used)
    assert ou_used.action.value == "keep"
    assert ou_used.reasons[0] == Reason("kept", "SSM parameter /golden/ami", f"account {in_child}")
    assert ou_used.consumers_checked == tuple(sorted((in_ou, in_child)))  # the OU and the OU below it
    ou_unused = _decided(report, by_ou_unused)
    assert ou_unused.action.value == "disable" and ou_unused.consumers_checked == ou_used.consumers_checked
    org_used = _decided(report, by_org_used)
    assert org_used.action.value == "keep"
    assert org_used.reasons[0] == Reason("kept", "launch configuration legacy", f"account {in_root}")
    # Every account of the organization but this one.
    assert org_used.consumers_checked == tuple(sorted((in_ou, in_child, in_root)))
    assert _decided(report, by_org_unused).action.value == "disable"
    assert report.all_errors == ()
    # Each account was read once although two or four images are shared with it.
    for consumer in (in_ou, in_child, in_root):
        assert report.calls_by_account()[consumer]["ec2.DescribeInstances"] == 1
    assert report.calls_by_account()[ACCOUNT_ID]["organizations.ListAccounts"] == 1


def test_an_organization_whose_accounts_cannot_be_listed_keeps_its_images(seeder: Seeder) -> None:
    organization = "arn:aws:organizations::999988887777:organization/o-abcdef1234"
    (image_id,) = _old_images(seeder, "golden", 1)
    _share(REGION, image_id, organization)

    report = _rotate(allowed=(organization,))  # this account is in no organization

    decision = _decided(report, image_id)
    assert decision.action.value == "keep"
    assert decision.reasons[0] == Reason(
        "kept",
        f"the accounts of {organization}",
        "unknown",
        "could not list its accounts",
        "AWSOrganizationsNotInUseException",
    )
    assert any(organization in e for e in report.all_errors) and report.severity == "error"


# -- cost: accounts x regions x pages, not images -------------------------------------------------


def _seed_shared(region: str, count: int) -> None:
    s = Seeder(region, REAL_NOW)
    for image_id in _old_images(s, f"fleet-{count}", count):
        _share(region, image_id, C1, C2, C3)


def test_consumer_reads_grow_with_accounts_and_regions_not_with_images(aws: None) -> None:
    for account in (C1, C2, C3):
        consumer_session(account)
    _seed_shared(REGION, 3)
    _seed_shared(OTHER_REGION, 30)

    few = _rotate(regions=(REGION,))
    many = _rotate(regions=(OTHER_REGION,))

    assert sum(d.action.value == "disable" for d in few.decisions) == 3
    assert sum(d.action.value == "disable" for d in many.decisions) == 30
    for report in (few, many):
        assert report.calls_by_account()[ACCOUNT_ID]["sts.AssumeRole"] == 3  # one session per account
    for account in (C1, C2, C3):
        small, large = few.calls_by_account()[account], many.calls_by_account()[account]
        assert (
            {op: small[op] for op in PAGE_READS}
            == {op: large[op] for op in PAGE_READS}
            == dict.fromkeys(PAGE_READS, 1)
        )
        # Only the reference checks grow: 10 image ids a request.
        assert (small["ec2.DescribeImageReferences"], large["ec2.DescribeImageReferences"]) == (1, 3)
        assert set(large) - {"ec2.DescribeImageReferences"} == set(small) - {"ec2.DescribeImageReferences"}

    # Both regions in one run: each account is assumed once, and read once per region.
    both = _rotate(regions=(REGION, OTHER_REGION))
    assert both.calls_by_account()[ACCOUNT_ID]["sts.AssumeRole"] == 3
    for account in (C1, C2, C3):
        assert both.calls_by_account()[account]["ec2.DescribeInstances"] == 2
        assert both.calls_by_account()[account]["ec2.DescribeImageReferences"] == 4


def test_a_kept_image_frees_its_place_and_the_next_round_reads_no_consumer_again(seeder: Seeder) -> None:
    oldest, older, old = reversed(_old_images(seeder, "golden", 3))
    for image_id in (oldest, older, old):
        _share(REGION, image_id, C1)
    ec2 = consumer_session(C1).client("ec2", region_name=REGION)
    for image_id in (oldest, older):  # the budget goes to the oldest first
        ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)

    report = _rotate(max_actions=1)

    assert [_decided(report, i).action.value for i in (oldest, older, old)] == ["keep", "keep", "disable"]
    calls = report.calls_by_account()[C1]
    assert calls["ec2.DescribeInstances"] == 1  # read once, though three rounds asked about it
    assert calls["ec2.DescribeImageReferences"] == 3  # one new image id each round


def test_only_regions_holding_candidates_are_read(aws: None) -> None:
    consumer_session(C1)
    s = Seeder(REGION, REAL_NOW)
    (image_id,) = _old_images(s, "golden", 1)
    _share(REGION, image_id, C1)
    Seeder(OTHER_REGION, REAL_NOW).family([("quiet-v1", 1)])  # nothing to retire there

    report = _rotate(regions=(REGION, OTHER_REGION))
    assert report.calls_by_account()[C1]["ec2.DescribeInstances"] == 1


# -- without a consumer role ----------------------------------------------------------------------


def test_without_a_consumer_role_an_allow_listed_share_is_kept_unless_told_to_retire(seeder: Seeder) -> None:
    (image_id,) = _old_images(seeder, "golden", 1)
    _share(REGION, image_id, C1)
    env = {"ALLOWED_SHARE_ACCOUNTS": C1}

    code, kept = _cli(["rotate"], env)
    assert code == 0  # a setting, not an error
    assert _json_decision(kept, image_id)["reasons"][0] == Reason(
        "kept",
        f"shared with {C1}",
        "use of it is unknown",
        "no ConsumerRoleName",
        "ConsumerUsageUnknown=retire",
    )
    assert (
        kept["settings"]["consumer_usage_unknown"] == "keep" and kept["settings"]["consumer_role_name"] == ""
    )
    assert "sts.AssumeRole" not in kept["api_calls"]

    code, retired = _cli(["rotate", "--consumer-usage-unknown", "retire"], env)
    assert code == 0 and _json_decision(retired, image_id)["action"] == "disable"
    code, retired = _cli(["rotate"], {**env, "CONSUMER_USAGE_UNKNOWN": "retire"})
    assert code == 0 and _json_decision(retired, image_id)["action"] == "disable"


def test_the_consumer_role_flag_overrides_the_environment(seeder: Seeder) -> None:
    (image_id,) = _old_images(seeder, "golden", 1)
    _share(REGION, image_id, C1)
    consumer_session(C1, role="team/reader")
    env = {"ALLOWED_SHARE_ACCOUNTS": C1, "CONSUMER_ROLE_NAME": "missing"}

    code, report = _cli(["rotate", "--consumer-role-name", "team/reader"], env)
    assert code == 0, report["errors"]
    decision = _json_decision(report, image_id)
    assert decision["action"] == "disable" and decision["consumers"]["checked"] == [C1]


def test_bad_consumer_settings_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert (
        cli.main(["rotate"], env={"AWS_REGION": REGION, "CONSUMER_ROLE_NAME": "no spaces"}, stdout=out) == 2
    )
    assert "CONSUMER_ROLE_NAME must be an IAM role name" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["rotate", "--consumer-usage-unknown", "maybe"], env={"AWS_REGION": REGION}, stdout=out)


def test_a_decision_without_consumers_has_no_consumer_fields(seeder: Seeder) -> None:
    (image_id,) = _old_images(seeder, "golden", 1)
    decision: Decision = _decided(_rotate(), image_id)
    assert decision.details() == {} and decision.action.value == "disable"
