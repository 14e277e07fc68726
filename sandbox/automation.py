"""SSM Automation, which moto lacks: the four execution operations an AMI patch job calls.

Adds StartAutomationExecution, GetAutomationExecution, DescribeAutomationExecutions
and StopAutomationExecution to moto's SSM backend and responses, as the Systems
Manager API reference describes them. Two AWS-owned runbooks are known, with the
parameters the Automation runbook reference documents:

- AWS-UpdateLinuxAmi: SourceAmiId and SecurityGroupIds are required (no default);
  IamInstanceProfileName defaults to ManagedInstanceProfile; the output is
  `createImage.ImageId`.
- AWS-UpdateWindowsAmi: SourceAmiId is required; the output is `CreateImage.ImageId`,
  and its CreateTags step tags the new AMI `Original_AMI_ID`.

Any other document answers AutomationDefinitionNotFoundException. Executions stay
InProgress until `complete_automation` ends them, as the runbook's steps would. Their
first step launches the build instance (RunInstances with SourceAmiId and InstanceType,
whose defaults are t2.micro for Linux and t2.medium for Windows), so an execution ends
Failed with EC2's RunInstances message when the image is gone, the instance type does
not exist, or the instance type's architectures (DescribeInstanceTypes
ProcessorInfo.SupportedArchitectures, from moto's table) do not include the image's.

The event `complete_automation` returns is the "EC2 Automation Execution
Status-change Notification" of the Systems Manager user guide ("Amazon EventBridge
event examples for Systems Manager"): detail ExecutionId, Definition,
DefinitionVersion, Status, StartTime, EndTime (e.g. "Nov 29, 2024 7:43:26 PM"), Time
(milliseconds) and ExecutedBy; resources name the execution and the automation
definition. It carries no outputs: consumers call GetAutomationExecution for the AMI id.
Assumed where the references are silent: runbook version "1"; ExecutedBy is the
account's root ARN; stopping (either Type) ends the execution Cancelled at once.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ec2.models.instance_types import INSTANCE_TYPES
from moto.ssm.models import SimpleSystemManagerBackend
from moto.ssm.responses import SimpleSystemManagerResponse

from . import DEFAULT_ACCOUNT_ID
from ._patching import override
from .clock import as_utc, iso_seconds, now

EVENT_SOURCE = "aws.ssm"
EVENT_DETAIL_TYPE = "EC2 Automation Execution Status-change Notification"
RUNBOOK_VERSION = "1"
NO_OUTPUT = "No output available yet because the step is not successfully executed"
FINISHED = ("Success", "TimedOut", "Cancelled", "Failed", "CompletedWithSuccess", "CompletedWithFailure")
MAX_RESULTS = 50  # DescribeAutomationExecutions MaxResults: 1..50
_ROLE = re.compile(r"^$|^arn:aws[a-z0-9-]*:iam::(\d{12}|\{\{global:ACCOUNT_ID\}\}):role/[\w/.@+=,-]{1,1017}$")
_TOKEN = re.compile(r"^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$")
_AMI = re.compile(r"^ami-[0-9a-f]{8,17}$")
FILTER_KEYS = (
    "DocumentNamePrefix",
    "ExecutionStatus",
    "ExecutionId",
    "ParentExecutionId",
    "CurrentAction",
    "StartTimeBefore",
    "StartTimeAfter",
    "AutomationType",
    "TagKey",
    "TargetResourceGroup",
    "AutomationSubtype",
    "OpsItemId",
)


@dataclass(frozen=True)
class Runbook:
    name: str
    defaults: dict[str, str]  # documented defaults; "{{...}}" resolved when used
    required: tuple[str, ...]  # documented as required, without a default
    output: str  # the runbook's `outputs` entry: step.ImageId
    image_tags: dict[str, str] = field(default_factory=dict)


RUNBOOKS = {
    "AWS-UpdateLinuxAmi": Runbook(
        name="AWS-UpdateLinuxAmi",
        defaults={
            "IamInstanceProfileName": "ManagedInstanceProfile",
            "AutomationAssumeRole": "",
            "TargetAmiName": "UpdateLinuxAmi_from_{{SourceAmiId}}_on_{{global:DATE_TIME}}",
            "InstanceType": "t2.micro",
            "SubnetId": "",
            "PreUpdateScript": "none",
            "PostUpdateScript": "none",
            "IncludePackages": "all",
            "ExcludePackages": "none",
        },
        required=("SourceAmiId", "SecurityGroupIds"),
        output="createImage.ImageId",
    ),
    "AWS-UpdateWindowsAmi": Runbook(
        name="AWS-UpdateWindowsAmi",
        defaults={
            "IamInstanceProfileName": "ManagedInstanceProfile",
            "AutomationAssumeRole": "",
            "TargetAmiName": "UpdateWindowsAmi_from_{{SourceAmiId}}_on_{{global:DATE_TIME}}",
            "InstanceType": "t2.medium",
            "SubnetId": "",
            "IncludeKbs": "",
            "ExcludeKbs": "",
            "Categories": "",
            "SeverityLevels": "",
            "PreUpdateScript": "",
            "PostUpdateScript": "",
        },
        required=("SourceAmiId",),
        output="CreateImage.ImageId",
        image_tags={"Original_AMI_ID": "Created from {{SourceAmiId}}"},
    ),
}


# -- errors (shapes of the SSM API reference) ---------------------------------------------


class AutomationError(ServiceException):
    pass


class AutomationDefinitionNotFoundException(AutomationError):
    code = "AutomationDefinitionNotFoundException"


class AutomationDefinitionVersionNotFoundException(AutomationError):
    code = "AutomationDefinitionVersionNotFoundException"


class InvalidAutomationExecutionParametersException(AutomationError):
    code = "InvalidAutomationExecutionParametersException"


class IdempotentParameterMismatch(AutomationError):
    code = "IdempotentParameterMismatch"


class AutomationExecutionNotFoundException(AutomationError):
    code = "AutomationExecutionNotFoundException"


class InvalidAutomationStatusUpdateException(AutomationError):
    code = "InvalidAutomationStatusUpdateException"


class InvalidFilterKey(AutomationError):
    code = "InvalidFilterKey"


class InvalidFilterValue(AutomationError):
    code = "InvalidFilterValue"


class InvalidNextToken(AutomationError):
    code = "InvalidNextToken"


class ValidationException(AutomationError):
    code = "ValidationException"


# -- model --------------------------------------------------------------------------------


@dataclass
class Execution:
    execution_id: str
    runbook: Runbook
    parameters: dict[str, list[str]]
    tags: dict[str, str]
    started: datetime
    executed_by: str
    status: str = "InProgress"
    ended: datetime | None = None
    failure: str | None = None
    outputs: dict[str, list[str]] = field(default_factory=dict)

    def current_outputs(self) -> dict[str, list[str]]:
        return self.outputs or {self.runbook.output: [NO_OUTPUT]}

    def common(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "AutomationExecutionId": self.execution_id,
            "DocumentName": self.runbook.name,
            "DocumentVersion": RUNBOOK_VERSION,
            "AutomationExecutionStatus": self.status,
            "ExecutionStartTime": self.started,
            "ExecutedBy": self.executed_by,
            "Outputs": self.current_outputs(),
            "Mode": "Auto",
        }
        if self.ended is not None:
            found["ExecutionEndTime"] = self.ended
        if self.failure:
            found["FailureMessage"] = self.failure
        return found

    def describe(self) -> dict[str, Any]:
        """GetAutomationExecution's AutomationExecution (no step detail: steps are not modelled)."""
        return {
            **self.common(),
            "StepExecutions": [],
            "StepExecutionsTruncated": False,
            "Parameters": {k: list(v) for k, v in self.parameters.items()},
        }

    def metadata(self) -> dict[str, Any]:
        """DescribeAutomationExecutions' AutomationExecutionMetadata."""
        return {**self.common(), "AutomationType": "Local"}


