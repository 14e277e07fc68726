"""Several accounts: who may assume a role, and who may list an organization's accounts.

moto already acts as several accounts: credentials from STS AssumeRole map to the
role's account. What it lacks, and AWS does:

- AssumeRole needs the role to exist and its trust policy to trust the caller.
  moto hands out credentials for any ARN ("the role does not need to exist"). AWS
  answers AccessDenied, "User: <caller> is not authorized to perform:
  sts:AssumeRole on resource: <role>", the same whether the role is missing or
  does not trust the caller (it does not tell the two apart). Here a role
  trusts a caller when an Allow statement for sts:AssumeRole names "*", the
  caller's account id, its root ARN, or the caller's own user or role ARN, and
  no Deny statement does. Conditions are not evaluated; identity policies are
  not either (moto enforces no IAM).
- Organizations ListAccounts, ListAccountsForParent, ListOrganizationalUnitsForParent
  and ListChildren "can be called only from the organization's management account
  or by a member account that is a delegated administrator" (Organizations API
  reference). moto answers a member account with an empty list, which would read
  as "no accounts"; here a member that is not a delegated administrator gets
  AccessDeniedException, a delegated administrator sees the organization, and an
  account in no organization gets AWSOrganizationsNotInUseException.

`create_role` seeds a role in any account through moto's IAM backend (a role in
account B needs B's credentials through the API, which need a role first).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.organizations.exceptions import AWSOrganizationsNotInUseException, OrganizationsClientError
from moto.organizations.models import OrganizationsBackend, organizations_backends
from moto.sts.exceptions import STSClientError
from moto.sts.models import STSBackend
from moto.utilities.utils import get_partition

from ._patching import original, override

ASSUME_ACTIONS = frozenset({"sts:assumerole", "sts:*", "*"})
LISTINGS = (
    "list_accounts",
    "list_accounts_for_parent",
    "list_organizational_units_for_parent",
    "list_children",
)


def trust_policy(*accounts: str, partition: str = "aws") -> str:
    """A trust policy letting the given accounts assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:{partition}:iam::{a}:root" for a in accounts]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def create_role(account: str, name: str, trusted: tuple[str, ...], path: str = "/") -> str:
    """Creates role `name` in `account`, trusting `trusted` accounts; returns its ARN."""
    backend = iam_backends[account]["aws"]
    role = backend.create_role(
        role_name=name,
        assume_role_policy_document=trust_policy(*trusted),
        path=path,
        permissions_boundary=None,
        description="seeded by the sandbox",
        tags=[],
        max_session_duration="3600",
        linked_service=None,
    )
    return str(role.arn)


# -- STS ------------------------------------------------------------------------------------------


def _assume_role(self: Any, region_name: str, role_session_name: str, role_arn: str, **kwargs: Any) -> Any:
    caller = self.account_id  # the backend is the caller's account's
    target = _account_of(role_arn)
    partition = get_partition(region_name)
    try:
        role = iam_backends[target][partition].get_role_by_arn(role_arn) if target else None
    except NotFoundException:
        role = None
    if role is None or not _trusts(role.assume_role_policy_document, caller, partition):
        raise STSClientError(
            "AccessDenied",
            f"User: arn:{partition}:iam::{caller}:root is not authorized to perform: sts:AssumeRole "
            f"on resource: {role_arn}",
        )
    return original(STSBackend, "assume_role")(
        self, region_name=region_name, role_session_name=role_session_name, role_arn=role_arn, **kwargs
    )


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[2] == "iam" and parts[4].isdigit() else ""


def _trusts(document: Any, caller: str, partition: str) -> bool:
    try:
        policy = json.loads(document) if isinstance(document, str) else dict(document or {})
    except ValueError:
        return False
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    matching = [s for s in statements if _assumes(s) and _names(s.get("Principal"), caller, partition)]
    allowed = any(s.get("Effect") == "Allow" for s in matching)
    return allowed and not any(s.get("Effect") == "Deny" for s in matching)


def _assumes(statement: dict[str, Any]) -> bool:
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    return any(str(a).lower() in ASSUME_ACTIONS for a in actions)


def _names(principal: Any, caller: str, partition: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    names = principal.get("AWS", [])
    names = [names] if isinstance(names, str) else names
    for name in map(str, names):
        if name in ("*", caller, f"arn:{partition}:iam::{caller}:root"):
            return True
        if name.startswith(f"arn:{partition}:iam::{caller}:"):
            return True  # one of the caller account's users or roles
    return False


# -- Organizations ---------------------------------------------------------------------------------


def _reader(backend: Any) -> Any:
    """The backend that answers a listing for `backend`'s account, or the error AWS gives."""
    if backend.org is not None:
        return backend  # the management account
    membership = organizations_backends.master_accounts.get(backend.account_id)
    if membership is None:
        raise AWSOrganizationsNotInUseException()
    management = organizations_backends[membership[0]][membership[1]]
    if any(admin.account.id == backend.account_id for admin in management.admins):
        return management  # a delegated administrator
    raise OrganizationsClientError(
        "AccessDeniedException", "You don't have permissions to access this resource."
    )


def _guarded(name: str) -> Any:
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        return original(OrganizationsBackend, name)(_reader(self), *args, **kwargs)

    return guarded


def install() -> None:
    # STS answers AccessDenied (HTTP 403), a code botocore's STS model has no error shape
    # for; moto then warns and answers HTTP 400. The code is what clients act on.
    warnings.filterwarnings(
        "ignore",
        message=r"Exception\(STSClientError\) with code AccessDenied does not match",
        category=UserWarning,
    )
    override(STSBackend, "assume_role", _assume_role)
    for name in LISTINGS:
        override(OrganizationsBackend, name, _guarded(name))
