"""A Target Sweep: the job runs in one member account and region, by its member role.

What the hub's state machine sends a job's function for each account x region. The job
acts in the member account only (never the hub's), stores its report and result under the
run's prefix, publishes only critical findings on their own, and answers its result; an
account whose role cannot be assumed is "unreachable", with the AWS error, and nothing
raises. Bad input is refused and nothing is read, changed or written.
"""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.lease import EXPIRES_AT, HOLDER, KEY
from ami_hygiene.core.members import AccountUnreachable
from ami_hygiene.handlers.common import handle
from ami_hygiene.handlers.public import PUBLIC
from ami_hygiene.handlers.rotate import ROTATE
from ami_hygiene.organization import hub as hub_module
from ami_hygiene.organization.events import run_prefix
from tests.aws.organization.conftest import (
    LEASE_TABLE,
    RUN,
    Org,
    context,
    image_in,
    member_session,
)
from tests.helpers.constants import ACCOUNT, OTHER_REGION, REGION
from tests.helpers.hostile import HUGE
from tests.helpers.jobs import with_run
from tests.helpers.organization import images_of, seed_images
from tests.helpers.sandbox import client_error, is_public, make_public


def sweep_event(org: Org, account: str, *, job: str = "public", region: str = REGION) -> dict[str, Any]:
    return {
        "source": "ami-hygiene.organization",
        "detail-type": "Target Sweep",
        "job": job,
        "account": account,
        "region": region,
        "run": RUN,
        "bucket": org.bucket,
        "prefix": run_prefix(job, RUN),
    }


def _public_image(account: str, region: str = REGION) -> tuple[Any, str]:
    ec2 = member_session(account).client("ec2", region_name=region)
    image = image_in(ec2, f"public-{account}")
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]})
    return ec2, image


def _public_in(ec2: Any, image: str) -> bool:
    found = ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")["LaunchPermissions"]
    return {"Group": "all"} in found


def _never_run(job: Any) -> Any:
    def run(*_: Any) -> Any:
        raise AssertionError("the job ran on a Target Sweep it must refuse")

    return with_run(job, run)


# -- a member's images, in the member account ----------------------------------------------------


def test_the_public_guard_revokes_a_members_public_image_in_the_member_account_only(org: Org) -> None:
    member_ec2, member_image = _public_image(org.m1)
    hub_image = make_public(image_in(boto3.client("ec2", region_name=REGION), "the-hubs-own"))

    answer = handle(PUBLIC, sweep_event(org, org.m1), context(), org.env(), Clients())

    assert answer["status"] == "completed" and (answer["account"], answer["region"]) == (org.m1, REGION)
    assert not _public_in(member_ec2, member_image)
    assert is_public(hub_image)  # the hub's own account is not a target: untouched
    prefix = run_prefix("public", RUN)
    report_key, result_key = (
        f"{prefix}reports/{org.m1}-{REGION}.json",
        f"{prefix}results/{org.m1}-{REGION}.json",
    )
    assert org.keys(prefix) == [report_key, result_key]
    report = org.read(report_key)
    assert report["account"] == org.m1 and report["regions"] == [REGION]
    decided = {d["image_id"]: d["outcome"] for d in report["decisions"]}
    assert decided[member_image] == "done" and hub_image not in decided
    assert org.read(result_key) == answer and answer["report"] == f"s3://{org.bucket}/{report_key}"
    # A public image needs a person at once: its own message, naming the member account.
    (message,) = org.messages()
    attributes = {k: v["Value"] for k, v in message["MessageAttributes"].items()}
    assert attributes["severity"] == "critical" and attributes["account"] == org.m1
    assert org.m1 in message["Subject"] or org.m1 in message["Message"]


def test_findings_below_critical_wait_for_the_digest(org: Org) -> None:
    member_ec2, image = _public_image(org.m2)
    answer = handle(PUBLIC, sweep_event(org, org.m2), context(), org.env(MODE="report"), Clients())
    assert answer["status"] == "completed" and _public_in(member_ec2, image)  # report mode changes nothing
    assert answer["summary"]["would_change"] is True
    # Report mode plans the revocation: the finding is still critical, and still told at once.
    assert [m["MessageAttributes"]["severity"]["Value"] for m in org.messages()] == ["critical"]

    # A clean target says nothing on its own.
    answer = handle(PUBLIC, sweep_event(org, org.m1), context(), org.env(), Clients())
    assert answer["status"] == "completed" and org.messages() == []


