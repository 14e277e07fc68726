"""The sample Image Builder pipeline: made only when asked for, building AL2023 with updates."""

from __future__ import annotations

import json

from ami_hygiene.core.estate import TAG_FAMILY, TAG_PIPELINE
from ami_hygiene.jobs.settings import Settings
from infra.rebuild_pipeline import PARENT_IMAGE, PIPELINE_NAME
from tests.helpers.constants import ACCOUNT, REGION
from tests.helpers.synthesized import Synthesized
from tests.helpers.template import arn_of, evaluated

PIPELINE_TYPES = (
    "AWS::ImageBuilder::ImageRecipe",
    "AWS::ImageBuilder::InfrastructureConfiguration",
    "AWS::ImageBuilder::DistributionConfiguration",
    "AWS::ImageBuilder::ImagePipeline",
    "AWS::IAM::InstanceProfile",
)


def test_sample_pipeline_exists_only_when_asked_for(synth: Synthesized) -> None:
    ids = [k for t in PIPELINE_TYPES for k in synth.resources(t)]
    [instance_role] = [
        k
        for k, v in synth.resources("AWS::IAM::Role").items()
        if "ec2.amazonaws.com" in json.dumps(v["Properties"]["AssumeRolePolicyDocument"])
    ]
    ids.append(instance_role)
    assert len(ids) == len(PIPELINE_TYPES) + 1
    off, on = evaluated(synth.template), evaluated(synth.template, CreateSamplePipeline="true")
    assert not any(off.created(k) for k in ids)
    assert all(on.created(k) for k in ids)
    output = synth.template["Outputs"]["SamplePipelineArn"]
    assert output["Condition"] == "SamplePipelineOn"
    [pipeline_id] = synth.resources("AWS::ImageBuilder::ImagePipeline")
    assert output["Value"] == {"Fn::GetAtt": [pipeline_id, "Arn"]}
    managed = synth.template["Resources"][instance_role]["Properties"]["ManagedPolicyArns"]
    assert sorted(json.dumps(m).split("policy/")[1].split('"')[0] for m in managed) == [
        "AmazonSSMManagedInstanceCore",
        "EC2InstanceProfileForImageBuilder",
    ]


def test_sample_pipeline_builds_al2023_with_updates_and_tags_the_family(synth: Synthesized) -> None:
    evaluator = evaluated(synth.template, CreateSamplePipeline="true")
    [recipe] = synth.resources("AWS::ImageBuilder::ImageRecipe").values()
    assert recipe["Properties"]["ParentImage"] == PARENT_IMAGE
    assert PARENT_IMAGE.startswith("ssm:/aws/service/ami-amazon-linux-latest/al2023-")
    [component] = recipe["Properties"]["Components"]
    assert arn_of(evaluator, component["ComponentArn"]) == (
        f"arn:aws:imagebuilder:{REGION}:aws:component/update-linux/x.x.x"
    )
    [pipeline] = synth.resources("AWS::ImageBuilder::ImagePipeline").values()
    assert pipeline["Properties"]["Name"] == PIPELINE_NAME
    assert "Schedule" not in pipeline["Properties"]  # the rebuild job starts it
    assert pipeline["Properties"]["Tags"] == {TAG_FAMILY: "sample-al2023"}
    [distribution] = synth.resources("AWS::ImageBuilder::DistributionConfiguration").values()
    [target] = distribution["Properties"]["Distributions"]
    tags = evaluator.value(target["AmiDistributionConfiguration"]["AmiTags"])
    pipeline_arn = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image-pipeline/{PIPELINE_NAME}"
    assert tags == {TAG_FAMILY: "sample-al2023", TAG_PIPELINE: pipeline_arn}
    # The tag is an ARN the rebuild job accepts as a family pipeline.
    assert Settings.load(
        {"AWS_REGION": REGION, "FAMILY_PIPELINES": f"sample={pipeline_arn}"}
    ).family_pipelines
    [infrastructure] = synth.resources("AWS::ImageBuilder::InfrastructureConfiguration").values()
    [profile_id] = synth.resources("AWS::IAM::InstanceProfile")
    assert infrastructure["Properties"]["InstanceProfileName"] == {"Ref": profile_id}
