"""DescribeImageReferences in the embedded AWS, as the EC2 User Guide describes its defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine
from botocore.exceptions import ClientError

from tests.helpers.constants import ACCOUNT, REGION
from tests.helpers.sandbox import register, snapshot

ALIVE = ["pending", "running", "shutting-down", "stopping", "stopped"]


def _refs(ec2: Any, **kwargs: Any) -> list[tuple[str, str, str]]:
    answer = ec2.describe_image_references(**kwargs)["ImageReferences"]
    return [(r["ImageId"], r["ResourceType"], r["Arn"]) for r in answer]


def _arn(kind: str, resource: str) -> str:
    service = "ssm" if kind == "parameter" else "ec2"
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{kind}/{resource}"


def test_references_from_instances_templates_and_parameters(ec2: Any) -> None:
    ids = [register(ec2, f"ref-{k}", snapshot(ec2)) for k in range(5)]
    running = ec2.run_instances(ImageId=ids[0], MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    lt_id = ec2.create_launch_template(LaunchTemplateName="t", LaunchTemplateData={"ImageId": ids[2]})[
        "LaunchTemplate"
    ]["LaunchTemplateId"]
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/golden/ami", Value=ids[3], Type="String", DataType="aws:ec2:image")
    ssm.put_parameter(Name="notes", Value=ids[4], Type="String")  # text data type: not a reference
    assert _refs(ec2, ImageIds=ids, IncludeAllResourceTypes=True) == [
        (ids[0], "ec2:Instance", _arn("instance", running)),
        (ids[2], "ec2:LaunchTemplate", _arn("launch-template", lt_id)),
        (ids[3], "ssm:Parameter", _arn("parameter", "golden/ami")),
    ]
    only = _refs(ec2, ImageIds=ids, ResourceTypes=[{"ResourceType": "ec2:Instance"}])
    assert only == [(ids[0], "ec2:Instance", _arn("instance", running))]


def test_instances_in_every_state_by_default_and_terminated_ones_for_an_hour(ec2: Any) -> None:
    image = register(ec2, "ref-states", snapshot(ec2))
    stopped, gone = (
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        for _ in range(2)
    )
    ec2.stop_instances(InstanceIds=[stopped])
    ec2.terminate_instances(InstanceIds=[gone])
    everything = {arn for _, _, arn in _refs(ec2, ImageIds=[image], IncludeAllResourceTypes=True)}
    assert everything == {_arn("instance", stopped), _arn("instance", gone)}
    alive_only = _refs(
        ec2,
        ImageIds=[image],
        IncludeAllResourceTypes=True,
        ResourceTypes=[
            {
                "ResourceType": "ec2:Instance",
                "ResourceTypeOptions": [{"OptionName": "state-name", "OptionValues": ALIVE}],
            }
        ],
    )
    assert {arn for _, _, arn in alive_only} == {_arn("instance", stopped)}  # options override the defaults
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=2)):
        later = {arn for _, _, arn in _refs(ec2, ImageIds=[image], IncludeAllResourceTypes=True)}
    assert later == {_arn("instance", stopped)}  # EC2 has forgotten the terminated instance


def test_launch_templates_are_checked_to_the_version_depth(ec2: Any) -> None:
    old, new = register(ec2, "ref-old", snapshot(ec2)), register(ec2, "ref-new", snapshot(ec2))
    lt_id = ec2.create_launch_template(LaunchTemplateName="deep", LaunchTemplateData={"ImageId": old})[
        "LaunchTemplate"
    ]["LaunchTemplateId"]
    for _ in range(10):  # versions 2..11 name the new image; version 1 ($Default) the old one
        ec2.create_launch_template_version(LaunchTemplateId=lt_id, LaunchTemplateData={"ImageId": new})
    default = _refs(ec2, ImageIds=[old, new], IncludeAllResourceTypes=True)
    assert default == [(new, "ec2:LaunchTemplate", _arn("launch-template", lt_id))]  # one per template
    deeper = _refs(
        ec2,
        ImageIds=[old, new],
        ResourceTypes=[
            {
                "ResourceType": "ec2:LaunchTemplate",
                "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["11"]}],
            }
        ],
    )
    assert [image for image, _, _ in deeper] == [old, new]


def test_references_come_in_pages(ec2: Any) -> None:
    image = register(ec2, "ref-pages", snapshot(ec2))
    launched = ec2.run_instances(ImageId=image, MinCount=7, MaxCount=7)["Instances"]
    pages = list(
        ec2.get_paginator("describe_image_references").paginate(
            ImageIds=[image], IncludeAllResourceTypes=True, PaginationConfig={"PageSize": 5}
        )
    )
    assert [len(p["ImageReferences"]) for p in pages] == [5, 2]
    assert {r["Arn"] for p in pages for r in p["ImageReferences"]} == {
        _arn("instance", i["InstanceId"]) for i in launched
    }


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        (
            {"ImageIds": [f"ami-{k:017x}" for k in range(11)], "IncludeAllResourceTypes": True},
            "InvalidParameterValue",
        ),
        ({"ImageIds": ["ami-00000000000000001"]}, "MissingParameter"),
        (
            {"ImageIds": ["ami-00000000000000001"], "ResourceTypes": [{"ResourceType": "s3:Bucket"}]},
            "InvalidParameterValue",
        ),
        (
            {
                "ImageIds": ["ami-00000000000000001"],
                "ResourceTypes": [
                    {
                        "ResourceType": "ec2:Instance",
                        "ResourceTypeOptions": [{"OptionName": "state-name", "OptionValues": ["asleep"]}],
                    }
                ],
            },
            "InvalidParameterValue",
        ),
        (
            {
                "ImageIds": ["ami-00000000000000001"],
                "ResourceTypes": [
                    {
                        "ResourceType": "ec2:LaunchTemplate",
                        "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["10001"]}],
                    }
                ],
            },
            "InvalidParameterValue",
        ),
        (
            {
                "ImageIds": ["ami-00000000000000001"],
                "ResourceTypes": [
                    {
                        "ResourceType": "ssm:Parameter",
                        "ResourceTypeOptions": [{"OptionName": "state-name", "OptionValues": ["running"]}],
                    }
                ],
            },
            "InvalidParameterValue",
        ),
        ({"ImageIds": ["image-1"], "IncludeAllResourceTypes": True}, "InvalidAMIID.Malformed"),
        (
            {"ImageIds": ["ami-00000000000000001"], "IncludeAllResourceTypes": True, "MaxResults": 1001},
            "InvalidParameterValue",
        ),
    ],
)
def test_bad_requests_get_ec2_errors(ec2: Any, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(ClientError) as err:
        ec2.describe_image_references(**kwargs)
    assert err.value.response["Error"]["Code"] == code
