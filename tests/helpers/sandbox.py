"""Working with the embedded AWS: make images and snapshots, read tags, errors and what was published."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ami_hygiene.core.clients import Clients
from tests.helpers.constants import ACCOUNT, FOREIGN, REGION

# -- images and snapshots -----------------------------------------------------------------


def snapshot(ec2: Any, size: int = 8, **extra: Any) -> str:
    """A snapshot of a new volume of `size` GiB."""
    volume = ec2.create_volume(Size=size, AvailabilityZone=f"{REGION}a")["VolumeId"]
    return str(ec2.create_snapshot(VolumeId=volume, **extra)["SnapshotId"])


def register(ec2: Any, name: str, *snapshots: str, **extra: Any) -> str:
    """RegisterImage with one block device per snapshot (/dev/xvda, /dev/xvdb, ...): the new image id."""
    mappings = [
        {"DeviceName": f"/dev/xvd{chr(97 + k)}", "Ebs": {"SnapshotId": s}} for k, s in enumerate(snapshots)
    ]
    answer = ec2.register_image(Name=name, RootDeviceName="/dev/xvda", BlockDeviceMappings=mappings, **extra)
    return str(answer["ImageId"])


def described(ec2: Any, image_id: str) -> dict[str, Any]:
    """DescribeImages' answer for one image, disabled ones included."""
    return dict(ec2.describe_images(ImageIds=[image_id], IncludeDisabled=True)["Images"][0])


def foreign_image(
    image_id: str, *, shared: bool = False, owner: str = FOREIGN, name: str | None = None, **attrs: Any
) -> str:
    """An image of another account in REGION, shared with us or not (seeded: no API makes one).

    `attrs` are moto's Ami arguments, e.g. public=True.
    """
    from moto.ec2.models.amis import Ami

    import sandbox

    backend = sandbox.backend("ec2", REGION, ACCOUNT)
    image = Ami(backend, image_id, name=name or f"theirs-{image_id}", owner_id=owner, **attrs)
    if shared:
        image.launch_permissions.append({"UserId": ACCOUNT})
    backend.amis[image.id] = image
    return image_id


def make_public(image_id: str) -> str:
    """Add launch permission group all to an image in REGION: its id."""
    boto3.client("ec2", region_name=REGION).modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"Group": "all"}]}
    )
    return image_id


def launch_permissions(image_id: str) -> list[dict[str, str]]:
    """An image's launch permissions in REGION, in a stable order."""
    found: Any = boto3.client("ec2", region_name=REGION).describe_image_attribute(
        ImageId=image_id, Attribute="launchPermission"
    )
    return sorted(found["LaunchPermissions"], key=lambda p: sorted(p.items()))


def is_public(image_id: str) -> bool:
    """Whether an image in REGION has launch permission group all."""
    found = boto3.client("ec2", region_name=REGION).describe_image_attribute(
        ImageId=image_id, Attribute="launchPermission"
    )
    return {"Group": "all"} in found["LaunchPermissions"]


def tags_of(resource_id: str) -> dict[str, str]:
    """The tags of an image (disabled ones included) or a snapshot in REGION."""
    ec2 = boto3.client("ec2", region_name=REGION)
    if resource_id.startswith("ami-"):
        (image,) = ec2.describe_images(ImageIds=[resource_id], IncludeDisabled=True)["Images"]
        return {t["Key"]: t["Value"] for t in image.get("Tags", [])}
    (snap,) = ec2.describe_snapshots(SnapshotIds=[resource_id])["Snapshots"]
    return {t["Key"]: t["Value"] for t in snap.get("Tags", [])}


# -- errors -------------------------------------------------------------------------------


def error_code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    """The AWS error code a call answered."""
    return str(caught.value.response["Error"]["Code"])


def error_and_status(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    """The AWS error code a call answered, and its HTTP status."""
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def client_error(code: str, status: int, operation: str = "Op") -> ClientError:
    """The ClientError boto3 raises for an answer of `code` with HTTP `status`."""
    response: Any = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


# -- what a handler published -------------------------------------------------------------


def report_topic(name: str = "ami-hygiene") -> str:
    """A topic in REGION for a job's reports: its ARN."""
    return str(boto3.client("sns", region_name=REGION).create_topic(Name=name)["TopicArn"])


@dataclass(frozen=True)
class Notification:
    """One message the embedded SNS received: its subject and its JSON body (one entry per protocol)."""

    subject: str
    body: dict[str, Any]


def notifications(topic_arn: str) -> list[Notification]:
    """Every message published to `topic_arn` in REGION, in order."""
    from moto.sns.models import sns_backends

    topic = sns_backends[ACCOUNT][REGION].topics[topic_arn]
    return [Notification(str(subject), json.loads(body)) for _, body, subject, *_ in topic.sent_notifications]


def lease_table(name: str) -> str:
    """The sweep lease table as the stack makes it (infra/lease_table.py): the job name is the key."""
    from ami_hygiene.core.lease import EXPIRES_AT, KEY

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": EXPIRES_AT}
    )
    return name


class Capturing(Clients):
    """Real (embedded) clients that also keep the parameters of every Publish call."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[dict[str, Any]] = []

    def sns(self, region: str) -> Any:
        client = super().sns(region)
        client.meta.events.register("provide-client-params.sns.Publish", self._keep, unique_id="capturing")
        return client

    def _keep(self, params: dict[str, Any], **_: Any) -> None:
        self.published.append(dict(params))


def account_state(region: str = REGION) -> dict[str, Any]:
    """The account's own images (id, state, tags, deprecation) and snapshot ids in `region`, to
    compare before and after a run that must change nothing."""
    ec2 = boto3.client("ec2", region_name=region)
    images = ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"]
    snaps = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    return {
        "images": sorted(
            (
                i["ImageId"],
                i["State"],
                str(sorted((t["Key"], t["Value"]) for t in i.get("Tags", []))),
                i.get("DeprecationTime"),
            )
            for i in images
        ),
        "snapshots": sorted(s["SnapshotId"] for s in snaps),
    }