def test_rotation_retires_a_members_old_images_in_the_member_account(org: Org) -> None:
    session = member_session(org.m1)
    images = seed_images(
        session, REGION, [("web-v1", 400), ("web-v2", 300), ("web-v3", 200), ("web-v4", 100)]
    )
    hub_images = seed_images(boto3.Session(), REGION, [("web-v1", 400), ("web-v2", 300)])

    env = org.env(KEEP_LATEST="1", RETENTION_DAYS="30")
    answer = handle(ROTATE, sweep_event(org, org.m1, job="rotate"), context(), env, Clients())

    assert answer["status"] == "completed", answer
    assert answer["summary"]["disabled"] == 3
    report = org.read(answer["report"].removeprefix(f"s3://{org.bucket}/"))
    assert report["account"] == org.m1
    assert images_of(session, REGION) == {**dict.fromkeys(images[:3], "disabled"), images[3]: "available"}
    assert images_of(boto3.Session(), REGION) == dict.fromkeys(hub_images, "available")


# -- an account that cannot be reached -------------------------------------------------------------


def test_an_account_whose_role_cannot_be_assumed_is_unreachable_with_the_aws_error(org: Org) -> None:
    answer = handle(_never_run(PUBLIC), sweep_event(org, org.no_role), context(), org.env(), Clients())

    assert answer["status"] == "unreachable"
    assert "AccessDenied" in answer["error"]
    assert f"arn:aws:iam::{org.no_role}:role/AmiHygieneMember" in answer["error"]
    prefix = run_prefix("public", RUN)
    assert org.keys(prefix) == [f"{prefix}results/{org.no_role}-{REGION}.json"]
    assert org.read(f"{prefix}results/{org.no_role}-{REGION}.json") == answer
    assert org.messages() == []  # the digest tells


def test_transient_trouble_assuming_the_role_raises_for_the_state_machines_retry(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(*_: Any, **__: Any) -> Any:
        cause = client_error("Throttling", 400, "AssumeRole")
        raise AccountUnreachable(org.m1, "arn", "Throttling: m", code="Throttling", transient=True) from cause

    monkeypatch.setattr(hub_module, "member_clients", throttled)
    with pytest.raises(ClientError) as caught:
        handle(_never_run(PUBLIC), sweep_event(org, org.m1), context(), org.env(), Clients())
    assert caught.value.response["Error"]["Code"] == "Throttling"
    assert org.keys("organization/") == []


def test_a_sweep_that_raises_is_its_targets_failed_result_not_the_others(org: Org) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("the job broke")

    answer = handle(with_run(PUBLIC, broken), sweep_event(org, org.m1), context(), org.env(), Clients())
    assert answer["status"] == "failed" and "RuntimeError: the job broke" in answer["error"]
    assert org.read(f"{run_prefix('public', RUN)}results/{org.m1}-{REGION}.json") == answer
    # The next target runs as if nothing happened.
    assert handle(PUBLIC, sweep_event(org, org.m2), context(), org.env(), Clients())["status"] == "completed"


# -- one target at a time, targets side by side -------------------------------------------------


def _hold(name: str) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=LEASE_TABLE,
        Item={KEY: {"S": name}, HOLDER: {"S": "another-run"}, EXPIRES_AT: {"N": "4102444800"}},
    )


def test_the_same_target_never_runs_twice_at_once_but_other_targets_do(org: Org) -> None:
    member_ec2, image = _public_image(org.m1)
    _hold(f"public:{org.m1}:{REGION}")

    held = handle(_never_run(PUBLIC), sweep_event(org, org.m1), context(), org.env(), Clients())
    assert held["status"] == "failed" and "another-run" in held["error"] and "lease" in held["error"]
    assert _public_in(member_ec2, image)

    # The same account in another region, and another account, have leases of their own.
    other = handle(PUBLIC, sweep_event(org, org.m1, region=OTHER_REGION), context(), org.env(), Clients())
    assert other["status"] == "completed"
    assert handle(PUBLIC, sweep_event(org, org.m2), context(), org.env(), Clients())["status"] == "completed"
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=LEASE_TABLE)["Items"]
    assert [i[KEY]["S"] for i in items] == [f"public:{org.m1}:{REGION}"]  # theirs were given back


# -- refused: nothing read, changed or written ------------------------------------------------------


def _broken(org: Org, change: dict[str, Any], drop: str = "") -> dict[str, Any]:
    event = copy.deepcopy(sweep_event(org, org.m1))
    event.update(change)
    event.pop(drop, None)
    return event


