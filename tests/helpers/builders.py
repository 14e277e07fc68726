"""Builders for the model the policies read and the plans they make: images, estates, decisions.

One builder per thing, with every field a test may care about as a keyword and a plain default
for the rest, so a test names only what its example is about:

    image("ami-old", 400)                           # 400 days old at POLICY_NOW, family web
    image(3, 47, "api-3", state="disabled")         # ami-00000000000000003
    estate(image("ami-old", 400), usages={...})     # one region of ACCOUNT
    decision("ami-2", Action.DISABLE)               # a planned decision

Image ages count back from `now`, POLICY_NOW unless given (the pure policy examples' clock).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from ami_hygiene.core.estate import (
    ConsumerCheck,
    Image,
    ImageState,
    RegionEstate,
    Sharing,
    SnapshotRef,
    Usage,
)
from ami_hygiene.core.plan import Action, Decision
from tests.helpers.constants import ACCOUNT, POLICY_NOW, REGION


def ami_id(n: int) -> str:
    """The n-th image id of an example: ami- and 17 hex digits."""
    return f"ami-{n:017x}"


def snapshot_ref(snapshot: SnapshotRef | str, index: int = 0) -> SnapshotRef:
    """A block device's snapshot: given whole, or by id (device /dev/xvda, /dev/xvdb, ...; 8 GiB)."""
    if isinstance(snapshot, SnapshotRef):
        return snapshot
    return SnapshotRef(snapshot, f"/dev/xvd{chr(ord('a') + index)}", 8)


def image(
    image_id: str | int = "ami-1",
    age: float | timedelta = 0,
    name: str | None = None,
    *,
    now: datetime = POLICY_NOW,
    created: datetime | None = None,
    owner: str = ACCOUNT,
    region: str = REGION,
    state: str = ImageState.AVAILABLE,
    tags: Mapping[str, str] | None = None,
    snapshots: Iterable[SnapshotRef | str] = (),
    **facts: Any,
) -> Image:
    """An image `age` (days, or a timedelta) before `now`, or made at `created`.

    `image_id` is an id, or a number for `ami_id(n)`; the name is "web-v1" (family web) unless
    given. `facts` are the other Image fields: public, deprecation_time, last_launched,
    deregistration_protected, platform, architecture, ...
    """
    if created is None:
        created = now - (age if isinstance(age, timedelta) else timedelta(days=age))
    return Image(
        image_id=ami_id(image_id) if isinstance(image_id, int) else image_id,
        region=region,
        owner_id=owner,
        name="web-v1" if name is None else name,
        creation_date=created,
        state=state,
        tags=dict(tags or {}),
        snapshots=tuple(snapshot_ref(s, k) for k, s in enumerate(snapshots)),
        **facts,
    )


def estate(
    *images: Image,
    region: str = REGION,
    account: str = ACCOUNT,
    usages: Mapping[str, Sequence[Usage]] | None = None,
    sharing: Mapping[str, Sharing] | None = None,
    sharing_read: bool = False,
    references_checked: bool = False,
    unread: Mapping[str, str] | None = None,
    consumers: Mapping[str, ConsumerCheck] | None = None,
) -> RegionEstate:
    """One region of `account` holding `images` and what was read about them.

    With `sharing_read`, every image's launch permissions were read and it is shared with no
    one, unless `sharing` says otherwise; without it, only the images in `sharing` were read.
    """
    read = {i.image_id: Sharing() for i in images} if sharing_read else {}
    read.update(sharing or {})
    return RegionEstate(
        region=region,
        account_id=account,
        images=tuple(images),
        usages={k: tuple(v) for k, v in (usages or {}).items()},
        sharing=read,
        references_checked=references_checked,
        unread_sources=dict(unread or {}),
        consumers=dict(consumers or {}),
    )


def decision(
    image_id: str = "ami-1",
    action: Action = Action.KEEP,
    *,
    region: str = REGION,
    family: str = "web",
    name: str | None = None,
    reasons: Sequence[str] | None = None,
    **fields: Any,
) -> Decision:
    """A decision about `image_id` (named web-<id>, with one reason naming it); `fields` are the rest."""
    return Decision(
        image_id=image_id,
        region=region,
        family=family,
        name=f"web-{image_id}" if name is None else name,
        action=action,
        reasons=tuple(reasons) if reasons is not None else (f"reason for {image_id}",),
        **fields,
    )
