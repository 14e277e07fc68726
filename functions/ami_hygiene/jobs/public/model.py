"""What the public job's inventory reads and its policy decides on: the sharing of images,
snapshots and the account's block-public-access state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ami_hygiene.core.estate import RegionEstate


@dataclass(frozen=True)
class SnapshotSharing:
    """createVolumePermission of one snapshot, as far as it was read.

    `public` may come from the cheap DescribeSnapshots(RestorableByUserIds=all)
    page even when the per-snapshot read failed; `accounts_read` says whether
    `accounts` is the full list (DescribeSnapshotAttribute answered).
    """

    snapshot_id: str
    owned: bool | None  # None: ownership not read
    public: bool = False
    accounts: frozenset[str] = frozenset()
    accounts_read: bool = False
    error: str | None = None


@dataclass(frozen=True)
class BlockPublicAccess:
    """GetImageBlockPublicAccessState of one region; `state` None when not read."""

    state: str | None
    managed_by: str = "account"
    error: str | None = None


@dataclass(frozen=True)
class SharingEstate:
    """What the sharing guard needs in one region.

    `estate.sharing` holds the images' launch permissions (an image absent
    there was not read); `snapshots` the snapshots' create-volume permissions
    (absent: not read).
    """

    estate: RegionEstate
    snapshots: Mapping[str, SnapshotSharing] = field(default_factory=dict)
    block_public_access: BlockPublicAccess = field(default_factory=lambda: BlockPublicAccess(None))
    # Reads that failed, as sentences; they go into the plan's errors.
    problems: tuple[str, ...] = ()

    @property
    def region(self) -> str:
        return self.estate.region

    @property
    def account_id(self) -> str:
        return self.estate.account_id
