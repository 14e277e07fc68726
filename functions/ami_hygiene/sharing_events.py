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
another service or call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .events import CLOUDTRAIL, SOURCE, EventError, UserIdentity, validate_event

IMAGE_ATTRIBUTE = "ModifyImageAttribute"
SNAPSHOT_ATTRIBUTE = "ModifySnapshotAttribute"
DISABLE_BPA = "DisableImageBlockPublicAccess"
ENABLE_BPA = "EnableImageBlockPublicAccess"
SHARING_CALLS = frozenset({IMAGE_ATTRIBUTE, SNAPSHOT_ATTRIBUTE, DISABLE_BPA, ENABLE_BPA})
PUBLIC = "all"

IMAGE_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")
SNAPSHOT_ID = re.compile(r"^snap-[0-9a-f]{8,17}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
ORGANIZATION_ARN = re.compile(r"^arn:aws[a-z-]*:organizations::\d{12}:organization/o-[a-z0-9]{10,32}$")
OU_ARN = re.compile(
    r"^arn:aws[a-z-]*:organizations::\d{12}:ou/o-[a-z0-9]{10,32}/ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$"
)

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


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class PermissionItem(_Loose):
    group: str | None = None
    # Stratus Red Team's documentation writes "groups"; accept both spellings.
    groups: str | None = None
    user_id: str | None = Field(default=None, alias="userId")
    organization_arn: str | None = Field(default=None, alias="organizationArn")
    organizational_unit_arn: str | None = Field(default=None, alias="organizationalUnitArn")


class PermissionItems(_Loose):
    items: list[PermissionItem] = []


class PermissionChange(_Loose):
    add: PermissionItems | None = None
    remove: PermissionItems | None = None


class SharingParameters(_Loose):
    image_id: str | None = Field(default=None, alias="imageId")
    snapshot_id: str | None = Field(default=None, alias="snapshotId")
    attribute_type: str | None = Field(default=None, alias="attributeType")
    launch_permission: PermissionChange | None = Field(default=None, alias="launchPermission")
    create_volume_permission: PermissionChange | None = Field(default=None, alias="createVolumePermission")


class SharingDetail(_Loose):
    event_source: str = Field(alias="eventSource")
    event_name: str = Field(alias="eventName")
    aws_region: str = Field(alias="awsRegion")
    user_identity: UserIdentity = Field(alias="userIdentity")
    source_ip_address: str | None = Field(default=None, alias="sourceIPAddress")
    # Any: block public access calls log request shapes of their own; not needed.
    request_parameters: Any = Field(default=None, alias="requestParameters")
    recipient_account_id: str | None = Field(default=None, alias="recipientAccountId")
    error_code: str | None = Field(default=None, alias="errorCode")
    error_message: str | None = Field(default=None, alias="errorMessage")


class SharingCloudTrailEvent(EventBridgeModel):
    detail: SharingDetail


# -- parsing --------------------------------------------------------------------------------


def parse_sharing_event(event: Any, account_id: str) -> SharingEvent:
    """The sharing change in `event` for account `account_id`, or EventError saying why not."""
    if not isinstance(event, dict):
        raise EventError(f"event is a {type(event).__name__}, not a JSON object")
    if event.get("source") != SOURCE:
        raise EventError(f"event source is {event.get('source')!r}, not {SOURCE!r}")
    if event.get("detail-type") != CLOUDTRAIL:
        raise EventError(f"event detail-type {event.get('detail-type')!r} is not {CLOUDTRAIL!r}")
    parsed: SharingCloudTrailEvent = validate_event(SharingCloudTrailEvent, event)
    detail = parsed.detail
    for claimed in (parsed.account, detail.recipient_account_id or parsed.account):
        if claimed != account_id:
            raise EventError(f"event is for account {claimed}, not this account {account_id}")
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
    params = _parameters(name, detail.request_parameters)
    kind: ResourceType
    if name == IMAGE_ATTRIBUTE:
        kind, resource_id, change, pattern = "image", params.image_id, params.launch_permission, IMAGE_ID
    else:
        kind, resource_id, change, pattern = (
            "snapshot",
            params.snapshot_id,
            params.create_volume_permission,
            SNAPSHOT_ID,
        )
    if not resource_id:
        raise EventError(f"{name} event has no requestParameters.{kind}Id")
    if not pattern.match(resource_id):
        raise EventError(f"{name} event names {resource_id!r}, which is not an {kind} id")
    if change is None:
        if _permission_call_in_another_shape(params, detail.request_parameters):
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
# ModifyImageAttribute / ModifySnapshotAttribute request members of the older form (EC2 API reference).
PERMISSION_MEMBERS = frozenset({"operationType", "userId", "userIds", "userGroup", "userGroups", "userIdSet"})


def _permission_call_in_another_shape(params: SharingParameters, raw: Any) -> bool:
    """A permission change logged without the add/remove lists this parser reads."""
    attribute = (params.attribute_type or "").lower()
    return attribute in PERMISSION_ATTRIBUTES or bool(PERMISSION_MEMBERS & set(raw))


def _parameters(name: str, raw: Any) -> SharingParameters:
    if not isinstance(raw, dict):
        raise EventError(f"{name} event has no requestParameters object")
    try:
        return SharingParameters.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise EventError(f"malformed {name} requestParameters: {where}: {first['msg']}") from None


def _principals(name: str, verb: str, items: PermissionItems | None, *, snapshot: bool) -> tuple[str, ...]:
    if items is None:
        return ()
    found = [_principal(name, verb, item, snapshot=snapshot) for item in items.items]
    return tuple(dict.fromkeys(found))


def _principal(name: str, verb: str, item: PermissionItem, *, snapshot: bool) -> str:
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
        if not ACCOUNT_ID.match(item.user_id):
            raise EventError(f"{name} {verb} item names {item.user_id!r}, which is not an account id")
        return item.user_id
    if snapshot:
        raise EventError(f"{name} {verb} item names an organization; snapshots are shared only with accounts")
    if item.organization_arn is not None:
        if not ORGANIZATION_ARN.match(item.organization_arn):
            raise EventError(f"{name} {verb} item names {item.organization_arn!r}, not an organization ARN")
        return item.organization_arn
    unit = str(item.organizational_unit_arn)
    if not OU_ARN.match(unit):
        raise EventError(f"{name} {verb} item names {unit!r}, not an organizational unit ARN")
    return unit
