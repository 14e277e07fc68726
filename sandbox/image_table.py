"""A region's registered images, indexed by the snapshots they use and by name.

moto keeps images in a plain dict (`backend.amis`). EC2 needs two questions
answered on every deregistration and snapshot deletion: which other images use
this snapshot, and is this name taken. Scanning every image for each answer is
what made large estates slow, so the dict is replaced by this mapping, which
keeps both indexes current as images come and go.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, MutableMapping
from typing import Any

from .paging import sequence_of


def snapshot_ids_of(image: Any) -> tuple[str, ...]:
    """The EBS snapshots an image's block device mappings name, in mapping order, once each."""
    found: dict[str, None] = {}
    for mapping in image.block_device_mappings or []:
        snapshot_id = (mapping.get("Ebs") or {}).get("SnapshotId")
        if snapshot_id:
            found[snapshot_id] = None
    return tuple(found)


class ImageTable(MutableMapping[str, Any]):
    """image id -> moto Ami, in registration order, with snapshot and name indexes."""

    def __init__(self, images: dict[str, Any] | None = None) -> None:
        self._images: dict[str, Any] = {}
        self._snapshots_of: dict[str, tuple[str, ...]] = {}
        self._users: defaultdict[str, set[str]] = defaultdict(set)
        self._names: dict[str, str] = {}
        for image_id, image in (images or {}).items():
            self[image_id] = image

    def __getitem__(self, image_id: str) -> Any:
        return self._images[image_id]

    def __setitem__(self, image_id: str, image: Any) -> None:
        if image_id in self._images:
            self._forget(image_id)
        self._images[image_id] = image
        sequence_of(image)  # numbered on registration: listing order is registration order
        self._remember(image_id, image)

    def __delitem__(self, image_id: str) -> None:
        self._forget(image_id)
        del self._images[image_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._images)

    def __len__(self) -> int:
        return len(self._images)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._images

    def get(self, image_id: str, default: Any = None) -> Any:
        return self._images.get(image_id, default)

    def values(self) -> Any:
        # The dict's own view: the Mapping mixin's would look every value up again.
        return self._images.values()

    def copy(self) -> dict[str, Any]:
        """A plain dict, as moto expects from `amis.copy()`."""
        return dict(self._images)

    def reindex(self, image_id: str) -> None:
        """Call after changing an image's block device mappings."""
        self[image_id] = self._images[image_id]

    def users_of(self, snapshot_id: str) -> set[str]:
        """Ids of the registered images whose mappings name `snapshot_id`."""
        return set(self._users.get(snapshot_id, ()))

    def image_named(self, name: str) -> str | None:
        return self._names.get(name)

    def _remember(self, image_id: str, image: Any) -> None:
        snapshots = snapshot_ids_of(image)
        self._snapshots_of[image_id] = snapshots
        for snapshot_id in snapshots:
            self._users[snapshot_id].add(image_id)
        if image.name:
            self._names.setdefault(image.name, image_id)

    def _forget(self, image_id: str) -> None:
        for snapshot_id in self._snapshots_of.pop(image_id, ()):
            users = self._users.get(snapshot_id)
            if users is not None:
                users.discard(image_id)
                if not users:
                    del self._users[snapshot_id]
        name = self._images[image_id].name
        if name and self._names.get(name) == image_id:
            del self._names[name]


def images_of(backend: Any) -> ImageTable:
    """The backend's image table, converting moto's plain dict on first use."""
    if not isinstance(backend.amis, ImageTable):
        backend.amis = ImageTable(backend.amis)
    return backend.amis
