"""The events that start the tag job, parsed into one small frozen record.

Two shapes arrive through EventBridge (source ``aws.ec2``):

* ``AWS API Call via CloudTrail``: the detail is a CloudTrail record. The
  image id is ``responseElements.imageId`` for CreateImage, CopyImage and
  RegisterImage; for CreateTags / DeleteTags it is
  the ``ami-`` ids among ``requestParameters.resourcesSet.items[].resourceId``
  (events tagging only other resources are refused). The principal is
  ``userIdentity.arn``, the caller's IP ``sourceIPAddress``; CopyImage names
  its source in ``requestParameters.sourceImageId`` / ``sourceRegion``. A call
  that failed (``errorCode`` set) is refused: it made or changed nothing.
  ImportImage is refused with its own reason: its record names an import task
  (``importTaskId``), not an image, which appears only when the task ends;
  the stack's rule leaves it out and the sweep covers imported images.
* ``EC2 AMI State Change``: the detail has ``ImageId`` and ``State``. Only
  ``available`` is acted on; a failed, deregistered or disabled image is
  refused (there is nothing to tag).

Anything else, an event of another account (``account`` or CloudTrail
``recipientAccountId`` not this account), or a detail missing what is needed
raises EventError whose message says why, so the handler logs and reports it
and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SOURCE = "aws.ec2"
CLOUDTRAIL = "AWS API Call via CloudTrail"
STATE_CHANGE = "EC2 AMI State Change"
IMAGE_CALLS = frozenset({"CreateImage", "CopyImage", "RegisterImage"})
IMPORT_CALL = "ImportImage"
TAG_CALLS = frozenset({"CreateTags", "DeleteTags"})
IMAGE_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")


class EventError(ValueError):
    """An event the tag job cannot act on; the message says why."""


@dataclass(frozen=True)
class ImageEvent:
    image_ids: tuple[str, ...]
    region: str
    account: str
    event_name: str  # CloudTrail eventName, or "StateChange:<state>"
    time: datetime
    principal_arn: str | None = None
    source_ip: str | None = None
    source_image: str | None = None  # CopyImage
    source_region: str | None = None  # CopyImage
    state: str | None = None  # EC2 AMI State Change

    @property
    def image_id(self) -> str:
        """The first image (CreateTags may name several)."""
        return self.image_ids[0]


# -- pydantic models of the details ---------------------------------------------------------


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class UserIdentity(_Loose):
    type: str | None = None
    arn: str | None = None
    account_id: str | None = Field(default=None, alias="accountId")
    invoked_by: str | None = Field(default=None, alias="invokedBy")


class ResourceItem(_Loose):
    resource_id: str = Field(alias="resourceId")


class ResourcesSet(_Loose):
    items: list[ResourceItem] = []


class RequestParameters(_Loose):
    resources_set: ResourcesSet | None = Field(default=None, alias="resourcesSet")
    source_image_id: str | None = Field(default=None, alias="sourceImageId")
    source_region: str | None = Field(default=None, alias="sourceRegion")


class ResponseElements(_Loose):
    image_id: str | None = Field(default=None, alias="imageId")


class CloudTrailDetail(_Loose):
    event_source: str = Field(alias="eventSource")
    event_name: str = Field(alias="eventName")
    aws_region: str = Field(alias="awsRegion")
    user_identity: UserIdentity = Field(alias="userIdentity")
    source_ip_address: str | None = Field(default=None, alias="sourceIPAddress")
    request_parameters: RequestParameters | None = Field(default=None, alias="requestParameters")
    response_elements: ResponseElements | None = Field(default=None, alias="responseElements")
    recipient_account_id: str | None = Field(default=None, alias="recipientAccountId")
    error_code: str | None = Field(default=None, alias="errorCode")
    error_message: str | None = Field(default=None, alias="errorMessage")


class StateChangeDetail(_Loose):
    image_id: str = Field(alias="ImageId")
    state: str = Field(alias="State")
    error_message: str | None = Field(default=None, alias="ErrorMessage")


class CloudTrailEvent(EventBridgeModel):
    detail: CloudTrailDetail


class StateChangeEvent(EventBridgeModel):
    detail: StateChangeDetail


# -- parsing ---------------------------------------------------------------------------------


def parse_event(event: Any, account_id: str) -> ImageEvent:
    """The image event in `event` for account `account_id`, or EventError saying why not."""
    if not isinstance(event, dict):
        raise EventError(f"event is a {type(event).__name__}, not a JSON object")
    source = event.get("source")
    detail_type = event.get("detail-type")
    if source != SOURCE:
        raise EventError(f"event source is {source!r}, not {SOURCE!r}")
    if detail_type == CLOUDTRAIL:
        return _cloudtrail(validate_event(CloudTrailEvent, event), account_id)
    if detail_type == STATE_CHANGE:
        return _state_change(validate_event(StateChangeEvent, event), account_id)
    raise EventError(f"event detail-type {detail_type!r} is neither {CLOUDTRAIL!r} nor {STATE_CHANGE!r}")


def validate_event(model: type[EventBridgeModel], event: dict[str, Any]) -> Any:
    """`event` as `model`, or EventError naming the first problem (never the values)."""
    try:
        return model.model_validate(event)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise EventError(
            f"malformed event: {where}: {first['msg']} ({err.error_count()} problem(s))"
        ) from None


def check_account(account: str, account_id: str) -> None:
    if account != account_id:
        raise EventError(f"event is for account {account}, not this account {account_id}")


def _cloudtrail(event: CloudTrailEvent, account_id: str) -> ImageEvent:
    detail = event.detail
    check_account(detail.recipient_account_id or event.account, account_id)
    check_account(event.account, account_id)
    name = detail.event_name
    if detail.event_source != "ec2.amazonaws.com":
        raise EventError(f"CloudTrail event source is {detail.event_source!r}, not ec2.amazonaws.com")
    if name == IMPORT_CALL:
        raise EventError(
            "ImportImage names an import task, not an image: the AMI appears when the task completes, "
            "and the tag sweep checks it then"
        )
    if name not in IMAGE_CALLS | TAG_CALLS:
        raise EventError(f"CloudTrail event {name} is not an image call the tag job handles")
    if detail.error_code:
        raise EventError(f"{name} failed ({detail.error_code}): it created or changed nothing")
    params = detail.request_parameters or RequestParameters()
    if name in TAG_CALLS:
        items = params.resources_set.items if params.resources_set else []
        ids = tuple(dict.fromkeys(i.resource_id for i in items if i.resource_id.startswith("ami-")))
        if not items:
            raise EventError(f"{name} event names no resources (requestParameters.resourcesSet)")
        if not ids:
            raise EventError(f"{name} event tags no image, only {', '.join(i.resource_id for i in items)}")
    else:
        image_id = detail.response_elements.image_id if detail.response_elements else None
        if not image_id:
            raise EventError(f"{name} event has no responseElements.imageId")
        ids = (image_id,)
    for image_id in ids:
        if not IMAGE_ID.match(image_id):
            raise EventError(f"{name} event names {image_id!r}, which is not an image id")
    copy = name == "CopyImage"
    return ImageEvent(
        image_ids=ids,
        region=detail.aws_region,
        account=event.account,
        event_name=name,
        time=event.time,
        principal_arn=detail.user_identity.arn,
        source_ip=detail.source_ip_address,
        source_image=params.source_image_id if copy else None,
        source_region=params.source_region if copy else None,
    )


def _state_change(event: StateChangeEvent, account_id: str) -> ImageEvent:
    check_account(event.account, account_id)
    image_id = event.detail.image_id
    if event.detail.state != "available":
        raise EventError(f"image {image_id} is now {event.detail.state}: only available images are tagged")
    if not IMAGE_ID.match(image_id):
        raise EventError(f"EC2 AMI State Change names {image_id!r}, which is not an image id")
    return ImageEvent(
        image_ids=(image_id,),
        region=event.region,
        account=event.account,
        event_name=f"StateChange:{event.detail.state}",
        time=event.time,
        state=event.detail.state,
    )
