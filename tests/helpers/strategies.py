"""Hypothesis strategies for estates, settings and clocks, shared by the policy tests.

Times are drawn around a fixed moment (`BASE`) in whole days, so the
boundaries the rules care about (exactly the retention, exactly the grace)
come up often; `nows_for` puts the clock on them, give or take a second.

An estate has a few families, images of every state, snapshots shared between
images (of this account and of others), and every kind of trouble a safety rule
is about. Each image draws one *trouble* (about half draw none): another owner,
a retain tag (good or bad), a bad family tag, public, deregistration
protection, a usage, a recent launch, launch permissions shared outside the
allow-list / public / unreadable / not read yet, a consumer (an account it is
shared with) that uses it or whose use is unknown. An image shared with the
allow-list may also have had its consumers read, or not yet. About one image in four draws
a second trouble as well, so combinations occur too. One main trouble
per image keeps the others clean often enough that a policy which ignored any
one rule would be caught acting on that image.

    from tests.helpers.strategies import budgets, estates, nows, rotation_settings

    @given(estates(), rotation_settings(), nows(), budgets())
    def test_something(estate, settings, now, budget): ...

`nows_for(estate, settings)` draws a clock that often sits exactly on (or a
second off) the moment a rule flips for one of the estate's images.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import combinations, product
from typing import TypeVar

from hypothesis import strategies as st

from ami_hygiene.core.estate import (
    TAG_DISABLED_AT,
    TAG_ESCALATED_AT,
    TAG_FAMILY,
    TAG_IMAGE_BUILDER_ARN,
    TAG_RETAIN,
    ConsumerCheck,
    Image,
    ImageState,
    RegionEstate,
    Sharing,
    SnapshotRef,
    Usage,
    UsageKind,
)
from ami_hygiene.core.tag_rules import parse_required_tags
from ami_hygiene.jobs.settings import ConsumerUsageUnknown, Settings
from tests.helpers import builders
from tests.helpers.constants import ACCOUNT, ALLOWED, FOREIGN, POLICY_NOW, REGION, STRANGER

T = TypeVar("T")

ORG_ARN = "arn:aws:organizations::123456789012:organization/o-abc123"
BASE = POLICY_NOW  # the moment drawn times are around

FAMILY_STEMS = ("web", "base-al2023")
SNAPSHOT_POOL = tuple(f"snap-{n:017x}" for n in range(12))
TRUE_RETAIN = ("true", "TRUE", "True")
FALSE_RETAIN = ("false", "FALSE")
BAD_RETAIN = ("yes please", "", "1", " true")
BAD_FAMILY_TAGS = ("bad family", "-web", "", "web!", "x" * 129)
BAD_TIMES = ("last tuesday", "2024-13-01", "")
USAGE_DETAILS = {
    UsageKind.INSTANCE: ("running", "stopped"),
    UsageKind.LAUNCH_TEMPLATE: ("$Default", "$Latest", "version 2, pinned by Auto Scaling group web-asg"),
    UsageKind.LAUNCH_CONFIGURATION: ("",),
    UsageKind.SSM_PARAMETER: ("",),
    UsageKind.IMAGE_REFERENCE: ("instance",),
}
UNREAD_SOURCES: tuple[dict[str, str], ...] = ({},) * 10 + (
    {"ssm-parameter": "AccessDenied"},
    {"image-references": "Throttling"},
)
CLEAN_SHARINGS = (
    Sharing(),
    Sharing(),
    Sharing(),
    Sharing(accounts=frozenset({ALLOWED})),
    Sharing(organizations=frozenset({ORG_ARN})),  # allowed or not, as the settings say
)
FOREIGN_SHARINGS = (
    Sharing(accounts=frozenset({STRANGER})),
    Sharing(accounts=frozenset({ALLOWED, STRANGER})),
    Sharing(organizational_units=frozenset({"ou-abcd-12345678"})),
)
TROUBLES = ("none",) * 10 + (
    "foreign-owner",
    "foreign-owner",  # the rarer troubles twice: each must also land on an image worth retiring
    "retain",
    "bad-retain",
    "bad-family",
    "public",
    "public",
    "protected",
    "protected",
    "usage",
    "launched",
    "shared-foreign",
    "shared-public",
    "sharing-error",
    "sharing-unread",
    "escalated",  # the tag job's marker: retired early while the image breaks the tag rules
    "consumer-uses",  # shared with the allow-list; a consumer account uses it
    "consumer-uses",
    "consumer-unknown",  # shared with the allow-list; a consumer's use could not be read
    "consumer-unknown",
)
ALLOWED_SHARINGS = (
    Sharing(accounts=frozenset({ALLOWED})),
    Sharing(organizations=frozenset({ORG_ARN})),
)
UNKNOWN_CONSUMERS = (
    {ALLOWED: f"could not assume arn:aws:iam::{ALLOWED}:role/reader (AccessDenied: no)"},
    {ORG_ARN: "could not list its accounts: AWSOrganizationsNotInUseException: not in use"},
    {STRANGER: "could not read instances there (UnauthorizedOperation: no)"},
)

_JITTER = (0, 0, 0, 0, 1, -1, 3600)


def moments(
    around: datetime = BASE, min_days: int = -300, max_days: int = 300
) -> st.SearchStrategy[datetime]:
    """A UTC time `around` +/- whole days, sometimes a second or an hour off."""
    return st.builds(
        lambda days, seconds: around + timedelta(days=days, seconds=seconds),
        st.integers(min_days, max_days),
        st.sampled_from(_JITTER),
    )


def days(around: datetime, min_days: int, max_days: int) -> st.SearchStrategy[datetime]:
    """`around` +/- whole days: one draw, cheaper than `moments`."""
    return st.integers(min_days, max_days).map(lambda n: around + timedelta(days=n))


def nows() -> st.SearchStrategy[datetime]:
    """The clock of a run: on or up to 60 days after BASE."""
    return moments(BASE, 0, 60)


def rotation_settings() -> st.SearchStrategy[Settings]:
    return st.builds(
        Settings,
        regions=st.just((REGION,)),
        retention_days=st.integers(1, 240),
        keep_latest=st.integers(1, 3),
        disable_grace_days=st.sampled_from((0, 1, 14, 7, 0, 30)),
        max_actions=st.integers(1, 20),
        allowed_share_accounts=st.sampled_from(
            (frozenset({ALLOWED}), frozenset({ALLOWED, ORG_ARN}), frozenset())
        ),
        # With a rule, an escalated image (never tagged Owner here) breaks it.
        required_tags=st.sampled_from(((), parse_required_tags("Owner"))),
        consumer_role_name=st.sampled_from(("ami-hygiene-consumer", "ami-hygiene-consumer", "")),
        consumer_usage_unknown=st.sampled_from(tuple(ConsumerUsageUnknown)),
    )


EDGE_KINDS = ("retention", "launch", "grace")


def critical_moments(
    estate: RegionEstate, settings: Settings, kinds: tuple[str, ...] = EDGE_KINDS
) -> list[datetime]:
    """The moments at which a rule flips for some image of this account.

    "retention": an available image reaches the retention; "launch": a launch
    leaves the retention window; "grace": a disabled image's grace ends. A run
    at (or a second either side of) one of these is where an off-by-one shows.
    """
    retention = timedelta(days=settings.retention_days)
    grace = timedelta(days=settings.disable_grace_days)
    found: set[datetime] = set()
    for image in estate.images:
        if image.owner_id != estate.account_id or not (image.is_available or image.is_disabled):
            continue
        if "retention" in kinds and image.is_available:
            found.add(image.creation_date + retention)
        if "launch" in kinds and image.last_launched is not None:
            found.add(image.last_launched + retention)
        disabled_at = _tag_time(image.tags.get(TAG_DISABLED_AT, ""))
        if "grace" in kinds and image.is_disabled and disabled_at is not None:
            found.add(disabled_at + grace)
    return sorted(found)


def _tag_time(raw: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@st.composite
def nows_for(
    draw: st.DrawFn, estate: RegionEstate, settings: Settings, kinds: tuple[str, ...] = EDGE_KINDS
) -> datetime:
    """Half the time any clock (`nows()`), half the time on a critical moment, +/- a second."""
    edges = critical_moments(estate, settings, kinds)
    on_edge: bool = draw(_BOOLEANS)
    if edges and on_edge:
        return draw(st.sampled_from(edges)) + timedelta(seconds=draw(_EDGE))
    return draw(_NOWS)


def budgets() -> st.SearchStrategy[int]:
    return st.integers(0, 12)


def sharings() -> st.SearchStrategy[Sharing | None]:
    """Launch permissions as read; None is "not read yet"."""
    return st.sampled_from(
        (
            None,
            *CLEAN_SHARINGS,
            *FOREIGN_SHARINGS,
            Sharing(public=True),
            Sharing(error="UnauthorizedOperation: not allowed"),
        )
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# Built once: a strategy built inside a composite would be validated at every draw,
# so the composites below draw from these through plain `_draw_*` helpers. Choices
# that are independent are drawn together (one draw of a tuple), which keeps an
# example cheap: hypothesis pays per draw, and the properties run many examples.
_STATES = (
    (ImageState.AVAILABLE,) * 10
    + (ImageState.DISABLED,) * 5
    + (ImageState.PENDING, ImageState.FAILED, ImageState.DEREGISTERED)
)
_DISABLED_AT_KINDS = ("tag",) * 5 + ("none", "none", "bad")


def _mixed(choices: Iterable[T]) -> st.SearchStrategy[T]:
    """sampled_from a fixed shuffle: hypothesis favours the first entries of a list,
    so an ordered product would favour its first factor's first value."""
    pool = list(choices)
    random.Random(20240601).shuffle(pool)
    return st.sampled_from(pool)


