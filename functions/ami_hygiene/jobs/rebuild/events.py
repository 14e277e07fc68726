"""The events that end (or advance) a rebuild, parsed into one small frozen record.

Two shapes arrive through EventBridge. Both were taken from the AWS docs:

* ``EC2 Image Builder Image State Change`` (source ``aws.imagebuilder``; Image
  Builder user guide, "Amazon EventBridge integration in Image Builder"). The
  detail is ``{"previous-state": {"status": ...}, "state": {"status": ...}}``;
  ``resources`` holds the image build version ARN
  (``arn:aws:imagebuilder:REGION:ACCOUNT:image/NAME/1.0.0/1``). The CDK event
  schema (``EC2ImageBuilderImageStateChangeProps``) also lists ``reason`` in
  both states; the doc sample has none, so it is optional. Build statuses are
  BUILDING, TESTING, DISTRIBUTING, INTEGRATING (not finished), AVAILABLE
  (succeeded), CANCELLED and FAILED (finished, not succeeded); PENDING and
  CREATING are read as not finished too. DEPRECATED, DISABLED and DELETED come
  from later lifecycle actions, not from a build, and are refused.
* ``EC2 Automation Execution Status-change Notification`` (source ``aws.ssm``;
  Systems Manager user guide, "Amazon EventBridge event examples for Systems
  Manager"). The detail has ``ExecutionId``, ``Definition`` (the runbook),
  ``DefinitionVersion``, ``Status``, ``StartTime`` / ``EndTime`` written like
  ``Nov 29, 2016 7:43:20 PM`` (no zone in the sample: read as UTC, and ISO 8601
  is accepted too), ``Time`` (the duration in milliseconds) and ``ExecutedBy``.
  Finished statuses (AutomationExecutionStatus in the SSM API reference):
  Success and CompletedWithSuccess succeed; Failed, TimedOut, Cancelled,
  CompletedWithFailure, Rejected and Exited do not ("Canceled" is read as
  Cancelled, since some rules spell it so). Everything else is not finished.

Neither event names the new AMI: ``new_image_id`` stays None for both, and the
job reads it with GetImage (``outputResources.amis``) or GetAutomationExecution
(the runbook's outputs). A failure reason comes from Image Builder's
``state.reason`` when present; SSM events carry none (GetAutomationExecution
``FailureMessage`` has it), so the record says so.

Every field read is validated by the models below, built from the constrained
types of core/events.py: the envelope, the statuses, the execution id, the
runbook name, StartTime / EndTime within EARLIEST_YEAR-LATEST_YEAR and ``Time``
between 0 and DURATION_MAX, so no duration can overflow. An event of another
account (``account``, or the account in the image ARN), another source or
detail-type, a runbook not in ``runbooks``, or a detail missing what is needed
raises EventError whose message says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from ami_hygiene.core.events import (
    PARTITION,
    REGION_NAME,
    DurationMs,
    Event,
    EventError,
    EventTime,
    ExecutionId,
    GenericEvent,
    Loose,
    Reason,
    Token,
    check_account,
    kind_of,
    shown,
    validate_event,
)
from ami_hygiene.core.families import family_from_image_builder_arn
from ami_hygiene.core.job import EventRule
from ami_hygiene.jobs.rebuild.model import (
    AUTOMATION_FAILED,
    AUTOMATION_SUCCEEDED,
    IMAGE_BUILDER_DONE,
    IMAGE_BUILDER_RUNNING,
    RUNBOOK_LINUX,
    RUNBOOK_WINDOWS,
    BuildKind,
)

IMAGE_BUILDER_SOURCE = "aws.imagebuilder"
IMAGE_BUILDER_STATE_CHANGE = "EC2 Image Builder Image State Change"
SSM_SOURCE = "aws.ssm"
AUTOMATION_STATUS_CHANGE = "EC2 Automation Execution Status-change Notification"
DEFAULT_RUNBOOKS = frozenset({RUNBOOK_LINUX, RUNBOOK_WINDOWS})
# How a build ended reaches the job at once.
RULES = (
    EventRule(
        "RebuildImageBuilderState",
        "an Image Builder build changed state",
        IMAGE_BUILDER_SOURCE,
        IMAGE_BUILDER_STATE_CHANGE,
    ),
    EventRule(
        "RebuildAutomationStatus",
        "an update-AMI runbook changed status",
        SSM_SOURCE,
        AUTOMATION_STATUS_CHANGE,
        {"Definition": [RUNBOOK_LINUX, RUNBOOK_WINDOWS]},
    ),
)

# Image build version ARN: the Image Builder API reference's pattern (botocore imagebuilder
# ImageBuildVersionArn), with this account's 12 digits and a well-formed partition and region.
IMAGE_BUILD_VERSION_ARN = re.compile(
    rf"arn:({PARTITION}):imagebuilder:({REGION_NAME.pattern}):([0-9]{{12}}):"
    r"image/([a-z0-9-_]+)/[0-9]+\.[0-9]+\.[0-9]+/[0-9]+"
)
_SSM_TIME = "%b %d, %Y %I:%M:%S %p"  # "Nov 29, 2016 7:43:20 PM"
_SSM_TIME_MAX = 64  # characters of a StartTime / EndTime
_CONSOLE = {"aws": "console.aws.amazon.com", "aws-cn": "console.amazonaws.cn"}


def _ssm_time(raw: Any) -> Any:
    """StartTime / EndTime as SSM writes them ("Nov 29, 2016 7:43:20 PM", read as UTC) or ISO 8601.

    Anything else goes on to pydantic's datetime, which refuses it; "" means absent.
    """
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if not text:
        return None
    if len(text) > _SSM_TIME_MAX:
        raise ValueError(f"not a time: longer than {_SSM_TIME_MAX} characters")
    try:
        return datetime.strptime(text, _SSM_TIME).replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("not a time like 'Nov 29, 2016 7:43:20 PM' or ISO 8601") from None


SsmTime = Annotated[EventTime | None, BeforeValidator(_ssm_time)]
# Runbook name or ARN: botocore ssm DocumentName / DocumentARN.
RUNBOOK = re.compile(r"[a-zA-Z0-9_\-.:/]{3,128}")


def _runbook(value: str) -> str:
    if not RUNBOOK.fullmatch(value):
        raise ValueError("not a runbook name (3 to 128 of letters, digits and _-.:/)")
    return value


Runbook = Annotated[str, StringConstraints(max_length=128), AfterValidator(_runbook)]


@dataclass(frozen=True)
class BuildEvent:
    kind: BuildKind
    build_id: str  # image build version ARN, or automation execution id
    status: str  # as the service spells it: AVAILABLE, FAILED, Success, TimedOut, ...
    finished: bool
    succeeded: bool
    region: str
    account: str
    time: datetime  # when the event was sent
    name: str  # Image Builder image name (the family), or the runbook
    previous_status: str | None = None
    new_image_id: str | None = None  # neither event carries it (see the module docstring)
    failure_reason: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    duration: timedelta | None = None
    console_url: str = ""
    logs_hint: str = ""

    @property
    def family(self) -> str | None:
        """The family an Image Builder build belongs to (its image name); None for SSM."""
        return self.name if self.kind is BuildKind.IMAGE_BUILDER else None


# -- pydantic models of the details ---------------------------------------------------------


class ImageBuilderState(Loose):
    status: Token
    reason: Reason | None = None


class ImageBuilderDetail(Loose):
    previous_state: ImageBuilderState | None = Field(default=None, alias="previous-state")
    state: ImageBuilderState


class AutomationDetail(Loose):
    execution_id: ExecutionId = Field(alias="ExecutionId")
    definition: Runbook = Field(alias="Definition")
    status: Token = Field(alias="Status")
    start_time: SsmTime = Field(default=None, alias="StartTime")
    end_time: SsmTime = Field(default=None, alias="EndTime")
    time_ms: DurationMs | None = Field(default=None, alias="Time")


ImageBuilderEvent = Event[ImageBuilderDetail]
AutomationEvent = Event[AutomationDetail]


# -- parsing ---------------------------------------------------------------------------------


def parse_build_event(event: Any, account_id: str, runbooks: frozenset[str] = DEFAULT_RUNBOOKS) -> BuildEvent:
    """The build event in `event` for account `account_id`, or EventError saying why not.

    `runbooks` are the Automation runbooks the rebuild job starts; an execution
    of any other runbook is not one of its builds and is refused.
    """
    # The whole event (envelope and detail) is validated by its model before anything is read.
    kind = kind_of(event)
    if kind == (IMAGE_BUILDER_SOURCE, IMAGE_BUILDER_STATE_CHANGE):
        return _image_builder(validate_event(ImageBuilderEvent, event), account_id)
    if kind == (SSM_SOURCE, AUTOMATION_STATUS_CHANGE):
        return _automation(validate_event(AutomationEvent, event), account_id, runbooks)
    envelope = validate_event(GenericEvent, event)
    got = f"{shown(envelope.source)} / {shown(envelope.detail_type)}"
    raise EventError(
        f"event {got} is neither {IMAGE_BUILDER_SOURCE!r} / {IMAGE_BUILDER_STATE_CHANGE!r} "
        f"nor {SSM_SOURCE!r} / {AUTOMATION_STATUS_CHANGE!r}"
    )


def _image_builder(event: ImageBuilderEvent, account_id: str) -> BuildEvent:
    check_account(event.account, account_id)
    arns = [r for r in event.resources if ":imagebuilder:" in r and ":image/" in r]
    if len(arns) != 1:
        raise EventError(f"Image Builder event names {len(arns)} image build versions in resources, not 1")
    arn = arns[0]
    match = IMAGE_BUILD_VERSION_ARN.fullmatch(arn)
    if not match:
        raise EventError(f"Image Builder event names {shown(arn)}, which is not an image build version ARN")
    partition, arn_region, arn_account, image_name = match.groups()
    check_account(arn_account, account_id)
    state = event.detail.state
    status = state.status.upper()
    if status not in IMAGE_BUILDER_RUNNING | IMAGE_BUILDER_DONE:
        raise EventError(f"image {arn} is now {status}: a lifecycle change, not a build")
    finished = status in IMAGE_BUILDER_DONE
    failure = None
    if finished and status != "AVAILABLE":
        failure = state.reason or f"Image Builder reports {status} without a reason; see the build's logs"
    previous = event.detail.previous_state
    family = family_from_image_builder_arn(arn) or image_name
    return BuildEvent(
        kind=BuildKind.IMAGE_BUILDER,
        build_id=arn,
        status=status,
        finished=finished,
        succeeded=status == "AVAILABLE",
        region=arn_region,
        account=event.account,
        time=event.time,
        name=family,
        previous_status=previous.status.upper() if previous else None,
        failure_reason=failure,
        ended=event.time if finished else None,
        console_url=(
            f"https://{arn_region}.{_console(partition)}/imagebuilder/home?region={arn_region}"
            f"#/images/{quote(arn, safe='')}"
        ),
        logs_hint=f"CloudWatch Logs group /aws/imagebuilder/{image_name} in {arn_region}",
    )


def _automation(event: AutomationEvent, account_id: str, runbooks: frozenset[str]) -> BuildEvent:
    check_account(event.account, account_id)
    detail = event.detail
    if detail.definition not in runbooks:
        raise EventError(
            f"Automation execution {detail.execution_id} ran {detail.definition}, "
            f"not a rebuild runbook ({', '.join(sorted(runbooks))})"
        )
    status = "Cancelled" if detail.status == "Canceled" else detail.status
    finished = status in AUTOMATION_SUCCEEDED | AUTOMATION_FAILED
    started = detail.start_time
    ended = detail.end_time if finished else None
    duration = None
    # Both bounded by the model: Time by DURATION_MAX, the times by their years.
    if detail.time_ms is not None:
        duration = timedelta(milliseconds=detail.time_ms)
    elif started is not None and ended is not None and ended >= started:
        duration = ended - started
    failure = None
    if status in AUTOMATION_FAILED:
        failure = (
            f"Automation ended {status}; the event carries no message: "
            "GetAutomationExecution FailureMessage and the step outputs say why"
        )
    region = event.region
    execution = detail.execution_id
    return BuildEvent(
        kind=BuildKind.SSM_AUTOMATION,
        build_id=execution,
        status=status,
        finished=finished,
        succeeded=status in AUTOMATION_SUCCEEDED,
        region=region,
        account=event.account,
        time=event.time,
        name=detail.definition,
        failure_reason=failure,
        started=started,
        ended=ended,
        duration=duration,
        console_url=(
            f"https://{region}.console.aws.amazon.com/systems-manager/automation/execution/{execution}"
            f"?region={region}"
        ),
        logs_hint=(
            f"step outputs of execution {execution} in the Automation console; the patch commands' "
            "output is in CloudWatch Logs only when Run Command logging is on "
            "(by default group /aws/ssm/AWS-RunShellScript or /aws/ssm/AWS-RunPowerShellScript)"
        ),
    )


def _console(partition: str) -> str:
    return _CONSOLE.get(partition, _CONSOLE["aws"])
