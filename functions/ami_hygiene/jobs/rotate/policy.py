"""Rotation: retire superseded images in stages, never one that is still needed.

An image is *superseded* when it is not among the newest ``keep_latest``
available images of its family (see ``families``). A superseded image of this
account goes through three stages, one per run at most:

1. **deprecate** while it is younger than ``retention_days``: deprecation is
   set for created + retention_days, so users see the end coming. It is only a
   notice (the image still launches), so usage does not stop it.
2. **disable** once it is older than ``retention_days`` and nothing uses it:
   it can no longer be launched. DisableImage also removes every launch
   permission and EnableImage does not give them back (EC2 API reference), so
   the executor records the allow-listed principals in the image's tags
   (``launch_record``) and tags it ``ami-hygiene:disabled-at``; ``ami-hygiene
   restore`` enables it and shares it again. An image shared with more
   principals than the record holds is kept.
3. **deregister** ``disable_grace_days`` after that tag, together with its
   snapshots that no other image uses. With a grace of 0 days an available
   image is deregistered at once, skipping stage 2.

Before stages 2 and 3 every safety check runs and all the obstacles found are
reported: usage (instances, launch templates, launch configurations, SSM
parameters, image references), a launch within the retention window, a usage
source that could not be read, and sharing (public, shared outside the
allow-list, or unreadable). Launch permissions are read per image, so a plan
made before they are read marks the action with a pending check; the rotate
job reads them and plans again, and the executor never applies a decision
with checks pending.

An image shared with allow-listed accounts, organizations or OUs may be used
there, where this account cannot see. With ``consumer_role_name`` set, such a
candidate waits for a second pending check ("consumer usage"): the job reads
each of those accounts' usage (``consumers``) and plans again; an image is
kept while any consumer uses it (the usage names the account) or while any
consumer's use is unknown (a role that cannot be assumed, a read denied, an
organization that cannot be listed); those unknowns are errors too. Without a
consumer role, ``consumer_usage_unknown`` decides: keep (the default) or retire.

An image the tag job escalated (tag ``ami-hygiene:escalated-at``) that still
breaks the required-tag rules skips the wait: it is disabled (or, with a grace
of 0 days, deregistered) as soon as it is superseded, with every safety check
above. The tag on a compliant image is ignored.

Images of other accounts, the newest of each family, protected images
(``ami-hygiene:retain``, deregistration protection, a bad control tag) and
images in any state but available or disabled are always kept.

Finally, the run's action budget goes to the actions that reclaim most first
(deregister, disable, deprecate; oldest first); the rest are deferred to the
next run. The policy is pure: no AWS, no clock, no environment.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ami_hygiene.core.estate import (
    TAG_DISABLED_AT,
    TAG_ESCALATED_AT,
    TAG_RETAIN,
    ConsumerCheck,
    Image,
    RegionEstate,
    SnapshotRef,
)
from ami_hygiene.core.families import FamilyTagError, derived_family, family_of
from ami_hygiene.core.launch_record import MAX_TAGS, TAG_LAUNCH_PERMISSIONS, record_of
from ami_hygiene.core.plan import Action, Decision, Plan, image_decision, within_budget
from ami_hygiene.core.tag_rules import problems
from ami_hygiene.jobs.rotate.settings import ConsumerUsageUnknown, RotateJobSettings

JOB = "rotate"
PENDING_SHARING = "launch permissions"
PENDING_CONSUMERS = "consumer usage"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_USAGES_NAMED = 3  # usages spelled out in a deprecation notice
_PRINCIPALS_NAMED = 5  # principals spelled out in a consumer sentence
DEPRECATION_LIMIT = timedelta(days=365 * 10)
PUBLIC_DEPRECATION_LIMIT = timedelta(days=365 * 2)


@dataclass(frozen=True)
class RotationDecision(Decision):
    """A rotation Decision, with what was found about the image's consumers.

    `consumers_checked`: the accounts it is shared with whose usage was read;
    `consumers_using`: those of them found using it; `consumers_unknown`: an
    account, or an organization / OU whose accounts could not be listed, and why
    its use is unknown. All empty when no consumer check was made.
    """

    consumers_checked: tuple[str, ...] = ()
    consumers_using: tuple[str, ...] = ()
    consumers_unknown: tuple[tuple[str, str], ...] = ()

    def details(self) -> dict[str, Any]:
        if not (self.consumers_checked or self.consumers_unknown):
            return {}
        return {
            "consumers": {
                "checked": list(self.consumers_checked),
                "using": list(self.consumers_using),
                "unknown": dict(self.consumers_unknown),
            }
        }


@dataclass(frozen=True)
class _Draft:
    decision: Decision
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Context:
    """What every rule needs, computed once per plan."""

    estate: RegionEstate
    settings: RotateJobSettings
    now: datetime
    families: Mapping[str, str]  # image_id -> family shown in the decision
    family_errors: Mapping[str, FamilyTagError]
    # family -> (creation_date, image_id) of its owned available images, oldest first
    available: Mapping[str, list[tuple[datetime, str]]]
    snapshot_users: Mapping[str, set[str]]

    def owns(self, image: Image) -> bool:
        return image.owner_id == self.estate.account_id

    def newer_available(self, image: Image) -> int:
        """How many owned available images of its family are newer (ties: higher image id)."""
        keys = self.available.get(self.families[image.image_id], [])
        return len(keys) - bisect.bisect_right(keys, (image.creation_date, image.image_id))


def plan_rotation(estate: RegionEstate, settings: RotateJobSettings, now: datetime, budget: int) -> Plan:
    """One decision per image of `estate`; at most `budget` actions not deferred."""
    ctx = _context(estate, settings, now)
    drafts = _ordered([_decide(image, ctx) for image in estate.images])
    decisions = within_budget(
        [d.decision for d in drafts],
        budget,
        limit=settings.max_actions,
        region=estate.region,
        rank=_retire_first,
    )
    return Plan(
        job=JOB,
        region=estate.region,
        decisions=tuple(decisions),
        errors=(*_read_errors(estate), *(error for draft in drafts for error in draft.errors)),
    )


def _read_errors(estate: RegionEstate) -> list[str]:
    """What could not be read is an error, not only a reason to keep: a denied permission must show."""
    errors = [
        f"could not read {source} in {estate.region} ({problem}); nothing there is retired until it can be"
        for source, problem in sorted(estate.unread_sources.items())
        if not source.endswith("(estimate only)")
    ]
    errors += [
        f"could not read {source} in {estate.region} ({problem}); the saving estimate uses volume sizes"
        for source, problem in sorted(estate.unread_sources.items())
        if source.endswith("(estimate only)")
    ]
    errors += [
        f"could not read the launch permissions of {image_id} ({sharing.error}); it is kept"
        for image_id, sharing in sorted(estate.sharing.items())
        if sharing.error
    ]
    # One error per consumer (and problem), however many images are shared with it.
    unknown = {pair for check in estate.consumers.values() for pair in check.unknown.items()}
    errors += [
        f"could not read the use of images by {_consumer_label(who)} in {estate.region} ({why}); "
        "nothing shared with it is retired until it can be"
        for who, why in sorted(unknown)
    ]
    return errors


# -- context -------------------------------------------------------------------------------


def _context(estate: RegionEstate, settings: RotateJobSettings, now: datetime) -> _Context:
    families: dict[str, str] = {}
    errors: dict[str, FamilyTagError] = {}
    for image in estate.images:
        try:
            families[image.image_id] = family_of(image)
        except FamilyTagError as err:
            families[image.image_id] = derived_family(image)
            errors[image.image_id] = err
    available: dict[str, list[tuple[datetime, str]]] = {}
    for image in estate.images:
        # An image with a bad family tag is kept anyway and takes no place among the newest.
        if image.owner_id == estate.account_id and image.is_available and image.image_id not in errors:
            available.setdefault(families[image.image_id], []).append((image.creation_date, image.image_id))
    for keys in available.values():
        keys.sort()
    return _Context(estate, settings, now, families, errors, available, estate.snapshot_users())


def _ordered(drafts: list[_Draft]) -> list[_Draft]:
    """By family, then newest first (equal times: the higher image id first, as for the newest)."""
    newest_first = sorted(
        drafts, key=lambda d: (d.decision.created or _EPOCH, d.decision.image_id), reverse=True
    )
    return sorted(newest_first, key=lambda d: d.decision.family)


# -- the rules, in order -------------------------------------------------------------------


def _decide(image: Image, ctx: _Context) -> _Draft:
    if not ctx.owns(image):
        return _keep(image, ctx, [f"kept: owned by account {image.owner_id}, not by this account"])
    standing, errors = _standing_reasons(image, ctx)
    if standing:
        return _keep(image, ctx, standing, errors)
    if image.is_disabled:
        return _disabled_stage(image, ctx)
    if image.is_available:
        return _available_stage(image, ctx)
    return _keep(image, ctx, [f"kept: state is {image.state}; only available or disabled images are rotated"])


def _standing_reasons(image: Image, ctx: _Context) -> tuple[list[str], list[str]]:
    """Reasons that keep an owned image whatever its age: newest, protected, bad tags."""
    reasons = _newest_reasons(image, ctx)
    protection, errors = _protection_reasons(image, ctx)
    return reasons + protection, errors


def _newest_reasons(image: Image, ctx: _Context) -> list[str]:
    if not image.is_available or image.image_id in ctx.family_errors:
        return []
    keep = ctx.settings.keep_latest
    if ctx.newer_available(image) >= keep:
        return []
    family = ctx.families[image.image_id]
    if keep == 1:
        return [f"kept: the newest available image of family {family}"]
    return [f"kept: one of the {keep} newest available images of family {family}"]


def _protection_reasons(image: Image, ctx: _Context) -> tuple[list[str], list[str]]:
    reasons: list[str] = []
    errors: list[str] = []
    retain = image.tags.get(TAG_RETAIN)
    if retain is not None and retain.lower() == "true":
        reasons.append(f"kept: tagged {TAG_RETAIN}=true")
    elif retain is not None and retain.lower() != "false":
        reasons.append(f"kept: tag {TAG_RETAIN} has the value {retain!r}, which is neither true nor false")
        errors.append(
            f"{_label(image)}: tag {TAG_RETAIN}={retain!r} is neither true nor false; "
            "the image is kept until the tag is fixed"
        )
    if image.deregistration_protected:
        reasons.append("kept: deregistration protection is on")
    family_error = ctx.family_errors.get(image.image_id)
    if family_error is not None:
        reasons.append(f"kept: its family tag {family_error.value!r} is not a valid family name")
        errors.append(f"{family_error}; the image is kept until the tag is fixed")
    return reasons, errors


def _disabled_stage(image: Image, ctx: _Context) -> _Draft:
    raw = image.tags.get(TAG_DISABLED_AT)
    if raw is None:
        return _keep(
            image,
            ctx,
            [f"kept: disabled by someone else, not by ami-hygiene (no {TAG_DISABLED_AT} tag); left alone"],
        )
    disabled_at = _parse_time(raw)
    if disabled_at is None:
        return _keep(
            image,
            ctx,
            [f"kept: tag {TAG_DISABLED_AT} has the value {raw!r}, which is not an ISO 8601 time"],
            [
                f"{_label(image)}: tag {TAG_DISABLED_AT}={raw!r} is not an ISO 8601 time; "
                "the image is kept until the tag is fixed"
            ],
        )
    grace_days = ctx.settings.disable_grace_days
    due = _add(disabled_at, ctx.settings.disable_grace)
    if due is None or ctx.now < due:
        when = _day(due) if due else "never"
        return _keep(
            image,
            ctx,
            [f"kept: disabled on {_day(disabled_at)}; deregistration due {when} ({grace_days}-day grace)"],
        )
    facts = [
        f"disabled by ami-hygiene on {_day(disabled_at)}; the {grace_days}-day grace ended {_day(due)}",
        _superseded_fact(image, ctx),
    ]
    return _retire(image, ctx, Action.DEREGISTER, facts, "deregisters it now")


def _available_stage(image: Image, ctx: _Context) -> _Draft:
    escalated = _escalation_fact(image, ctx)
    if escalated:
        return _retire_available(image, ctx, [_superseded_fact(image, ctx), escalated])
    retire_at = _add(image.creation_date, ctx.settings.retention)
    if retire_at is None:
        return _keep(image, ctx, [f"kept: created {_day(image.creation_date)}, too far ahead to retire"])
    if ctx.now < retire_at:
        return _deprecation(image, ctx, retire_at)
    days = ctx.settings.retention_days
    facts = [
        _superseded_fact(image, ctx),
        f"created {_day(image.creation_date)}, older than the {days}-day retention",
    ]
    return _retire_available(image, ctx, facts)


def _escalation_fact(image: Image, ctx: _Context) -> str:
    """Why the tag job's escalation still stands for `image`, or "" when it does not."""
    marked = image.tags.get(TAG_ESCALATED_AT)
    broken = problems(ctx.settings.required_tags, image.tags) if marked is not None else ()
    if not broken:
        return ""
    return f"escalated by the tag job on {marked}: still {'; '.join(broken)}"


