"""The embedded Image Builder: pipelines, idempotent starts, paging, completed builds and their events."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.image_builder import complete_build
from tests.helpers.constants import ACCOUNT, REGION
from tests.helpers.sandbox import error_and_status

RECIPE = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image-recipe/web-base/1.2.0"
INFRA = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:infrastructure-configuration/builders"
DISTRIBUTION = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:distribution-configuration/eu"


def _client(endpoint: str | None = None) -> Any:
    return boto3.client("imagebuilder", region_name=REGION, endpoint_url=endpoint)


def _pipeline(client: Any, name: str = "web", **extra: Any) -> str:
    arn: str = client.create_image_pipeline(
        name=name,
        imageRecipeArn=RECIPE,
        infrastructureConfigurationArn=INFRA,
        distributionConfigurationArn=DISTRIBUTION,
        tags={"ami-hygiene:family": "web", "team": "platform"},
        **extra,
    )["imagePipelineArn"]
    return arn


def test_a_pipeline_is_created_read_listed_and_deleted(aws: None) -> None:
    client = _client()
    arn = _pipeline(client)
    assert arn == f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image-pipeline/web"
    pipeline = client.get_image_pipeline(imagePipelineArn=arn)["imagePipeline"]
    assert pipeline["name"] == "web"
    assert pipeline["status"] == "ENABLED"
    assert pipeline["imageRecipeArn"] == RECIPE
    assert pipeline["distributionConfigurationArn"] == DISTRIBUTION
    assert pipeline["tags"] == {"ami-hygiene:family": "web", "team": "platform"}
    assert [p["arn"] for p in client.list_image_pipelines()["imagePipelineList"]] == [arn]

    assert client.delete_image_pipeline(imagePipelineArn=arn)["imagePipelineArn"] == arn
    with pytest.raises(ClientError) as caught:
        client.get_image_pipeline(imagePipelineArn=arn)
    assert error_and_status(caught) == ("ResourceNotFoundException", 404)


def test_pipeline_names_are_unique_and_arns_checked(aws: None) -> None:
    client = _client()
    _pipeline(client)
    with pytest.raises(ClientError) as caught:
        _pipeline(client)
    assert error_and_status(caught)[0] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as caught:
        client.create_image_pipeline(
            name="other", imageRecipeArn="not-an-arn", infrastructureConfigurationArn=INFRA
        )
    assert error_and_status(caught) == ("InvalidRequestException", 400)


def test_state_is_kept_per_region(aws: None) -> None:
    _pipeline(_client())
    other = boto3.client("imagebuilder", region_name="us-east-1")
    assert other.list_image_pipelines()["imagePipelineList"] == []


def test_pipelines_are_paged(aws: None) -> None:
    client = _client()
    made = [_pipeline(client, f"web-{n}") for n in range(5)]
    seen, token, pages = [], None, 0
    while True:
        page = client.list_image_pipelines(maxResults=2, **({"nextToken": token} if token else {}))
        seen += [p["arn"] for p in page["imagePipelineList"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert (seen, pages) == (made, 3)
    with pytest.raises(ClientError) as caught:
        client.list_image_pipelines(nextToken="garbage")
    assert error_and_status(caught)[0] == "InvalidPaginationTokenException"


def test_the_same_client_token_starts_one_build(aws: None) -> None:
    client = _client()
    arn = _pipeline(client)
    first = client.start_image_pipeline_execution(imagePipelineArn=arn, clientToken="rebuild-1")
    again = client.start_image_pipeline_execution(imagePipelineArn=arn, clientToken="rebuild-1")
    assert first["imageBuildVersionArn"] == again["imageBuildVersionArn"]
    assert first["imageBuildVersionArn"] == f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image/web-base/1.2.0/1"
    assert first["clientToken"] == "rebuild-1"
    images = client.list_image_pipeline_images(imagePipelineArn=arn)["imageSummaryList"]
    assert [(i["arn"], i["state"]["status"]) for i in images] == [(first["imageBuildVersionArn"], "PENDING")]

    second = client.start_image_pipeline_execution(imagePipelineArn=arn, clientToken="rebuild-2")
    assert second["imageBuildVersionArn"].endswith("/1.2.0/2")


def test_a_token_reused_for_another_pipeline_is_refused(aws: None) -> None:
    client = _client()
    web, api = _pipeline(client, "web"), _pipeline(client, "api")
    client.start_image_pipeline_execution(imagePipelineArn=web, clientToken="tok")
    with pytest.raises(ClientError) as caught:
        client.start_image_pipeline_execution(imagePipelineArn=api, clientToken="tok")
    assert error_and_status(caught) == ("IdempotentParameterMismatchException", 400)


def test_unknown_and_disabled_pipelines_do_not_start(aws: None) -> None:
    client = _client()
    with pytest.raises(ClientError) as caught:
        client.start_image_pipeline_execution(
            imagePipelineArn=f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image-pipeline/nope",
            clientToken=str(uuid.uuid4()),
        )
    assert error_and_status(caught) == ("ResourceNotFoundException", 404)
    disabled = _pipeline(client, "off", status="DISABLED")
    with pytest.raises(ClientError) as caught:
        client.start_image_pipeline_execution(imagePipelineArn=disabled, clientToken=str(uuid.uuid4()))
    assert error_and_status(caught) == ("InvalidRequestException", 400)
    assert client.list_image_pipeline_images(imagePipelineArn=disabled)["imageSummaryList"] == []


def test_pipeline_images_are_paged(aws: None) -> None:
    client = _client()
    arn = _pipeline(client)
    builds = [
        client.start_image_pipeline_execution(imagePipelineArn=arn, clientToken=f"t{n}")[
            "imageBuildVersionArn"
        ]
        for n in range(3)
    ]
    first = client.list_image_pipeline_images(imagePipelineArn=arn, maxResults=2)
    rest = client.list_image_pipeline_images(imagePipelineArn=arn, maxResults=2, nextToken=first["nextToken"])
    assert [i["arn"] for i in first["imageSummaryList"] + rest["imageSummaryList"]] == builds
    assert "nextToken" not in rest


def test_a_completed_build_distributes_a_tagged_ami(aws: None) -> None:
    client = _client()
    arn = _pipeline(client)
    build = client.start_image_pipeline_execution(imagePipelineArn=arn, clientToken="t")[
        "imageBuildVersionArn"
    ]

    event = complete_build(build)

    image = client.get_image(imageBuildVersionArn=build)["image"]
    assert image["state"] == {"status": "AVAILABLE"}
    assert image["sourcePipelineArn"] == arn
    [ami] = image["outputResources"]["amis"]
    assert (ami["region"], ami["accountId"]) == (REGION, ACCOUNT)
    ec2 = boto3.client("ec2", region_name=REGION)
    [described] = ec2.describe_images(ImageIds=[ami["image"]])["Images"]
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert tags["Ec2ImageBuilderArn"] == build
    assert tags["ami-hygiene:family"] == "web"
    assert "team" not in tags
    assert described["Name"].startswith("web ")
    summary = client.list_image_pipeline_images(imagePipelineArn=arn)["imageSummaryList"][0]
    assert summary["outputResources"]["amis"][0]["image"] == ami["image"]
    assert client.get_image_pipeline(imagePipelineArn=arn)["imagePipeline"]["lastRunStatus"] == "AVAILABLE"

    # The event as the Image Builder user guide shows it.
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert event["source"] == "aws.imagebuilder"
    assert event["detail-type"] == "EC2 Image Builder Image State Change"
    assert (event["account"], event["region"], event["resources"]) == (ACCOUNT, REGION, [build])
    assert event["detail"] == {"previous-state": {"status": "PENDING"}, "state": {"status": "AVAILABLE"}}

    with pytest.raises(ValueError, match="already ended"):
        complete_build(build)


def test_a_failed_build_reports_its_reason(aws: None) -> None:
    client = _client()
    arn = _pipeline(client)
    build = client.start_image_pipeline_execution(imagePipelineArn=arn, clientToken="t")[
        "imageBuildVersionArn"
    ]

    event = complete_build(build, succeed=False, reason="Component 'patch' failed")

    assert event["detail"]["state"] == {"status": "FAILED", "reason": "Component 'patch' failed"}
    image = client.get_image(imageBuildVersionArn=build)["image"]
    assert image["state"] == {"status": "FAILED", "reason": "Component 'patch' failed"}
    assert image["outputResources"] == {"amis": []}
    assert boto3.client("ec2", region_name=REGION).describe_images(Owners=["self"])["Images"] == []


def test_get_image_of_an_unknown_build(aws: None) -> None:
    with pytest.raises(ClientError) as caught:
        _client().get_image(imageBuildVersionArn=f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image/x/1.0.0/1")
    assert error_and_status(caught)[0] == "ResourceNotFoundException"


def test_the_served_api_has_image_builder(endpoint: str) -> None:
    client = _client(endpoint)
    arn = _pipeline(client)
    build = client.start_image_pipeline_execution(imagePipelineArn=arn, clientToken="served")[
        "imageBuildVersionArn"
    ]
    assert client.get_image(imageBuildVersionArn=build)["image"]["state"]["status"] == "PENDING"

    complete_build(build)  # the server shares this process's backends

    ami = client.get_image(imageBuildVersionArn=build)["image"]["outputResources"]["amis"][0]["image"]
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    assert ec2.describe_images(ImageIds=[ami])["Images"][0]["ImageId"] == ami
    with pytest.raises(ClientError) as caught:
        client.get_image_pipeline(imagePipelineArn=arn.replace("/web", "/gone"))
    assert error_and_status(caught) == ("ResourceNotFoundException", 404)
