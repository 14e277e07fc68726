"""The fields of the events the jobs act on, as constrained pydantic types, and how a refusal shows them.

Every parser model (each job's events.py, the handlers'
ScheduledEvent) is built from these types, so a value a job reads has been
checked before the job sees it: its shape, its length, its characters, its range.
Whatever fails is refused by `validate_event` with an EventError naming the
field and at most SHOWN characters of the value (`shown`), never the whole value.

Where the formats come from:

* Account id: 12 digits (EventBridge User Guide, "Event structure reference":
  ``account`` is "the 12-digit number identifying an AWS account").
* Region name: botocore's ``data/endpoints.json`` / ``partitions.json`` give one
  ``regionRegex`` per partition (aws ``^(us|eu|ap|sa|ca|me|af|il|mx)\\-\\w+\\-\\d+$``,
  aws-cn ``^cn\\-\\w+\\-\\d+$``, aws-us-gov ``^us\\-gov\\-\\w+\\-\\d+$``, aws-iso(-b,-e,-f)
  ``^us\\-iso[bf]?\\-...``, ``^eu\\-isoe\\-...``, aws-eusc ``^eusc\\-(de)\\-\\w+\\-\\d+$``).
  REGION_NAME is their union written with lower-case letters only (``\\w`` would
  also let in upper case, digits and ``_``); tests/unit/core/test_events.py
  checks that every region botocore knows matches it.
* Image and snapshot ids: the prefix and 8 or 17 lower-case hexadecimal digits
  (EC2 User Guide, "Resource IDs": 8 characters before January 2016, 17 since).
* ARNs: at most 2,048 characters (botocore iam/sts ``arnType``: 20 to 2,048);
  ``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``. A principal (CloudTrail
  ``userIdentity.arn``) is an IAM or STS ARN of a 12-digit account. Organization
  and OU ARNs follow botocore organizations ``OrganizationArn`` /
  ``OrganizationalUnitArn``, with any partition.
* EventBridge envelope: ``id`` a UUID (documentation examples use placeholders,
  so any short token), ``detail-type`` at most 128 characters (botocore events
  ``PutEventsRequestEntry.DetailType``), ``resources`` ARNs of at most 2,048
  characters (``EventResource``), ``detail`` a JSON object.
* Free text: the characters AWS allows in free-text strings (botocore sts
  ``arnType`` pattern: tab, LF, CR, U+0020-U+007E, U+0085, U+00A0-U+D7FF,
  U+E000-U+FFFD, U+10000-U+10FFFF), less the bidirectional overrides and
  isolates (U+202A-U+202E, U+2066-U+2069), which would make a report show other
  text than it holds; one-line names also leave out tab, LF, CR, U+0085, U+2028
  and U+2029.
* SSM Automation execution id: 36 characters (botocore ssm ``AutomationExecutionId``),
  a lower-case UUID.
* Times: between EARLIEST_YEAR (EC2 opened in 2006; no AMI event is older) and
  LATEST_YEAR, so no later date arithmetic can overflow; a time without a zone
  is read as UTC (CloudTrail eventTime is UTC).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

SHOWN = 80  # characters of an offending value a refusal shows
NAME_MAX = 256
TEXT_MAX = 2048
ARN_MAX = 2048  # botocore iam/sts arnType
# Ids and region names are far shorter; this bound only stops a huge value before its shape is
# checked, while a near miss (a snapshot id where an image id belongs) still gets its own message.
ID_MAX = 128
RESOURCES_MAX = 100  # items of an envelope's resources (AMI events name one or two)
EARLIEST_YEAR = 2006
LATEST_YEAR = 2100
DURATION_MAX = timedelta(days=366)

REGION_NAME = re.compile(r"[a-z]{2,4}(?:-[a-z]+){1,3}-[0-9]{1,2}")
ACCOUNT_ID = re.compile(r"[0-9]{12}")
IMAGE_ID = re.compile(r"ami-(?:[0-9a-f]{8}|[0-9a-f]{17})")
SNAPSHOT_ID = re.compile(r"snap-(?:[0-9a-f]{8}|[0-9a-f]{17})")
EC2_RESOURCE_ID = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+")
PARTITION = r"aws(?:-[a-z]+)*"
ARN = re.compile(rf"arn:{PARTITION}:[a-z0-9-]+:[a-z0-9-]*:(?:[0-9]{{12}}|aws)?:[\x21-\x7e]+")
PRINCIPAL_ARN = re.compile(rf"arn:{PARTITION}:(?:iam|sts)::[0-9]{{12}}:[\x21-\x7e]+")
ORGANIZATION_ARN = re.compile(rf"arn:{PARTITION}:organizations::[0-9]{{12}}:organization/o-[a-z0-9]{{10,32}}")
OU_ARN = re.compile(
    rf"arn:{PARTITION}:organizations::[0-9]{{12}}:ou/o-[a-z0-9]{{10,32}}/ou-[0-9a-z]{{4,32}}-[a-z0-9]{{8,32}}"
)
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,79}")
EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
EXECUTION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# A character outside those AWS allows in free text (botocore sts arnType), or a bidirectional
# override or isolate, which would make a report show text other than what it holds.
NOT_TEXT = re.compile(
    "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u202a-\u202e\u2066-\u2069]"
)
LINE_BREAK = re.compile("[\t\n\r\x85\u2028\u2029]")


class EventError(ValueError):
    """An event a job cannot act on; the message says why."""


# -- showing values in a refusal -------------------------------------------------------------


def shown(value: Any, limit: int = SHOWN) -> str:
    """`value` for a message: at most `limit` characters of it, control characters escaped.

    A string is repr'd (so newlines, escapes and invisible characters show as
    escapes) after it is cut, with "…" when cut; a container shows its kind and
    size only; a huge number its size.
    """
    if isinstance(value, str):
        cut = value[:limit]
        return repr(cut) + ("…" if len(value) > limit else "")
    if value is None or isinstance(value, bool | float):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if value.bit_length() <= 64 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, dict):
        return f"an object of {len(value)} key(s)"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item(s)"
    return f"a {type(value).__name__}"


def describe(err: ValidationError, limit: int = 3) -> str:
    """The first `limit` problems of `err`, one line: each names its field and shows its value."""
    problems = err.errors(include_url=False)
    parts = []
    for problem in problems[:limit]:
        # A key the model does not know is named as sent: escaped, so a line break cannot split the line.
        where = ".".join(printable(str(p)[:SHOWN]) for p in problem["loc"]) or "event"
        message = str(problem["msg"]).removeprefix("Value error, ")[:200]
        if problem["type"] != "missing":
            message += f" (got {shown(problem.get('input'))})"
        parts.append(f"{where}: {message}")
    text = "; ".join(parts)
    return text + (f" ({len(problems)} problems)" if len(problems) > 1 else "")


def printable(text: str) -> str:
    """`text` with each character that is not printable escaped, as repr() would: one line, no controls."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


