"""The hub's sweep state machine (infra/sweep_machine.py), executed: fan-out, retries, catch, digest.

The definition is the synthesized template's DefinitionString (tests/helpers/step_functions.py),
with the functions' ARNs filled in as CloudFormation would, executed by moto's Step Functions
engine; its Lambda tasks run in-process handlers (sandbox/lambda_runner.py). The first tests use
small handlers written here, which do what the PLAN's functions do with S3; the last one runs
the hub's real functions over the organization of conftest.py.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ami_hygiene.core.fleet import TargetResult
from ami_hygiene.organization.events import run_prefix
from sandbox import lambda_runner
from sandbox.step_functions import retry_waits
from tests.aws.organization.conftest import Org, member_session
from tests.helpers.constants import ACCOUNT, OTHER_REGION, REGION
from tests.helpers.organization import images_of, seed_images
from tests.helpers.step_functions import (
    JOB,
    create_state_machine,
    definition,
    executing,
    functions_of,
    history,
    lambda_function,
    resolved_definition,
    run,
    sweep_stack,
)
from tests.helpers.synthesized import synthesize_organization

BUCKET = "hub-reports"
ACCOUNTS = ("111111111111", "222222222222", "333333333333")
REGIONS = (REGION, OTHER_REGION)
NAMES = {"targets": "hub-targets", "sweep": f"hub-{JOB}", "digest": "hub-digest"}
MAX_CONCURRENCY = 3


@pytest.fixture
def aws() -> Iterator[None]:
    """The embedded AWS with state machines executed (also under conftest.py's `org`)."""
    with executing():
        yield


@dataclass
class FakeHub:
    """Handlers doing with S3 what the PLAN's targets, job and digest functions do, and what they saw."""

    targets: list[dict[str, str]]
    raising: dict[tuple[str, str], Exception] = field(default_factory=dict)
    transient: Counter[tuple[str, str]] = field(default_factory=Counter)
    listed: list[dict[str, Any]] = field(default_factory=list)
    swept: list[dict[str, Any]] = field(default_factory=list)
    digested: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def list_targets(self, event: Any, context: Any) -> dict[str, Any]:
        prefix = run_prefix(event["job"], event["run"])
        s3 = boto3.client("s3", region_name=REGION)
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}targets.json", Body=json.dumps(self.targets).encode())
        answer = {
            "job": event["job"],
            "run": event["run"],
            "bucket": BUCKET,
            "key": f"{prefix}targets.json",
            "prefix": prefix,
            "count": len(self.targets),
            "accounts": sorted({t["account"] for t in self.targets}),
            "regions": sorted({t["region"] for t in self.targets}),
            "excluded": [],
            "skipped": [],
        }
        self.listed.append({"event": event, "answer": answer})
        return answer

    def sweep(self, event: Any, context: Any) -> dict[str, Any]:
        target = (event["account"], event["region"])
        with self.lock:
            self.swept.append(event)
            transient = self.transient[target] > 0
            self.transient[target] -= 1
        if transient:
            raise ClientError(
                {"Error": {"Code": "RequestLimitExceeded", "Message": "slow down"}}, "DescribeImages"
            )
        if target in self.raising:
            raise self.raising[target]
        result = TargetResult(
            *target,
            "completed",
            summary={"images": 3, "retired": 1},
            gib_reclaimed=1.5,
            report=f"s3://{BUCKET}/{event['prefix']}reports/{target[0]}-{target[1]}.json",
        )
        key = f"{event['prefix']}results/{target[0]}-{target[1]}.json"
        boto3.client("s3", region_name=REGION).put_object(
            Bucket=BUCKET, Key=key, Body=json.dumps(result.to_dict())
        )
        return result.to_dict()

    def digest(self, event: Any, context: Any) -> dict[str, Any]:
        s3 = boto3.client("s3", region_name=REGION)
        targets = json.loads(s3.get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read())
        results = []
        for t in targets:
            key = f"{event['prefix']}results/{t['account']}-{t['region']}.json"
            try:
                body = s3.get_object(Bucket=event["bucket"], Key=key)["Body"].read()
            except s3.exceptions.NoSuchKey:
                results.append(TargetResult.missing(t["account"], t["region"]))
            else:
                results.append(TargetResult.from_dict(json.loads(body)))  # ValueError on a malformed record
        self.digested.append(event)
        return {"run": event["run"], "results": [r.to_dict() for r in results]}

    def handlers(self) -> dict[str, Any]:
        return {NAMES["targets"]: self.list_targets, NAMES["sweep"]: self.sweep, NAMES["digest"]: self.digest}