@dataclass
class Automations:
    executions: dict[str, Execution] = field(default_factory=dict)
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token -> (request, execution id)


def automations_of(backend: Any) -> Automations:
    """The executions of one moto SSM backend (so per account and region, reset with it)."""
    found = backend.__dict__.get("_sandbox_automations")
    if found is None:
        found = backend.__dict__.setdefault("_sandbox_automations", Automations())
    return found


def _resolved(runbook: Runbook, given: dict[str, list[str]]) -> dict[str, list[str]]:
    """Parameters with the runbook's defaults filled in; InvalidAutomationExecutionParameters otherwise."""
    known = set(runbook.defaults) | set(runbook.required) | {"SecurityGroupIds", "MetadataOptions"}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InvalidAutomationExecutionParametersException(
            f'Parameter "{unknown[0]}" is not defined in the document {runbook.name}.'
        )
    values = {name: [value] for name, value in runbook.defaults.items()}
    values.update({name: [str(v) for v in value] for name, value in given.items()})
    for name in runbook.required:
        if not any(values.get(name) or []):
            raise InvalidAutomationExecutionParametersException(
                f"Parameters required by the document {runbook.name} are missing: {name}."
            )
    source = values["SourceAmiId"][0]
    if not _AMI.match(source):
        raise InvalidAutomationExecutionParametersException(
            f'Parameter "SourceAmiId" has value "{source}", which is not an AMI id.'
        )
    role = values["AutomationAssumeRole"][0]
    if not _ROLE.match(role):
        raise InvalidAutomationExecutionParametersException(
            "The format of the supplied assume role ARN is invalid."
        )
    return values