# (main trouble, second trouble)
_TROUBLE_PAIRS = _mixed(product(TROUBLES, ("none",) * 40 + TROUBLES[TROUBLES.count("none") :]))
# (state, family stem, kind of disabled-at tag)
_LOOKS = _mixed(product(_STATES, FAMILY_STEMS, _DISABLED_AT_KINDS))
# (retain=false, good family tag, Image Builder tag, launched, deprecation): 0 is "yes"
_FLAGS = _mixed(product(range(4), range(20), range(4), range(4), range(4)))
# 0 to 3 snapshots of a small pool, so images share them
_SNAPSHOT_SETS = _mixed(
    [()] * 20
    + [(s,) for s in SNAPSHOT_POOL] * 3
    + list(combinations(SNAPSHOT_POOL[:6], 2))
    + list(combinations(SNAPSHOT_POOL[:4], 3))
)
_TRUE_RETAIN = st.sampled_from(TRUE_RETAIN)
_FALSE_RETAIN = st.sampled_from(FALSE_RETAIN)
_BAD_RETAIN = st.sampled_from(BAD_RETAIN)
_BAD_FAMILY = st.sampled_from(BAD_FAMILY_TAGS)
_GOOD_FAMILY = st.sampled_from(("custom", "other/team.web_1"))
_DISABLED_AT_TIMES = days(BASE, -40, 50)
_BAD_TIMES = st.sampled_from(BAD_TIMES)
_CREATED = days(BASE, -200, 0)
_DEPRECATION_TIMES = days(BASE, -100, 200)
_RECENT_DAYS = st.integers(0, 100)
_LATER_DAYS = st.integers(0, 250)
_USE_COUNT = st.integers(1, 2)
_KINDS = st.sampled_from(list(UsageKind))
_DETAILS = {kind: st.sampled_from(details) for kind, details in USAGE_DETAILS.items()}
_CLEAN_SHARINGS = st.sampled_from((None, *CLEAN_SHARINGS))  # None: not read yet
_FOREIGN_SHARINGS = st.sampled_from(FOREIGN_SHARINGS)
_ALLOWED_SHARINGS = st.sampled_from(ALLOWED_SHARINGS)
_UNKNOWN_CONSUMERS = st.sampled_from(UNKNOWN_CONSUMERS)
_SALTS = st.integers(0, 2**32 - 1)
_UNREAD = st.sampled_from(UNREAD_SOURCES)
_BOOLEANS = st.booleans()
_SOMETIMES = st.sampled_from((False, False, False, True))
_EDGE = st.sampled_from((-1, -1, 0, 1))  # a second early is where a "never" breaks
_NOWS = nows()


