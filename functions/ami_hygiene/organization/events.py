"""What the hub's state machine sends its functions, every field constrained, like core/events.py.

- `TargetSweep`: the Distributed Map's item for one account x region, sent to the job's
  function (source "ami-hygiene.organization", detail-type "Target Sweep").
- `TargetsInput`: what the schedule's execution gives the targets function: the job and
  the execution's name (the run).
- `DigestInput`: the targets function's answer, handed on to the digest function.

Where the formats come from:

* Account id and region name: core/events.py (AccountId, RegionName).
* Job: a name of the registry (jobs/<job>); which names are valid is the caller's
  (validation context JOBS_CONTEXT): a job's function takes its own name only, the
  targets and digest functions any registry name.
* Run: the Step Functions execution name (botocore stepfunctions ``Name``: 1 to 80
  characters; StartExecution's documentation forbids white space, brackets, wildcards,
  ``" # % \\ ^ | ~ ` $ & , ; : /`` and control characters, and asks for 0-9, A-Z, a-z,
  ``-`` and ``_`` for CloudWatch Logs). Schedules leave it to Step Functions, which names
  an execution with a UUID. RUN_NAME takes letters, digits and ``-_.=+@``, starting with a
  letter or digit, so it is always one safe S3 key segment.
* Bucket: S3 User Guide, "General purpose bucket naming rules": 3 to 63 characters of
  lower-case letters, digits, ``.`` and ``-``; begins and ends with a letter or digit; no
  two adjacent periods; not shaped like an IP address; not starting with ``xn--``,
  ``sthree-`` or ``amzn-s3-demo-``; not ending with ``-s3alias``, ``--ol-s3``, ``.mrap``,
  ``--x-s3`` or ``--table-s3``.
* Prefix and key: only the ones the hub writes, ``organization/<job>/<run>/`` and
  ``<prefix>targets.json``: any other is refused.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ami_hygiene.core.events import (
    ID_MAX,
    AccountId,
    EventError,
    RegionName,
    describe,
    require_object,
    shaped,
)

SOURCE = "ami-hygiene.organization"
DETAIL_TYPE = "Target Sweep"
# Where the hub keeps a run's files in the report bucket, and their names under it.
PREFIX_ROOT = "organization"
TARGETS_FILE = "targets.json"
DIGEST_FILE = "digest.json"
RESULTS = "results"
REPORTS = "reports"
# The validation context key naming the jobs a caller accepts.
JOBS_CONTEXT = "jobs"
TARGETS_MAX = 100_000  # accounts x regions: an organization has at most a few thousand accounts

JOB_NAME = re.compile(r"[a-z][a-z0-9]{0,31}")
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=+@-]{0,79}")
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IP_ADDRESS = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
BUCKET_PREFIXES_NOT_ALLOWED = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_SUFFIXES_NOT_ALLOWED = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def run_prefix(job: str, run: str) -> str:
    """Where a run's files go in the report bucket: ``organization/<job>/<run>/``."""
    return f"{PREFIX_ROOT}/{job}/{run}/"


def target_name(account: str, region: str) -> str:
    """A target's file name under results/ and reports/: ``<account>-<region>.json``."""
    return f"{account}-{region}.json"


def result_key(prefix: str, account: str, region: str) -> str:
    return f"{prefix}{RESULTS}/{target_name(account, region)}"


def report_key(prefix: str, account: str, region: str) -> str:
    return f"{prefix}{REPORTS}/{target_name(account, region)}"


def _bucket(value: str) -> str:
    if not BUCKET_NAME.fullmatch(value):
        raise ValueError("not an S3 bucket name (3 to 63 lower-case letters, digits, '.' and '-')")
    if ".." in value or IP_ADDRESS.fullmatch(value):
        raise ValueError("not an S3 bucket name (two adjacent periods, or shaped like an IP address)")
    if value.startswith(BUCKET_PREFIXES_NOT_ALLOWED) or value.endswith(BUCKET_SUFFIXES_NOT_ALLOWED):
        raise ValueError("not a general purpose S3 bucket name (a reserved prefix or suffix)")
    return value