def _retire_available(image: Image, ctx: _Context, facts: list[str]) -> _Draft:
    grace_days = ctx.settings.disable_grace_days
    if grace_days == 0:
        return _retire(
            image,
            ctx,
            Action.DEREGISTER,
            facts,
            "deregisters it at once: DisableGraceDays is 0, so there is no disabled stage",
        )
    return _retire(
        image,
        ctx,
        Action.DISABLE,
        facts,
        f"disables it now; deregistration follows {grace_days} days later if it is still unused",
    )


def _deprecation(image: Image, ctx: _Context, retire_at: datetime) -> _Draft:
    """Superseded but young: set deprecation for its retirement; usage does not matter."""
    days = ctx.settings.retention_days
    deprecate_at, capped = _deprecation_limit(image, ctx, retire_at)
    if deprecate_at is None:
        return _keep(image, ctx, [f"kept: superseded; {capped}, so no deprecation can be set"])
    current = image.deprecation_time
    if current is not None and current <= deprecate_at:
        already = (
            f"already deprecated from {_day(current)}"
            if current <= ctx.now
            else f"deprecation already set for {_day(current)}"
        )
        return _keep(
            image, ctx, [f"kept: superseded; {already}; retires after {days} days ({_day(retire_at)})"]
        )
    family = ctx.families[image.image_id]
    newer = _count(ctx.newer_available(image), "newer image")
    reasons = [
        f"superseded by {newer} of family {family}; deprecation set for {_day(deprecate_at)} "
        + (f"({capped})" if capped else f"(created + {days} days)")
        + " so users see it coming",
    ]
    if current is not None:
        reasons.append(f"brings the deprecation forward from {_day(current)}")
    reasons.extend(_deprecation_notes(image, ctx))
    return _Draft(_decision(image, ctx, Action.DEPRECATE, reasons, deprecate_at=deprecate_at))


