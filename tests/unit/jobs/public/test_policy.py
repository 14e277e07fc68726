"""The sharing guard policy: examples of every decision, and properties over permission sets."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ami_hygiene.core.estate import TAG_PUBLIC_ALLOWED, Image, Sharing
from ami_hygiene.core.plan import Action
from ami_hygiene.jobs.public.model import BlockPublicAccess, SharingEstate, SnapshotSharing
from ami_hygiene.jobs.public.policy import ALLOWED_PUBLIC_REASON, SharingDecision, plan_sharing
from tests.helpers import builders
from tests.helpers.constants import ACCOUNT, ALLOWED, FOREIGN, POLICY_NOW, REGION, STRANGER
from tests.helpers.reasons import Reason, has_reason

ORG = "arn:aws:organizations::111122223333:organization/o-abcdef1234"
OU = "arn:aws:organizations::111122223333:ou/o-abcdef1234/ou-ab12-cdef5678"
STRANGE_ORG = "arn:aws:organizations::444455556666:organization/o-zzzzzz9999"
ALLOW = frozenset({ALLOWED, ORG})


def image(n: int, *, allowed: bool = False, snaps: int = 1, **kw: Any) -> Image:
    """Image n with `snaps` snapshots of its own; `allowed`: tagged public-allowed."""
    return builders.image(
        n,
        name=f"web-{n}",
        tags={TAG_PUBLIC_ALLOWED: "true"} if allowed else {},
        snapshots=[f"snap-{n * 10 + k:017x}" for k in range(snaps)],
        **kw,
    )


def estate(
    images: list[Image],
    sharing: dict[str, Sharing] | None = None,
    snapshots: dict[str, SnapshotSharing] | None = None,
    bpa: BlockPublicAccess | None = None,
) -> SharingEstate:
    return SharingEstate(
        estate=builders.estate(*images, sharing=sharing),
        snapshots=snapshots or {},
        block_public_access=bpa or BlockPublicAccess("block-new-sharing"),
    )


def decisions(plan_estate: SharingEstate, allowed: frozenset[str] = ALLOW) -> dict[str, SharingDecision]:
    plan = plan_sharing(plan_estate, allowed, POLICY_NOW)
    out: dict[str, SharingDecision] = {}
    for d in plan.decisions:
        assert isinstance(d, SharingDecision)
        out[d.image_id] = d
    return out


# -- examples -------------------------------------------------------------------------------


def test_public_image_is_revoked_with_its_foreign_shares_and_allowed_ones_kept() -> None:
    img = image(1, public=True)
    sharing = Sharing(public=True, accounts=frozenset({ALLOWED, STRANGER}), organizations=frozenset({ORG}))
    d = decisions(estate([img], {img.image_id: sharing}))[img.image_id]
    assert d.action is Action.REVOKE_PUBLIC and d.severity == "critical"
    assert (d.remove_groups, d.remove_accounts, d.remove_organizations) == (("all",), (STRANGER,), ())
    assert d.kept_principals == (ALLOWED, ORG)
    assert d.reasons[:2] == (
        Reason("public", "group all"),
        Reason(f"shared with {STRANGER}", "not on the allow-list"),
    )


def test_foreign_accounts_organizations_and_units_are_revoked() -> None:
    img = image(1)
    sharing = Sharing(
        accounts=frozenset({STRANGER}),
        organizations=frozenset({STRANGE_ORG}),
        organizational_units=frozenset({OU}),
    )
    d = decisions(estate([img], {img.image_id: sharing}))[img.image_id]
    assert d.action is Action.REVOKE_ACCOUNTS and d.severity == "high"
    assert (d.remove_groups, d.remove_accounts, d.remove_organizations, d.remove_organizational_units) == (
        (),
        (STRANGER,),
        (STRANGE_ORG,),
        (OU,),
    )


def test_allowed_public_image_is_kept_but_its_public_snapshot_is_not() -> None:
    img = image(1, public=True, allowed=True)
    snap = img.snapshots[0].snapshot_id
    found = decisions(
        estate(
            [img],
            {img.image_id: Sharing(public=True)},
            {snap: SnapshotSharing(snap, owned=True, public=True, accounts_read=True)},
        )
    )
    assert found[img.image_id].action is Action.KEEP
    assert (
        found[img.image_id].reasons[0]
        == ALLOWED_PUBLIC_REASON
        == Reason("allowed public", "ami-hygiene:public-allowed=true")
    )
    assert found[snap].action is Action.REVOKE_PUBLIC
    assert found[snap].name == f"snapshot of {img.image_id}"
    assert has_reason(found[snap], "launching an image needs no permission on its snapshots")


def test_private_image_and_allow_listed_shares_are_kept() -> None:
    private, shared = image(1), image(2)
    found = decisions(
        estate(
            [private, shared],
            {private.image_id: Sharing(), shared.image_id: Sharing(accounts=frozenset({ALLOWED}))},
        )
    )
    assert found[private.image_id].reasons == (Reason("private", "not shared"),)
    assert found[shared.image_id].action is Action.KEEP
    assert found[shared.image_id].kept_principals == (ALLOWED,)


def test_unread_permissions_still_revoke_a_known_public_image_but_nothing_else() -> None:
    public, private = image(1, public=True), image(2)
    found = decisions(estate([public, private], {public.image_id: Sharing(error="AccessDenied: no")}))
    assert found[public.image_id].action is Action.REVOKE_PUBLIC
    assert found[public.image_id].remove_accounts == ()
    assert has_reason(found[public.image_id], "AccessDenied")
    assert found[private.image_id].action is Action.KEEP
    assert found[private.image_id].reasons == (Reason("launch permissions not read", "not checked"),)


def test_foreign_owned_images_are_kept() -> None:
    theirs = image(1, owner=FOREIGN, public=True)
    found = decisions(estate([theirs], {theirs.image_id: Sharing(public=True)}))
    assert found[theirs.image_id].action is Action.KEEP
    assert theirs.snapshots[0].snapshot_id not in found


def test_snapshot_shared_by_two_images_gets_one_decision() -> None:
    one = image(1)
    two = Image(**{**one.__dict__, "image_id": "ami-00000000000000002"})
    snap = one.snapshots[0].snapshot_id
    found = decisions(
        estate(
            [one, two],
            {},
            {snap: SnapshotSharing(snap, owned=True, accounts=frozenset({STRANGER}), accounts_read=True)},
        )
    )
    assert found[snap].name == f"snapshot of {one.image_id}, {two.image_id}"
    assert (found[snap].action, found[snap].remove_accounts) == (Action.REVOKE_ACCOUNTS, (STRANGER,))


def test_snapshots_not_owned_or_not_read_are_kept() -> None:
    img = image(1, snaps=3)
    a, b, c = (s.snapshot_id for s in img.snapshots)
    found = decisions(
        estate(
            [img],
            {},
            {
                a: SnapshotSharing(a, owned=False, public=True),
                b: SnapshotSharing(b, owned=None, public=True),
            },
        )
    )
    assert all(found[s].action is Action.KEEP for s in (a, b, c))
    assert found[c].reasons == (Reason("create volume permissions not read"),)


def test_block_public_access_rules() -> None:
    unblocked = BlockPublicAccess("unblocked")
    off = decisions(estate([image(1)], bpa=unblocked))[ACCOUNT]
    assert (off.action, off.severity, off.resource_type) == (Action.BLOCK_PUBLIC_ACCESS, "medium", "account")
    assert off.reasons == (Reason("image block public access", "off (unblocked)", REGION),)
    kept = decisions(estate([image(1, allowed=True)], bpa=unblocked))[ACCOUNT]
    assert kept.action is Action.KEEP and ALLOWED_PUBLIC_REASON in kept.reasons[-1]
    managed = decisions(estate([image(1)], bpa=BlockPublicAccess("unblocked", "declarative-policy")))
    assert managed[ACCOUNT].action is Action.KEEP
    unread = decisions(estate([image(1)], bpa=BlockPublicAccess(None, error="AccessDenied: no")))
    assert unread[ACCOUNT].reasons == (Reason("image block public access", "not read", "AccessDenied: no"),)
    on = decisions(estate([image(1)]))[ACCOUNT]
    assert on.reasons == (Reason("image block public access", "on (block-new-sharing)"),)


def test_plan_shape() -> None:
    plan = plan_sharing(estate([image(1)]), ALLOW, POLICY_NOW)
    assert (plan.job, plan.region, plan.errors) == ("public", REGION, ())
    # image, its snapshot, then the region's setting
    assert [d.resource_type for d in plan.decisions if isinstance(d, SharingDecision)] == [
        "image",
        "snapshot",
        "account",
    ]


# -- properties -----------------------------------------------------------------------------

PRINCIPALS = (ALLOWED, STRANGER, "555566667777")
ORGS = (ORG, STRANGE_ORG)
UNITS = (OU, "arn:aws:organizations::444455556666:ou/o-zzzzzz9999/ou-zz99-zzzzzzzz")
ALLOW_CHOICES = st.frozensets(st.sampled_from(PRINCIPALS + ORGS + UNITS))


@st.composite
def sharing_estates(draw: st.DrawFn) -> SharingEstate:
    images: list[Image] = []
    sharing: dict[str, Sharing] = {}
    snapshots: dict[str, SnapshotSharing] = {}
    pool = [f"snap-{k:017x}" for k in range(6)]
    for n in range(draw(st.integers(0, 6))):
        owner = draw(st.sampled_from((ACCOUNT, ACCOUNT, ACCOUNT, FOREIGN)))
        public = draw(st.booleans())
        tag = draw(
            st.sampled_from(
                (
                    {},
                    {},
                    {TAG_PUBLIC_ALLOWED: "true"},
                    {TAG_PUBLIC_ALLOWED: "TRUE"},
                    {TAG_PUBLIC_ALLOWED: "yes"},
                )
            )
        )
        snaps = draw(st.lists(st.sampled_from(pool), max_size=2, unique=True))
        img = builders.image(
            n,
            name=f"web-{n}",
            owner=owner,
            state=draw(st.sampled_from(("available", "available", "disabled", "pending"))),
            tags=tag,
            snapshots=snaps,
            public=public,
        )
        images.append(img)
        kind = draw(st.sampled_from(("read", "read", "error", "absent")))
        if kind == "read":
            sharing[img.image_id] = Sharing(
                public=public,
                accounts=draw(st.frozensets(st.sampled_from(PRINCIPALS))),
                organizations=draw(st.frozensets(st.sampled_from(ORGS))),
                organizational_units=draw(st.frozensets(st.sampled_from(UNITS))),
            )
        elif kind == "error":
            sharing[img.image_id] = Sharing(error="Throttling: slow down")
    for sid in pool:
        if draw(st.booleans()):
            read = draw(st.booleans())
            snapshots[sid] = SnapshotSharing(
                sid,
                owned=draw(st.sampled_from((True, True, False, None))),
                public=draw(st.booleans()),
                accounts=draw(st.frozensets(st.sampled_from(PRINCIPALS))) if read else frozenset(),
                accounts_read=read,
                error=None if read or draw(st.booleans()) else "AccessDenied: no",
            )
    bpa = draw(
        st.sampled_from(
            (
                BlockPublicAccess("unblocked"),
                BlockPublicAccess("block-new-sharing"),
                BlockPublicAccess("unblocked", "declarative-policy"),
                BlockPublicAccess(None, error="AccessDenied: no"),
            )
        )
    )
    return SharingEstate(
        estate=builders.estate(*images, sharing=sharing),
        snapshots=snapshots,
        block_public_access=bpa,
    )


def _plan(e: SharingEstate, allowed: frozenset[str]) -> list[SharingDecision]:
    out = []
    for d in plan_sharing(e, allowed, POLICY_NOW).decisions:
        assert isinstance(d, SharingDecision)
        out.append(d)
    return out


def _allowed_public(img: Image) -> bool:
    return img.tags.get(TAG_PUBLIC_ALLOWED, "").lower() == "true"


@settings(max_examples=300)
@given(sharing_estates(), ALLOW_CHOICES)
def test_never_removes_an_allowed_permission(e: SharingEstate, allowed: frozenset[str]) -> None:
    for d in _plan(e, allowed):
        assert not set(d.removals) & allowed
        assert set(d.remove_groups) <= {"all"}
        assert not set(d.kept_principals) - allowed


@settings(max_examples=300)
@given(sharing_estates(), ALLOW_CHOICES)
def test_removes_only_what_is_known_to_be_there(e: SharingEstate, allowed: frozenset[str]) -> None:
    images = {i.image_id: i for i in e.estate.images}
    for d in _plan(e, allowed):
        if d.resource_type == "image" and d.is_action:
            img, sharing = images[d.image_id], e.estate.sharing.get(d.image_id)
            read = sharing if sharing is not None and sharing.error is None else Sharing()
            assert not d.remove_groups or img.public or read.public
            assert set(d.remove_accounts) <= read.accounts
            assert set(d.remove_organizations) <= read.organizations
            assert set(d.remove_organizational_units) <= read.organizational_units
        if d.resource_type == "snapshot" and d.is_action:
            snap = e.snapshots[d.image_id]
            assert snap.owned is True
            assert not d.remove_groups or snap.public
            assert set(d.remove_accounts) <= (
                snap.accounts if snap.accounts_read and not snap.error else set()
            )


@settings(max_examples=300)
@given(sharing_estates(), ALLOW_CHOICES)
def test_never_leaves_a_public_image_or_snapshot(e: SharingEstate, allowed: frozenset[str]) -> None:
    by_id = {d.image_id: d for d in _plan(e, allowed)}
    for img in e.estate.images:
        sharing = e.estate.sharing.get(img.image_id)
        public = img.public or (sharing is not None and sharing.error is None and sharing.public)
        if img.owner_id == ACCOUNT and public and not _allowed_public(img):
            assert by_id[img.image_id].remove_groups == ("all",)
            assert by_id[img.image_id].action is Action.REVOKE_PUBLIC
        if _allowed_public(img):
            assert "all" not in by_id[img.image_id].remove_groups
        if img.owner_id == ACCOUNT:
            for snap in img.snapshots:
                known = e.snapshots.get(snap.snapshot_id)
                if known is not None and known.owned and known.public:
                    assert by_id[snap.snapshot_id].remove_groups == ("all",)


@settings(max_examples=300)
@given(sharing_estates(), ALLOW_CHOICES)
def test_never_touches_foreign_owned_images_or_their_snapshots(
    e: SharingEstate, allowed: frozenset[str]
) -> None:
    plan = _plan(e, allowed)
    theirs = {i.image_id for i in e.estate.images if i.owner_id != ACCOUNT}
    ours_snaps = {s.snapshot_id for i in e.estate.images if i.owner_id == ACCOUNT for s in i.snapshots}
    for d in plan:
        if d.image_id in theirs:
            assert d.action is Action.KEEP and not d.removals
        if d.resource_type == "snapshot":
            assert d.image_id in ours_snaps


@settings(max_examples=300)
@given(sharing_estates(), ALLOW_CHOICES)
def test_block_public_access_rules_hold(e: SharingEstate, allowed: frozenset[str]) -> None:
    accounts = [d for d in _plan(e, allowed) if d.resource_type == "account"]
    assert len(accounts) == 1
    bpa = e.block_public_access
    any_allowed_public = any(_allowed_public(i) for i in e.estate.images if i.owner_id == ACCOUNT)
    should_block = bpa.state == "unblocked" and bpa.managed_by == "account" and not any_allowed_public
    assert (accounts[0].action is Action.BLOCK_PUBLIC_ACCESS) == should_block
    assert accounts[0].severity == ("medium" if should_block else "info")


@settings(max_examples=200)
@given(sharing_estates(), ALLOW_CHOICES)
def test_every_decision_has_reasons_and_a_matching_severity(
    e: SharingEstate, allowed: frozenset[str]
) -> None:
    for d in _plan(e, allowed):
        assert d.reasons and all(isinstance(r, str) and r for r in d.reasons)
        expected = {
            Action.KEEP: "info",
            Action.REVOKE_PUBLIC: "critical",
            Action.REVOKE_ACCOUNTS: "high",
            Action.BLOCK_PUBLIC_ACCESS: "medium",
        }[d.action]
        assert d.severity == expected
        assert d.is_action == bool(d.removals) or d.action is Action.BLOCK_PUBLIC_ACCESS
