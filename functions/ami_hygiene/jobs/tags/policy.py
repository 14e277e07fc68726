"""Tagging: required tags, auto-tags, snapshot propagation and escalation, decided purely.

For every image of this account in a state tags apply to (pending, available,
disabled) the policy plans, each as its own decision:

* **tag**: the auto-tags the image lacks, never one it already has (whatever
  its value): ``ami-hygiene:created-by`` (the principal ARN of the creating
  API call, when known), ``ami-hygiene:created-at`` (the creation time) and,
  for copies, ``ami-hygiene:source-image``;
* **propagate**: the image's tags named by ``propagate_tags`` (default: the
  required keys) to each of its snapshots that lacks them. A snapshot key with
  another value is left alone, and a snapshot shared by several images, or
  whose tags were not read, is not tagged at all (two images could disagree);
* **notify**: the image breaks a required-tag rule and either an event just
  named it (its creation, or a CreateTags/DeleteTags that left it
  non-compliant: first sight is told at once; the "available" state change of
  an image already auto-tagged is not first sight) or it is at least
  ``grace_hours`` old (a sweep does not nag about images still in grace);
* **deprecate** (escalation, only with ``escalation_days`` > 0): the image
  is available and has broken a rule for ``escalation_days`` since its
  creation. It is deprecated now and tagged ``ami-hygiene:escalated-at``;
  rotation then disables and later deregisters it like any retired image,
  unless a safety rule keeps it (in use, among the newest of its family,
  protected, shared). An image that became compliant again loses the tag
  (a **tag** decision with ``remove_tags``), and rotation ignores the tag
  on a compliant image anyway.

An image with none of these gets one **keep**. Every decision carries the
compliance reasons first ("missing Owner", "Environment='production' does not
match ^(prod|staging|dev)$", or "compliant: Owner, Environment present and
valid"). Images of other accounts, and images in any other state, are kept and
never changed. The policy is pure: no AWS, no clock, no environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from ami_hygiene.core.estate import EMPTY_TAGS, TAG_ESCALATED_AT, TAG_PREFIX, Image, ImageState, RegionEstate
from ami_hygiene.core.families import FamilyTagError, derived_family, family_of
from ami_hygiene.core.plan import Action, Decision, Plan, image_decision
from ami_hygiene.core.tag_rules import TagRule, problems

JOB = "tags"
TAG_CREATED_BY = f"{TAG_PREFIX}created-by"
TAG_CREATED_AT = f"{TAG_PREFIX}created-at"
TAG_SOURCE_IMAGE = f"{TAG_PREFIX}source-image"
TAGGABLE_STATES = frozenset({ImageState.PENDING, ImageState.AVAILABLE, ImageState.DISABLED})
CREATING_CALLS = frozenset({"CreateImage", "CopyImage", "RegisterImage", "ImportImage"})
# EnableImageDeprecation refuses a time in the past; "now" plus a margin
# survives the gap between planning and applying.
DEPRECATE_MARGIN = timedelta(minutes=10)
# Shared by every decision that tags no snapshot (a sweep makes one or two per image).
NO_SNAPSHOT_TAGS: Mapping[str, Mapping[str, str]] = MappingProxyType({})


@dataclass(frozen=True)
class CreatorInfo:
    """Who made an image, from the CloudTrail event of the API call that did."""

    principal_arn: str
    event_name: str = "CreateImage"
    source_image: str | None = None  # CopyImage: the image copied
    source_region: str | None = None

    @property
    def created(self) -> bool:
        """The event created the image (its principal is the creator), not just changed tags."""
        return self.event_name in CREATING_CALLS

    def describe(self) -> str:
        """How the event saw the image, for a reason sentence."""
        who = self.principal_arn or "an unknown principal"
        if self.created:
            return f"created by {who} ({self.event_name})"
        if self.event_name.startswith("StateChange"):
            return "seen as it became available"
        return f"after {self.event_name} by {who}"


@dataclass(frozen=True)
class TagSettings:
    """The tag job's settings (the rules themselves are passed on their own)."""

    grace_hours: int = 24
    # Keys copied from an image to its snapshots; None: the required keys.
    propagate_tags: tuple[str, ...] | None = None
    # Days non-compliant (since creation) before deprecation; 0: never escalate.
    escalation_days: int = 0


@dataclass(frozen=True)
class TagDecision(Decision):
    """A Decision that also says which tags to add.

    TAG: `tags` go on the image (only keys it lacks) and `remove_tags` (only
    ever the escalation marker) come off. PROPAGATE: `snapshot_tags` maps each
    snapshot id to the tags it gets (only keys it lacks). DEPRECATE: `tags`
    holds the escalation marker, written before the deprecation.
    """

    tags: Mapping[str, str] = field(default_factory=lambda: EMPTY_TAGS)
    remove_tags: tuple[str, ...] = ()
    snapshot_tags: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: NO_SNAPSHOT_TAGS)
    # Who made the image (its created-by tag, or the creating call an event named); "" unknown.
    creator: str = ""

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.creator:
            out["created_by"] = self.creator
        if self.tags:
            out["tags"] = dict(self.tags)
        if self.remove_tags:
            out["remove_tags"] = list(self.remove_tags)
        if self.snapshot_tags:
            out["snapshot_tags"] = {k: dict(v) for k, v in self.snapshot_tags.items()}
        return out