BAD_EVENTS: dict[str, tuple[dict[str, Any], str, str]] = {
    "another job": ({"job": "tags"}, "", "job"),
    "an unknown job": ({"job": "nope"}, "", "job"),
    "a malformed account": ({"account": "12345"}, "", "account"),
    "a number for the account": ({"account": 123456789012}, "", "account"),
    "a malformed region": ({"region": "EU-West-1"}, "", "region"),
    "a huge region": ({"region": HUGE}, "", "region"),
    "another prefix": ({"prefix": "organization/public/other/"}, "", "prefix"),
    "a path in the run": ({"run": "../x"}, "", "run"),
    "a malformed bucket": ({"bucket": "Not_A_Bucket"}, "", "bucket"),
    "an extra key": ({"detail": {}}, "", "detail"),
    "no account": ({}, "account", "account"),
    "another detail-type": ({"detail-type": "Scheduled Event"}, "", "detail-type"),
}


@pytest.mark.parametrize("case", list(BAD_EVENTS))
def test_a_malformed_target_sweep_is_refused_and_nothing_is_changed(org: Org, case: str) -> None:
    member_ec2, image = _public_image(org.m1)
    change, drop, field = BAD_EVENTS[case]

    answer = handle(_never_run(PUBLIC), _broken(org, change, drop), context(), org.env(), Clients())

    assert answer["status"] == "rejected" and answer["error"] == "event not acted on"
    assert field in answer["detail"] and HUGE[:81] not in answer["detail"]
    assert _public_in(member_ec2, image) and org.keys() == []
    (message,) = org.messages()
    assert message["MessageAttributes"]["severity"]["Value"] == "error"


def test_a_target_sweep_for_an_excluded_account_is_refused(org: Org) -> None:
    member_ec2, image = _public_image(org.excluded)
    answer = handle(_never_run(PUBLIC), sweep_event(org, org.excluded), context(), org.env(), Clients())
    assert answer["status"] == "rejected"
    assert answer["detail"] == f"account {org.excluded} is in EXCLUDED_ACCOUNTS: the hub never acts in it"
    assert _public_in(member_ec2, image) and org.keys() == []


def test_a_target_sweep_naming_another_bucket_or_a_region_outside_regions_is_refused(org: Org) -> None:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="someone-elses", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    answer = handle(
        _never_run(PUBLIC), _broken(org, {"bucket": "someone-elses"}), context(), org.env(), Clients()
    )
    assert answer["status"] == "rejected" and "not this hub's report bucket" in answer["detail"]
    outside = _broken(org, {"region": "ap-south-1"})
    answer = handle(_never_run(PUBLIC), outside, context(), org.env(), Clients())
    assert answer["status"] == "rejected" and "is not one of Regions" in answer["detail"]
    assert (
        org.keys() == []
        and boto3.client("s3", region_name=REGION).list_objects_v2(Bucket="someone-elses").get("KeyCount")
        == 0
    )


def test_outside_hub_mode_a_target_sweep_is_refused(org: Org) -> None:
    member_ec2, image = _public_image(org.m1)
    env = org.env()
    del env["MEMBER_ROLE_NAME"]

    answer = handle(_never_run(PUBLIC), sweep_event(org, org.m1), context(), env, Clients())

    assert answer["status"] == "rejected" and answer["error"] == "event not acted on"
    assert "not in hub mode (MEMBER_ROLE_NAME is not set)" in answer["detail"]
    assert _public_in(member_ec2, image) and org.keys() == []


def test_bad_hub_settings_are_refused(org: Org) -> None:
    for change in ({"MEMBER_ROLE_NAME": "bad name!"}, {"EXCLUDED_ACCOUNTS": "12345"}, {"REPORT_BUCKET": ""}):
        answer = handle(_never_run(PUBLIC), sweep_event(org, org.m1), context(), org.env(**change), Clients())
        assert answer["status"] == "rejected" and answer["error"] == "bad settings"
        assert next(iter(change)) in answer["detail"]
    assert org.keys() == []


def test_in_hub_mode_a_scheduled_event_is_refused(org: Org) -> None:
    from tests.helpers.events import scheduled_event

    answer = handle(_never_run(PUBLIC), scheduled_event(account=ACCOUNT), context(), org.env(), Clients())
    assert answer["status"] == "rejected" and "state machine" in answer["detail"]
