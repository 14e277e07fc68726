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

Every field read is validated by the models below, built from the
constrained types of core/events.py (account ids, region names, image ids,
principal ARNs, bounded text, bounded times). Anything else, an event of
another account (``account`` or CloudTrail ``recipientAccountId`` not this
account), or a detail missing what is needed raises EventError whose message
says why (naming the field and showing at most 80 characters of its value), so
the handler logs and reports it and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field

from ami_hygiene.core.events import (
    CLOUDTRAIL,
    SOURCE,
    CloudTrailRecord,
    Ec2ResourceId,
    Event,
    EventError,
    GenericEvent,
    ImageId,
    Loose,
    RegionName,
    Token,
    check_account,
    kind_of,
    shown,
    validate_event,
)
from ami_hygiene.core.job import EventRule

STATE_CHANGE = "EC2 AMI State Change"
# Tuples, in the order the stack's rule lists them.
IMAGE_CALLS = ("CreateImage", "CopyImage", "RegisterImage")
IMPORT_CALL = "ImportImage"
TAG_CALLS = ("CreateTags", "DeleteTags")
TAG_RESOURCES_MAX = 1000  # CreateTags / DeleteTags: "Up to 1000 resource IDs" (EC2 API reference)

# What starts the job at once. Not ImportImage: its CloudTrail record names an import task, not an
# image (the AMI appears when the task completes), so the event cannot say which image to check;
# the sweep covers it.
RULES = (
    EventRule(
        "TagsImageAvailable",
        "an image became available",
        SOURCE,
        STATE_CHANGE,
        {"State": ["available"]},
    ),
    EventRule(
        "TagsImageCalls",
        "an image was made or its tags changed, by anyone but ami-hygiene",
        SOURCE,
        CLOUDTRAIL,
        {
            "eventSource": ["ec2.amazonaws.com"],
            "eventName": [*IMAGE_CALLS, *TAG_CALLS],
        },
        own_writes_excluded=True,
    ),
)


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


class ResourceItem(Loose):
    resource_id: Ec2ResourceId = Field(alias="resourceId")


class ResourcesSet(Loose):
    items: list[ResourceItem] = Field(default=[], max_length=TAG_RESOURCES_MAX)


class RequestParameters(Loose):
    resources_set: ResourcesSet | None = Field(default=None, alias="resourcesSet")
    source_image_id: ImageId | None = Field(default=None, alias="sourceImageId")
    source_region: RegionName | None = Field(default=None, alias="sourceRegion")


class ResponseElements(Loose):
    image_id: ImageId | None = Field(default=None, alias="imageId")


class CloudTrailDetail(CloudTrailRecord):
    request_parameters: RequestParameters | None = Field(default=None, alias="requestParameters")
    response_elements: ResponseElements | None = Field(default=None, alias="responseElements")


class StateChangeDetail(Loose):
    image_id: ImageId = Field(alias="ImageId")
    state: Token = Field(alias="State")


CloudTrailEvent = Event[CloudTrailDetail]
StateChangeEvent = Event[StateChangeDetail]


# -- parsing ---------------------------------------------------------------------------------


def parse_event(event: Any, account_id: str) -> ImageEvent:
    """The image event in `event` for account `account_id`, or EventError saying why not.

    The whole event (envelope and detail) is validated by its model before anything is read.
    """
    kind = kind_of(event)
    if kind == (SOURCE, CLOUDTRAIL):
        return _cloudtrail(validate_event(CloudTrailEvent, event), account_id)
    if kind == (SOURCE, STATE_CHANGE):
        return _state_change(validate_event(StateChangeEvent, event), account_id)
    envelope = validate_event(GenericEvent, event)
    if envelope.source != SOURCE:
        raise EventError(f"event source is {shown(envelope.source)}, not {SOURCE!r}")
    raise EventError(
        f"event detail-type {shown(envelope.detail_type)} is neither {CLOUDTRAIL!r} nor {STATE_CHANGE!r}"
    )


def _cloudtrail(event: CloudTrailEvent, account_id: str) -> ImageEvent:
    detail = event.detail
    detail.check_accounts(event.account, account_id)
    name = detail.event_name
    if detail.event_source != "ec2.amazonaws.com":
        raise EventError(f"CloudTrail event source is {shown(detail.event_source)}, not ec2.amazonaws.com")
    if name == IMPORT_CALL:
        raise EventError(
            "ImportImage names an import task, not an image: the AMI appears when the task completes, "
            "and the tag sweep checks it then"
        )
    if name not in (*IMAGE_CALLS, *TAG_CALLS):
        raise EventError(f"CloudTrail event {name} is not an image call the tag job handles")
    if detail.error_code:
        raise EventError(f"{name} failed ({detail.error_code}): it created or changed nothing")
    params = detail.request_parameters or RequestParameters()
    if name in TAG_CALLS:
        items = [i.resource_id for i in params.resources_set.items] if params.resources_set else []
        ids = tuple(dict.fromkeys(i for i in items if i.startswith("ami-")))
        if not items:
            raise EventError(f"{name} event names no resources (requestParameters.resourcesSet)")
        if not ids:
            others = ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")
            raise EventError(f"{name} event tags no image, only {others}")
    else:
        image_id = detail.response_elements.image_id if detail.response_elements else None
        if not image_id:
            raise EventError(f"{name} event has no responseElements.imageId")
        ids = (image_id,)
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
    return ImageEvent(
        image_ids=(image_id,),
        region=event.region,
        account=event.account,
        event_name=f"StateChange:{event.detail.state}",
        time=event.time,
        state=event.detail.state,
    )
