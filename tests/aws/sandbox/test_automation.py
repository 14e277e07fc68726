"""The embedded SSM Automation: the AMI-update runbooks, idempotent starts, filters, paging, events."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.automation import complete_automation
from tests.helpers.constants import ACCOUNT, REGION
from tests.helpers.sandbox import error_code

ROLE = f"arn:aws:iam::{ACCOUNT}:role/AutomationServiceRole"


def _ssm(endpoint: str | None = None) -> Any:
    return boto3.client("ssm", region_name=REGION, endpoint_url=endpoint)


def _source(endpoint: str | None = None, name: str = "base", architecture: str = "x86_64") -> str:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    image_id: str = ec2.register_image(
        Name=name, RootDeviceName="/dev/xvda", Architecture=architecture, VirtualizationType="hvm"
    )["ImageId"]
    return image_id


def _linux(ssm: Any, source: str, **extra: Any) -> str:
    execution_id: str = ssm.start_automation_execution(
        DocumentName="AWS-UpdateLinuxAmi",
        Parameters={
            "SourceAmiId": [source],
            "SecurityGroupIds": ["sg-0123456789abcdef0"],
            "IamInstanceProfileName": ["ManagedInstanceProfile"],
            "AutomationAssumeRole": [ROLE],
        },
        **extra,
    )["AutomationExecutionId"]
    return execution_id


def test_an_execution_starts_in_progress(aws: None) -> None:
    ssm = _ssm()
    source = _source()
    execution_id = _linux(ssm, source, Tags=[{"Key": "ami-hygiene:family", "Value": "web"}])
    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    assert execution["AutomationExecutionStatus"] == "InProgress"
    assert execution["DocumentName"] == "AWS-UpdateLinuxAmi"
    assert execution["Parameters"]["SourceAmiId"] == [source]
    assert execution["Parameters"]["InstanceType"] == ["t2.micro"]  # the runbook's default
    assert "ExecutionEndTime" not in execution


def test_the_same_client_token_starts_one_execution(aws: None) -> None:
    ssm = _ssm()
    source = _source()
    token = str(uuid.uuid4())
    first = _linux(ssm, source, ClientToken=token)
    assert _linux(ssm, source, ClientToken=token) == first
    assert len(ssm.describe_automation_executions()["AutomationExecutionMetadataList"]) == 1
    with pytest.raises(ClientError) as caught:
        ssm.start_automation_execution(
            DocumentName="AWS-UpdateLinuxAmi",
            Parameters={"SourceAmiId": [_source(name="other")], "SecurityGroupIds": ["sg-1"]},
            ClientToken=token,
        )
    assert error_code(caught) == "IdempotentParameterMismatch"


def test_unknown_runbooks_and_bad_parameters_are_refused(aws: None) -> None:
    ssm = _ssm()
    source = _source()
    with pytest.raises(ClientError) as caught:
        ssm.start_automation_execution(DocumentName="AWS-RestartEC2Instance", Parameters={})
    assert error_code(caught) == "AutomationDefinitionNotFoundException"
    bad = [
        {"SecurityGroupIds": ["sg-1"]},  # SourceAmiId missing
        {"SourceAmiId": [source]},  # SecurityGroupIds missing
        {"SourceAmiId": [source], "SecurityGroupIds": ["sg-1"], "AutomationAssumeRole": ["admin"]},
        {"SourceAmiId": [source], "SecurityGroupIds": ["sg-1"], "Colour": ["blue"]},
    ]
    for parameters in bad:
        with pytest.raises(ClientError) as caught:
            ssm.start_automation_execution(DocumentName="AWS-UpdateLinuxAmi", Parameters=parameters)
        assert error_code(caught) == "InvalidAutomationExecutionParametersException", parameters
    with pytest.raises(ClientError) as caught:
        ssm.start_automation_execution(DocumentName="AWS-UpdateWindowsAmi", Parameters={})
    assert error_code(caught) == "InvalidAutomationExecutionParametersException"
    assert ssm.describe_automation_executions()["AutomationExecutionMetadataList"] == []


def test_executions_are_filtered_and_paged(aws: None) -> None:
    ssm = _ssm()
    source = _source()
    linux = [_linux(ssm, source) for _ in range(3)]
    windows = ssm.start_automation_execution(
        DocumentName="AWS-UpdateWindowsAmi", Parameters={"SourceAmiId": [source]}
    )["AutomationExecutionId"]
    ssm.stop_automation_execution(AutomationExecutionId=linux[0])

    def ids(filters: list[dict[str, Any]]) -> list[str]:
        pages = ssm.get_paginator("describe_automation_executions").paginate(
            Filters=filters, PaginationConfig={"PageSize": 1}
        )
        return [e["AutomationExecutionId"] for p in pages for e in p["AutomationExecutionMetadataList"]]

    assert ids([{"Key": "DocumentNamePrefix", "Values": ["AWS-UpdateLinux"]}]) == linux
    assert ids([{"Key": "ExecutionStatus", "Values": ["InProgress"]}]) == [*linux[1:], windows]
    assert ids(
        [
            {"Key": "DocumentNamePrefix", "Values": ["AWS-Update"]},
            {"Key": "ExecutionStatus", "Values": ["Cancelled", "Success"]},
        ]
    ) == [linux[0]]
    first = ssm.describe_automation_executions(MaxResults=3)
    assert len(first["AutomationExecutionMetadataList"]) == 3
    rest = ssm.describe_automation_executions(MaxResults=3, NextToken=first["NextToken"])
    assert [e["AutomationExecutionId"] for e in rest["AutomationExecutionMetadataList"]] == [windows]
    assert "NextToken" not in rest
    with pytest.raises(ClientError) as caught:
        ssm.describe_automation_executions(Filters=[{"Key": "Colour", "Values": ["x"]}])
    assert error_code(caught) == "InvalidFilterKey"
    with pytest.raises(ClientError) as caught:
        ssm.describe_automation_executions(NextToken="garbage")
    assert error_code(caught) == "InvalidNextToken"


def test_stopping(aws: None) -> None:
    ssm = _ssm()
    execution_id = _linux(ssm, _source())
    ssm.stop_automation_execution(AutomationExecutionId=execution_id, Type="Cancel")
    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    assert execution["AutomationExecutionStatus"] == "Cancelled"
    assert "ExecutionEndTime" in execution
    with pytest.raises(ClientError) as caught:
        ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    assert error_code(caught) == "InvalidAutomationStatusUpdateException"
    with pytest.raises(ClientError) as caught:
        ssm.get_automation_execution(AutomationExecutionId=str(uuid.uuid4()))
    assert error_code(caught) == "AutomationExecutionNotFoundException"


def test_a_successful_execution_creates_the_ami(aws: None) -> None:
    ssm = _ssm()
    source = _source()
    execution_id = _linux(ssm, source)

    event = complete_automation(execution_id)

    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    assert execution["AutomationExecutionStatus"] == "Success"
    [new_ami] = execution["Outputs"]["createImage.ImageId"]
    [image] = boto3.client("ec2", region_name=REGION).describe_images(ImageIds=[new_ami])["Images"]
    assert image["Name"].startswith(f"UpdateLinuxAmi_from_{source}_on_")
    assert image["Architecture"] == "x86_64"

    assert event["source"] == "aws.ssm"
    assert event["detail-type"] == "EC2 Automation Execution Status-change Notification"
    assert (event["account"], event["region"]) == (ACCOUNT, REGION)
    assert event["resources"] == [
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-execution/{execution_id}",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-definition/AWS-UpdateLinuxAmi:1",
    ]
    detail = event["detail"]
    assert set(detail) == {
        "ExecutionId",
        "Definition",
        "DefinitionVersion",
        "Status",
        "StartTime",
        "EndTime",
        "Time",
        "ExecutedBy",
    }
    assert (detail["ExecutionId"], detail["Definition"], detail["Status"]) == (
        execution_id,
        "AWS-UpdateLinuxAmi",
        "Success",
    )
    assert detail["DefinitionVersion"] == 1.0
    assert detail["StartTime"].endswith(("AM", "PM"))
    with pytest.raises(ValueError, match="already ended"):
        complete_automation(execution_id)


def test_the_windows_runbook_names_and_tags_its_ami(aws: None) -> None:
    ssm = _ssm()
    source = _source()
    execution_id = ssm.start_automation_execution(
        DocumentName="AWS-UpdateWindowsAmi",
        Parameters={"SourceAmiId": [source], "TargetAmiName": ["win-{{global:DATE}}"]},
    )["AutomationExecutionId"]
    complete_automation(execution_id, region=REGION)
    outputs = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"][
        "Outputs"
    ]
    [image] = boto3.client("ec2", region_name=REGION).describe_images(
        ImageIds=outputs["CreateImage.ImageId"]
    )["Images"]
    assert image["Name"].startswith("win-20")
    assert {"Key": "Original_AMI_ID", "Value": f"Created from {source}"} in image["Tags"]


def test_a_failed_execution_reports_its_message(aws: None) -> None:
    ssm = _ssm()
    execution_id = _linux(ssm, _source())
    event = complete_automation(execution_id, succeed=False, reason="Step updateOSSoftware failed")
    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert execution["FailureMessage"] == "Step updateOSSoftware failed"
    assert event["detail"]["Status"] == "Failed"
    assert (
        boto3.client("ec2", region_name=REGION).describe_images(Owners=["self"])["Images"][0]["Name"]
        == "base"
    )


def test_a_missing_source_image_fails_the_execution(aws: None) -> None:
    ssm = _ssm()
    execution_id = _linux(ssm, "ami-0123456789abcdef0")
    event = complete_automation(execution_id)
    assert event["detail"]["Status"] == "Failed"
    message = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"][
        "FailureMessage"
    ]
    assert "InvalidAMIID.NotFound" in message


def _ended(ssm: Any, execution_id: str) -> tuple[str, str]:
    complete_automation(execution_id)
    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    return str(execution["AutomationExecutionStatus"]), str(execution.get("FailureMessage", ""))


def _launch_failure(message: str, code: str = "InvalidParameterValue") -> str:
    return (
        "Step fails when it is launching the instance(s). Get Exception from RunInstances API of ec2 "
        f"Service. Exception Message from RunInstances API: [{message} (Service: AmazonEC2; Status Code: "
        f"400; Error Code: {code})]."
    )


def _mismatch(instance_type_architectures: str, image_architecture: str) -> str:
    return _launch_failure(
        f"The architecture '{instance_type_architectures}' of the specified instance type does not match "
        f"the architecture '{image_architecture}' of the specified AMI. Specify an instance type and an AMI "
        "that have matching architectures, and try again. You can use 'describe-instance-types' or "
        "'describe-images' to discover the architecture of the instance type or AMI."
    )


def test_an_arm64_image_on_the_runbooks_default_instance_type_fails_as_ec2_refuses_it(aws: None) -> None:
    ssm = _ssm()
    arm = _source(name="arm", architecture="arm64")
    execution_id = _linux(ssm, arm)  # InstanceType: the runbook's default t2.micro (i386, x86_64)
    assert _ended(ssm, execution_id) == ("Failed", _mismatch("x86_64,i386", "arm64"))
    assert (
        boto3.client("ec2", region_name=REGION).describe_images(Owners=["self"])["Images"][0]["ImageId"]
        == arm
    )


def test_the_build_instance_type_must_support_the_images_architecture(aws: None) -> None:
    ssm = _ssm()
    arm = _source(name="arm", architecture="arm64")
    x86 = _source(name="x86")
    assert _ended(ssm, _start(ssm, arm, "t4g.medium"))[0] == "Success"
    assert _ended(ssm, _start(ssm, x86, "t4g.medium")) == ("Failed", _mismatch("arm64", "x86_64"))
    assert _ended(ssm, _start(ssm, x86, "t3.medium"))[0] == "Success"
    assert _ended(ssm, _start(ssm, x86, "t9.huge")) == (
        "Failed",
        _launch_failure("Invalid value 't9.huge' for InstanceType."),
    )
    images = boto3.client("ec2", region_name=REGION).describe_images(Owners=["self"])["Images"]
    assert sorted(i["Architecture"] for i in images) == ["arm64", "arm64", "x86_64", "x86_64"]


def _start(ssm: Any, source: str, instance_type: str) -> str:
    execution_id: str = ssm.start_automation_execution(
        DocumentName="AWS-UpdateLinuxAmi",
        Parameters={
            "SourceAmiId": [source],
            "SecurityGroupIds": ["sg-0123456789abcdef0"],
            "InstanceType": [instance_type],
        },
    )["AutomationExecutionId"]
    return execution_id


def test_the_served_api_has_automation(endpoint: str) -> None:
    ssm = _ssm(endpoint)
    source = _source(endpoint)
    token = str(uuid.uuid4())
    execution_id = _linux(ssm, source, ClientToken=token)
    assert _linux(ssm, source, ClientToken=token) == execution_id
    complete_automation(execution_id)  # the server shares this process's backends
    execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    assert execution["AutomationExecutionStatus"] == "Success"
    new_ami = execution["Outputs"]["createImage.ImageId"][0]
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    assert ec2.describe_images(ImageIds=[new_ami])["Images"][0]["ImageId"] == new_ami
