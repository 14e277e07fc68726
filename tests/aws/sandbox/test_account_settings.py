"""The embedded AWS's answers `ami-hygiene doctor` relies on: DryRun on every call it
tries, Lambda GetAccountSettings, and the snapshot block public access setting."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

import sandbox
from ami_hygiene.doctor.permissions import Probe
from ami_hygiene.doctor.run import CALLS
from sandbox.lambda_account import set_concurrency_quota
from tests.helpers.constants import ACCOUNT as ACCOUNT_ID
from tests.helpers.constants import REGION
from tests.helpers.sandbox import error_code


def _image_and_snapshot(ec2: Any) -> tuple[str, str]:
    volume = ec2.create_volume(Size=8, AvailabilityZone=f"{REGION}a")["VolumeId"]
    snapshot = str(ec2.create_snapshot(VolumeId=volume)["SnapshotId"])
    mappings = [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot}}]
    image = ec2.register_image(Name="web-1", RootDeviceName="/dev/xvda", BlockDeviceMappings=mappings)
    return str(image["ImageId"]), snapshot


# -- DryRun ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("describe_image_attribute", {"ImageId": "{image}", "Attribute": "launchPermission"}),
        ("describe_snapshot_attribute", {"SnapshotId": "{snapshot}", "Attribute": "createVolumePermission"}),
    ],
)
def test_reads_moto_answered_despite_dry_run_now_answer_dry_run_operation(
    ec2: Any, operation: str, params: dict[str, str]
) -> None:
    image, snapshot = _image_and_snapshot(ec2)
    filled = {k: v.format(image=image, snapshot=snapshot) for k, v in params.items()}
    with pytest.raises(ClientError) as err:
        getattr(ec2, operation)(DryRun=True, **filled)
    assert error_code(err) == "DryRunOperation"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    getattr(ec2, operation)(**filled)  # without DryRun, the read answers as before


def test_a_dry_run_read_still_validates_the_resource(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.describe_image_attribute(
            ImageId="ami-00000000000000000", Attribute="launchPermission", DryRun=True
        )
    assert error_code(err) == "InvalidAMIID.NotFound"


def test_every_ec2_call_doctor_tries_answers_dry_run_operation_and_changes_nothing(ec2: Any) -> None:
    image, snapshot = _image_and_snapshot(ec2)
    names = {
        "image": image,
        "snapshot": snapshot,
        "region": REGION,
        "account": ACCOUNT_ID,
        "partition": "aws",
    }
    tried = set()
    for call in CALLS:
        if call.service != "ec2" or call.probe is not Probe.DRY_RUN:
            continue
        params = _fill(dict(call.params), names)
        with pytest.raises(ClientError) as err:
            getattr(ec2, xform_name(call.operation))(DryRun=True, **params)
        assert error_code(err) == "DryRunOperation", call.action
        tried.add(call.operation)
    assert {
        "DisableImage",
        "DeregisterImage",
        "DeleteSnapshot",
        "CreateTags",
        "ModifyImageAttribute",
    } <= tried
    found = ec2.describe_images(ImageIds=[image])["Images"][0]
    assert found["State"] == "available" and "DeprecationTime" not in found and not found.get("Tags")
    assert ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"]
    assert ec2.get_image_block_public_access_state()["ImageBlockPublicAccessState"] == "unblocked"


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


# -- Lambda GetAccountSettings ---------------------------------------------------------------


def _function(name: str) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "def handler(event, context):\n    return event\n")
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    return name


def test_account_settings_report_the_default_quota(aws: None) -> None:
    settings = boto3.client("lambda", region_name=REGION).get_account_settings()
    limit = settings["AccountLimit"]
    assert limit["ConcurrentExecutions"] == 1000 and limit["UnreservedConcurrentExecutions"] == 1000
    assert limit["TotalCodeSize"] == 75 * 1024**3 and limit["CodeSizeZipped"] == 50 * 1024**2
    assert settings["AccountUsage"]["FunctionCount"] == 0


def test_reserved_concurrency_leaves_the_rest_unreserved(aws: None) -> None:
    client = boto3.client("lambda", region_name=REGION)
    client.put_function_concurrency(FunctionName=_function("busy"), ReservedConcurrentExecutions=300)
    _function("idle")
    settings = client.get_account_settings()
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 700
    assert settings["AccountUsage"]["FunctionCount"] == 2


def test_a_seeded_quota_is_per_region(aws: None) -> None:
    set_concurrency_quota(sandbox.backend("lambda", REGION), 10)
    here = boto3.client("lambda", region_name=REGION).get_account_settings()["AccountLimit"]
    there = boto3.client("lambda", region_name="us-east-1").get_account_settings()["AccountLimit"]
    assert (here["ConcurrentExecutions"], here["UnreservedConcurrentExecutions"]) == (10, 10)
    assert there["ConcurrentExecutions"] == 1000


# -- snapshot block public access ------------------------------------------------------------


def test_snapshot_block_public_access_state(ec2: Any) -> None:
    assert ec2.get_snapshot_block_public_access_state()["State"] == "unblocked"
    assert ec2.enable_snapshot_block_public_access(State="block-all-sharing")["State"] == "block-all-sharing"
    assert ec2.get_snapshot_block_public_access_state()["State"] == "block-all-sharing"
    assert boto3.client("ec2", region_name="us-east-1").get_snapshot_block_public_access_state()["State"] == (
        "unblocked"
    )
    assert ec2.disable_snapshot_block_public_access()["State"] == "unblocked"


def test_snapshot_block_public_access_refuses_unblocked_on_enable_and_honours_dry_run(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.enable_snapshot_block_public_access(State="unblocked")
    assert error_code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.enable_snapshot_block_public_access(State="block-new-sharing", DryRun=True)
    assert error_code(err) == "DryRunOperation"
    assert ec2.get_snapshot_block_public_access_state()["State"] == "unblocked"


# -- Image Builder recipes (read by DescribeImageReferences) ---------------------------------


def test_recipe_reads_answer_as_an_account_without_recipes(aws: None) -> None:
    builder = boto3.client("imagebuilder", region_name=REGION)
    assert builder.list_image_recipes(maxResults=1)["imageRecipeSummaryList"] == []
    assert builder.list_container_recipes()["containerRecipeSummaryList"] == []
    arn = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT_ID}:container-recipe/web/1.0.0"
    with pytest.raises(ClientError) as err:
        builder.get_container_recipe(containerRecipeArn=arn)
    assert error_code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        builder.get_container_recipe(containerRecipeArn="arn:aws:imagebuilder:nowhere")
    assert error_code(err) == "InvalidRequestException"
