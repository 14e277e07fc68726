"""Public-sharing guard: who can launch this account's images or restore their snapshots.

For every image of this account the policy plans one decision:

* **revoke-public** (critical): the image is public (launch permission group
  ``all``) and not tagged ``ami-hygiene:public-allowed=true``. The same
  decision also removes every account, organization and OU not on the
  allow-list, since one ModifyImageAttribute call does both;
* **revoke-accounts** (high): shared with accounts, organizations or OUs
  not on the allow-list;
* **keep** (info): private, shared only with allow-listed principals, allowed
  public, not owned by this account, or its launch permissions were not read.

Public-ness is known from DescribeImages (``Public``) even when the launch
permissions could not be read; then only the group ``all`` is revoked and the
reasons say that the account shares were not checked. Nothing is ever removed
that is not known to be there and not allowed.

Each EBS snapshot behind an owned image gets its own decision (``image_id``
is the snapshot id, ``name`` "snapshot of ami-a, ami-b"): public
(createVolumePermission group ``all``) or shared with accounts not on the
allow-list is a finding. The ``public-allowed`` tag does *not* extend to
snapshots: launching an AMI needs no permission on its snapshots, so a public
snapshot only exposes the data; the reasons say so. A snapshot not owned by
this account, or whose ownership or permissions were not read, is kept.

Per region one **block-public-access** (medium) decision when the account's
image block public access is ``unblocked``; it is kept when an image tagged
``public-allowed=true`` exists in the region (blocking would stop it being
published again), when a declarative policy manages the setting, or when the
state was not read. The policy is pure: no AWS, no clock, no environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from ami_hygiene.core.estate import TAG_PUBLIC_ALLOWED, Image, ImageState, Sharing
from ami_hygiene.core.families import FamilyTagError, derived_family, family_of
from ami_hygiene.core.plan import Action, Decision, Plan, image_decision
from ami_hygiene.jobs.public.model import SharingEstate, SnapshotSharing

JOB = "public"
PUBLIC_GROUP = "all"
UNBLOCKED = "unblocked"
BLOCK_NEW_SHARING: Final = "block-new-sharing"
ALLOWED_PUBLIC_REASON = f"allowed public ({TAG_PUBLIC_ALLOWED}=true)"
# Images that are gone cannot be launched: their permissions are moot.
GONE_STATES = frozenset({ImageState.DEREGISTERED})

ResourceType = Literal["image", "snapshot", "account"]
Severity = Literal["critical", "high", "medium", "info"]


@dataclass(frozen=True)
class SharingDecision(Decision):
    """A Decision that says exactly which permissions go.

    REVOKE_PUBLIC / REVOKE_ACCOUNTS remove `remove_groups` (only ever "all"),
    `remove_accounts`, `remove_organizations` and `remove_organizational_units`,
    and nothing else; `kept_principals` are the allow-listed ones left in place.
    """

    resource_type: ResourceType = "image"
    remove_groups: tuple[str, ...] = ()
    remove_accounts: tuple[str, ...] = ()
    remove_organizations: tuple[str, ...] = ()
    remove_organizational_units: tuple[str, ...] = ()
    kept_principals: tuple[str, ...] = ()
    severity: Severity = "info"

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"resource_type": self.resource_type, "severity": self.severity}
        removed = {
            "groups": list(self.remove_groups),
            "accounts": list(self.remove_accounts),
            "organizations": list(self.remove_organizations),
            "organizational_units": list(self.remove_organizational_units),
        }
        if any(removed.values()):
            out["removed"] = {k: v for k, v in removed.items() if v}
        if self.kept_principals:
            out["kept_principals"] = list(self.kept_principals)
        return out

    @property
    def removals(self) -> tuple[str, ...]:
        return (
            self.remove_groups
            + self.remove_accounts
            + self.remove_organizations
            + self.remove_organizational_units
        )


def plan_sharing(estate: SharingEstate, allowed: frozenset[str], now: datetime) -> Plan:
    """Decisions for every image, every snapshot behind an owned image, and the region.

    `allowed` holds account ids, organization ARNs and OU ARNs. `now` is
    taken for a uniform policy signature; no sharing rule depends on time.
    """
    del now
    region = estate.estate
    decisions: list[Decision] = []
    owned: list[Image] = []
    for image in sorted(region.images, key=lambda i: i.image_id):
        if image.owner_id != region.account_id:
            decisions.append(
                _image_decision(
                    image,
                    Action.KEEP,
                    [f"kept: owned by account {image.owner_id}, not by this account"],
                )
            )
            continue
        owned.append(image)
        decisions.append(_decide_image(image, region.sharing.get(image.image_id), allowed))
    decisions.extend(_decide_snapshots(owned, estate.snapshots, allowed))
    decisions.append(_decide_block_public_access(estate, owned))
    return Plan(job=JOB, region=region.region, decisions=tuple(decisions), errors=estate.problems)


def is_allowed_public(image: Image) -> bool:
    return image.tags.get(TAG_PUBLIC_ALLOWED, "").lower() == "true"


# -- images ---------------------------------------------------------------------------------


def _decide_image(image: Image, sharing: Sharing | None, allowed: frozenset[str]) -> SharingDecision:
    if image.state in GONE_STATES:
        return _image_decision(image, Action.KEEP, [f"kept: state is {image.state}"])
    read = sharing is not None and sharing.error is None
    public = image.public or (read and sharing is not None and sharing.public)
    allowed_public = is_allowed_public(image)
    reasons: list[str] = []
    notes: list[str] = []
    if sharing is None:
        notes.append("launch permissions not read: shares with accounts not checked")
    elif sharing.error is not None:
        notes.append(f"launch permissions not read ({sharing.error}): shares with accounts not checked")

    groups: tuple[str, ...] = ()
    if public and allowed_public:
        notes.insert(0, ALLOWED_PUBLIC_REASON)
    elif public:
        groups = (PUBLIC_GROUP,)
        reasons.append(f"public: launch permission group {PUBLIC_GROUP}")

    accounts: tuple[str, ...] = ()
    orgs: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    if read and sharing is not None:
        accounts = _foreign(sharing.accounts, allowed)
        orgs = _foreign(sharing.organizations, allowed)
        units = _foreign(sharing.organizational_units, allowed)
        every = sharing.accounts | sharing.organizations | sharing.organizational_units
        kept = tuple(sorted(p for p in every if p in allowed))
        foreign = accounts + orgs + units
        if foreign:
            reasons.append(f"shared with {', '.join(foreign)}, not on the allow-list")
        if kept:
            notes.append(f"shared with allow-listed {', '.join(kept)}: kept")

    if groups or accounts or orgs or units:
        return _image_decision(
            image,
            Action.REVOKE_PUBLIC if groups else Action.REVOKE_ACCOUNTS,
            reasons + notes,
            remove_groups=groups,
            remove_accounts=accounts,
            remove_organizations=orgs,
            remove_organizational_units=units,
            kept_principals=kept,
            severity="critical" if groups else "high",
        )
    if read and not public and not kept:
        notes.append("private: not shared with anyone")
    return _image_decision(image, Action.KEEP, notes, kept_principals=kept)


def _foreign(principals: frozenset[str], allowed: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(p for p in principals if p not in allowed))


def _image_decision(
    image: Image,
    action: Action,
    reasons: list[str],
    *,
    remove_groups: tuple[str, ...] = (),
    remove_accounts: tuple[str, ...] = (),
    remove_organizations: tuple[str, ...] = (),
    remove_organizational_units: tuple[str, ...] = (),
    kept_principals: tuple[str, ...] = (),
    severity: Severity = "info",
) -> SharingDecision:
    return SharingDecision(
        **image_decision(image, _family(image), action, reasons),
        resource_type="image",
        remove_groups=remove_groups,
        remove_accounts=remove_accounts,
        remove_organizations=remove_organizations,
        remove_organizational_units=remove_organizational_units,
        kept_principals=kept_principals,
        severity=severity,
    )


# -- snapshots ------------------------------------------------------------------------------


def _decide_snapshots(
    owned: list[Image], snapshots: Mapping[str, SnapshotSharing], allowed: frozenset[str]
) -> list[SharingDecision]:
    users: dict[str, list[Image]] = {}
    for image in owned:
        for snap in image.snapshots:
            users.setdefault(snap.snapshot_id, []).append(image)
    return [
        _decide_snapshot(sid, images, snapshots.get(sid), allowed) for sid, images in sorted(users.items())
    ]


def _decide_snapshot(
    snapshot_id: str, images: list[Image], sharing: SnapshotSharing | None, allowed: frozenset[str]
) -> SharingDecision:
    def decision(
        action: Action,
        reasons: list[str],
        groups: tuple[str, ...] = (),
        accounts: tuple[str, ...] = (),
        kept: tuple[str, ...] = (),
    ) -> SharingDecision:
        return SharingDecision(
            image_id=snapshot_id,
            region=images[0].region,
            family=_family(images[0]),
            name=f"snapshot of {', '.join(i.image_id for i in images)}",
            action=action,
            reasons=tuple(reasons),
            resource_type="snapshot",
            remove_groups=groups,
            remove_accounts=accounts,
            kept_principals=kept,
            severity=_severity(action, groups),
        )

    if sharing is None:
        return decision(Action.KEEP, ["create volume permissions not read"])
    if sharing.owned is None:
        return decision(Action.KEEP, ["kept: its owner was not read; only this account's snapshots change"])
    if not sharing.owned:
        return decision(Action.KEEP, ["kept: owned by another account, not by this account"])

    reasons: list[str] = []
    notes: list[str] = []
    if sharing.error is not None:
        notes.append(
            f"create volume permissions not read ({sharing.error}): shares with accounts not checked"
        )
    elif not sharing.accounts_read:
        notes.append("create volume permissions not read: shares with accounts not checked")
    groups: tuple[str, ...] = ()
    if sharing.public:
        groups = (PUBLIC_GROUP,)
        reasons.append(f"public: create volume permission group {PUBLIC_GROUP}")
        exempt = [i.image_id for i in images if is_allowed_public(i)]
        if exempt:
            notes.append(
                f"{', '.join(exempt)} may be public ({TAG_PUBLIC_ALLOWED}=true), but launching an "
                "image needs no permission on its snapshots: a public snapshot only exposes the data"
            )
    accounts: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    if sharing.accounts_read and sharing.error is None:
        accounts = _foreign(sharing.accounts, allowed)
        kept = tuple(sorted(a for a in sharing.accounts if a in allowed))
        if accounts:
            reasons.append(f"shared with {', '.join(accounts)}, not on the allow-list")
        if kept:
            notes.append(f"shared with allow-listed {', '.join(kept)}: kept")
    if groups or accounts:
        action = Action.REVOKE_PUBLIC if groups else Action.REVOKE_ACCOUNTS
        return decision(action, reasons + notes, groups, accounts, kept)
    if sharing.accounts_read and sharing.error is None and not kept:
        notes.append("private: not shared with anyone")
    return decision(Action.KEEP, notes, kept=kept)


# -- block public access --------------------------------------------------------------------


def _decide_block_public_access(estate: SharingEstate, owned: list[Image]) -> SharingDecision:
    bpa = estate.block_public_access

    def decision(action: Action, reasons: list[str], severity: Severity = "info") -> SharingDecision:
        return SharingDecision(
            image_id=estate.account_id,
            region=estate.region,
            family="",
            name=f"image block public access in {estate.region}",
            action=action,
            reasons=tuple(reasons),
            resource_type="account",
            severity=severity,
        )

    if bpa.state is None:
        why = f" ({bpa.error})" if bpa.error else ""
        return decision(Action.KEEP, [f"image block public access state not read{why}"])
    if bpa.state != UNBLOCKED:
        return decision(Action.KEEP, [f"image block public access is on ({bpa.state})"])
    off = f"image block public access is off ({UNBLOCKED}) in {estate.region}"
    allowed_public = [i.image_id for i in owned if is_allowed_public(i) and i.state not in GONE_STATES]
    if allowed_public:
        return decision(
            Action.KEEP,
            [
                off,
                f"kept off: {', '.join(allowed_public)} {'is' if len(allowed_public) == 1 else 'are'} "
                f"{ALLOWED_PUBLIC_REASON}",
            ],
        )
    if bpa.managed_by != "account":
        return decision(Action.KEEP, [off, f"managed by {bpa.managed_by}: the account cannot change it"])
    return decision(Action.BLOCK_PUBLIC_ACCESS, [off], severity="medium")


def _severity(action: Action, groups: tuple[str, ...]) -> Severity:
    if action is Action.KEEP:
        return "info"
    return "critical" if groups else "high"


def _family(image: Image) -> str:
    try:
        return family_of(image)
    except FamilyTagError:
        return derived_family(image)