M = TypeVar("M", bound=BaseModel)


def require_object(event: Any) -> dict[str, Any]:
    """`event` if it is a JSON object, as EventBridge delivers every event; else EventError."""
    if not isinstance(event, dict):
        raise EventError(f"event is a {type(event).__name__}, not a JSON object")
    return event


def validate_event(model: type[M], event: Any) -> M:
    """`event` as `model`, or EventError naming the fields that are wrong and showing their values."""
    require_object(event)
    try:
        return model.model_validate(event)
    except ValidationError as err:
        raise EventError(f"malformed event: {describe(err)}") from None


def kind_of(event: Any) -> tuple[Any, Any]:
    """An event's raw ``source`` and ``detail-type``, to choose the model that validates all of it.

    Only compared with the expected values, never shown: a refusal shows them
    after GenericEvent has validated them.
    """
    if not isinstance(event, dict):
        return None, None
    return event.get("source"), event.get("detail-type")


def check_account(claimed: str, account_id: str) -> None:
    """EventError unless an account an event claims (validated: 12 digits) is the invocation's account."""
    if claimed != account_id:
        raise EventError(f"event is for account {claimed}, not this account {account_id}")


def region_refusal(event: object, regions: Collection[str]) -> str | None:
    """Why a job event's region (its `.region`) is not one of the run's Regions, or None if it is."""
    region = getattr(event, "region", None)
    if isinstance(region, str) and region in regions:
        return None
    return f"event region {shown(region)} is not one of Regions ({', '.join(regions)})"


# -- constrained types -----------------------------------------------------------------------