def _every_target() -> list[dict[str, str]]:
    return [{"account": a, "region": r} for a in ACCOUNTS for r in REGIONS]


@pytest.fixture
def machine(aws: None) -> str:
    """The SweepMachine's state machine in moto, its functions and the report bucket made."""
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    arns = {part: lambda_function(name) for part, name in NAMES.items()}
    return create_state_machine(
        f"{JOB}-sweep", definition(sweep_stack(), arns, max_concurrency=MAX_CONCURRENCY)
    )


def _sweep(machine: str, hub: FakeHub, **names: str) -> dict[str, Any]:
    """An execution with `hub`'s handlers (registered until the test's end): DescribeExecution's answer."""
    for name, handler in hub.handlers().items():
        lambda_runner.register(name, handler)
    return run(machine, {"time": "2026-11-27T06:00:00Z"}, **names)


def _results(execution: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["account"], r["region"]): r for r in json.loads(execution["output"])["results"]}


def _stored(key: str) -> Any:
    return json.loads(
        boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    )


# -- fan-out and aggregation -------------------------------------------------------------------------


def test_every_account_and_region_is_swept_once_with_its_target_sweep_event(machine: str) -> None:
    hub = FakeHub(_every_target())
    execution = _sweep(machine, hub, name="nightly-1")

    assert execution["status"] == "SUCCEEDED"
    [listed] = hub.listed
    assert listed["event"] == {"job": JOB, "run": "nightly-1"}  # the run is the execution's name
    prefix = run_prefix(JOB, "nightly-1")
    expected = [
        {
            "source": "ami-hygiene.organization",
            "detail-type": "Target Sweep",
            "job": JOB,
            "account": account,
            "region": region,
            "run": "nightly-1",
            "bucket": BUCKET,
            "prefix": prefix,
        }
        for account in ACCOUNTS
        for region in REGIONS
    ]
    target = itemgetter("account", "region")
    assert sorted(hub.swept, key=target) == sorted(expected, key=target)  # each target once, nothing else


def test_the_digest_gets_the_targets_answer_and_sees_every_targets_result(machine: str) -> None:
    hub = FakeHub(_every_target())
    execution = _sweep(machine, hub)

    [listed], [digested] = hub.listed, hub.digested
    assert digested == listed["answer"]  # the Map passed its input on (ResultPath null)
    results = _results(execution)
    assert set(results) == {(a, r) for a in ACCOUNTS for r in REGIONS}
    assert all(r["status"] == "completed" and r["gib_reclaimed"] == 1.5 for r in results.values())
    assert json.loads(execution["output"])["run"] == execution["name"]


def test_at_most_max_concurrency_targets_run_at_once(machine: str) -> None:
    hub = FakeHub(_every_target())
    together = threading.Barrier(MAX_CONCURRENCY, timeout=20)  # the first three wait for each other
    running, most, calls = 0, 0, 0
    lock = threading.Lock()
    sweep = hub.sweep

    def counting(event: Any, context: Any) -> dict[str, Any]:
        nonlocal running, most, calls
        with lock:
            running, calls = running + 1, calls + 1
            most, first = max(most, running), calls <= MAX_CONCURRENCY
        try:
            if first:
                together.wait()
            return sweep(event, context)
        finally:
            with lock:
                running -= 1

    hub.sweep = counting  # type: ignore[method-assign]
    execution = _sweep(machine, hub)
    assert execution["status"] == "SUCCEEDED"
    assert most == MAX_CONCURRENCY and calls == len(ACCOUNTS) * len(REGIONS)


