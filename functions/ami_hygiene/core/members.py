"""Member accounts: acting in another account by assuming a role there, and listing an organization.

One run may act in many accounts (the organization hub, `ami-hygiene <job> --accounts`) or read
them (rotation's consumers, jobs/rotate/consumers.py). Both assume a role named the same in each
account with STS AssumeRole and make that account's Clients from the credentials it returns;
both list an organization's accounts with the same walk.

AWS facts relied on:
- STS AssumeRole (botocore sts/2011-06-15 service-2.json, AssumeRoleRequest): RoleArn and
  RoleSessionName are required; roleSessionNameType is 2 to 64 characters of `[\\w+=,.@-]`
  ("upper- and lower-case alphanumeric characters with no spaces ... underscores or any of the
  following characters: +=,.@-"). The session name is "visible to, and can be logged by the
  account that owns the role" (CloudTrail), so it names this tool. The modelled errors are
  MalformedPolicyDocument, PackedPolicyTooLarge, RegionDisabledException (STS not activated in
  the region for the account) and ExpiredTokenException; a caller the role does not trust, or a
  role that does not exist, gets AccessDenied (not modelled, HTTP 403), the two not told apart.
  Any of them means this account cannot be acted in: AccountUnreachable names it, with the role
  ARN and the AWS error. Throttling is retried by the Clients' adaptive retries first, and is
  marked `transient` if it still fails.
- IAM (botocore iam/2010-05-08 service-2.json): roleNameType is 1 to 64 characters of
  `[\\w+=,.@-]`; a role's path is "/" or "/" + printable ASCII + "/" (pathType), and its ARN is
  arn:<partition>:iam::<account>:role/<path without the leading slash><name>.
- Organizations Account (botocore organizations/2016-11-28 service-2.json): `State` is one of
  PENDING_ACTIVATION, ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED; `Status` (ACTIVE, SUSPENDED,
  PENDING_CLOSURE) "will be retired on September 9, 2026 ... use the State parameter instead".
  State is read, Status only where State is absent. Only ACTIVE accounts are acted in.
- ListAccounts, ListAccountsForParent and ListOrganizationalUnitsForParent page with MaxResults
  1 to 20 (MaxResults shape) and "can be called only from the organization's management account
  or by a member account that is a delegated administrator". ListAccountsForParent lists "the
  accounts in only that OU and not in any child OUs": the OUs below are walked down too.
  ParentId is `r-` + 4 to 32 of [0-9a-z] (a root) or `ou-` + 4 to 32 of [0-9a-z] + `-` + 8 to
  32 of [a-z0-9] (an OU) (ParentId shape).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, UnknownRegionError

from ami_hygiene.core.clients import Clients, new_session
from ami_hygiene.core.errors import describe_error, error_code, is_transient
from ami_hygiene.core.paging import pages

if TYPE_CHECKING:
    from types_boto3_organizations import OrganizationsClient

# What the member account's CloudTrail shows as the session (arn:...:assumed-role/<role>/<session>).
# The IAM actions organization_accounts calls (read_accounts: ListAccounts for the whole
# organization, else ListAccountsForParent and ListOrganizationalUnitsForParent down the OUs);
# the hub's targets function is granted these (infra/organization.py).
READS = (
    "organizations:DescribeOrganization",  # management_account
    "organizations:ListAccounts",
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
)
SESSION_NAME = "ami-hygiene"
# The role the hub's member StackSet creates in each account (the stack's MemberRoleName default).
DEFAULT_ROLE_NAME = "AmiHygieneMember"
ACTIVE = "ACTIVE"
ORGANIZATION_PAGE = 20  # Organizations' MaxResults: at most 20

ACCOUNT_ID = re.compile(r"^[0-9]{12}\Z")
SESSION_NAME_PATTERN = re.compile(r"^[\w+=,.@-]{2,64}\Z", re.ASCII)
ROLE_NAME_PATTERN = re.compile(r"^[\w+=,.@-]{1,64}\Z", re.ASCII)
PATH_PART_PATTERN = re.compile(r"^[\x21-\x2e\x30-\x7e]+\Z")  # printable ASCII but "/"
PARENT_ID = re.compile(r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})\Z")

# Makes an account's Clients from AssumeRole's Credentials (tests may count or fake them).
ClientsFactory = Callable[[Mapping[str, Any]], Clients]


def clients_from_credentials(credentials: Mapping[str, Any]) -> Clients:
    """Clients for an assumed role; its session shares the process's model loader (new_session)."""
    session = new_session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return Clients(session)


class AccountUnreachable(Exception):
    """The role could not be assumed in an account: nothing can be read or changed there."""

    def __init__(self, account: str, role_arn: str, reason: str, *, code: str = "", transient: bool = False):
        super().__init__(account, role_arn, reason)
        self.account = account
        self.role_arn = role_arn
        self.reason = reason  # the AWS error, "Code: message" (errors.describe_error)
        self.code = code  # the AWS error code alone, e.g. AccessDenied
        self.transient = transient  # throttling or an AWS-side fault: trying again later may work

    def __str__(self) -> str:
        return f"account {self.account}: could not assume {self.role_arn} ({self.reason})"


# -- roles -------------------------------------------------------------------------------------


def partition_of(clients: Clients, region: str) -> str:
    """The partition of `region` (aws, aws-cn, aws-us-gov, ...); "aws" when it is not known."""
    session = getattr(clients, "session", None)
    try:
        return str(session.get_partition_for_region(region)) if session is not None else "aws"
    except UnknownRegionError:
        return "aws"


