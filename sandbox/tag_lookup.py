"""Reading one resource's tags without scanning every tag in the region.

moto answers `resource.get_tags()` through DescribeTags with a regex filter on
the resource id, walking every tagged resource each time: listing 1,000 images
out of 10,000 tagged ones cost ten million regex matches. Tags are kept per
resource id, so a resource's own are one dict lookup away; the answer has the
same shape as moto's.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

from ._patching import override


def _get_tags(self: Any) -> list[dict[str, str]]:
    resource_id = getattr(self, "id", None)
    if not resource_id:
        return []
    tags = self.ec2_backend.tags.get(resource_id) or {}  # .get: the store is a defaultdict
    resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
    return [
        {"resource_id": resource_id, "key": key, "value": value, "resource_type": resource_type}
        for key, value in tags.items()
    ]


def install() -> None:
    override(TaggedEC2Resource, "get_tags", _get_tags)