# -- a failed target ------------------------------------------------------------------------------------


def test_a_failing_target_is_recorded_failed_and_the_others_complete(machine: str) -> None:
    broken = (ACCOUNTS[1], OTHER_REGION)
    hub = FakeHub(_every_target(), raising={broken: PermissionError("not authorized to DescribeImages")})
    execution = _sweep(machine, hub)

    assert execution["status"] == "SUCCEEDED"  # one failed account never fails the others
    record = _stored(f"{run_prefix(JOB, execution['name'])}results/{broken[0]}-{broken[1]}.json")
    assert (
        record == TargetResult.failed(*broken, "PermissionError: not authorized to DescribeImages").to_dict()
    )
    results = _results(execution)
    assert results[broken]["status"] == "failed"
    assert [t for t, r in results.items() if r["status"] == "completed"] == [
        t for t in results if t != broken
    ]
    # The function raised once: a function error is caught, not retried.
    assert sum(1 for e in hub.swept if (e["account"], e["region"]) == broken) == 1


def test_a_transient_error_is_retried_with_backoff_and_the_target_completes(machine: str) -> None:
    flaky = (ACCOUNTS[2], OTHER_REGION)
    hub = FakeHub(_every_target(), transient=Counter({flaky: 1}))
    with retry_waits(scale=0) as waits:
        lambda_runner.throttle(NAMES["sweep"], times=1)  # Lambda refuses the first Invoke: 429
        execution = _sweep(machine, hub)
        invocations = lambda_runner.invocations(NAMES["sweep"])

    assert execution["status"] == "SUCCEEDED"
    assert all(r["status"] == "completed" for r in _results(execution).values())
    [throttled] = [i for i in invocations if i.throttled]
    tried = Counter((e["account"], e["region"]) for e in hub.swept)
    assert tried[flaky] == 2  # the function's ClientError (RequestLimitExceeded) was retried
    assert sorted(tried.values()) == [1, 1, 1, 1, 1, 2]  # every target ran, the throttled one too
    assert (throttled.event["account"], throttled.event["region"]) in tried
    # Two waits, each drawn at random (JitterStrategy FULL) below its retrier's first interval.
    assert len(waits) == 2 and all(0 <= w <= 10 for w in waits)


def test_a_target_throttled_past_every_retry_is_recorded_with_lambdas_error(machine: str) -> None:
    hub = FakeHub([{"account": ACCOUNTS[0], "region": REGION}])
    with retry_waits(scale=0) as waits:
        lambda_runner.throttle(NAMES["sweep"], times=7)  # the first try and six retries
        execution = _sweep(machine, hub)

    assert execution["status"] == "SUCCEEDED"
    assert hub.swept == []
    [result] = _results(execution).values()
    assert result["status"] == "failed"
    assert result["error"].startswith("Lambda.TooManyRequestsException: Rate Exceeded.")
    assert len(waits) == 6
    assert all(w <= 60 for w in waits)  # MaxDelaySeconds