def _deprecation_limit(image: Image, ctx: _Context, wanted: datetime) -> tuple[datetime | None, str]:
    """`wanted`, or the latest DeprecateAt EC2 accepts, and why it was capped.

    EC2 API reference, EnableImageDeprecation DeprecateAt: "The upper limit for
    DeprecateAt is 10 years from now, except for public AMIs, where the upper
    limit is 2 years from the creation date". Years are counted short (365
    days) so a leap day never pushes a request past the limit. None: the public
    limit is already over (EC2 refuses a time in the past).
    """
    if image.public:
        limit, why = _add(image.creation_date, PUBLIC_DEPRECATION_LIMIT), "2 years after creation"
        rule = "EC2 allows a public image's deprecation at most 2 years after its creation"
    else:
        limit, why = _add(ctx.now, DEPRECATION_LIMIT), "10 years from now"
        rule = "EC2 allows deprecation at most 10 years ahead"
    if limit is None or wanted <= limit:
        return wanted, ""
    if limit <= ctx.now:
        return None, f"{rule}, which is past"
    return limit, f"capped at {why}: {rule}"


def _deprecation_notes(image: Image, ctx: _Context) -> list[str]:
    notes = [_launch_fact(image)]
    usages = ctx.estate.usages_of(image.image_id)
    if usages:
        named = "; ".join(u.describe() for u in usages[:_USAGES_NAMED])
        more = f" and {len(usages) - _USAGES_NAMED} more" if len(usages) > _USAGES_NAMED else ""
        notes.append(f"deprecation is only a notice, so usage does not stop it: {named}{more}")
    return notes