def plan_tagging(
    estate: RegionEstate,
    rules: tuple[TagRule, ...],
    settings: TagSettings,
    now: datetime,
    creators: Mapping[str, CreatorInfo],
    snapshot_tags: Mapping[str, Mapping[str, str]] | None = None,
) -> Plan:
    """Decisions for every image of `estate`, in image-id order.

    `creators` maps the image ids an event named to what it said (empty in a
    sweep); only a creating call's principal becomes ``created-by``.
    `snapshot_tags` maps snapshot ids to their tags; None (or a snapshot
    missing from it) means not read, and nothing is propagated there.
    """
    users = estate.snapshot_users()
    propagate_keys = (
        tuple(r.key for r in rules) if settings.propagate_tags is None else settings.propagate_tags
    )
    decisions: list[Decision] = []
    for image in sorted(estate.images, key=lambda i: i.image_id):
        decisions.extend(
            _decide(
                image,
                estate,
                rules,
                settings,
                now,
                creators.get(image.image_id),
                propagate_keys,
                users,
                snapshot_tags,
            )
        )
    return Plan(job=JOB, region=estate.region, decisions=tuple(decisions))


def compliance_reasons(rules: tuple[TagRule, ...], tags: Mapping[str, str]) -> tuple[str, ...]:
    found = problems(rules, tags)
    if found:
        return found
    if not rules:
        return ("compliant: no tags required",)
    return (f"compliant: {', '.join(r.key for r in rules)} present and valid",)


def auto_tags(image: Image, creator: CreatorInfo | None) -> dict[str, str]:
    """The auto-tags `image` lacks and that are known; never a key it has."""
    wanted: dict[str, str] = {TAG_CREATED_AT: _iso(image.creation_date)}
    if creator is not None and creator.created:
        if creator.principal_arn:
            wanted[TAG_CREATED_BY] = creator.principal_arn
        if creator.source_image:
            wanted[TAG_SOURCE_IMAGE] = creator.source_image
    return {k: v for k, v in wanted.items() if k not in image.tags}


def _decide(
    image: Image,
    estate: RegionEstate,
    rules: tuple[TagRule, ...],
    settings: TagSettings,
    now: datetime,
    creator: CreatorInfo | None,
    propagate_keys: tuple[str, ...],
    users: Mapping[str, set[str]],
    snapshot_tags: Mapping[str, Mapping[str, str]] | None,
) -> list[Decision]:
    if image.owner_id != estate.account_id:
        return [
            _decision(image, Action.KEEP, [f"kept: owned by account {image.owner_id}, not by this account"])
        ]
    if image.state not in TAGGABLE_STATES:
        return [_decision(image, Action.KEEP, [f"kept: state is {image.state}; its tags are not checked"])]
    compliant = not problems(rules, image.tags)
    compliance = list(compliance_reasons(rules, image.tags))
    out: list[TagDecision] = []
    extra: list[str] = []

    to_add = auto_tags(image, creator)
    withdraw = (TAG_ESCALATED_AT,) if compliant and TAG_ESCALATED_AT in image.tags else ()
    if to_add or withdraw:
        said = [f"add {', '.join(f'{k}={v}' for k, v in sorted(to_add.items()))}"] if to_add else []
        if withdraw:
            said.append(f"compliant again: remove {TAG_ESCALATED_AT}, so rotation no longer retires it early")
        out.append(_decision(image, Action.TAG, [*compliance, *said], tags=to_add, remove_tags=withdraw))

    per_snapshot, notes = _propagation(image, propagate_keys, users, snapshot_tags)
    extra.extend(notes)
    if per_snapshot:
        said_snaps = "; ".join(f"{sid}: {', '.join(sorted(t))}" for sid, t in sorted(per_snapshot.items()))
        out.append(
            _decision(
                image,
                Action.PROPAGATE,
                [*compliance, f"copy to snapshots {said_snaps}", *notes],
                snapshot_tags=per_snapshot,
            )
        )

    if not compliant:
        out.extend(_non_compliant(image, settings, now, creator, compliance, out, extra))
    if not out:
        out.append(_decision(image, Action.KEEP, [*compliance, *extra]))
    elif notes and not per_snapshot:
        # Why nothing was propagated belongs in the report even when other actions are planned.
        out[0] = replace(out[0], reasons=out[0].reasons + tuple(notes))
    broken = problems(rules, image.tags)
    # Every decision about the image says who made it and shares the first one's family text.
    who, family = _creator(image, creator), out[0].family
    return [replace(d, findings=broken, creator=who, family=family) for d in out]


