"""Hub mode: a job's function that acts in the organization's member accounts by role.

The hub stack sets MEMBER_ROLE_NAME on its job functions; its presence is hub mode. A job
event from the hub bus names the member account in its envelope's `account` (EventBridge
keeps the source account when a rule forwards an event to another account's bus: EventBridge
User Guide, "Sending and receiving events between AWS accounts"); a Target Sweep names it
too. The function assumes that account's member role and acts there, unless the account is
in EXCLUDED_ACCOUNTS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import SettingsError
from ami_hygiene.core.events import ACCOUNT_ID, PARTITION, EventError, shown
from ami_hygiene.core.members import check_role_name, member_clients, parse_accounts

MEMBER_ROLE_NAME = "MEMBER_ROLE_NAME"
EXCLUDED_ACCOUNTS = "EXCLUDED_ACCOUNTS"
# What the member account's CloudTrail shows as the session name of the hub's writes.
SESSION_NAME = "ami-hygiene-hub"


def excluded_accounts(env: Mapping[str, str]) -> frozenset[str]:
    """EXCLUDED_ACCOUNTS: 12-digit ids, comma-separated, may be empty; SettingsError naming the variable."""
    text = env.get(EXCLUDED_ACCOUNTS, "").strip()
    if not text.strip(", "):
        return frozenset()
    try:
        return frozenset(parse_accounts(text))
    except ValueError as err:
        raise SettingsError(f"{EXCLUDED_ACCOUNTS}: {err}") from None


@dataclass(frozen=True)
class Hub:
    """The hub's member role name, the accounts it never acts in, and the region it runs in."""

    role_name: str
    excluded: frozenset[str]
    region: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Hub | None:
        """Hub mode's settings, or None outside hub mode (MEMBER_ROLE_NAME not set or blank).

        Raises SettingsError for a role name IAM would refuse or a malformed EXCLUDED_ACCOUNTS.
        """
        name = env.get(MEMBER_ROLE_NAME, "").strip()
        if not name:
            return None
        try:
            role_name = check_role_name(name)
        except ValueError as err:
            raise SettingsError(f"{MEMBER_ROLE_NAME}: {err}") from None
        region = env.get("AWS_REGION", "").strip() or env.get("AWS_DEFAULT_REGION", "").strip()
        if not region:
            raise SettingsError("AWS_REGION is not set: the hub needs its own region to assume roles from")
        return cls(role_name, excluded_accounts(env), region)

    def check(self, account: str) -> None:
        """EventError unless the hub may act in `account` (a 12-digit id not in EXCLUDED_ACCOUNTS)."""
        if not ACCOUNT_ID.fullmatch(account):
            raise EventError(f"account {shown(account)} is not a 12-digit account id")
        if account in self.excluded:
            raise EventError(f"account {account} is in EXCLUDED_ACCOUNTS: the hub never acts in it")

    def event_account(self, event: Any) -> str:
        """The member account a job event comes from (its envelope's `account`), checked."""
        account = event.get("account") if isinstance(event, dict) else None
        if not isinstance(account, str):
            raise EventError(f"account {shown(account)} is not a 12-digit account id")
        self.check(account)
        return account

    def clients_for(self, clients: Clients, account: str) -> Clients:
        """The member account's Clients, by its member role (AssumeRole from the hub's region).

        Raises AccountUnreachable (core/members.py) when the role cannot be assumed.
        """
        return member_clients(clients, account, self.role_name, self.region, session_name=SESSION_NAME)

    def is_member_role(self, arn: str, account: str) -> bool:
        """Whether `arn` is `account`'s member role, in any partition: the hub's own writes there."""
        pattern = rf"arn:{PARTITION}:iam::{re.escape(account)}:role/{re.escape(self.role_name)}"
        return re.fullmatch(pattern, arn) is not None
