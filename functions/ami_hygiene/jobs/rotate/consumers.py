"""Consumers: the accounts an image is shared with, and what they use it for.

An image shared with other accounts (allow-listed account ids, or an organization
or OU: every account in it) may be used there, and its owner cannot see that. So
for each image rotation is about to disable or deregister that is shared, rotation
assumes `ConsumerRoleName` in each of those accounts and reads, in the image's
region, what uses images there: the same whole-page reads as in the owner account
(`inventory.read_usage`: instances in any state but terminated, launch templates'
$Default / $Latest and the versions Auto Scaling groups pin, launch
configurations, SSM parameters) and DescribeImageReferences for the candidate ids
shared with that account, 10 ids a request.

Cost stays flat: one assumed session per account per run, the page reads once per
account and region per run (whatever number of images share them), and only
accounts and regions that hold candidates are read. Organization and OU members
are listed once per run too.

Anything that cannot be read (the role is missing or refuses this account,
AssumeRole is denied, a read is denied or throttled past the retries, the
organization cannot be listed) makes that account's use UNKNOWN: ConsumerCheck
says why, and the policy keeps every candidate shared with it.

AWS facts relied on (API references and the EC2 User Guide):
- STS AssumeRole answers AccessDenied when the caller may not assume the role,
  whether the role is missing or its trust policy does not name the caller; the
  credentials it returns act as the role's account. No ExternalId is sent.
- EC2 User Guide, "Share an AMI with organizations and organizational units":
  "When you share an AMI with an organization or an OU, all of the children
  accounts gain access to the AMI", the OUs nested under a shared OU included;
  and an owner "can share an AMI with any organization or OU, including
  organizations and OUs that they're not a member of" (those accounts cannot be
  listed from here: unknown).
- Organizations ListAccounts, ListAccountsForParent and
  ListOrganizationalUnitsForParent "can be called only from the organization's
  management account or by a member account that is a delegated administrator";
  elsewhere they fail, and the shares they would expand are unknown.
  ListAccountsForParent on an OU lists "all the accounts in only that OU and not in
  any child OUs", so the OUs below are walked down too.
- DescribeImageReferences "describes your Amazon Web Services resources that are
  referencing the specified images": with a consumer's credentials, its resources.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.estate import ConsumerCheck, RegionEstate, Usage
from ami_hygiene.core.members import (
    AccountUnreachable,
    ClientsFactory,
    clients_from_credentials,
    member_clients,
    read_accounts,
)
from ami_hygiene.core.members import role_arn as member_role_arn
from ami_hygiene.jobs.rotate.inventory import UsageMap, merge_references, read_references, read_usage

# Organizations listings name the accounts an organization or OU share reaches (below);
# they answer only in the management or a delegated administrator account.
ORGANIZATION_READS = (
    "organizations:DescribeOrganization",
    "organizations:ListAccounts",
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
)
# What rotation reads in a consumer account (inventory.read_usage and read_references, run there);
# infra/consumer-role.yaml grants exactly these (tests/infra/test_consumer_role.py).
CONSUMER_READS = (
    "ec2:DescribeInstances",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:DescribeImageReferences",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeLaunchConfigurations",
    "ssm:DescribeParameters",
    "ssm:GetParameters",
    "imagebuilder:ListImageRecipes",
    "imagebuilder:ListContainerRecipes",
)

SESSION_NAME = "ami-hygiene-consumer-check"
# arn:PARTITION:organizations::MANAGEMENT:organization/o-x or .../ou/o-x/ou-y
ORG_PRINCIPAL = re.compile(
    r"^arn:[a-z-]+:organizations::\d{12}:(?P<kind>organization|ou)/(?P<org>o-[a-z0-9]+)(?:/(?P<ou>ou-[a-z0-9-]+))?$"
)


@dataclass
class _AccountRead:
    """One consumer account in one region: its usage (read once) and the references asked so far."""

    usages: UsageMap
    problem: str = ""
    references: UsageMap = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)  # image ids DescribeImageReferences was asked about
    references_answer: bool = True  # False: the API is not available there; not asked again
    references_problem: str = ""


class ConsumerReader:
    """Reads consumer accounts' usage for one run; everything it reads is cached for the run."""

    def __init__(
        self,
        clients: Clients,
        role_name: str,
        owner_account: str,
        clients_factory: ClientsFactory = clients_from_credentials,
    ) -> None:
        self.clients = clients  # the owner account's: STS and Organizations calls count there
        self.role_name = role_name.strip("/")
        self.owner_account = owner_account
        self.clients_factory = clients_factory
        self._accounts: dict[str, Clients] = {}  # account -> its Clients
        self._refused: dict[str, str] = {}  # account -> why no session
        self._reads: dict[tuple[str, str], _AccountRead] = {}
        self._members: dict[str, tuple[tuple[str, ...], str]] = {}  # org / OU ARN -> (accounts, problem)
        self._organization: tuple[str, str] | None = None  # (this account's organization id, problem)

    # -- what the job asks --------------------------------------------------------------------

    def read(self, estate: RegionEstate, image_ids: Iterable[str]) -> RegionEstate:
        """`estate` with a ConsumerCheck (and the consumers' usages) for each of `image_ids`.

        Images whose launch permissions are unread or unreadable, or that are checked
        already, are left as they are.
        """
        region = estate.region
        wanted = [
            i
            for i in dict.fromkeys(image_ids)
            if i not in estate.consumers and (s := estate.sharing.get(i)) is not None and not s.error
        ]
        if not wanted:
            return estate
        accounts_of: dict[str, set[str]] = {}
        unknown: dict[str, dict[str, str]] = defaultdict(dict)
        for image_id in wanted:
            sharing = estate.sharing[image_id]
            accounts = set(sharing.accounts)
            for principal in sorted(sharing.organizations | sharing.organizational_units):
                members, problem = self._members_of(principal, region)
                if problem:
                    unknown[image_id][principal] = problem
                accounts.update(members)
            accounts_of[image_id] = accounts - {self.owner_account}

        by_account: dict[str, list[str]] = defaultdict(list)
        for image_id in wanted:
            for account in sorted(accounts_of[image_id]):
                by_account[account].append(image_id)
        for account, ids in sorted(by_account.items()):
            self._read_account(account, region, ids)

        usages = {k: list(v) for k, v in estate.usages.items()}
        checks: dict[str, ConsumerCheck] = {}
        for image_id in wanted:
            checked: list[str] = []
            for account in sorted(accounts_of[image_id]):
                problem = self._problem(account, region)
                if problem:
                    unknown[image_id][account] = problem
                    continue
                checked.append(account)
                usages.setdefault(image_id, []).extend(self._usages_in(account, region, image_id))
            checks[image_id] = ConsumerCheck(checked=tuple(checked), unknown=dict(unknown.get(image_id, {})))
        return replace(
            estate,
            consumers={**estate.consumers, **checks},
            usages={k: tuple(v) for k, v in usages.items()},
        )

    def calls_by_account(self) -> dict[str, dict[str, int]]:
        """API calls made in each consumer account this run, by operation."""
        return {account: dict(clients.counter.calls) for account, clients in sorted(self._accounts.items())}

    # -- one account ---------------------------------------------------------------------------

    def _read_account(self, account: str, region: str, image_ids: list[str]) -> None:
        clients = self._session(account, region)
        if clients is None:
            return
        key = (account, region)
        if key not in self._reads:
            # The page reads, once per account and region however many images it is asked about.
            found, unread = read_usage(clients, region)
            problem = "; ".join(
                f"could not read {source} there ({why})" for source, why in sorted(unread.items())
            )
            self._reads[key] = _AccountRead(usages=found, problem=problem)
        read = self._reads[key]
        new = [i for i in image_ids if i not in read.asked]
        if read.problem or read.references_problem or not read.references_answer or not new:
            return
        # Only the ids not asked before, 10 a request (read_references batches them).
        refs, answered, problem = read_references(clients.ec2(region), new)
        if problem:
            read.references_problem = f"could not read image-references there ({problem})"
            return
        if not answered:
            # Not available there: as in the owner account, the page reads stand alone.
            read.references_answer = False
            return
        read.asked.update(new)
        for image_id, items in refs.items():
            read.references.setdefault(image_id, []).extend(items)

    def _usages_in(self, account: str, region: str, image_id: str) -> list[Usage]:
        read = self._reads[(account, region)]
        own = {image_id: read.usages.get(image_id, [])}
        refs = {image_id: read.references.get(image_id, [])}
        # Page reads and references merged within the account: another account's
        # parameter of the same name is another resource.
        merged = merge_references(own, refs).get(image_id, [])
        return [replace(u, account=account) for u in merged]

    def _problem(self, account: str, region: str) -> str:
        if account in self._refused:
            return self._refused[account]
        read = self._reads.get((account, region))
        if read is None:
            return "its usage was not read"  # not reached: every account asked about is read
        return read.problem or read.references_problem

    def _session(self, account: str, region: str) -> Clients | None:
        """The account's Clients from AssumeRole, once per run (a refusal too is remembered)."""
        if account in self._accounts:
            return self._accounts[account]
        if account in self._refused:
            return None
        try:
            self._accounts[account] = member_clients(
                self.clients,
                account,
                self.role_name,
                region,
                session_name=SESSION_NAME,
                factory=self.clients_factory,
            )
        except AccountUnreachable as err:
            self._refused[account] = f"could not assume {err.role_arn} ({err.reason})"
            return None
        except ValueError as err:  # not an account id AWS would take
            self._refused[account] = f"could not assume a role there ({err})"
            return None
        return self._accounts[account]

    def role_arn(self, account: str, region: str) -> str:
        return member_role_arn(self.clients, account, self.role_name, region)

    # -- organizations -------------------------------------------------------------------------

    def _members_of(self, principal: str, region: str) -> tuple[tuple[str, ...], str]:
        """The accounts of an organization or OU (an OU's child OUs included), or why not."""
        if principal not in self._members:
            self._members[principal] = self._list_members(principal, region)
        return self._members[principal]

    def _list_members(self, principal: str, region: str) -> tuple[tuple[str, ...], str]:
        match = ORG_PRINCIPAL.match(principal)
        if not match:
            return (), "not an organization or OU ARN"
        own, problem = self._own_organization(region)
        if problem:
            return (), f"could not list its accounts: {problem}"
        if match["org"] != own:
            return (), (
                f"its accounts cannot be listed from this account, which is in "
                f"{own or 'no organization'}, not in {match['org']}"
            )
        org = self.clients.client("organizations", region)
        try:
            # The accounts in any state: an image shared with a suspended account is still shared there.
            parents = () if match["kind"] == "organization" else (str(match["ou"]),)
            accounts = [str(a["Id"]) for a in read_accounts(org, parents)]
        except (ClientError, BotoCoreError) as err:
            return (), f"could not list its accounts ({describe_error(err)})"
        return tuple(sorted(set(accounts))), ""

    def _own_organization(self, region: str) -> tuple[str, str]:
        """(id of the organization this account is in, problem): asked once per run."""
        if self._organization is None:
            try:
                answer = self.clients.client("organizations", region).describe_organization()
                self._organization = (str(answer["Organization"]["Id"]), "")
            except (ClientError, BotoCoreError) as err:
                self._organization = ("", describe_error(err))
        return self._organization