def shaped(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    """A validator: `value` if `pattern` matches all of it, else ValueError("not <what>")."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"not {what}")
        return value

    return check


def _no_controls(lines: bool) -> Callable[[str], str]:
    def check(value: str) -> str:
        bad = NOT_TEXT.search(value) or (None if lines else LINE_BREAK.search(value))
        if bad:
            raise ValueError(f"has a character not allowed in AWS text ({bad.group()!r})")
        return value

    return check


def _ec2_resource(value: str) -> str:
    if not EC2_RESOURCE_ID.fullmatch(value):
        raise ValueError("not an EC2 resource id (prefix-id, lower case)")
    if value.startswith("ami-") and not IMAGE_ID.fullmatch(value):
        raise ValueError("not an image id (ami- and 8 or 17 lower-case hexadecimal digits)")
    if value.startswith("snap-") and not SNAPSHOT_ID.fullmatch(value):
        raise ValueError("not a snapshot id (snap- and 8 or 17 lower-case hexadecimal digits)")
    return value


def _bounded_time(value: datetime) -> datetime:
    # The year of the fields as written: no arithmetic, so nothing can overflow here.
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"year {value.year} is outside {EARLIEST_YEAR}-{LATEST_YEAR}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


AccountId = Annotated[
    str,
    StringConstraints(max_length=ID_MAX),
    AfterValidator(shaped(ACCOUNT_ID, "an account id (12 digits)")),
]
RegionName = Annotated[
    str,
    StringConstraints(max_length=ID_MAX),
    AfterValidator(shaped(REGION_NAME, "a region name like eu-west-1")),
]
ImageId = Annotated[
    str,
    StringConstraints(max_length=ID_MAX),
    AfterValidator(shaped(IMAGE_ID, "an image id (ami- and 8 or 17 lower-case hexadecimal digits)")),
]
SnapshotId = Annotated[
    str,
    StringConstraints(max_length=ID_MAX),
    AfterValidator(shaped(SNAPSHOT_ID, "a snapshot id (snap- and 8 or 17 lower-case hexadecimal digits)")),
]
Ec2ResourceId = Annotated[str, StringConstraints(max_length=128), AfterValidator(_ec2_resource)]
Arn = Annotated[str, StringConstraints(max_length=ARN_MAX), AfterValidator(shaped(ARN, "an ARN"))]
PrincipalArn = Annotated[
    str,
    StringConstraints(max_length=ARN_MAX),
    AfterValidator(shaped(PRINCIPAL_ARN, "an IAM or STS principal ARN of an account")),
]
OrganizationArn = Annotated[
    str,
    StringConstraints(max_length=ARN_MAX),
    AfterValidator(shaped(ORGANIZATION_ARN, "an organization ARN")),
]
OrganizationalUnitArn = Annotated[
    str,
    StringConstraints(max_length=ARN_MAX),
    AfterValidator(shaped(OU_ARN, "an organizational unit ARN")),
]
EventId = Annotated[
    str, StringConstraints(max_length=128), AfterValidator(shaped(EVENT_ID, "an event id (a UUID)"))
]
ExecutionId = Annotated[
    str,
    StringConstraints(max_length=ID_MAX),
    AfterValidator(shaped(EXECUTION_ID, "an Automation execution id (a lower-case UUID)")),
]
# An identifier AWS writes: API and service names, states, statuses, error codes. At most 80
# characters of [A-Za-z0-9._:/+=@-], so a message may quote it whole.
Token = Annotated[
    str,
    StringConstraints(max_length=80),
    AfterValidator(shaped(TOKEN, "a name AWS writes (letters, digits and ._:/+=@-, at most 80)")),
]
Name = Annotated[str, StringConstraints(max_length=NAME_MAX), AfterValidator(_no_controls(lines=False))]
ShortName = Annotated[str, StringConstraints(max_length=128), AfterValidator(_no_controls(lines=False))]
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX), AfterValidator(_no_controls(lines=True))]
# A reason a service gives, e.g. Image Builder's state.reason (botocore imagebuilder ImageState.reason:
# NonEmptyString, at most 1,024 characters).
Reason = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_no_controls(lines=True))]
EventTime = Annotated[datetime, AfterValidator(_bounded_time)]
DurationMs = Annotated[float, Field(ge=0, le=DURATION_MAX.total_seconds() * 1000, allow_inf_nan=False)]


# -- the EventBridge envelope ----------------------------------------------------------------


class Envelope(EventBridgeModel):
    """Powertools' EventBridgeModel with every envelope field constrained.

    A job's event is `Event[Detail]`, the envelope with its detail model; a model that
    also fixes `source` / `detail_type` subclasses it (the handlers' ScheduledEvent);
    GenericEvent takes any object.
    """

    version: ShortName
    id: EventId
    source: Name
    account: AccountId
    time: EventTime
    region: RegionName
    resources: list[Arn] = Field(max_length=RESOURCES_MAX)
    detail_type: ShortName = Field(alias="detail-type")
    replay_name: Name | None = Field(default=None, alias="replay-name")


class GenericEvent(Envelope):
    """Any event of the right envelope: what a parser reads first, to tell which model applies."""

    detail: dict[str, Any]


D = TypeVar("D", bound=BaseModel)


class Event(Envelope, Generic[D]):
    """An event of one kind, its detail read as a job's model: `Event[CloudTrailDetail]`.

    The parser has chosen the model by the event's source and detail-type (`kind_of`)
    before it validates the whole event with it.
    """

    detail: D


class Loose(BaseModel):
    """A part of a detail: unknown keys are ignored, fields are read by their AWS names."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class UserIdentity(Loose):
    """CloudTrail userIdentity: only the principal's ARN is read (absent for AWS services)."""

    arn: PrincipalArn | None = None


class CloudTrailRecord(Loose):
    """The fields of a CloudTrail record every job reads (CloudTrail User Guide, "record contents")."""

    event_source: Token = Field(alias="eventSource")
    event_name: Token = Field(alias="eventName")
    event_time: EventTime | None = Field(default=None, alias="eventTime")
    aws_region: RegionName = Field(alias="awsRegion")
    user_identity: UserIdentity = Field(alias="userIdentity")
    # An IP address, or a service's name for calls AWS makes ("ec2.amazonaws.com", "AWS Internal").
    source_ip_address: Name | None = Field(default=None, alias="sourceIPAddress")
    recipient_account_id: AccountId | None = Field(default=None, alias="recipientAccountId")
    error_code: Token | None = Field(default=None, alias="errorCode")

    def check_accounts(self, account: str, account_id: str) -> None:
        """The envelope's account and, when present, recipientAccountId are both this account."""
        check_account(account, account_id)
        check_account(self.recipient_account_id or account, account_id)


SOURCE = "aws.ec2"


CLOUDTRAIL = "AWS API Call via CloudTrail"
