"""Member accounts in the embedded AWS: assuming their role, what an unreachable one says, and
listing an organization's ACTIVE accounts through nested OUs."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.members import (
    Account,
    AccountUnreachable,
    member_clients,
    organization_accounts,
    role_arn,
)
from tests.helpers.constants import ACCOUNT, OTHER_REGION, REGION
from tests.helpers.organization import (
    MEMBER_ROLE,
    add_account,
    create_organization,
    member_role,
    seed_images,
    suspend,
)

NOBODY = "210987654321"  # an account where no role exists


def test_the_member_clients_act_as_the_member_account(aws: None) -> None:
    org = create_organization([""])
    (member,) = org.accounts
    (image_id,) = seed_images(org.session(member, OTHER_REGION), OTHER_REGION, [("web-v1", 10)])
    base = Clients()

    clients = member_clients(base, member, MEMBER_ROLE, OTHER_REGION)

    assert clients.account_id(OTHER_REGION) == member
    identity = clients.sts(OTHER_REGION).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{member}:assumed-role/{MEMBER_ROLE}/ami-hygiene"
    owned = clients.ec2(OTHER_REGION).describe_images(Owners=["self"])["Images"]
    assert [i["ImageId"] for i in owned] == [image_id]
    # The hub's own account sees none of it.
    assert boto3.client("ec2", region_name=OTHER_REGION).describe_images(Owners=["self"])["Images"] == []
    # AssumeRole counts where it was made; the member's calls in the member's Clients.
    assert base.counter.calls["sts.AssumeRole"] == 1
    assert clients.counter.calls["ec2.DescribeImages"] == 1 and "sts.AssumeRole" not in clients.counter.calls


def test_a_role_under_a_path_and_a_session_name_of_ones_own(aws: None) -> None:
    member_role(NOBODY, "team/reader")
    clients = member_clients(Clients(), NOBODY, "/team/reader", REGION, session_name="ami-hygiene-cli-rotate")
    arn = clients.sts(REGION).get_caller_identity()["Arn"]
    assert arn == f"arn:aws:sts::{NOBODY}:assumed-role/reader/ami-hygiene-cli-rotate"


@pytest.mark.parametrize("trust", ["missing", "someone else"])
def test_an_account_whose_role_cannot_be_assumed_is_unreachable_naming_the_aws_error(
    aws: None, trust: str
) -> None:
    if trust == "someone else":
        member_role(NOBODY, MEMBER_ROLE, trusted="arn:aws:iam::999988887777:root")
    arn = f"arn:aws:iam::{NOBODY}:role/{MEMBER_ROLE}"

    with pytest.raises(AccountUnreachable) as caught:
        member_clients(Clients(), NOBODY, MEMBER_ROLE, REGION)

    err = caught.value
    assert (err.account, err.role_arn, err.code, err.transient) == (NOBODY, arn, "AccessDenied", False)
    assert str(err) == (
        f"account {NOBODY}: could not assume {arn} (AccessDenied: User: arn:aws:iam::{ACCOUNT}:root "
        f"is not authorized to perform: sts:AssumeRole on resource: {arn})"
    )
    assert "\n" not in str(err)
    assert isinstance(err.__cause__, ClientError)


def test_the_role_arn_is_in_the_regions_partition() -> None:
    clients = Clients()
    assert role_arn(clients, NOBODY, MEMBER_ROLE, REGION) == f"arn:aws:iam::{NOBODY}:role/{MEMBER_ROLE}"
    assert role_arn(clients, NOBODY, "x", "cn-north-1") == f"arn:aws-cn:iam::{NOBODY}:role/x"
    assert role_arn(clients, NOBODY, "x", "us-gov-west-1") == f"arn:aws-us-gov:iam::{NOBODY}:role/x"


# -- the organization's accounts ---------------------------------------------------------------


def test_the_organizations_active_accounts_through_nested_ous_without_the_suspended(aws: None) -> None:
    org = create_organization(["workloads", "workloads/team", "workloads/team", "", "sandbox"])
    in_ou, in_child, closed, in_root, elsewhere = org.accounts
    suspend(closed)
    clients = Clients()

    everyone = organization_accounts(clients, REGION)
    under_workloads = organization_accounts(clients, REGION, [org.units["workloads"]])
    two_units = organization_accounts(clients, REGION, [org.units["workloads/team"], org.units["sandbox"]])
    from_root = organization_accounts(clients, REGION, [org.root])

    assert [a.id for a in everyone] == sorted((ACCOUNT, in_ou, in_child, in_root, elsewhere))
    assert Account(in_child, "member-1", "ACTIVE") in everyone
    assert closed not in {a.id for a in everyone}
    assert [a.id for a in under_workloads] == sorted((in_ou, in_child))  # and the OU below it
    assert [a.id for a in two_units] == sorted((in_child, elsewhere))
    assert [a.id for a in from_root] == [a.id for a in everyone]
    assert all(a.status == "ACTIVE" for a in everyone)
    # A page of 20 at most: 6 accounts, one ListAccounts call.
    assert clients.counter.calls["organizations.ListAccounts"] == 1


def test_an_account_in_an_ou_reached_twice_is_listed_once(aws: None) -> None:
    org = create_organization(["workloads", "workloads/team"])
    both = organization_accounts(Clients(), REGION, [org.units["workloads"], org.units["workloads/team"]])
    assert [a.id for a in both] == sorted(org.accounts)


def test_listing_is_refused_outside_the_management_account(aws: None) -> None:
    org = create_organization([""])
    member = add_account(org, "lister", role_name=MEMBER_ROLE)
    clients = member_clients(Clients(), member, MEMBER_ROLE, REGION)
    with pytest.raises(ClientError) as caught:
        organization_accounts(clients, REGION)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_parent_that_is_not_an_ou_or_root_id_is_refused_before_any_call(aws: None) -> None:
    clients = Clients()
    with pytest.raises(ValueError, match="not an organization root"):
        organization_accounts(clients, REGION, ["ou-../../etc"])
    assert clients.counter.total == 0


def test_outside_any_organization_the_listing_says_so(aws: None) -> None:
    with pytest.raises(ClientError) as caught:
        organization_accounts(Clients(), REGION)
    assert caught.value.response["Error"]["Code"] == "AWSOrganizationsNotInUseException"
