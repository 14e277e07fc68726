"""The other listings the inventory pages through: each gives real pages in the embedded AWS."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers.constants import REGION
from tests.helpers.sandbox import error_code, snapshot


def _pages(client: Any, operation: str, key: str, size: int, **kwargs: Any) -> list[list[Any]]:
    paginator = client.get_paginator(operation)
    return [p[key] for p in paginator.paginate(**kwargs, PaginationConfig={"PageSize": size})]


def test_snapshots_page_in_creation_order_and_honour_owner_ids(ec2: Any) -> None:
    made = [snapshot(ec2) for _ in range(7)]
    pages = _pages(ec2, "describe_snapshots", "Snapshots", 5, OwnerIds=["self"])
    assert [len(p) for p in pages] == [5, 2]
    assert [s["SnapshotId"] for p in pages for s in p] == made
    assert ec2.describe_snapshots(OwnerIds=["999988887777"])["Snapshots"] == []
    with pytest.raises(ClientError) as err:
        ec2.describe_snapshots(OwnerIds=["self"], MaxResults=1001)
    assert error_code(err) == "InvalidParameterValue"


def test_instances_page_by_reservation(ec2: Any) -> None:
    for _ in range(7):
        ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)
    pages = _pages(ec2, "describe_instances", "Reservations", 5)
    assert [len(p) for p in pages] == [5, 2]
    assert len({r["Instances"][0]["InstanceId"] for p in pages for r in p}) == 7


def test_launch_templates_page(ec2: Any) -> None:
    for k in range(5):
        ec2.create_launch_template(
            LaunchTemplateName=f"lt-{k}", LaunchTemplateData={"ImageId": "ami-12345678"}
        )
    pages = _pages(ec2, "describe_launch_templates", "LaunchTemplates", 2)
    assert [[t["LaunchTemplateName"] for t in p] for p in pages] == [
        ["lt-0", "lt-1"],
        ["lt-2", "lt-3"],
        ["lt-4"],
    ]
    with pytest.raises(ClientError) as err:
        ec2.describe_launch_templates(MaxResults=201)
    assert error_code(err) == "InvalidParameterValue"


def test_latest_and_default_versions_of_every_template_page(ec2: Any) -> None:
    for k in range(3):
        lt = ec2.create_launch_template(
            LaunchTemplateName=f"t{k}", LaunchTemplateData={"ImageId": "ami-12345678"}
        )
        ec2.create_launch_template_version(
            LaunchTemplateId=lt["LaunchTemplate"]["LaunchTemplateId"],
            LaunchTemplateData={"ImageId": "ami-87654321"},
        )
    ec2.create_launch_template(LaunchTemplateName="single", LaunchTemplateData={"ImageId": "ami-11111111"})
    pages = _pages(
        ec2,
        "describe_launch_template_versions",
        "LaunchTemplateVersions",
        4,
        Versions=["$Latest", "$Default"],
    )
    assert [len(p) for p in pages] == [4, 3]
    versions = [(v["LaunchTemplateName"], v["VersionNumber"], v["DefaultVersion"]) for p in pages for v in p]
    # Version 1 of "single" is both $Latest and $Default: listed once.
    assert versions == [(f"t{k}", n, n == 1) for k in range(3) for n in (1, 2)] + [("single", 1, True)]
    latest = _pages(
        ec2, "describe_launch_template_versions", "LaunchTemplateVersions", 200, Versions=["$Latest"]
    )
    assert [v["VersionNumber"] for p in latest for v in p] == [2, 2, 2, 1]


def test_versions_of_one_template_page(ec2: Any) -> None:
    lt_id = ec2.create_launch_template(
        LaunchTemplateName="one", LaunchTemplateData={"ImageId": "ami-12345678"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    for _ in range(4):
        ec2.create_launch_template_version(
            LaunchTemplateId=lt_id, LaunchTemplateData={"ImageId": "ami-87654321"}
        )
    every = _pages(
        ec2, "describe_launch_template_versions", "LaunchTemplateVersions", 2, LaunchTemplateId=lt_id
    )
    assert [[v["VersionNumber"] for v in p] for p in every] == [[1, 2], [3, 4], [5]]
    chosen = ec2.describe_launch_template_versions(LaunchTemplateId=lt_id, Versions=["3", "$Default"])
    assert [v["VersionNumber"] for v in chosen["LaunchTemplateVersions"]] == [3, 1]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({}, "MissingParameter"),
        ({"Versions": ["1"]}, "InvalidParameterValue"),
        ({"Versions": ["$Latest"], "MaxResults": 201}, "InvalidParameterValue"),
    ],
)
def test_account_wide_version_requests_are_checked(ec2: Any, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(ClientError) as err:
        ec2.describe_launch_template_versions(**kwargs)
    assert error_code(err) == code


def test_auto_scaling_groups_and_launch_configurations_page(aws: None) -> None:
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    for k in range(5):
        autoscaling.create_launch_configuration(
            LaunchConfigurationName=f"lc-{k}", ImageId="ami-12345678", InstanceType="t3.micro"
        )
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=f"asg-{k}",
            LaunchConfigurationName=f"lc-{k}",
            MinSize=0,
            MaxSize=0,
            AvailabilityZones=[f"{REGION}a"],
        )
    groups = _pages(autoscaling, "describe_auto_scaling_groups", "AutoScalingGroups", 2)
    assert [len(p) for p in groups] == [2, 2, 1]
    configs = _pages(autoscaling, "describe_launch_configurations", "LaunchConfigurations", 2)
    assert [[c["LaunchConfigurationName"] for c in p] for p in configs] == [
        ["lc-0", "lc-1"],
        ["lc-2", "lc-3"],
        ["lc-4"],
    ]


def test_ssm_parameters_page_by_max_results(aws: None) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    for k in range(12):
        ssm.put_parameter(Name=f"/p/{k:02d}", Value="v", Type="String")
    pages = _pages(ssm, "describe_parameters", "Parameters", 5)
    assert [[p["Name"] for p in page] for page in pages] == [
        [f"/p/{k:02d}" for k in range(0, 5)],
        [f"/p/{k:02d}" for k in range(5, 10)],
        ["/p/10", "/p/11"],
    ]
    assert len(ssm.describe_parameters()["Parameters"]) == 10  # the default page
    with pytest.raises(ClientError) as err:
        ssm.describe_parameters(MaxResults=51)
    assert error_code(err) == "ValidationException"
