"""DescribeImageReferences in the embedded AWS."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.aws.test_sandbox_images import _register, _snapshot
from tests.conftest import ACCOUNT_ID, REGION


@pytest.fixture
def ec2(aws: None) -> Any:
    return boto3.client("ec2", region_name=REGION)


def test_references_from_instances_templates_and_parameters(ec2: Any) -> None:
    ids = [_register(ec2, f"ref-{k}", _snapshot(ec2)) for k in range(5)]
    running = ec2.run_instances(ImageId=ids[0], MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    gone = ec2.run_instances(ImageId=ids[1], MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.terminate_instances(InstanceIds=[gone])
    lt = ec2.create_launch_template(LaunchTemplateName="t", LaunchTemplateData={"ImageId": ids[2]})
    lt_id = lt["LaunchTemplate"]["LaunchTemplateId"]
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/golden/ami", Value=ids[3], Type="String", DataType="aws:ec2:image"
    )
    refs = ec2.describe_image_references(ImageIds=ids, IncludeAllResourceTypes=True)["ImageReferences"]
    found = sorted((r["ImageId"], r["ResourceType"], r["Arn"]) for r in refs)
    assert found == sorted(
        [
            (ids[0], "ec2:Instance", f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:instance/{running}"),
            (ids[2], "ec2:LaunchTemplate", f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:launch-template/{lt_id}"),
            (ids[3], "ssm:Parameter", f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/golden/ami"),
        ]
    )
    only = ec2.describe_image_references(ImageIds=ids, ResourceTypes=[{"ResourceType": "ec2:Instance"}])
    assert {r["ResourceType"] for r in only["ImageReferences"]} == {"ec2:Instance"}


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
    ],
)
def test_bad_requests_get_ec2_errors(ec2: Any, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(ClientError) as err:
        ec2.describe_image_references(**kwargs)
    assert err.value.response["Error"]["Code"] == code
