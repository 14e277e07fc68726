"""Real-time events in the hub: a member account's event, from the hub bus, acted on in that account.

The member's forwarding rules send its events to the hub's bus, keeping the member account
in the envelope. The hub's job function assumes that account's member role and acts in
the event's region; an excluded account is refused; the job's own writes there (made by
the member role) are ignored. Outside hub mode another account's event is refused, as
always (tests/aws/handlers/test_events.py).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from ami_hygiene.core.clients import Clients
from ami_hygiene.handlers.common import handle
from ami_hygiene.handlers.public import PUBLIC
from ami_hygiene.handlers.tags import TAGS
from tests.aws.organization.conftest import MEMBER_ROLE, Org, context, image_in, member_session
from tests.helpers.constants import ACCOUNT, OTHER_REGION, REGION
from tests.helpers.events import cloudtrail_event
from tests.helpers.jobs import with_run
from tests.helpers.sandbox import is_public, make_public


def _made_public(
    org: Org, account: str, region: str = REGION, *, actor_role: str = "Builder"
) -> tuple[Any, str, dict[str, Any]]:
    """A public image in `account` and the CloudTrail event that made it public, from the hub bus."""
    ec2 = member_session(account).client("ec2", region_name=region)
    image = image_in(ec2, "shared-by-mistake")
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]})
    event = cloudtrail_event(
        "public/image_public.json",
        account=account,
        region=region,
        actor=f"arn:aws:sts::{account}:assumed-role/{actor_role}/s",
    )
    event["detail"]["requestParameters"]["imageId"] = image
    event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = (
        f"arn:aws:iam::{account}:role/{actor_role}"
    )
    return ec2, image, event


def _public_in(ec2: Any, image: str) -> bool:
    found = ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")["LaunchPermissions"]
    return {"Group": "all"} in found


def _never_run(job: Any) -> Any:
    def run(*_: Any) -> Any:
        raise AssertionError("the job ran on an event it must not act on")

    return with_run(job, run)


@pytest.mark.parametrize("region", [REGION, OTHER_REGION])
def test_a_members_sharing_event_is_acted_on_in_the_member_account_and_region(org: Org, region: str) -> None:
    ec2, image, event = _made_public(org, org.m2, region)
    hub_image = make_public(image_in(boto3.client("ec2", region_name=REGION), "the-hubs-own"))

    answer = handle(PUBLIC, event, context(), org.env(), Clients())

    assert answer["status"] == "completed", answer
    assert not _public_in(ec2, image)
    assert is_public(hub_image)
    (message,) = org.messages()  # the job's own message, from the hub, naming the member
    attributes = {k: v["Value"] for k, v in message["MessageAttributes"].items()}
    assert attributes["account"] == org.m2 and attributes["region"] == region


def test_a_members_new_image_is_tagged_in_the_member_account(org: Org) -> None:
    ec2 = member_session(org.m1).client("ec2", region_name=REGION)
    image = image_in(ec2, "web-1")
    event = cloudtrail_event(
        "tags/create_image.json", account=org.m1, actor=f"arn:aws:sts::{org.m1}:assumed-role/B/s"
    )
    event["detail"]["responseElements"]["imageId"] = image

    answer = handle(TAGS, event, context(), org.env(REQUIRED_TAGS="Owner"), Clients())

    assert answer["status"] == "completed", answer
    (described,) = ec2.describe_images(ImageIds=[image])["Images"]
    tags = {t["Key"]: t["Value"] for t in described.get("Tags", [])}
    assert tags["ami-hygiene:created-by"] == f"arn:aws:sts::{org.m1}:assumed-role/B/s"


def test_an_excluded_accounts_event_is_refused_and_nothing_is_changed(org: Org) -> None:
    ec2, image, event = _made_public(org, org.excluded)
    answer = handle(_never_run(PUBLIC), event, context(), org.env(), Clients())
    assert answer["status"] == "rejected" and answer["error"] == "event not acted on"
    assert answer["detail"] == f"account {org.excluded} is in EXCLUDED_ACCOUNTS: the hub never acts in it"
    assert _public_in(ec2, image)


def test_the_jobs_own_write_in_a_member_account_is_ignored(org: Org) -> None:
    ec2, image, event = _made_public(org, org.m1, actor_role=MEMBER_ROLE)
    answer = handle(_never_run(PUBLIC), event, context(), org.env(), Clients())
    assert answer["status"] == "ignored" and _public_in(ec2, image)
    assert answer["detail"] == f"made by ami-hygiene itself (arn:aws:iam::{org.m1}:role/{MEMBER_ROLE})"
    # The member role of another account is not this account's own write.
    _, _, other = _made_public(org, org.m2)
    other["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = (
        f"arn:aws:iam::{org.m1}:role/{MEMBER_ROLE}"
    )
    assert handle(PUBLIC, other, context(), org.env(), Clients())["status"] == "completed"


def test_an_account_whose_member_role_cannot_be_assumed_is_refused_with_the_aws_error(org: Org) -> None:
    ec2 = boto3.Session().client("ec2", region_name=REGION)
    event = cloudtrail_event(
        "public/image_public.json", account=org.no_role, actor=f"arn:aws:sts::{org.no_role}:assumed-role/B/s"
    )
    answer = handle(_never_run(PUBLIC), event, context(), org.env(), Clients())
    assert answer["status"] == "rejected" and "AccessDenied" in answer["detail"]
    assert f"arn:aws:iam::{org.no_role}:role/{MEMBER_ROLE}" in answer["detail"]
    assert ec2.describe_images(Owners=["self"])["Images"] == []


def test_a_member_event_whose_record_names_another_account_is_refused(org: Org) -> None:
    ec2, image, event = _made_public(org, org.m1)
    event["detail"]["recipientAccountId"] = org.m2
    answer = handle(_never_run(PUBLIC), event, context(), org.env(), Clients())
    assert answer["status"] == "rejected" and f"event is for account {org.m2}" in answer["detail"]
    assert _public_in(ec2, image)


def test_outside_hub_mode_a_members_event_is_still_refused(org: Org) -> None:
    ec2, image, event = _made_public(org, org.m1)
    env = org.env()
    del env["MEMBER_ROLE_NAME"]
    answer = handle(_never_run(PUBLIC), event, context(), env, Clients())
    assert (
        answer["status"] == "rejected"
        and answer["detail"] == f"event is for account {org.m1}, not this account {ACCOUNT}"
    )
    assert _public_in(ec2, image)