def test_a_target_whose_failure_cannot_be_stored_is_left_missing_and_the_run_completes(machine: str) -> None:
    """RecordFailure's own retries spent, the child fails; ToleratedFailurePercentage 100 keeps the run."""
    broken = (ACCOUNTS[0], OTHER_REGION)
    hub = FakeHub(_every_target(), raising={broken: RuntimeError("boom")})
    denied_key = f"results/{broken[0]}-{broken[1]}.json"

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["denied"] = str(params.get("Key", "")).endswith(denied_key)

    def deny(context: dict[str, Any], **_: Any) -> Any:
        if not context.get("denied"):
            return None
        error = {"Code": "AccessDenied", "Message": "Access Denied"}
        metadata = {"HTTPStatusCode": 403, "RequestId": "4442587FB7D0A2F9", "HostId": "host"}
        return _Status(403), {"Error": error, "ResponseMetadata": metadata}

    events = boto3._get_default_session().events  # the session Step Functions' SDK calls are made with
    events.register("before-parameter-build.s3.PutObject", remember)
    events.register("before-call.s3.PutObject", deny)
    try:
        with retry_waits(scale=0) as waits:
            execution = _sweep(machine, hub)
    finally:
        events.unregister("before-parameter-build.s3.PutObject", remember)
        events.unregister("before-call.s3.PutObject", deny)

    assert execution["status"] == "SUCCEEDED"
    assert len(waits) == 3  # RecordFailure: the first try and three retries (MaxAttempts)
    results = _results(execution)
    assert results[broken]["status"] == "missing"
    assert sum(1 for r in results.values() if r["status"] == "completed") == 5


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        ({"Error": "States.Timeout"}, "States.Timeout"),  # no Cause at all
        (
            {"Error": "Lambda.Unknown", "Cause": '{"errorMessage":"Task timed out after 300.00 seconds"}'},
            "Lambda.Unknown: Task timed out after 300.00 seconds",
        ),
        (
            {"Error": "Sandbox.Timedout", "Cause": '{"errorType":"Sandbox.Timedout"}'},
            'Sandbox.Timedout: {"errorType":"Sandbox.Timedout"}',
        ),
        (
            {"Error": "Lambda.ServiceException", "Cause": "Service failure (Service: Lambda)"},
            "Lambda.ServiceException: Service failure (Service: Lambda)",
        ),
    ],
)
def test_every_kind_of_caught_error_is_recorded_as_one_line(
    aws: None, failure: dict[str, str], error: str
) -> None:
    """The Catch's states of the definition, run on their own from ExplainFailure."""
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    arns = {part: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}" for part, name in NAMES.items()}
    children = definition(sweep_stack(), arns)["States"]["SweepTargets"]["ItemProcessor"]["States"]
    catch_path = {
        "StartAt": "ExplainFailure",
        "States": {k: v for k, v in children.items() if k != "SweepTarget"},
    }
    machine = create_state_machine("catch-path", catch_path)
    event = {
        "source": "ami-hygiene.organization",
        "detail-type": "Target Sweep",
        "job": JOB,
        "account": ACCOUNTS[0],
        "region": REGION,
        "run": "r1",
        "bucket": BUCKET,
        "prefix": run_prefix(JOB, "r1"),
    }
    execution = run(machine, {**event, "failure": failure})
    assert execution["status"] == "SUCCEEDED"
    record = _stored(f"{run_prefix(JOB, 'r1')}results/{ACCOUNTS[0]}-{REGION}.json")
    assert record == TargetResult.failed(ACCOUNTS[0], REGION, error).to_dict()


@dataclass
class _Status:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)


def test_without_its_targets_the_run_stops_before_the_fan_out(machine: str) -> None:
    hub = FakeHub(_every_target())

    def refused(event: Any, context: Any) -> None:
        raise ValueError("targets: bad settings: ORGANIZATIONAL_UNIT_IDS: not organization root or OU ids")

    hub.list_targets = refused  # type: ignore[assignment]
    execution = _sweep(machine, hub)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "ValueError"
    assert hub.swept == [] and hub.digested == []
    assert not any(e["type"] == "MapStateEntered" for e in history(execution))


# -- the hub's real functions over a sandbox organization -----------------------------------------------