# -- retiring: the safety checks -----------------------------------------------------------


def _retire(image: Image, ctx: _Context, action: Action, facts: list[str], effect: str) -> _Draft:
    """DISABLE or DEREGISTER, unless a safety check finds an obstacle (then KEEP with all of them)."""
    obstacles = [
        *_usage_reasons(image, ctx),
        *_launch_reasons(image, ctx),
        *_unread_reasons(ctx),
        *_sharing_reasons(image, ctx),
        *_record_reasons(image, ctx),
        *_consumer_reasons(image, ctx),
    ]
    consumers = _consumer_facts(image, ctx)
    if obstacles:
        return _keep(image, ctx, obstacles + facts + consumers)
    if image.image_id not in ctx.estate.sharing:
        pending: tuple[str, ...] = (PENDING_SHARING,)
    elif _consumers_to_read(image, ctx) and image.image_id not in ctx.estate.consumers:
        pending = (PENDING_CONSUMERS,)
    else:
        pending = ()
    reasons = [*facts, _unused_fact(ctx), _launch_fact(image), _sharing_fact(image, ctx), *consumers, effect]
    snapshots: tuple[SnapshotRef, ...] = ()
    if action is Action.DEREGISTER:
        snapshots, snapshot_reasons = _snapshot_split(image, ctx)
        reasons.extend(snapshot_reasons)
    return _Draft(
        _decision(
            image,
            ctx,
            action,
            reasons,
            snapshots=snapshots,
            pending_checks=pending,
            shared_with=_shared_with(image, ctx),
        )
    )


