"""The sandbox's several accounts: AssumeRole needs a role that trusts the caller; only the
management account or a delegated administrator lists an organization's accounts."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.accounts import create_role
from sandbox.demo import ACCOUNT_ID, consumer_session
from tests.helpers.constants import REGION, STRANGER

OTHER = "111122223333"


def _sts() -> Any:
    return boto3.client("sts", region_name=REGION)


def _assume(role_arn: str) -> dict[str, Any]:
    return dict(_sts().assume_role(RoleArn=role_arn, RoleSessionName="sandbox-test")["Credentials"])


def _role_with(account: str, name: str, statements: list[dict[str, Any]]) -> str:
    from moto.iam.models import iam_backends

    role = iam_backends[account]["aws"].create_role(
        role_name=name,
        assume_role_policy_document=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        path="/",
        permissions_boundary=None,
        description="",
        tags=[],
        max_session_duration="3600",
    )
    return str(role.arn)


def test_a_missing_role_cannot_be_assumed(aws: None) -> None:
    arn = f"arn:aws:iam::{OTHER}:role/nobody"
    with pytest.raises(ClientError) as denied:
        _assume(arn)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert f"not authorized to perform: sts:AssumeRole on resource: {arn}" in str(denied.value)


def test_a_role_that_trusts_another_account_cannot_be_assumed(aws: None) -> None:
    arn = create_role(OTHER, "reader", trusted=(STRANGER,))
    with pytest.raises(ClientError) as denied:
        _assume(arn)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
        {"AWS": ACCOUNT_ID},
        {"AWS": [f"arn:aws:iam::{STRANGER}:root", f"arn:aws:iam::{ACCOUNT_ID}:role/rotate"]},
        "*",
    ],
)
def test_a_role_that_trusts_the_caller_is_assumed_and_acts_as_its_account(aws: None, principal: Any) -> None:
    arn = _role_with(
        OTHER, "reader", [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]
    )
    credentials = _assume(arn)
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    assert session.client("sts", region_name=REGION).get_caller_identity()["Account"] == OTHER


def test_a_deny_statement_wins(aws: None) -> None:
    root = {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    arn = _role_with(
        OTHER,
        "reader",
        [
            {"Effect": "Allow", "Principal": root, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": root, "Action": "sts:*"},
        ],
    )
    with pytest.raises(ClientError):
        _assume(arn)


def test_a_role_trusting_another_action_only_cannot_be_assumed(aws: None) -> None:
    root = {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    arn = _role_with(OTHER, "reader", [{"Effect": "Allow", "Principal": root, "Action": "sts:TagSession"}])
    with pytest.raises(ClientError):
        _assume(arn)


def test_an_account_in_no_organization_cannot_list_accounts(aws: None) -> None:
    with pytest.raises(ClientError) as refused:
        boto3.client("organizations", region_name=REGION).list_accounts()
    assert refused.value.response["Error"]["Code"] == "AWSOrganizationsNotInUseException"


def test_only_the_management_account_or_a_delegated_administrator_lists_accounts(aws: None) -> None:
    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    unit = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    member = org.create_account(Email="m@example.com", AccountName="member")["CreateAccountStatus"][
        "AccountId"
    ]
    admin = org.create_account(Email="a@example.com", AccountName="admin")["CreateAccountStatus"]["AccountId"]
    assert {a["Id"] for a in org.list_accounts()["Accounts"]} == {ACCOUNT_ID, member, admin}

    as_member = consumer_session(member).client("organizations", region_name=REGION)
    calls = (
        lambda c: c.list_accounts(),
        lambda c: c.list_accounts_for_parent(ParentId=root),
        lambda c: c.list_organizational_units_for_parent(ParentId=root),
        lambda c: c.list_children(ParentId=root, ChildType="ACCOUNT"),
    )
    for call in calls:
        with pytest.raises(ClientError) as refused:
            call(as_member)
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert as_member.describe_organization()["Organization"]["MasterAccountId"] == ACCOUNT_ID  # members may

    org.register_delegated_administrator(AccountId=admin, ServicePrincipal="ssm.amazonaws.com")
    as_admin = consumer_session(admin).client("organizations", region_name=REGION)
    assert {a["Id"] for a in as_admin.list_accounts()["Accounts"]} == {ACCOUNT_ID, member, admin}
    assert [
        u["Id"] for u in as_admin.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
    ] == [unit]