@cache
def _sizes(min_size: int, max_size: int) -> st.SearchStrategy[int]:
    return st.integers(min_size, max_size)


def _draw_troubles(draw: st.DrawFn) -> frozenset[str]:
    return frozenset(draw(_TROUBLE_PAIRS))


def _draw_tags(
    draw: st.DrawFn, stem: str, troubles: frozenset[str], disabled_at: str, flags: tuple[int, ...]
) -> dict[str, str]:
    retain_false, good_family, builder = flags[:3]
    tags: dict[str, str] = {}
    if "retain" in troubles:
        tags[TAG_RETAIN] = draw(_TRUE_RETAIN)
    elif "bad-retain" in troubles:
        tags[TAG_RETAIN] = draw(_BAD_RETAIN)
    elif retain_false == 0:
        tags[TAG_RETAIN] = draw(_FALSE_RETAIN)
    if "bad-family" in troubles:
        tags[TAG_FAMILY] = draw(_BAD_FAMILY)
    elif good_family == 0:
        tags[TAG_FAMILY] = draw(_GOOD_FAMILY)
    if builder == 0:
        tags[TAG_IMAGE_BUILDER_ARN] = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image/{stem}/1.0.0/1"
    if "escalated" in troubles:
        tags[TAG_ESCALATED_AT] = "2026-01-01T00:00:00Z"
    if disabled_at == "tag":
        tags[TAG_DISABLED_AT] = _iso(draw(_DISABLED_AT_TIMES))
    elif disabled_at == "bad":
        tags[TAG_DISABLED_AT] = draw(_BAD_TIMES)
    return tags