def _hub_machine(template: dict[str, Any], job: str) -> tuple[str, dict[str, str]]:
    """The hub's state machine for `job` (the one invoking the job's function): its logical id, and
    the functions it invokes (logical id -> Handler)."""
    handlers = {
        k: str(v["Properties"]["Handler"])
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function"
    }
    for machine, resource in template["Resources"].items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        named = functions_of(template, machine)
        if f"ami_hygiene.handlers.{job}.handler" in {handlers.get(f) for f in named}:
            return machine, {f: handlers[f] for f in named}
    raise AssertionError(f"the hub has no state machine for {job}")


def test_the_hubs_functions_sweep_the_organization_in_report_mode(org: Org) -> None:
    """The hub stack's own definition (synthesized AmiHygieneOrganization) with its real functions, over
    conftest.py's organization: the workloads OU holds m1, m2 (in a child OU) and no_role (no member
    role); excluded is excluded, suspended is closed, outside is not under the OU."""
    env = org.env(MODE="report", KEEP_LATEST="1", RETENTION_DAYS="30")
    hub = synthesize_organization().template
    machine_id, functions = _hub_machine(hub, JOB)
    arns = {
        logical_id: lambda_function(logical_id, handler=handler, environment=env)
        for logical_id, handler in functions.items()
    }
    given = {
        "OrganizationalUnitIds": org.workloads,
        "OrganizationId": "o-a1b2c3d4e5",
        "MaxConcurrentTargets": "2",
    }
    machine = create_state_machine("organization-sweep", resolved_definition(hub, machine_id, arns, **given))
    m1 = member_session(org.m1)
    old = seed_images(m1, REGION, [("web-v1", 400), ("web-v2", 300), ("web-v3", 200), ("web-v4", 100)])

    for logical_id, handler in functions.items():
        module, _, name = handler.rpartition(".")
        lambda_runner.register(logical_id, getattr(importlib.import_module(module), name))
    execution = run(
        machine, {"source": "aws.events", "detail-type": "Scheduled Event"}, name="organization-run"
    )
    [job_function] = [k for k, v in functions.items() if v == f"ami_hygiene.handlers.{JOB}.handler"]
    swept = lambda_runner.invocations(job_function)
    assert sorted(functions.values()) == sorted(
        f"ami_hygiene.handlers.{h}.handler" for h in ("organization_targets", JOB, "organization_digest")
    )

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    members = {org.m1, org.m2, org.no_role}
    assert sorted((i.event["account"], i.event["region"]) for i in swept) == sorted(
        (a, r) for a in members for r in REGIONS
    )
    answer = json.loads(execution["output"])
    assert (answer["job"], answer["run"], answer["targets"], answer["failed"]) == (
        JOB,
        "organization-run",
        6,
        2,
    )
    assert answer["message_id"]

    digest = org.read(f"{run_prefix(JOB, 'organization-run')}digest.json")
    assert answer["digest"] == f"s3://{org.bucket}/{run_prefix(JOB, 'organization-run')}digest.json"
    by_target = {(t["account"], t["region"]): t for t in digest["targets"]}
    assert set(by_target) == {(a, r) for a in members for r in REGIONS}  # not excluded, suspended, outside
    unreachable = {k: t for k, t in by_target.items() if t["status"] == "unreachable"}
    assert set(unreachable) == {(org.no_role, r) for r in REGIONS}
    assert all(
        f"arn:aws:iam::{org.no_role}:role/AmiHygieneMember" in t["error"] for t in unreachable.values()
    )
    assert all(t["status"] == "completed" for k, t in by_target.items() if k[0] != org.no_role)
    # Report mode: m1's three oldest images would be retired, and all four are as they were.
    assert (digest["mode"], by_target[(org.m1, REGION)]["summary"]["images"]) == ("report", 4)
    assert by_target[(org.m1, REGION)]["summary"]["kept"] == 1
    assert images_of(m1, REGION) == dict.fromkeys(old, "available")
    [message] = org.messages()  # one digest for the organization, naming the unreachable account
    assert org.no_role in message["Message"]