def _usage_reasons(image: Image, ctx: _Context) -> list[str]:
    return [f"kept: {usage.describe()}" for usage in ctx.estate.usages_of(image.image_id)]


def _launch_reasons(image: Image, ctx: _Context) -> list[str]:
    # A recent launch keeps an image. Its absence proves nothing about consumers: the
    # EC2 API reference says only that LastLaunchedTime is "the date and time, in
    # ISO 8601 date-time format, when the AMI was last used to launch an EC2
    # instance" ("there is a 24-hour delay before that usage is reported"), not
    # whether launches by accounts the image is shared with count. Consumers are
    # checked on their own (_consumer_reasons).
    launched = image.last_launched
    if launched is None or ctx.now - launched >= ctx.settings.retention:
        return []
    days = ctx.settings.retention_days
    return [f"kept: launched {_day(launched)}, within the {days}-day retention window"]


def _unread_reasons(ctx: _Context) -> list[str]:
    return [
        f"kept: could not read {source} ({problem}), so usage is unknown"
        for source, problem in sorted(ctx.estate.unread_sources.items())
    ]


def _sharing_reasons(image: Image, ctx: _Context) -> list[str]:
    sharing = ctx.estate.sharing.get(image.image_id)
    reasons: list[str] = []
    if image.public or (sharing is not None and sharing.public):
        reasons.append("kept: public")
    if sharing is None:
        return reasons
    if sharing.error:
        reasons.append(f"kept: launch permissions could not be read: {sharing.error}")
    foreign = sharing.foreign(ctx.settings.allowed_share_accounts)
    if foreign:
        reasons.append(f"kept: shared with {', '.join(foreign)}, not on the allow-list")
    return reasons