def start_automation_execution(
    self: Any,
    document_name: str,
    document_version: str | None,
    parameters: dict[str, list[str]] | None,
    client_token: str | None,
    tags: list[dict[str, str]] | None,
) -> str:
    """StartAutomationExecution for the known runbooks; a reused ClientToken returns its execution."""
    automations = automations_of(self)
    request = json.dumps([document_name, document_version, parameters or {}, tags or []], sort_keys=True)
    if client_token is not None:
        if not _TOKEN.match(client_token):
            raise ValidationException("ClientToken must be a UUID.")
        seen = automations.tokens.get(client_token.lower())
        if seen is not None:
            if seen[0] != request:
                raise IdempotentParameterMismatch(
                    "Error when an idempotent operation is retried and the parameters don't match "
                    "the original call to the API with the same idempotency token."
                )
            return seen[1]
    runbook = RUNBOOKS.get(document_name)
    if runbook is None:
        raise AutomationDefinitionNotFoundException(
            f"Document with name {document_name} does not exist or is not an Automation document."
        )
    if document_version not in (None, "$DEFAULT", "$LATEST", RUNBOOK_VERSION):
        raise AutomationDefinitionVersionNotFoundException(
            f"Document {document_name} with version {document_version} does not exist.",
        )
    values = _resolved(runbook, parameters or {})
    execution = Execution(
        execution_id=str(uuid.uuid4()),
        runbook=runbook,
        parameters=values,
        tags={tag["Key"]: tag["Value"] for tag in tags or []},
        started=now(),
        executed_by=f"arn:{self.partition}:iam::{self.account_id}:root",
    )
    automations.executions[execution.execution_id] = execution
    if client_token is not None:
        automations.tokens[client_token.lower()] = (request, execution.execution_id)
    return execution.execution_id


def get_automation_execution(self: Any, execution_id: str) -> Execution:
    execution = automations_of(self).executions.get(execution_id)
    if execution is None:
        raise AutomationExecutionNotFoundException(
            f"Automation execution with id {execution_id} does not exist."
        )
    return execution


def stop_automation_execution(self: Any, execution_id: str, stop_type: str | None) -> None:
    """StopAutomationExecution: a running execution ends Cancelled; a finished one cannot be stopped."""
    execution = get_automation_execution(self, execution_id)
    if stop_type not in (None, "Cancel", "Complete"):
        raise ValidationException(f"Value '{stop_type}' at 'type' failed to satisfy constraint.")
    if execution.status in FINISHED:
        raise InvalidAutomationStatusUpdateException(
            f"Automation execution {execution_id} is {execution.status} and cannot be stopped."
        )
    execution.status, execution.ended = "Cancelled", now()


def _timestamp(value: str) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError as error:
        raise InvalidFilterValue(f"The filter value {value} is not a valid timestamp.") from error


def _matches(execution: Execution, key: str, values: list[str]) -> bool:
    if key == "DocumentNamePrefix":
        return any(execution.runbook.name.startswith(value) for value in values)
    if key == "ExecutionStatus":
        return execution.status in values
    if key == "ExecutionId":
        return execution.execution_id in values
    if key == "StartTimeBefore":
        return all(execution.started <= _timestamp(value) for value in values)
    if key == "StartTimeAfter":
        return all(execution.started >= _timestamp(value) for value in values)
    if key == "AutomationType":
        return "Local" in values
    if key == "TagKey":
        return any(value in execution.tags for value in values)
    return False  # parent executions, change requests, OpsItems...: none exist here


