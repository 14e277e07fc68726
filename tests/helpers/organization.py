"""An organization in the embedded AWS: member accounts under OUs, a role in each, images to act on.

The account the tests run as (ACCOUNT) creates the organization, so it is the management account.
Member accounts get moto's random 12-digit ids. Credentials from STS AssumeRole act as the
role's account (sandbox/accounts.py makes AssumeRole need the role and its trust):

    org = create_organization(["workloads", "workloads/team", ""])   # 3 members: an OU, a child OU, the root
    org.accounts                                                     # their ids, in that order
    seed_images(org.session(org.accounts[0]), REGION, [("web-v1", 400), ("web-v2", 1)])
    suspend(org.accounts[2])                                         # SUSPENDED: closed

Each member gets a role named `role_name` (MEMBER_ROLE unless given) trusting `trusted`
(this account's root unless given); `add_account(..., role_name=None)` makes one without it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from tests.helpers.constants import ACCOUNT, REGION
from tests.helpers.sandbox import register

MEMBER_ROLE = "AmiHygieneMember"  # the hub's member role name, the CLI's --role-name default
CALLER = f"arn:aws:iam::{ACCOUNT}:root"  # the principal a member role trusts unless told


@dataclass
class Organization:
    """What create_organization made: ids to assert on and sessions to seed with."""

    id: str
    arn: str
    root: str  # the root's id, r-...
    management: str  # the account that created it: ACCOUNT
    role_name: str | None
    accounts: list[str] = field(default_factory=list)  # the members made here, in order
    units: dict[str, str] = field(default_factory=dict)  # OU path ("workloads/team") -> OU id

    def unit(self, path: str) -> str:
        """The id of the OU at `path` ("" is the root), creating the OUs on the way."""
        if not path:
            return self.root
        if path not in self.units:
            parent, _, name = path.rpartition("/")
            org = boto3.client("organizations", region_name=REGION)
            made = org.create_organizational_unit(ParentId=self.unit(parent), Name=name)
            self.units[path] = str(made["OrganizationalUnit"]["Id"])
        return self.units[path]

    def session(self, account: str, region: str = REGION) -> boto3.Session:
        """A session of a member account: AssumeRole on its OrganizationAccountAccessRole.

        Organizations creates that role in every account it creates, trusting the management
        account (moto does the same), so a member is reachable whether or not it has `role_name`.
        """
        return account_session(account, "OrganizationAccountAccessRole", region)


def create_organization(
    placement: Sequence[str] = ("", ""),
    *,
    role_name: str | None = MEMBER_ROLE,
    trusted: str | Sequence[str] = CALLER,
) -> Organization:
    """An organization with one member account per entry of `placement` (its OU path, "" the root)."""
    org = boto3.client("organizations", region_name=REGION)
    made = org.create_organization(FeatureSet="ALL")["Organization"]
    root = str(org.list_roots()["Roots"][0]["Id"])
    organization = Organization(str(made["Id"]), str(made["Arn"]), root, ACCOUNT, role_name)
    for k, path in enumerate(placement):
        add_account(organization, f"member-{k}", path, role_name=role_name, trusted=trusted)
    return organization


def add_account(
    organization: Organization,
    name: str,
    path: str = "",
    *,
    role_name: str | None = MEMBER_ROLE,
    trusted: str | Sequence[str] = CALLER,
) -> str:
    """A new member account under the OU at `path`, with role `role_name` (None: no such role)."""
    org = boto3.client("organizations", region_name=REGION)
    status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
    account = str(status["AccountId"])
    parent = organization.unit(path)
    if parent != organization.root:
        org.move_account(AccountId=account, SourceParentId=organization.root, DestinationParentId=parent)
    if role_name:
        member_role(account, role_name, trusted)
    organization.accounts.append(account)
    return account


def member_role(account: str, role_name: str, trusted: str | Sequence[str] = CALLER) -> str:
    """Role `role_name` ("path/name" allowed) in `account`, trusting principal ARN(s) `trusted`: its ARN."""
    from moto.iam.models import iam_backends

    principals = [trusted] if isinstance(trusted, str) else list(trusted)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "sts:AssumeRole"}],
    }
    path, _, name = role_name.strip("/").rpartition("/")
    role = iam_backends[account]["aws"].create_role(
        role_name=name,
        assume_role_policy_document=json.dumps(policy),
        path=f"/{path}/" if path else "/",
        permissions_boundary=None,
        description="a member role made by tests/helpers/organization.py",
        tags=[],
        max_session_duration="3600",
    )
    return str(role.arn)


def account_session(account: str, role_name: str = MEMBER_ROLE, region: str = REGION) -> boto3.Session:
    """A session acting as `account`, from AssumeRole on its `role_name` with this process's credentials."""
    arn = f"arn:aws:iam::{account}:role/{role_name.strip('/')}"
    answer = boto3.client("sts", region_name=region).assume_role(RoleArn=arn, RoleSessionName="tests-seed")
    credentials = answer["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def suspend(account: str) -> None:
    """Closes a member account: Organizations shows it SUSPENDED."""
    boto3.client("organizations", region_name=REGION).close_account(AccountId=account)


def seed_images(
    session: boto3.Session,
    region: str,
    names_and_ages: Sequence[tuple[str, float]],
    *,
    now: datetime | None = None,
    size_gib: int = 8,
) -> list[str]:
    """Images the session's account owns in `region`, each `age` days old at `now` (one snapshot each)."""
    import sandbox

    now = now or datetime.now(UTC)
    ec2: Any = session.client("ec2", region_name=region)
    account = str(session.client("sts", region_name=region).get_caller_identity()["Account"])
    backend = sandbox.backend("ec2", region, account)
    made = []
    for name, age in names_and_ages:
        volume = ec2.create_volume(Size=size_gib, AvailabilityZone=f"{region}a")["VolumeId"]
        snap = str(ec2.create_snapshot(VolumeId=volume)["SnapshotId"])
        ec2.delete_volume(VolumeId=volume)
        image_id = register(ec2, name, snap)
        backend.amis[image_id].creation_date = now - timedelta(days=age)
        made.append(image_id)
    return made


def images_of(session: boto3.Session, region: str) -> dict[str, str]:
    """The account's own images in `region`: image id -> state (disabled ones included)."""
    ec2: Any = session.client("ec2", region_name=region)
    found = ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"]
    return {i["ImageId"]: i["State"] for i in found}