def _non_compliant(
    image: Image,
    settings: TagSettings,
    now: datetime,
    creator: CreatorInfo | None,
    compliance: list[str],
    planned: list[TagDecision],
    extra: list[str],
) -> list[TagDecision]:
    """NOTIFY (first sight, or past grace) and the escalation DEPRECATE, if due."""
    out: list[TagDecision] = []
    age = now - image.creation_date
    hours = max(0, int(age.total_seconds() // 3600))
    who = _creator(image, creator)
    by = f"; created by {who}" if who else ""
    escalated = image.tags.get(TAG_ESCALATED_AT)
    status = (
        [f"escalated on {escalated or '?'}: rotation retires it unless a safety rule keeps it"]
        if escalated is not None
        else []
    )
    if creator is not None and not _seen_before(creator, image):
        seen = creator.describe()
        by = "" if creator.created or not who else by
        out.append(_decision(image, Action.NOTIFY, [*compliance, f"non-compliant: {seen}{by}", *status]))
    elif age >= timedelta(hours=settings.grace_hours):
        out.append(
            _decision(
                image,
                Action.NOTIFY,
                [
                    *compliance,
                    f"non-compliant {hours} hours after creation (grace {settings.grace_hours} hours){by}",
                    *status,
                ],
            )
        )
    elif not planned:
        extra.append(f"within the {settings.grace_hours}-hour grace period{by}")

    days = settings.escalation_days
    # Any marker, even an empty one, means "already escalated": never overwrite it.
    if days and escalated is None and image.is_available and age >= timedelta(days=days):
        marker = {TAG_ESCALATED_AT: _iso(now)}
        out.append(
            _decision(
                image,
                Action.DEPRECATE,
                [
                    *compliance,
                    f"non-compliant {age.days} days after creation (escalation after {days} days)",
                    f"deprecates it now and tags {TAG_ESCALATED_AT}; rotation then disables and later "
                    "deregisters it unless a safety rule keeps it",
                ],
                tags=marker,
                deprecate_at=now + DEPRECATE_MARGIN,
            )
        )
    return out


def _creator(image: Image, creator: CreatorInfo | None) -> str:
    """Who made the image: the creating call an event named, else its created-by tag ("" unknown)."""
    if creator is not None and creator.created and creator.principal_arn:
        return creator.principal_arn
    return image.tags.get(TAG_CREATED_BY, "")


def _seen_before(creator: CreatorInfo, image: Image) -> bool:
    """An "available" event for an image the job already handled (CreateImage came first).

    CreateImage and the state change both arrive for one new image; only the
    first tells the person, the other falls back to the grace-period rule.
    """
    return creator.event_name.startswith("StateChange") and TAG_CREATED_AT in image.tags


def _propagation(
    image: Image,
    keys: tuple[str, ...],
    users: Mapping[str, set[str]],
    snapshot_tags: Mapping[str, Mapping[str, str]] | None,
) -> tuple[dict[str, dict[str, str]], list[str]]:
    wanted = {k: image.tags[k] for k in keys if k in image.tags}
    if not wanted or not image.snapshots:
        return {}, []
    if snapshot_tags is None:
        return {}, ["snapshot tags not read: nothing propagated"]
    out: dict[str, dict[str, str]] = {}
    notes: list[str] = []
    for snap in image.snapshots:
        sid = snap.snapshot_id
        sharers = users.get(sid, {image.image_id})
        if len(sharers) > 1:
            notes.append(f"snapshot {sid} is used by {len(sharers)} images: not tagged")
            continue
        if sid not in snapshot_tags:
            notes.append(f"snapshot {sid}: tags not read, not tagged")
            continue
        has = snapshot_tags[sid]
        missing = {k: v for k, v in wanted.items() if k not in has}
        if missing:
            out[sid] = missing
    return out, notes


def _decision(
    image: Image,
    action: Action,
    reasons: list[str],
    *,
    tags: Mapping[str, str] = EMPTY_TAGS,
    remove_tags: tuple[str, ...] = (),
    snapshot_tags: Mapping[str, Mapping[str, str]] | None = None,
    deprecate_at: datetime | None = None,
) -> TagDecision:
    try:
        family = family_of(image)
    except FamilyTagError:
        family = derived_family(image)
    return TagDecision(
        **image_decision(image, family, action, reasons),
        tags=dict(tags) if tags else EMPTY_TAGS,
        remove_tags=remove_tags,
        deprecate_at=deprecate_at,
        snapshot_tags={k: dict(v) for k, v in snapshot_tags.items()} if snapshot_tags else NO_SNAPSHOT_TAGS,
    )


def _iso(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