def describe_automation_executions(
    self: Any, filters: list[dict[str, Any]] | None, max_results: int | None, next_token: str | None
) -> tuple[list[Execution], str | None]:
    """DescribeAutomationExecutions: filters ANDed, values of one filter ORed; paged by NextToken."""
    executions = list(automations_of(self).executions.values())
    for found in filters or []:
        key, values = found.get("Key"), found.get("Values") or []
        if key not in FILTER_KEYS:
            raise InvalidFilterKey(f"The filter key {key} is not valid.")
        if not values:
            raise InvalidFilterValue(f"The filter {key} needs at least one value.")
        executions = [execution for execution in executions if _matches(execution, key, values)]
    limit = MAX_RESULTS if max_results is None else int(max_results)
    if not 1 <= limit <= MAX_RESULTS:
        raise ValidationException(f"MaxResults must be between 1 and {MAX_RESULTS}.")
    start = 0
    if next_token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(next_token.encode()))["start"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            start = -1
        if start < 0:
            raise InvalidNextToken("The specified token isn't valid.")
    chunk = executions[start : start + limit]
    if start + limit >= len(executions):
        return chunk, None
    return chunk, base64.urlsafe_b64encode(json.dumps({"start": start + limit}).encode()).decode()


# -- responses ----------------------------------------------------------------------------


def start_automation_execution_response(self: Any) -> ActionResult:
    execution_id = self.ssm_backend.start_automation_execution(
        self._get_param("DocumentName"),
        self._get_param("DocumentVersion"),
        self._get_param("Parameters"),
        self._get_param("ClientToken"),
        self._get_param("Tags"),
    )
    return ActionResult({"AutomationExecutionId": execution_id})


def get_automation_execution_response(self: Any) -> ActionResult:
    execution = self.ssm_backend.get_automation_execution(self._get_param("AutomationExecutionId"))
    return ActionResult({"AutomationExecution": execution.describe()})


def describe_automation_executions_response(self: Any) -> ActionResult:
    executions, token = self.ssm_backend.describe_automation_executions(
        self._get_param("Filters"), self._get_param("MaxResults"), self._get_param("NextToken")
    )
    result: dict[str, Any] = {"AutomationExecutionMetadataList": [e.metadata() for e in executions]}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def stop_automation_execution_response(self: Any) -> ActionResult:
    self.ssm_backend.stop_automation_execution(
        self._get_param("AutomationExecutionId"), self._get_param("Type")
    )
    return ActionResult({})


# -- plain-Python helpers (not API operations) --------------------------------------------


def _substitute(template: str, execution: Execution, region: str, account_id: str, moment: datetime) -> str:
    """Runbook variables: {{Parameter}}, {{global:DATE_TIME}} (yyyy-MM-dd_HH.mm.ss), {{global:DATE}}, ..."""
    variables = {name: values[0] if values else "" for name, values in execution.parameters.items()}
    variables.update(
        {
            "global:DATE_TIME": moment.strftime("%Y-%m-%d_%H.%M.%S"),
            "global:DATE": moment.strftime("%Y-%m-%d"),
            "global:ACCOUNT_ID": account_id,
            "global:REGION": region,
            "automation:EXECUTION_ID": execution.execution_id,
        }
    )
    return re.sub(r"\{\{\s*([^}\s]+)\s*\}\}", lambda m: variables.get(m.group(1), m.group(0)), template)


def _event_time(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return (
        f"{moment:%b} {moment.day}, {moment.year} {hour}:{moment:%M:%S} {'AM' if moment.hour < 12 else 'PM'}"
    )


def complete_automation(
    execution_id: str,
    *,
    succeed: bool = True,
    reason: str = "",
    region: str | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Ends an execution Success (creating the runbook's AMI in EC2) or Failed; returns its event.

    As the runbook's launchInstance step would, a success whose SourceAmiId does not
    exist in EC2 ends Failed with RunInstances' message instead. `region` defaults
    to the one execution with this id is found in. Raises ValueError once it ended.
    """
    import sandbox

    region = region or _region_of(execution_id, account_id)
    ssm = sandbox.backend("ssm", region, account_id)
    execution = get_automation_execution(ssm, execution_id)
    if execution.status in FINISHED:
        raise ValueError(f"automation execution {execution_id} already ended {execution.status}")
    ended = now()
    ec2 = sandbox.backend("ec2", region, account_id)
    source_id = execution.parameters["SourceAmiId"][0]
    source = ec2.amis.get(source_id)
    refused = _launch_refusal(execution, source) if succeed else None
    if refused is not None:
        succeed, reason = False, refused
    if succeed:
        name = _substitute(execution.parameters["TargetAmiName"][0], execution, region, account_id, ended)
        tags = {
            k: _substitute(v, execution, region, account_id, ended)
            for k, v in execution.runbook.image_tags.items()
        }
        image = ec2.register_image(
            name,
            f"AMI Generated by EC2 Automation on {ended:%Y-%m-%d_%H.%M.%S} from {source_id}",
            architecture=source.architecture,
            virtualization_type=source.virtualization_type,
            root_device_name=source.root_device_name,
            boot_mode=getattr(source, "boot_mode", None),
            tags=tags or None,
        )
        execution.status, execution.outputs = "Success", {execution.runbook.output: [image.id]}
    else:
        execution.status, execution.failure = "Failed", reason or "Step fails."
    execution.ended = ended
    return execution_status_event(execution, region, account_id)


def _launch_refusal(execution: Execution, source: Any) -> str | None:
    """The launchInstance step's failure when EC2 would refuse RunInstances, else None.

    EC2's messages, as its users quote them: an unknown type is "Invalid value 't3.nano'
    for InstanceType." (github.com/getmoto/moto/issues/1695); a mismatch is "The
    architecture 'x86_64' of the specified instance type does not match the architecture
    'arm64' of the specified AMI. ..." (hashicorp/packer-plugin-amazon#649,
    skypilot-org/skypilot#6315), a type of several architectures listed as 'x86_64,i386'
    (gardener/gardener-extension-provider-aws#694). Both InvalidParameterValue.
    """
    source_id = execution.parameters["SourceAmiId"][0]
    if source is None:
        return _run_instances_failure(f"The image id '[{source_id}]' does not exist", "InvalidAMIID.NotFound")
    instance_type = (execution.parameters.get("InstanceType") or [""])[0]
    known = INSTANCE_TYPES.get(instance_type)
    if known is None:
        return _run_instances_failure(
            f"Invalid value '{instance_type}' for InstanceType.", "InvalidParameterValue"
        )
    supported = list(known.get("ProcessorInfo", {}).get("SupportedArchitectures") or [])
    image_architecture = source.architecture
    if image_architecture in supported:
        return None
    # EC2 names the type's architectures x86_64 first (e.g. 'x86_64,i386' for a t2).
    shown = ",".join(sorted(supported, key=lambda a: (a != "x86_64", a)))
    return _run_instances_failure(
        f"The architecture '{shown}' of the specified instance type does not match the architecture "
        f"'{image_architecture}' of the specified AMI. Specify an instance type and an AMI that have "
        "matching architectures, and try again. You can use 'describe-instance-types' or "
        "'describe-images' to discover the architecture of the instance type or AMI.",
        "InvalidParameterValue",
    )


def _run_instances_failure(message: str, code: str) -> str:
    """How Automation reports a RunInstances error of the launchInstance step."""
    return (
        "Step fails when it is launching the instance(s). Get Exception from RunInstances API of ec2 "
        f"Service. Exception Message from RunInstances API: [{message} (Service: AmazonEC2; "
        f"Status Code: 400; Error Code: {code})]."
    )


def _region_of(execution_id: str, account_id: str) -> str:
    from moto.ssm.models import ssm_backends

    for region, backend in ssm_backends[account_id].items():
        if execution_id in automations_of(backend).executions:
            return str(region)
    raise AutomationExecutionNotFoundException(f"Automation execution with id {execution_id} does not exist.")


def execution_status_event(execution: Execution, region: str, account_id: str) -> dict[str, Any]:
    """The "EC2 Automation Execution Status-change Notification", shaped as the SSM user guide shows."""
    ended = execution.ended or now()
    detail = {
        "ExecutionId": execution.execution_id,
        "Definition": execution.runbook.name,
        "DefinitionVersion": float(RUNBOOK_VERSION),
        "Status": execution.status,
        "StartTime": _event_time(execution.started),
        "EndTime": _event_time(ended),
        "Time": (ended - execution.started).total_seconds() * 1000.0,
        "ExecutedBy": execution.executed_by,
    }
    prefix = f"arn:aws:ssm:{region}:{account_id}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": EVENT_DETAIL_TYPE,
        "source": EVENT_SOURCE,
        "account": account_id,
        "time": iso_seconds(ended),
        "region": region,
        "resources": [
            f"{prefix}:automation-execution/{execution.execution_id}",
            f"{prefix}:automation-definition/{execution.runbook.name}:{RUNBOOK_VERSION}",
        ],
        "detail": detail,
    }


def install() -> None:
    override(SimpleSystemManagerBackend, "start_automation_execution", start_automation_execution)
    override(SimpleSystemManagerBackend, "get_automation_execution", get_automation_execution)
    override(SimpleSystemManagerBackend, "stop_automation_execution", stop_automation_execution)
    override(SimpleSystemManagerBackend, "describe_automation_executions", describe_automation_executions)
    override(SimpleSystemManagerResponse, "start_automation_execution", start_automation_execution_response)
    override(SimpleSystemManagerResponse, "get_automation_execution", get_automation_execution_response)
    override(SimpleSystemManagerResponse, "stop_automation_execution", stop_automation_execution_response)
    override(
        SimpleSystemManagerResponse, "describe_automation_executions", describe_automation_executions_response
    )
