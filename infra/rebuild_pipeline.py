"""An optional sample Image Builder pipeline the rebuild job can start (CreateSamplePipeline=true).

Amazon Linux 2023 (the parent image is the public SSM parameter, so every
build starts from the newest AL2023) with the AWS-managed update-linux
component. Its AMIs are tagged with the family and the pipeline ARN, which is
how the rebuild job finds the pipeline of the family. The pipeline has no
schedule: the rebuild job starts it when the family is stale.

Every resource here carries the SamplePipelineOn condition.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import Aws, CfnOutput, CfnResource
from aws_cdk import aws_iam as iam
from aws_cdk import aws_imagebuilder as imagebuilder
from constructs import Construct

from ami_hygiene.core.estate import TAG_FAMILY, TAG_PIPELINE

from .nag import acknowledge
from .parameters import StackParameters

FAMILY = "sample-al2023"
# Image Builder ARNs carry the name in lower case; a fixed lower-case name lets the distribution
# configuration tag the AMIs with the pipeline ARN without a circular reference to the pipeline.
PIPELINE_NAME = f"ami-hygiene-{FAMILY}"
PARENT_IMAGE = "ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
RECIPE_VERSION = "1.0.0"
INSTANCE_TYPES = ("t3.small",)
MANAGED_POLICIES = ("AmazonSSMManagedInstanceCore", "EC2InstanceProfileForImageBuilder")


def pipeline_arn(name: str = PIPELINE_NAME) -> str:
    return f"arn:{Aws.PARTITION}:imagebuilder:{Aws.REGION}:{Aws.ACCOUNT_ID}:image-pipeline/{name}"


class SamplePipeline(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, parameters: StackParameters) -> None:
        super().__init__(scope, construct_id)
        condition = parameters.sample_pipeline_on
        tags = {TAG_FAMILY: FAMILY}

        self.instance_role = iam.Role(
            self,
            "InstanceRole",
            description="ami-hygiene sample pipeline: the Image Builder build and test instance",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(n) for n in MANAGED_POLICIES],
        )
        acknowledge(
            self.instance_role,
            tuple(
                f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{n}]"
                for n in MANAGED_POLICIES
            ),
            "Image Builder documents exactly these two AWS managed policies for the instance profile of its "
            "build instances (SSM agent access, and the component and log calls Image Builder makes); they "
            "follow Image Builder's changes, which a copied inline policy would not.",
        )
        self.instance_profile = iam.CfnInstanceProfile(
            self, "InstanceProfile", roles=[self.instance_role.role_name]
        )

        self.recipe = imagebuilder.CfnImageRecipe(
            self,
            "Recipe",
            name=f"{PIPELINE_NAME}-{Aws.REGION}",
            version=RECIPE_VERSION,
            description="Amazon Linux 2023, latest, with all updates",
            parent_image=PARENT_IMAGE,
            components=[
                imagebuilder.CfnImageRecipe.ComponentConfigurationProperty(
                    component_arn=f"arn:{Aws.PARTITION}:imagebuilder:{Aws.REGION}:aws:component/update-linux/x.x.x"
                )
            ],
            tags=tags,
        )
        self.infrastructure = imagebuilder.CfnInfrastructureConfiguration(
            self,
            "Infrastructure",
            name=f"{PIPELINE_NAME}-{Aws.REGION}",
            description="ami-hygiene sample pipeline: build instance",
            instance_profile_name=cast(str, self.instance_profile.ref),
            instance_types=list(INSTANCE_TYPES),
            terminate_instance_on_failure=True,
            instance_metadata_options=imagebuilder.CfnInfrastructureConfiguration.InstanceMetadataOptionsProperty(
                http_tokens="required"
            ),
            tags=tags,
        )
        self.distribution = imagebuilder.CfnDistributionConfiguration(
            self,
            "Distribution",
            name=f"{PIPELINE_NAME}-{Aws.REGION}",
            description="ami-hygiene sample pipeline: AMIs tagged with their family and pipeline",
            distributions=[
                imagebuilder.CfnDistributionConfiguration.DistributionProperty(
                    region=Aws.REGION,
                    ami_distribution_configuration={
                        "Name": f"{FAMILY}-{{{{ imagebuilder:buildDate }}}}",
                        "AmiTags": {TAG_FAMILY: FAMILY, TAG_PIPELINE: pipeline_arn()},
                    },
                )
            ],
            tags=tags,
        )
        self.pipeline = imagebuilder.CfnImagePipeline(
            self,
            "Pipeline",
            name=PIPELINE_NAME,
            description="ami-hygiene sample: started by the rebuild job when sample-al2023 is stale",
            image_recipe_arn=self.recipe.attr_arn,
            infrastructure_configuration_arn=self.infrastructure.attr_arn,
            distribution_configuration_arn=self.distribution.attr_arn,
            status="ENABLED",
            tags=tags,
        )
        for resource in (
            self.instance_role.node.default_child,
            self.instance_profile,
            self.recipe,
            self.infrastructure,
            self.distribution,
            self.pipeline,
        ):
            cast(CfnResource, resource).cfn_options.condition = condition

        self.output = CfnOutput(
            scope,
            "SamplePipelineArn",
            value=self.pipeline.attr_arn,
            description="The sample Image Builder pipeline (family sample-al2023)",
            condition=condition,
        )