def _consumers_to_read(image: Image, ctx: _Context) -> tuple[str, ...]:
    """The allow-listed principals whose use of the image a consumer role can read."""
    if not ctx.settings.consumer_role_name:
        return ()
    return _allowed_shares(image, ctx)


def _allowed_shares(image: Image, ctx: _Context) -> tuple[str, ...]:
    allowed = ctx.settings.allowed_share_accounts
    return tuple(p for p in _shared_with(image, ctx) if p in allowed)


def _consumer_reasons(image: Image, ctx: _Context) -> list[str]:
    """Keep an image another account uses (its Usages say so) or whose use there is unknown."""
    shared = _allowed_shares(image, ctx)
    if not shared:
        return []
    if not ctx.settings.consumer_role_name:
        if ctx.settings.consumer_usage_unknown is ConsumerUsageUnknown.RETIRE:
            return []
        return [
            f"kept: shared with {_named(shared)}, whose use of it is unknown (no ConsumerRoleName "
            "to look; set ConsumerUsageUnknown=retire to retire anyway)"
        ]
    check = ctx.estate.consumers.get(image.image_id)
    if check is None:
        return []  # not read yet: the decision waits for it (PENDING_CONSUMERS)
    return [
        f"kept: use of it by {_consumer_label(who)} is unknown: {why}"
        for who, why in sorted(check.unknown.items())
    ]


def _consumer_facts(image: Image, ctx: _Context) -> list[str]:
    """Which consumers were checked and what was found, for the report."""
    shared = _allowed_shares(image, ctx)
    if not shared:
        return []
    if not ctx.settings.consumer_role_name:
        if ctx.settings.consumer_usage_unknown is ConsumerUsageUnknown.RETIRE:
            return [
                f"use by {_named(shared)} not checked (no ConsumerRoleName); "
                "ConsumerUsageUnknown=retire retires it anyway"
            ]
        return []
    check = ctx.estate.consumers.get(image.image_id)
    if check is None:
        return [
            f"use by {_named(shared)} not read yet: each account it is shared with is checked "
            "before anything changes"
        ]
    using = _consumers_using(image, ctx)
    if not check.checked:
        return [] if check.unknown else ["consumers checked: no account besides this one"]
    if not using:
        return [f"consumers checked: {_named(check.checked)} (none uses it)"]
    others = tuple(a for a in check.checked if a not in using)
    found = ", ".join(f"{a} (uses it)" for a in using)
    return [f"consumers checked: {found}" + (f"; no use found in {_named(others)}" if others else "")]


def _consumers_using(image: Image, ctx: _Context) -> tuple[str, ...]:
    return tuple(sorted({u.account for u in ctx.estate.usages_of(image.image_id) if u.account}))


def _named(principals: tuple[str, ...]) -> str:
    """Principals for a sentence: the first few, then how many more."""
    shown = ", ".join(principals[:_PRINCIPALS_NAMED])
    more = len(principals) - _PRINCIPALS_NAMED
    return f"{shown} and {more} more" if more > 0 else shown


def _consumer_label(who: str) -> str:
    return f"account {who}" if who.isdigit() else f"the accounts of {who}"


def _shared_with(image: Image, ctx: _Context) -> tuple[str, ...]:
    sharing = ctx.estate.sharing.get(image.image_id)
    if sharing is None:
        return ()
    return tuple(sorted(sharing.accounts | sharing.organizations | sharing.organizational_units))


def _record_reasons(image: Image, ctx: _Context) -> list[str]:
    """Retiring drops the launch permissions: keep an image whose sharing cannot be recorded."""
    shared = _shared_with(image, ctx)
    if not shared or record_of(shared).fits:
        return []
    return [
        f"kept: shared with {len(shared)} allow-listed principals, more than {MAX_TAGS} tags can record "
        "for restore (disabling or deregistering removes launch permissions)"
    ]