def _draw_image(draw: st.DrawFn, image_id: str, account_id: str, troubles: frozenset[str]) -> Image:
    state, stem, disabled_at = draw(_LOOKS)
    flags = draw(_FLAGS)
    launched_flag, deprecation_flag = flags[3:]
    created = draw(_CREATED)
    # Launched after it was created: recently for the trouble, else any time up to BASE.
    if "launched" in troubles:
        launched: datetime | None = max(created, BASE - timedelta(days=draw(_RECENT_DAYS)))
    else:
        launched = min(BASE, created + timedelta(days=draw(_LATER_DAYS))) if launched_flag == 0 else None
    return builders.image(
        image_id,
        name=f"{stem}-v{int(image_id[-4:], 16) % 100}",
        created=created,
        owner=FOREIGN if "foreign-owner" in troubles else account_id,
        state=state.value,
        tags=_draw_tags(draw, stem, troubles, disabled_at, flags),
        snapshots=[
            SnapshotRef(snap, f"/dev/xvd{chr(ord('a') + i)}", int(snap[-2:], 16) + 1)
            for i, snap in enumerate(draw(_SNAPSHOT_SETS))
        ],
        public="public" in troubles,
        deprecation_time=draw(_DEPRECATION_TIMES) if deprecation_flag == 0 else None,
        deregistration_protected="protected" in troubles,
        last_launched=launched,
    )


def _draw_usages(draw: st.DrawFn, image_id: str, troubles: frozenset[str]) -> tuple[Usage, ...]:
    found = []
    if "usage" in troubles:
        for n in range(draw(_USE_COUNT)):
            kind = draw(_KINDS)
            found.append(Usage(image_id, kind, f"{kind.value}-{n}", draw(_DETAILS[kind])))
    if "consumer-uses" in troubles:
        kind = draw(_KINDS)
        found.append(Usage(image_id, kind, f"{kind.value}-c", draw(_DETAILS[kind]), account=ALLOWED))
    return tuple(found)


def _draw_consumers(
    draw: st.DrawFn, troubles: frozenset[str], sharing: Sharing | None
) -> ConsumerCheck | None:
    """What the consumers of an image were found to do; None: not read (yet)."""
    if "consumer-uses" in troubles:
        return ConsumerCheck(checked=(ALLOWED,))
    if "consumer-unknown" in troubles:
        return ConsumerCheck(unknown=draw(_UNKNOWN_CONSUMERS))
    if sharing is None or not (sharing.accounts | sharing.organizations) or not draw(_BOOLEANS):
        return None
    return ConsumerCheck(checked=(ALLOWED,))


def _draw_sharing(draw: st.DrawFn, troubles: frozenset[str]) -> Sharing | None:
    if "shared-foreign" in troubles:
        return draw(_FOREIGN_SHARINGS)
    if "shared-public" in troubles:
        return Sharing(public=True)
    if "sharing-error" in troubles:
        return Sharing(error="UnauthorizedOperation: not allowed")
    if "sharing-unread" in troubles:
        return None
    if "consumer-uses" in troubles or "consumer-unknown" in troubles:
        return draw(_ALLOWED_SHARINGS)
    return draw(_CLEAN_SHARINGS)


@st.composite
def images(draw: st.DrawFn, image_id: str, account_id: str = ACCOUNT) -> Image:
    """One image, usually owned by `account_id`, of one of FAMILY_STEMS, in any state."""
    return _draw_image(draw, image_id, account_id, _draw_troubles(draw))


@st.composite
def usages(draw: st.DrawFn, image_id: str) -> tuple[Usage, ...]:
    """Usually nothing, else one or two things that use the image."""
    return _draw_usages(draw, image_id, frozenset({"usage"}) if draw(_SOMETIMES) else frozenset())


@st.composite
def estates(draw: st.DrawFn, min_images: int = 0, max_images: int = 16) -> RegionEstate:
    """A region's estate: unique image ids and everything read about them."""
    size = draw(_sizes(min_images, max_images))  # uniform: lists of hypothesis' own stay short
    salt = draw(_SALTS)  # unique ids whose order has nothing to do with the images' age
    ids = [f"ami-{(salt + 7919 * n) % 2**32:017x}" for n in range(size)]
    troubles = {image_id: _draw_troubles(draw) for image_id in ids}
    found = [_draw_image(draw, image_id, ACCOUNT, troubles[image_id]) for image_id in ids]
    used = {i: u for i in ids if (u := _draw_usages(draw, i, troubles[i]))}
    sharing = {i: s for i in ids if (s := _draw_sharing(draw, troubles[i])) is not None}
    consumers = {i: c for i in ids if (c := _draw_consumers(draw, troubles[i], sharing.get(i))) is not None}
    return builders.estate(
        *found,
        usages=used,
        sharing=sharing,
        references_checked=draw(_BOOLEANS),
        unread=draw(_UNREAD),
        consumers=consumers,
    )
