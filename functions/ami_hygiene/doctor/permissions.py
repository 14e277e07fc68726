"""Testing the calls each job makes, without changing anything.

- EC2: the call itself with DryRun=True. The EC2 API reference, for every DryRun
  parameter: "If you have the required permissions, the error response is
  DryRunOperation. Otherwise, it is UnauthorizedOperation." Writes against a
  resource (DisableImage, CreateTags, ...) name one image (and snapshot) the
  account owns in the region, so resource conditions such as ec2:Owner apply.
- Other services have no DryRun: a harmless read (one item, or a lookup of a
  name no resource has, whose NotFound answer proves the call was authorized:
  AWS evaluates IAM before it looks the resource up).
- Writes of other services (StartImagePipelineExecution, StartAutomationExecution,
  iam:PassRole) cannot be tried without acting; they are named, not tested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import describe_error, error_code
from ami_hygiene.doctor.checks import Check, Status

if TYPE_CHECKING:
    from types_boto3_ec2.type_defs import FilterTypeDef

# How a denial reaches boto3: EC2 (DryRun or not), query protocols (autoscaling,
# STS, IAM), JSON protocols (SSM, Image Builder, Lambda, ...), SNS.
DENIED_CODES = frozenset(
    {
        "UnauthorizedOperation",
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "UnauthorizedAccess",
    }
)
# An endpoint that lacks the operation (moto answers 404 "Not yet implemented").
UNANSWERED_CODES = frozenset({"404", "InvalidAction", "UnknownOperationException", "NotImplemented"})
DRY_RUN_ALLOWED = "DryRunOperation"


class Kind(StrEnum):
    READ = "read"
    WRITE = "enforce-mode write"


class Probe(StrEnum):
    DRY_RUN = "EC2 DryRun"
    READ = "harmless read"
    NONE = "no dry run"


@dataclass(frozen=True)
class Call:
    """One API call a job makes, and how doctor tries it."""

    job: str
    action: str  # the IAM action, "service:Operation"
    kind: Kind
    probe: Probe
    params: Mapping[str, Any] = field(default_factory=dict)  # "{image}", "{snapshot}", "{region}", ...
    expect: tuple[str, ...] = ()  # error codes that still prove the call was authorized

    @property
    def service(self) -> str:
        return self.action.split(":", 1)[0]

    @property
    def operation(self) -> str:
        return self.action.split(":", 1)[1]


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"
    UNTESTABLE = "untestable"


@dataclass(frozen=True)
class Result:
    call: Call
    outcome: Outcome
    why: str = ""


@dataclass(frozen=True)
class Owned:
    """One image and one snapshot the account owns in a region, to aim writes at."""

    image: str | None
    snapshot: str | None
    why_none: str = ""


def find_owned(clients: Clients, region: str) -> Owned:
    ec2 = clients.ec2(region)
    try:
        available: list[FilterTypeDef] = [{"Name": "state", "Values": ["available"]}]
        images = ec2.describe_images(Owners=["self"], Filters=available, MaxResults=50).get("Images", [])
        image = next((i for i in images if _snapshots(i)), images[0] if images else None)
        snapshot = _snapshots(image)[0] if image and _snapshots(image) else None
        if snapshot is None:
            found = ec2.describe_snapshots(OwnerIds=["self"], MaxResults=5).get("Snapshots", [])
            snapshot = found[0]["SnapshotId"] if found else None
    except (ClientError, BotoCoreError) as err:
        return Owned(None, None, f"listing this account's images failed: {describe_error(err)}")
    return Owned(
        image["ImageId"] if image else None,
        snapshot,
        "" if image else f"this account owns no image in {region}",
    )


def _snapshots(image: Mapping[str, Any] | None) -> list[str]:
    if not image:
        return []
    return [
        m["Ebs"]["SnapshotId"]
        for m in image.get("BlockDeviceMappings", [])
        if m.get("Ebs", {}).get("SnapshotId")
    ]


def _fill(value: Any, names: Mapping[str, str | None]) -> Any:
    if isinstance(value, str):
        return value.format_map(names) if "{" in value else value
    if isinstance(value, Mapping):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_fill(v, names) for v in value]
    return value


def _needs(value: Any) -> set[str]:
    """The owned resources ("image", "snapshot") a call's parameters name."""
    if isinstance(value, str):
        return {n for n in ("image", "snapshot") if f"{{{n}}}" in value}
    if isinstance(value, Mapping):
        return set().union(*(_needs(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(_needs(v) for v in value)) if value else set()
    return set()


@dataclass
class Prober:
    """Tries calls in one region, each distinct request once however many jobs make it."""

    clients: Clients
    region: str
    account: str
    partition: str
    owned: Owned
    _seen: dict[tuple[str, str], tuple[Outcome, str]] = field(default_factory=dict)

    def probe(self, call: Call) -> Result:
        if call.probe is Probe.NONE:
            return Result(call, Outcome.UNTESTABLE, "no dry run")
        missing = [n for n in sorted(_needs(call.params)) if getattr(self.owned, n) is None]
        if missing:
            return Result(
                call, Outcome.SKIPPED, self.owned.why_none or f"this account owns no {missing[0]} here"
            )
        names = {
            "image": self.owned.image,
            "snapshot": self.owned.snapshot,
            "region": self.region,
            "account": self.account,
            "partition": self.partition,
        }
        params = dict(_fill(dict(call.params), names))
        if call.probe is Probe.DRY_RUN:
            params["DryRun"] = True
        key = (call.action, repr(sorted(params.items())))
        if key not in self._seen:
            self._seen[key] = self._try(call, params)
        outcome, why = self._seen[key]
        return Result(call, outcome, why)

    def _try(self, call: Call, params: dict[str, Any]) -> tuple[Outcome, str]:
        client = self.clients.client(call.service, self.region)
        try:
            getattr(client, xform_name(call.operation))(**params)
        except ClientError as err:
            code = error_code(err)
            if code in DENIED_CODES:
                return Outcome.DENIED, describe_error(err)
            if (call.probe is Probe.DRY_RUN and code == DRY_RUN_ALLOWED) or code in call.expect:
                return Outcome.ALLOWED, ""
            if code in UNANSWERED_CODES:
                return Outcome.UNKNOWN, "not answered by this endpoint"
            return Outcome.UNKNOWN, describe_error(err)
        except BotoCoreError as err:
            return Outcome.UNKNOWN, describe_error(err)
        if call.probe is Probe.DRY_RUN:
            # The endpoint ignored DryRun (real EC2 never does): the answer proves nothing.
            return Outcome.UNKNOWN, "answered as if DryRun were absent"
        return Outcome.ALLOWED, ""


def job_check(job: str, region: str, results: Sequence[Result], caller: str) -> Check:
    """One line for one job in one region."""
    name = f"permissions: {job}"
    allowed = [r for r in results if r.outcome is Outcome.ALLOWED]
    reads = sum(1 for r in allowed if r.call.kind is Kind.READ)
    tested = f"{len(allowed)} calls allowed ({reads} reads, {len(allowed) - reads} enforce-mode writes)"
    untestable = [r.call.action for r in results if r.outcome is Outcome.UNTESTABLE]
    not_tried = f"; not testable without acting: {', '.join(untestable)}" if untestable else ""
    denied = [r for r in results if r.outcome is Outcome.DENIED]
    if denied:
        listed = ", ".join(f"{r.call.action} ({r.call.kind.value})" for r in denied)
        only_writes = all(r.call.kind is Kind.WRITE for r in denied)
        return Check(
            name,
            region,
            Status.FAIL,
            f"denied to {caller}: {listed}; {tested}",
            f"allow {', '.join(sorted({r.call.action for r in denied}))} in {region} (infra/permissions*.py "
            "has the statements the stack's role gets)"
            + ("; report mode needs only the reads" if only_writes else ""),
        )
    skipped = [r for r in results if r.outcome is Outcome.SKIPPED]
    unknown = [r for r in results if r.outcome is Outcome.UNKNOWN]
    if skipped or unknown:
        parts = []
        if skipped:
            parts.append(f"skipped {', '.join(r.call.action for r in skipped)}: {skipped[0].why}")
        if unknown:
            parts.append("could not tell " + ", ".join(f"{r.call.action} ({r.why})" for r in unknown))
        return Check(
            name,
            region,
            Status.WARN,
            f"{tested}; {'; '.join(parts)}{not_tried}",
            "run doctor again once the region has an image of this account (a write is tried with DryRun on "
            "one the account owns)"
            if skipped
            else "check these calls by hand; doctor could not tell whether they are allowed",
        )
    return Check(name, region, Status.PASS, f"{tested}{not_tried}")