def _snapshot_split(image: Image, ctx: _Context) -> tuple[tuple[SnapshotRef, ...], list[str]]:
    """The image's snapshots no other image uses (they go) and the others (they stay, and why)."""
    if not image.snapshots:
        return (), ["has no EBS snapshots to delete"]
    goes: list[SnapshotRef] = []
    reasons: list[str] = []
    seen: set[str] = set()
    for snap in image.snapshots:
        if snap.snapshot_id in seen:
            continue
        seen.add(snap.snapshot_id)
        others = sorted(ctx.snapshot_users.get(snap.snapshot_id, set()) - {image.image_id})
        if others:
            reasons.append(f"keeps {snap.snapshot_id}: also used by {', '.join(others)}")
        else:
            goes.append(snap)
            reasons.append(f"deletes {snap.snapshot_id} ({snap.size_gib} GiB)")
    return tuple(goes), reasons


# -- context sentences for actions ---------------------------------------------------------


def _superseded_fact(image: Image, ctx: _Context) -> str:
    family = ctx.families[image.image_id]
    return f"superseded: {_count(ctx.newer_available(image), 'newer available image')} in family {family}"


def _unused_fact(ctx: _Context) -> str:
    if ctx.estate.references_checked:
        return "not used by any instance, launch template, launch configuration, SSM parameter or reference"
    return (
        "not used by any instance, launch template, launch configuration or SSM parameter; "
        "references by other resources are unknown (DescribeImageReferences was not available)"
    )


def _launch_fact(image: Image) -> str:
    if image.last_launched is None:
        return "never launched"
    return f"last launched {_day(image.last_launched)}"


def _sharing_fact(image: Image, ctx: _Context) -> str:
    sharing = ctx.estate.sharing.get(image.image_id)
    if sharing is None:
        return "launch permissions not read yet: they are checked before anything changes"
    shared = _shared_with(image, ctx)
    if shared:
        return (
            f"shared only with allow-listed {', '.join(shared)}: they lose access, so the permissions "
            f"are recorded in tag {TAG_LAUNCH_PERMISSIONS} for `ami-hygiene restore`"
        )
    return "not shared with any other account"


# -- budget --------------------------------------------------------------------------------

# Under the budget, deregistrations go first (they reclaim storage), then disables, then
# deprecations; the oldest image first within each.
ACTION_PRIORITY = {Action.DEREGISTER: 0, Action.DISABLE: 1, Action.DEPRECATE: 2}


def _retire_first(d: Decision) -> tuple[int, datetime, str]:
    return (ACTION_PRIORITY[d.action], d.created or _EPOCH, d.image_id)


# -- helpers -------------------------------------------------------------------------------


def _keep(image: Image, ctx: _Context, reasons: list[str], errors: Iterable[str] = ()) -> _Draft:
    return _Draft(_decision(image, ctx, Action.KEEP, reasons), tuple(errors))


def _decision(
    image: Image,
    ctx: _Context,
    action: Action,
    reasons: list[str],
    *,
    deprecate_at: datetime | None = None,
    snapshots: tuple[SnapshotRef, ...] = (),
    pending_checks: tuple[str, ...] = (),
    shared_with: tuple[str, ...] = (),
) -> Decision:
    check = ctx.estate.consumers.get(image.image_id) or ConsumerCheck()
    return RotationDecision(
        **image_decision(image, ctx.families[image.image_id], action, reasons),
        deprecate_at=deprecate_at,
        snapshots=snapshots,
        pending_checks=pending_checks,
        shared_with=shared_with,
        consumers_checked=check.checked,
        consumers_using=_consumers_using(image, ctx) if check.checked else (),
        consumers_unknown=tuple(sorted(check.unknown.items())),
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _label(image: Image) -> str:
    return f"{image.image_id} ({image.name})" if image.name else image.image_id


def _parse_time(raw: str) -> datetime | None:
    """An ISO 8601 time; one without an offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _add(moment: datetime, delta: timedelta) -> datetime | None:
    """`moment + delta`, or None past the end of the calendar (a tag set to year 9999)."""
    try:
        return moment + delta
    except OverflowError:
        return None


def _day(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d}"
