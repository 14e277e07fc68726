"""How the rebuild job's decisions are applied: its writers, each with the IAM actions it calls.

Action.REBUILD (``start``) starts a build, with one call per decision:

* Image Builder: StartImagePipelineExecution(imagePipelineArn, clientToken).
  The new AMI gets its family tags from the pipeline's distribution
  configuration (``amiDistributionConfiguration.amiTags``: put the family's
  ``ami-hygiene:family`` / ``ami-hygiene:pipeline`` / base tags there; the
  ``Ec2ImageBuilderArn`` tag Image Builder adds also names the family). The job
  does not tag Image Builder AMIs.
* SSM Automation: StartAutomationExecution of AWS-UpdateLinuxAmi or
  AWS-UpdateWindowsAmi on the family's newest image, with the parameters the
  runbook reference names: SourceAmiId, IamInstanceProfileName,
  AutomationAssumeRole, SubnetId, TargetAmiName (``FAMILY-{{global:DATE_TIME}}``),
  InstanceType (the decision's, of the image's architecture: the runbooks default
  to x86 t2.micro / t2.medium, which cannot launch an arm64 image) and, for the
  Linux runbook, SecurityGroupIds (a String: comma-separated ids,
  required there; the Windows runbook does not name it). The execution is tagged
  ``ami-hygiene:family``. The runbooks do not tag the AMI they make, so the job
  tags it with the decision's family tags when the completion event arrives.

Both calls carry the decision's client token: a retry, or a second run the same
day, gets the build already started back instead of a second one. The started
build's id is recorded on the decision (``RebuildDecision.build_id``).

Action.TAG (``tag_new_image``) puts a finished build's family tags on its new
image: one CreateTags of the tags it lacks (``TagNewImage``, decided by
completion.py when the build's event arrives).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ami_hygiene.core.estate import TAG_FAMILY
from ami_hygiene.core.executor import RunContext, Writers, writes
from ami_hygiene.core.plan import Action, Decision, Outcome
from ami_hygiene.jobs.rebuild.model import RUNBOOK_LINUX, BuildKind, RebuildDecision, TagNewImage
from ami_hygiene.jobs.rebuild.settings import ACCOUNT_PLACEHOLDER, RebuildJobSettings

if TYPE_CHECKING:
    from types_boto3_ec2 import EC2Client
    from types_boto3_imagebuilder import ImagebuilderClient
    from types_boto3_ssm import SSMClient

AMI_NAME_ROOM = 100  # AMI names are at most 128 characters; the timestamp takes 20
DATE_TIME = "{{global:DATE_TIME}}"


# StartAutomationExecution with AutomationAssumeRole passes that role (iam:PassRole, granted
# on the automation role alone in infra), and tags the execution (ssm:AddTagsToResource).
@writes(
    "imagebuilder:StartImagePipelineExecution",
    "ssm:StartAutomationExecution",
    "ssm:AddTagsToResource",
    "iam:PassRole",
)
def start(_ec2: EC2Client, decision: Decision, run: RunContext) -> Decision:
    """Start the decision's build; it reaches Image Builder and SSM through the run's clients."""
    d = _rebuild_decision(decision)
    if d.method is BuildKind.IMAGE_BUILDER:
        return _start_pipeline(run.clients.imagebuilder(d.region), d)
    return _start_automation(run.clients.ssm(d.region), d, run.settings, run.account)


@writes("ec2:CreateTags")
def tag_new_image(ec2: EC2Client, decision: Decision, _run: RunContext) -> Decision:
    """Tag the new image with the family tags it lacks (in key order, as decided)."""
    d = _tag_decision(decision)
    ec2.create_tags(Resources=[d.image_id], Tags=[{"Key": k, "Value": v} for k, v in d.tags.items()])
    return d.with_outcome(Outcome.DONE)


WRITERS: Writers = {Action.REBUILD: start, Action.TAG: tag_new_image}


def automation_parameters(
    decision: RebuildDecision, settings: RebuildJobSettings, account: str
) -> dict[str, list[str]]:
    """StartAutomationExecution Parameters for the decision's runbook; `account`: the one the run acts in,
    for an AUTOMATION_ROLE_ARN naming "{account}" (the hub's, the same role in each member account)."""
    parameters: dict[str, list[str]] = {
        "SourceAmiId": [decision.source_image_id],
        "TargetAmiName": [f"{decision.family[:AMI_NAME_ROOM]}-{DATE_TIME}"],
    }
    if decision.instance_type:
        parameters["InstanceType"] = [decision.instance_type]
    if settings.automation_instance_profile:
        parameters["IamInstanceProfileName"] = [settings.automation_instance_profile]
    if settings.automation_role_arn:
        parameters["AutomationAssumeRole"] = [
            settings.automation_role_arn.replace(ACCOUNT_PLACEHOLDER, account)
        ]
    if settings.automation_subnet_id:
        parameters["SubnetId"] = [settings.automation_subnet_id]
    if decision.runbook == RUNBOOK_LINUX and settings.automation_security_group_ids:
        parameters["SecurityGroupIds"] = [",".join(settings.automation_security_group_ids)]
    return parameters


def _start_pipeline(imagebuilder: ImagebuilderClient, d: RebuildDecision) -> Decision:
    if not d.pipeline_arn:  # the policy always names it; a safety net
        return d.with_outcome(Outcome.FAILED, error="not started: no Image Builder pipeline named")
    response = imagebuilder.start_image_pipeline_execution(
        imagePipelineArn=d.pipeline_arn, clientToken=d.client_token
    )
    build_id = str(response["imageBuildVersionArn"])
    return _started(d, build_id, f"started Image Builder build {build_id}")


def _start_automation(
    ssm: SSMClient, d: RebuildDecision, settings: RebuildJobSettings, account: str
) -> Decision:
    if not d.runbook:  # the policy always names it; a safety net
        return d.with_outcome(Outcome.FAILED, error="not started: no runbook named")
    if d.runbook == RUNBOOK_LINUX and not settings.automation_security_group_ids:
        return d.with_outcome(
            Outcome.FAILED,
            error=(
                f"not started: {RUNBOOK_LINUX} needs SecurityGroupIds; set AUTOMATION_SECURITY_GROUP_IDS "
                "(or give the family an Image Builder pipeline)"
            ),
        )
    response = ssm.start_automation_execution(
        DocumentName=d.runbook,
        Parameters=automation_parameters(d, settings, account),
        ClientToken=d.client_token,
        Tags=[{"Key": TAG_FAMILY, "Value": d.family}],
    )
    build_id = str(response["AutomationExecutionId"])
    return _started(d, build_id, f"started Automation execution {build_id} of {d.runbook}")


def _started(d: RebuildDecision, build_id: str, reason: str) -> Decision:
    done = d.with_outcome(Outcome.DONE, reason=reason)
    return replace(done, build_id=build_id) if isinstance(done, RebuildDecision) else done


def _rebuild_decision(decision: Decision) -> RebuildDecision:
    if not isinstance(decision, RebuildDecision):
        raise TypeError(f"the rebuild applier takes RebuildDecisions, not {type(decision).__name__}")
    return decision


def _tag_decision(decision: Decision) -> TagNewImage:
    if not isinstance(decision, TagNewImage):
        raise TypeError(f"the rebuild tag applier takes TagNewImage decisions, not {type(decision).__name__}")
    return decision
