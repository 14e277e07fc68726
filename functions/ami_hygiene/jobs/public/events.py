"""The events that start the public-sharing guard, parsed into one frozen record.

They arrive through EventBridge as ``AWS API Call via CloudTrail`` (source
``aws.ec2``); the detail is the CloudTrail record. The request shapes, as
CloudTrail logs them (Stratus Red Team detonation logs, Panther's rules):

* ModifyImageAttribute: ``requestParameters.imageId`` and
  ``launchPermission.add|remove.items[]``, each item one of ``{"group": "all"}``,
  ``{"userId": "111122223333"}``, ``{"organizationArn": ...}`` or
  ``{"organizationalUnitArn": ...}``; ``attributeType`` is ``launchPermission``.
  A change of another attribute (description, ...) has no launchPermission.
* ModifySnapshotAttribute: ``requestParameters.snapshotId`` and
  ``createVolumePermission.add|remove.items[]`` with ``group`` or ``userId``;
  ``attributeType`` is ``CREATE_VOLUME_PERMISSION``.
* DisableImageBlockPublicAccess / EnableImageBlockPublicAccess: only the
  event name, account and region matter (the request has no resource).

Decision: an event that is well formed but opens nothing (permissions only
removed, another attribute changed, block public access enabled) is returned
with ``needs_guard=False`` rather than refused, so the handler can report it
as "nothing to guard" without logging an error. EventError is raised for
everything the guard must not act on: malformed events, another account
(``account`` or ``detail.recipientAccountId``), a failed call (``errorCode``),
another service or call. Every field read is validated first by the models
below, built from the constrained types of core/events.py (image and snapshot
ids, account ids, organization and OU ARNs, region names, bounded text and
times); a refusal names the field and shows at most 80 characters of its value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from ami_hygiene.core.events import (
    CLOUDTRAIL,
    SOURCE,
    AccountId,
    CloudTrailRecord,
    Event,
    EventError,
    GenericEvent,
    ImageId,
    Loose,
    OrganizationalUnitArn,
    OrganizationArn,
    SnapshotId,
    Token,
    kind_of,
    shown,
    validate_event,
)
from ami_hygiene.core.job import EventRule

IMAGE_ATTRIBUTE = "ModifyImageAttribute"
SNAPSHOT_ATTRIBUTE = "ModifySnapshotAttribute"
DISABLE_BPA = "DisableImageBlockPublicAccess"
ENABLE_BPA = "EnableImageBlockPublicAccess"
SHARING_CALLS = frozenset({IMAGE_ATTRIBUTE, SNAPSHOT_ATTRIBUTE, DISABLE_BPA, ENABLE_BPA})
# What starts the guard at once: a change that can open sharing (EnableImageBlockPublicAccess cannot).
RULES = (
    EventRule(
        "PublicSharingCalls",
        "sharing of an image or snapshot changed, by anyone but ami-hygiene",
        SOURCE,
        CLOUDTRAIL,
        {
            "eventSource": ["ec2.amazonaws.com"],
            "eventName": [IMAGE_ATTRIBUTE, SNAPSHOT_ATTRIBUTE, DISABLE_BPA],
        },
        own_writes_excluded=True,
    ),
)
PUBLIC = "all"
# Items of one launchPermission / createVolumePermission add or remove list. EventBridge
# delivers at most 256 KB, a few thousand items; more than this is no real request.
PERMISSION_ITEMS_MAX = 10_000

ResourceType = Literal["image", "snapshot", "account"]


@dataclass(frozen=True)
class SharingEvent:
    """One sharing change. Principals are "all" (public), account ids, org or OU ARNs."""

    resource_id: str  # ami-..., snap-..., or the account id for block public access
    resource_type: ResourceType
    account: str
    region: str
    event_name: str
    time: datetime
    principal_arn: str | None = None
    source_ip: str | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # False: the call opened nothing (only removals, another attribute,
    # block public access turned on); the guard has nothing to do.
    needs_guard: bool = True

    @property
    def made_public(self) -> bool:
        return PUBLIC in self.added


# -- pydantic models of the detail ----------------------------------------------------------


class PermissionItem(Loose):
    group: Token | None = None
    # Stratus Red Team's documentation writes "groups"; accept both spellings.
    groups: Token | None = None
    user_id: AccountId | None = Field(default=None, alias="userId")
    organization_arn: OrganizationArn | None = Field(default=None, alias="organizationArn")
    organizational_unit_arn: OrganizationalUnitArn | None = Field(default=None, alias="organizationalUnitArn")


class PermissionItems(Loose):
    items: list[PermissionItem] = Field(default=[], max_length=PERMISSION_ITEMS_MAX)


class PermissionChange(Loose):
    add: PermissionItems | None = None
    remove: PermissionItems | None = None


class SharingParameters(Loose):
    """requestParameters of the sharing calls; the block public access calls log other keys, ignored."""

    image_id: ImageId | None = Field(default=None, alias="imageId")
    snapshot_id: SnapshotId | None = Field(default=None, alias="snapshotId")
    attribute_type: Token | None = Field(default=None, alias="attributeType")
    launch_permission: PermissionChange | None = Field(default=None, alias="launchPermission")
    create_volume_permission: PermissionChange | None = Field(default=None, alias="createVolumePermission")
    # Members of the API's older request form (Attribute=launchPermission, OperationType,
    # UserIds/UserGroups). Only their presence is read: the guard then reads the resource itself.
    operation_type: Any = Field(default=None, alias="operationType")
    user_id: Any = Field(default=None, alias="userId")
    user_ids: Any = Field(default=None, alias="userIds")
    user_group: Any = Field(default=None, alias="userGroup")
    user_groups: Any = Field(default=None, alias="userGroups")
    user_id_set: Any = Field(default=None, alias="userIdSet")
    # The older form may also name organizations and OUs (OrganizationArn.N, OrganizationalUnitArn.N).
    organization_arns: Any = Field(default=None, alias="organizationArns")
    organization_arn_set: Any = Field(default=None, alias="organizationArnSet")
    organizational_unit_arns: Any = Field(default=None, alias="organizationalUnitArns")
    organizational_unit_arn_set: Any = Field(default=None, alias="organizationalUnitArnSet")


class SharingDetail(CloudTrailRecord):
    request_parameters: SharingParameters | None = Field(default=None, alias="requestParameters")


SharingCloudTrailEvent = Event[SharingDetail]


# -- parsing --------------------------------------------------------------------------------


def parse_sharing_event(event: Any, account_id: str) -> SharingEvent:
    """The sharing change in `event` for account `account_id`, or EventError saying why not."""
    if kind_of(event) != (SOURCE, CLOUDTRAIL):
        envelope = validate_event(GenericEvent, event)
        if envelope.source != SOURCE:
            raise EventError(f"event source is {shown(envelope.source)}, not {SOURCE!r}")
        raise EventError(f"event detail-type {shown(envelope.detail_type)} is not {CLOUDTRAIL!r}")
    # The whole event (envelope and detail) is validated before anything is read.
    parsed = validate_event(SharingCloudTrailEvent, event)
    detail = parsed.detail
    detail.check_accounts(parsed.account, account_id)
    name = detail.event_name
    if detail.event_source != "ec2.amazonaws.com":
        raise EventError(f"CloudTrail event source is {detail.event_source!r}, not ec2.amazonaws.com")
    if name not in SHARING_CALLS:
        raise EventError(f"CloudTrail event {name} is not a sharing call the public job handles")
    if detail.error_code:
        raise EventError(f"{name} failed ({detail.error_code}): it shared nothing")
    base: dict[str, Any] = {
        "account": parsed.account,
        "region": detail.aws_region,
        "event_name": name,
        "time": parsed.time,
        "principal_arn": detail.user_identity.arn,
        "source_ip": detail.source_ip_address,
    }
    if name in (DISABLE_BPA, ENABLE_BPA):
        # Disabling lets images be made public again: check the region.
        return SharingEvent(
            resource_id=parsed.account, resource_type="account", needs_guard=name == DISABLE_BPA, **base
        )
    params = detail.request_parameters
    if params is None:
        raise EventError(f"{name} event has no requestParameters object")
    kind: ResourceType
    if name == IMAGE_ATTRIBUTE:
        kind, resource_id, change = "image", params.image_id, params.launch_permission
    else:
        kind, resource_id, change = "snapshot", params.snapshot_id, params.create_volume_permission
    if not resource_id:
        raise EventError(f"{name} event has no requestParameters.{kind}Id")
    if change is None:
        if _permission_call_in_another_shape(params):
            # The API's older form (Attribute=launchPermission, OperationType, UserIds/UserGroups)
            # changes permissions too; unread, it is guarded: the guard reads the resource itself.
            return SharingEvent(resource_id=resource_id, resource_type=kind, needs_guard=True, **base)
        # Another attribute (description, productCodes, ...): sharing is unchanged.
        return SharingEvent(resource_id=resource_id, resource_type=kind, needs_guard=False, **base)
    added = _principals(name, "add", change.add, snapshot=kind == "snapshot")
    removed = _principals(name, "remove", change.remove, snapshot=kind == "snapshot")
    if not added and not removed:
        raise EventError(f"{name} event changes no permission (no add or remove items)")
    return SharingEvent(
        resource_id=resource_id,
        resource_type=kind,
        added=added,
        removed=removed,
        needs_guard=bool(added),
        **base,
    )


PERMISSION_ATTRIBUTES = frozenset({"launchpermission", "createvolumepermission", "create_volume_permission"})
# ModifyImageAttribute / ModifySnapshotAttribute request members of the older form (EC2 API
# reference), as SharingParameters names them.
PERMISSION_MEMBERS = frozenset(
    {
        "operation_type",
        "user_id",
        "user_ids",
        "user_group",
        "user_groups",
        "user_id_set",
        "organization_arns",
        "organization_arn_set",
        "organizational_unit_arns",
        "organizational_unit_arn_set",
    }
)


def _permission_call_in_another_shape(params: SharingParameters) -> bool:
    """A permission change logged without the add/remove lists this parser reads."""
    attribute = (params.attribute_type or "").lower()
    return attribute in PERMISSION_ATTRIBUTES or bool(PERMISSION_MEMBERS & params.model_fields_set)


def _principals(name: str, verb: str, items: PermissionItems | None, *, snapshot: bool) -> tuple[str, ...]:
    if items is None:
        return ()
    found = [_principal(name, verb, item, snapshot=snapshot) for item in items.items]
    return tuple(dict.fromkeys(found))


def _principal(name: str, verb: str, item: PermissionItem, *, snapshot: bool) -> str:
    """The one principal an item names; the model has checked each one's shape."""
    group = item.group or item.groups
    given = [
        v for v in (group, item.user_id, item.organization_arn, item.organizational_unit_arn) if v is not None
    ]
    if len(given) != 1:
        raise EventError(f"{name} {verb} item names {len(given)} principals, not exactly one")
    if group is not None:
        if group != PUBLIC:
            raise EventError(f"{name} {verb} item names group {group!r}; only 'all' exists")
        return PUBLIC
    if item.user_id is not None:
        return item.user_id
    if snapshot:
        raise EventError(f"{name} {verb} item names an organization; snapshots are shared only with accounts")
    return str(item.organization_arn or item.organizational_unit_arn)