JobName = Annotated[
    str,
    StringConstraints(max_length=ID_MAX),
    AfterValidator(shaped(JOB_NAME, "a job name (lower-case letters and digits)")),
]
RunName = Annotated[
    str,
    StringConstraints(max_length=ID_MAX),
    AfterValidator(
        shaped(RUN_NAME, "a Step Functions execution name (letters, digits and ._=+@-, at most 80)")
    ),
]
BucketName = Annotated[str, StringConstraints(max_length=ID_MAX), AfterValidator(_bucket)]
S3Key = Annotated[str, StringConstraints(max_length=1024)]


class Strict(BaseModel):
    """Every field named and typed as sent: no extra keys, no coercion (a number is not a string)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)

    @field_validator("job", check_fields=False)
    @classmethod
    def _known_job(cls, value: str, info: ValidationInfo) -> str:
        jobs: Collection[str] = (info.context or {}).get(JOBS_CONTEXT, ())
        if value not in jobs:
            raise ValueError(f"not a job of this function ({', '.join(sorted(jobs)) or 'none'})")
        return value


class RunFiles(Strict):
    """A run of a job, and where its files are: prefix must be the run's own."""

    job: JobName
    run: RunName
    bucket: BucketName
    prefix: S3Key

    @model_validator(mode="after")
    def _own_prefix(self) -> RunFiles:
        expected = run_prefix(self.job, self.run)
        if self.prefix != expected:
            raise ValueError(f"prefix must be {expected!r} (the run's own), not {self.prefix[:80]!r}")
        return self


class TargetSweep(RunFiles):
    """Sweep one account in one region for the hub's run of a job (the Distributed Map's item)."""

    source: Literal["ami-hygiene.organization"]
    detail_type: Literal["Target Sweep"] = Field(alias="detail-type")
    account: AccountId
    region: RegionName

    @property
    def result_key(self) -> str:
        return result_key(self.prefix, self.account, self.region)

    @property
    def report_key(self) -> str:
        return report_key(self.prefix, self.account, self.region)


class TargetsInput(Strict):
    """The targets function's input: the job and the execution's name."""

    job: JobName
    run: RunName


class DigestInput(RunFiles):
    """The digest function's input: the targets function's answer."""

    key: S3Key
    count: int = Field(default=0, ge=0, le=TARGETS_MAX)
    accounts: list[AccountId] = Field(default=[], max_length=TARGETS_MAX)
    regions: list[RegionName] = Field(default=[], max_length=TARGETS_MAX)
    excluded: list[AccountId] = Field(default=[], max_length=TARGETS_MAX)
    skipped: list[AccountId] = Field(default=[], max_length=TARGETS_MAX)

    @model_validator(mode="after")
    def _own_key(self) -> DigestInput:
        if self.key != self.prefix + TARGETS_FILE:
            raise ValueError(f"key must be {self.prefix + TARGETS_FILE!r}, not {self.key[:80]!r}")
        return self


class Target(Strict):
    """One item of targets.json."""

    account: AccountId
    region: RegionName


def is_target_sweep(event: Any) -> bool:
    """Whether `event` claims to be a Target Sweep (then only TargetSweep may validate it)."""
    return isinstance(event, dict) and event.get("source") == SOURCE


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], event: Any, jobs: Collection[str]) -> M:
    """`event` as `model` for a caller of `jobs`, or EventError naming what is wrong (values bounded)."""
    require_object(event)
    try:
        return model.model_validate(event, context={JOBS_CONTEXT: frozenset(jobs)})
    except ValidationError as err:
        raise EventError(f"malformed {model.__name__} input: {describe(err)}") from None


def parse_targets(document: Any) -> tuple[Target, ...]:
    """targets.json: a JSON array of {"account", "region"}, or EventError."""
    if not isinstance(document, list):
        raise EventError(f"{TARGETS_FILE} is a {type(document).__name__}, not a JSON array")
    if len(document) > TARGETS_MAX:
        raise EventError(f"{TARGETS_FILE} lists {len(document)} targets, more than {TARGETS_MAX}")
    return tuple(parse(Target, item, ()) for item in document)
