"""DescribeImages and DescribeImageAttribute as EC2 answers them.

DescribeImages:
- disabled images are left out unless IncludeDisabled is true;
- deprecated images (deprecation time passed) are left out for accounts that do
  not own them, unless IncludeDeprecated is true or they are asked for by id;
- MaxResults (1-1000, not with ImageIds) and NextToken give real pages, in
  registration order; one page reads the table once, up to its last image;
- with Allowed AMIs enabled, other owners' images outside its criteria are left
  out (allowed_images.py; the account's own images never are).
DescribeImageAttribute gains lastLaunchedTime and deregistrationProtection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidAMIIdError, MalformedAMIIdError
from moto.ec2.models import EC2Backend
from moto.ec2.responses import EC2Response
from moto.ec2.utils import is_filter_matching

from ._patching import original, override
from .allowed_images import discoverable
from .errors import check_range, invalid_parameter_combination
from .image_model import find_image, is_deprecated, last_launched_attribute, owned_image
from .image_table import images_of
from .paging import Page, page, sequence_of

PAGE_SCOPE = "DescribeImages"
WILDCARDS = ("*", "?")


@dataclass(frozen=True)
class ImageQuery:
    image_ids: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    executable_users: list[str] = field(default_factory=list)
    filters: dict[str, list[str]] = field(default_factory=dict)
    include_deprecated: bool = False
    include_disabled: bool = False
    max_results: int | None = None
    next_token: str | None = None


def _owner_ok(backend: Any, image: Any, owners: list[str]) -> bool:
    wanted = {backend.account_id if o == "self" else o for o in owners}
    return image.owner_id in wanted or image.owner_alias in wanted


def _executable_ok(backend: Any, image: Any, users: list[str]) -> bool:
    if image.is_public:
        return True
    wanted = {backend.account_id if u == "self" else u for u in users}
    return any(p.get("UserId") in wanted for p in image.launch_permissions)


def _filter_ok(image: Any, name: str, values: Any) -> bool:
    # moto's Ami has no block-device-mapping.* filters; EC2 documents them.
    if name == "block-device-mapping.snapshot-id":
        ids = {(m.get("Ebs") or {}).get("SnapshotId") for m in image.block_device_mappings}
        return bool(ids & set(values))
    return bool(is_filter_matching(image, name, values))


def matches(backend: Any, image: Any, owners: list[str], users: list[str], filters: dict[str, Any]) -> bool:
    return (
        (not owners or _owner_ok(backend, image, owners))
        and (not users or _executable_ok(backend, image, users))
        and all(_filter_ok(image, name, values) for name, values in filters.items())
    )


def _candidates(backend: Any, filters: dict[str, Any]) -> Iterable[Any]:
    """All images, or straight lookups when an image-id filter names exact ids.

    moto launches every instance through describe_images(filters={"image-id": ...});
    a full scan there made each launch cost the whole estate.
    """
    ids = filters.get("image-id")
    table = images_of(backend)
    if ids and not any(w in i for i in ids for w in WILDCARDS):
        return sorted((table[i] for i in set(ids) if i in table), key=sequence_of)
    return table.values()


def _by_ids(backend: Any, image_ids: list[str]) -> list[Any]:
    malformed = [i for i in image_ids if not str(i).startswith("ami-")]
    if malformed:
        raise MalformedAMIIdError(malformed)
    table = images_of(backend)
    found = [table[i] for i in dict.fromkeys(image_ids) if i in table]
    # Recently deregistered ids answer empty rather than NotFound, as in moto and EC2.
    if not found and not any(i in backend.deleted_amis for i in image_ids):
        raise InvalidAMIIdError(image_ids)
    return found


def describe_images(
    self: Any,
    ami_ids: list[str] | None = None,
    filters: dict[str, Any] | None = None,
    exec_users: list[str] | None = None,
    owners: list[str] | None = None,
) -> list[Any]:
    """moto's backend call, same answers, without scanning every image for an id."""
    filters = filters or {}
    images = _by_ids(self, ami_ids) if ami_ids else _candidates(self, filters)
    return [i for i in images if matches(self, i, owners or [], exec_users or [], filters)]


def list_images(backend: Any, query: ImageQuery) -> Page[Any]:
    """One DescribeImages page for the calling account."""
    if query.image_ids and query.max_results is not None:
        raise invalid_parameter_combination(
            "The parameter imagesSet cannot be used with the parameter maxResults"
        )
    limit = check_range("MaxResults", query.max_results, 1, 1000)

    def listed(image: Any) -> bool:
        if image.state == "disabled" and not query.include_disabled:
            return False
        if not discoverable(backend, image):  # Allowed AMIs: never the account's own images
            return False
        # Owners always see their deprecated images; others only on request or by id.
        if (
            not query.image_ids
            and not query.include_deprecated
            and image.owner_id != backend.account_id
            and is_deprecated(image)
        ):
            return False
        return matches(backend, image, query.owners, query.executable_users, query.filters)

    if query.image_ids:
        return Page([i for i in _by_ids(backend, query.image_ids) if listed(i)], None)
    return page(
        _candidates(backend, query.filters),
        key=lambda image: (sequence_of(image),),
        limit=limit,
        token=query.next_token,
        scope=PAGE_SCOPE,
        keep=listed,
    )


def _describe_images(self: Any) -> ActionResult:
    self.error_on_dryrun()
    result = list_images(
        self.ec2_backend,
        ImageQuery(
            image_ids=self._get_param("ImageIds", []),
            owners=self._get_param("Owners", []),
            executable_users=self._get_param("ExecutableUsers", []),
            filters=self._filters_from_querystring(),
            include_deprecated=bool(self._get_param("IncludeDeprecated", False)),
            include_disabled=bool(self._get_param("IncludeDisabled", False)),
            max_results=self._get_param("MaxResults"),
            next_token=self._get_param("NextToken"),
        ),
    )
    return ActionResult({"Images": result.items, "NextToken": result.next_token})


# DescribeImageAttribute names moto does not answer: attribute -> (response member, reader).
_EXTRA_ATTRIBUTES: dict[str, tuple[str, Callable[[Any], str | None]]] = {
    "lastLaunchedTime": ("LastLaunchedTime", last_launched_attribute),
    "deregistrationProtection": ("DeregistrationProtection", lambda image: image.deregistration_protection),
}


def _describe_image_attribute(self: Any) -> ActionResult:
    attribute = self._get_param("Attribute")
    image_id = self._get_param("ImageId")
    if attribute in _EXTRA_ATTRIBUTES:
        member, read = _EXTRA_ATTRIBUTES[attribute]
        self.error_on_dryrun()
        value = read(owned_image(self.ec2_backend, image_id))  # the owner's to read, as EC2 says
        return ActionResult({"ImageId": image_id, member: {"Value": value} if value else {}})
    if image_id:
        find_image(self.ec2_backend, image_id)  # EC2's errors, not moto's KeyError, for unknown ids
    return original(EC2Response, "describe_image_attribute")(self)


def install() -> None:
    override(EC2Backend, "describe_images", describe_images)
    override(EC2Response, "describe_images", _describe_images)
    override(EC2Response, "describe_image_attribute", _describe_image_attribute)