def check_role_name(role_name: str) -> str:
    """The role name, a path before it allowed ("team/reader"), without outer slashes; or ValueError."""
    name = role_name.strip().strip("/")
    *path, last = name.split("/")
    if not ROLE_NAME_PATTERN.match(last):
        raise ValueError(
            f"role name {role_name!r} is not valid: 1 to 64 letters, digits or any of _+=,.@- "
            "(after an optional path such as team/)"
        )
    if not all(PATH_PART_PATTERN.match(part) for part in path) or len(name) > 512 + 64:
        raise ValueError(f"role name {role_name!r} has a path that is not valid")
    return name


def role_arn(clients: Clients, account: str, role_name: str, region: str) -> str:
    """arn:<partition of region>:iam::<account>:role/<role_name> (a path in role_name kept)."""
    return f"arn:{partition_of(clients, region)}:iam::{account}:role/{role_name.strip('/')}"


def member_clients(
    clients: Clients,
    account: str,
    role_name: str,
    region: str,
    *,
    session_name: str = SESSION_NAME,
    factory: ClientsFactory = clients_from_credentials,
) -> Clients:
    """The account's Clients, from AssumeRole on its `role_name` role with `clients` (the caller's).

    Raises AccountUnreachable when the role cannot be assumed (its error names the account, the
    role ARN and the AWS error); ValueError for an account id or session name AWS would refuse.
    The AssumeRole call counts in `clients`' counter; the member's calls in the Clients returned,
    which keep the caller's pace (its buckets are the member account's own: EC2 throttles per account).
    """
    if not ACCOUNT_ID.match(account):
        raise ValueError(f"account {account!r} is not a 12-digit account id")
    if not SESSION_NAME_PATTERN.match(session_name):
        raise ValueError(
            f"session name {session_name!r} is not valid: 2 to 64 letters, digits or any of _+=,.@-"
        )
    arn = role_arn(clients, account, role_name, region)
    try:
        answer = clients.sts(region).assume_role(RoleArn=arn, RoleSessionName=session_name)
    except (ClientError, BotoCoreError) as err:
        raise AccountUnreachable(
            account, arn, describe_error(err), code=error_code(err), transient=is_transient(err)
        ) from err
    member = factory(answer["Credentials"])
    member.pacer.configure(clients.pacer.pace)
    return member


# -- organizations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """An account of the organization: its id, name and state (ACTIVE, SUSPENDED, ...)."""

    id: str
    name: str
    status: str


def organization_accounts(clients: Clients, region: str, parents: Sequence[str] = ()) -> tuple[Account, ...]:
    """The organization's ACTIVE accounts, sorted by id, each once.

    `parents` empty: every account of the organization (ListAccounts). Otherwise every account
    under each root or OU id, the OUs below included. Organizations errors (AccessDenied from an
    account that is neither the management account nor a delegated administrator,
    AWSOrganizationsNotInUseException, ParentNotFoundException, ...) are raised as ClientError;
    a parent id that is not one raises ValueError before any call.
    """
    for parent in parents:
        if not PARENT_ID.match(parent):
            raise ValueError(f"{parent!r} is not an organization root (r-...) or OU (ou-...-...) id")
    found: dict[str, Account] = {}
    for raw in read_accounts(clients.client("organizations", region), parents):
        account = account_of(raw)
        if account.status == ACTIVE:
            found[account.id] = account
    return tuple(found[k] for k in sorted(found))


def management_account(clients: Clients, region: str) -> str:
    """The organization's management account id (DescribeOrganization's Organization.MasterAccountId,
    "the unique identifier (ID) of the management account"; callable from any account of it)."""
    answer = clients.client("organizations", region).describe_organization()
    return str(answer["Organization"]["MasterAccountId"])


def account_of(raw: Mapping[str, Any]) -> Account:
    """An Organizations Account record as an Account: State, or Status where State is absent."""
    status = raw.get("State") or raw.get("Status") or ""
    return Account(id=str(raw["Id"]), name=str(raw.get("Name", "")), status=str(status))


def read_accounts(org: OrganizationsClient, parents: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Organizations' Account records in any state: the whole organization (no `parents`), or every
    account under each parent and the OUs below it (ListAccountsForParent lists one level)."""
    todo = list(parents)
    if not todo:
        return [dict(a) for a in pages(org, "list_accounts", "Accounts", ORGANIZATION_PAGE)]
    accounts: list[dict[str, Any]] = []
    seen: set[str] = set()
    while todo:
        parent = todo.pop()
        if parent in seen:
            continue
        seen.add(parent)
        accounts += [
            dict(a)
            for a in pages(org, "list_accounts_for_parent", "Accounts", ORGANIZATION_PAGE, ParentId=parent)
        ]
        todo += [
            u["Id"]
            for u in pages(
                org,
                "list_organizational_units_for_parent",
                "OrganizationalUnits",
                ORGANIZATION_PAGE,
                ParentId=parent,
            )
        ]
    return accounts


# -- input -------------------------------------------------------------------------------------


def parse_accounts(text: str) -> tuple[str, ...]:
    """Comma-separated 12-digit account ids, in the order given, each once; ValueError otherwise."""
    parts = [p.strip() for p in str(text).split(",")]
    ids = [p for p in parts if p]
    if not ids:
        raise ValueError("no account ids: give 12-digit account ids separated by commas")
    wrong = [p for p in ids if not ACCOUNT_ID.match(p)]
    if wrong:
        shown = ", ".join(repr(p[:40]) for p in wrong[:3]) + (
            f" and {len(wrong) - 3} more" if len(wrong) > 3 else ""
        )
        raise ValueError(f"not 12-digit account ids: {shown}")
    return tuple(dict.fromkeys(ids))
