"""Fuzzing the organization hub's inputs: none crashes a function, and a broken one changes nothing.

The hub's functions take what its state machine sends (organization/events.py) and, its job
functions, the member accounts' own events from the hub bus. Each property runs against the
sandbox organization of conftest.py (members m1 and m2, an excluded account, one without the
member role, a closed one, one outside the OU), in enforce mode, with an estate in the accounts
an input names that gives every job work (old images of a family, an image public and shared
with a stranger, a public snapshot, a family with a pipeline), while every API call any client
makes is recorded (tests/aws/handlers/test_fuzz.py's recorder). The strategies are
tests/helpers/fuzz_events.py's (`sweep_cases`, `targets_cases`, `digest_cases`, `member_cases`).

Target Sweeps, to a job's function in hub mode (handlers/common.handle):
- it returns (transient AWS errors aside, which the sandbox never gives here);
- a broken one (excluded or malformed account, a region outside Regions, another job, run,
  bucket or prefix, another source or detail-type, a key too many or missing, no object, or
  any random change of a field) is answered "rejected" with a one-line reason, and nothing
  but its error message is sent: no member role assumed, no lease taken, nothing read, no
  image changed in any account, nothing written in the bucket (under the run's prefix or
  anywhere else);
- a realistic one is never refused: a member is swept ("completed") and its result stored
  under the run's prefix; an account without the role is "unreachable".

The targets and digest functions' inputs (organization/service.serve):
- a realistic one succeeds, and writes where the input says (targets.json, digest.json);
- anything else either succeeds the same way (a random change may leave it valid) or raises
  RunRefused with a one-line message naming the field that is wrong, having read and written
  nothing (its error message aside); a broken one is always refused.

A member account's own events (the jobs' realistic kinds, mutated and broken, from m1 or m2):
- they never crash the function; a broken one makes no mutating call;
- from the excluded account (every mention of the account naming it), or with a malformed or
  unknown envelope `account`, the event is refused with a one-line reason and changes nothing
  in any account; naming the excluded account or another member in one place only (envelope,
  CloudTrail recipient, build ARN) changes nothing either;
- a realistic event from a member is never refused, and acts there (one fixed event per kind).

Every message published (critical findings, refusals, digests) fits SNS's limits (test_fuzz.py's
`sns_problems`: the byte limit with attributes, subject, encoding). The excluded account's
estate (images, their state, sharing, deprecation and tags, snapshots) is read before and after
every example and must not change.

Examples: test_fuzz.py's hypothesis profile, "fuzz-ci" (25 per test: `make test`) or "fuzz"
(300, shrunk: AMI_HYGIENE_FUZZ=1). The organization is made once per test and its examples
share it: each Target Sweep has a run of its own, each member event the images seeded for it.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.publisher import REPORT_PREFIX
from ami_hygiene.handlers.common import handle
from ami_hygiene.handlers.organization_digest import run as digest
from ami_hygiene.handlers.organization_targets import run as list_targets
from ami_hygiene.organization.service import RunRefused, serve
from ami_hygiene.registry import BY_NAME
from sandbox.automation import complete_automation
from sandbox.image_builder import complete_build
from tests.aws.handlers import test_fuzz as handler_fuzz
from tests.aws.handlers.test_fuzz import ACTS, FUZZ, UNEXPECTED, Call, Recorder, mutating, sns_problems
from tests.aws.organization.conftest import Org, context, member_session
from tests.helpers.constants import ACCOUNT, OTHER_REGION, REGION, STRANGER
from tests.helpers.fuzz_events import (
    BUILD_ARN,
    EXECUTION_ID,
    IMAGES,
    MISSING,
    SNAPSHOT,
    SOURCE_IMAGE,
    TARGETS_FILE,
    Case,
    HubScope,
    bind,
    digest_cases,
    in_account,
    member_cases,
    realistic_event,
    realtime_kinds,
    run_prefix,
    short,
    sweep_cases,
    targets_cases,
)
from tests.helpers.organization import seed_images

recorder = handler_fuzz.recorder  # the fixture: every API call of any client while `recording`

JOBS = tuple(BY_NAME)
REALTIME_JOBS = tuple(job for job in JOBS if realtime_kinds(job))  # rotate has none
# What each job needs set beyond the hub's environment (conftest.py Org.env), as test_fuzz.py's PARAMETERS.
JOB_ENV: dict[str, dict[str, str]] = {
    "rotate": {"KEEP_LATEST": "1", "RETENTION_DAYS": "30"},
    "tags": {"REQUIRED_TAGS": "Owner,Environment"},
    "public": {},
    "rebuild": {
        "AUTOMATION_INSTANCE_PROFILE": "PatchBuilder",
        "AUTOMATION_SECURITY_GROUP_IDS": "sg-0123456789abcdef0",
        "AUTOMATION_SUBNET_ID": "subnet-0123456789abcdef0",
    },
}
REGIONS = (REGION, OTHER_REGION)  # the hub's Regions (conftest.py Org.env)
SERIALS = itertools.count()


# -- the organization and its estate ----------------------------------------------------------


def pipeline_of(account: str) -> str:
    return f"arn:aws:imagebuilder:{REGION}:{account}:image-pipeline/web"


def seed_estate(account: str, region: str) -> dict[str, str]:
    """Work for every job in `account` and `region`; the events' placeholders mapped to it.

    Each call makes new images (names are unique in an account: each has a serial of its own).
    """
    session = member_session(account)
    ec2: Any = session.client("ec2", region_name=region)
    serial = next(SERIALS)
    olds = [(f"old{serial}-2023.0{n}.01", 170 + 30 * n) for n in range(1, 5)]
    app, *old = seed_images(session, region, [(f"app{serial}-2024.01.01", 200), *olds])
    ec2.create_tags(
        Resources=[app],
        Tags=[{"Key": "ami-hygiene:family", "Value": "app"}, {"Key": "Owner", "Value": "payments"}],
    )
    ec2.create_tags(Resources=old, Tags=[{"Key": "ami-hygiene:family", "Value": "old"}])
    (image,) = ec2.describe_images(ImageIds=[app])["Images"]
    snapshot = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    ec2.disable_image_block_public_access()  # the public guard turned it on after an earlier example
    ec2.modify_image_attribute(
        ImageId=app, LaunchPermission={"Add": [{"Group": "all"}, {"UserId": STRANGER}]}
    )
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot, Attribute="createVolumePermission", OperationType="add", GroupNames=["all"]
    )
    return {IMAGES[0]: app, IMAGES[1]: old[0], IMAGES[2]: old[1], SOURCE_IMAGE: old[2], SNAPSHOT: snapshot}


def seed_pipeline(account: str) -> None:
    """The family "web", rebuilt by its Image Builder pipeline (named by its images' tag), due; once."""
    session = member_session(account)
    builder: Any = session.client("imagebuilder", region_name=REGION)
    try:
        builder.get_image_pipeline(imagePipelineArn=pipeline_of(account))
        return
    except builder.exceptions.ResourceNotFoundException:
        pass
    builder.create_image_pipeline(
        name="web",
        imageRecipeArn=f"arn:aws:imagebuilder:{REGION}:{account}:image-recipe/web/1.0.0",
        infrastructureConfigurationArn=f"arn:aws:imagebuilder:{REGION}:{account}:infrastructure-configuration/b",
        tags={"ami-hygiene:family": "web"},
        clientToken="create-web",
    )
    (web,) = seed_images(session, REGION, [("web-2024-05-01", 45)])
    tags = {"ami-hygiene:family": "web", "ami-hygiene:pipeline": pipeline_of(account), "Owner": "platform"}
    session.client("ec2", region_name=REGION).create_tags(
        Resources=[web], Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
    )


def seed_case(case: Case) -> dict[str, str]:
    """A member event's resources, seeded in its account: its placeholders mapped to them."""
    account = case.account
    mapping = seed_estate(account, REGION)
    if case.job == "rebuild":
        seed_pipeline(account)
    status = case.base["detail"].get("state", {}).get("status") or case.base["detail"].get("Status")
    session = member_session(account)
    if case.kind == "ImageBuilder":
        build = session.client("imagebuilder", region_name=REGION).start_image_pipeline_execution(
            imagePipelineArn=pipeline_of(account), clientToken=f"fuzz-{datetime.now(UTC).timestamp()}"
        )["imageBuildVersionArn"]
        if status in ("AVAILABLE", "FAILED"):
            complete_build(
                build,
                succeed=status == "AVAILABLE",
                reason="Component update-linux failed",
                account_id=account,
            )
        mapping = {BUILD_ARN.replace(ACCOUNT, account): build, **mapping}  # before the ids it holds
    if case.kind == "Automation":
        windows = case.base["detail"]["Definition"] == "AWS-UpdateWindowsAmi"
        execution = session.client("ssm", region_name=REGION).start_automation_execution(
            DocumentName=case.base["detail"]["Definition"],
            Parameters={
                "SourceAmiId": [mapping[IMAGES[0]]],
                **({} if windows else {"SecurityGroupIds": ["sg-0123456789abcdef0"]}),
            },
        )["AutomationExecutionId"]
        if status in ("Success", "Failed"):
            complete_automation(
                execution,
                succeed=status == "Success",
                reason="Step updateOSSoftware failed",
                account_id=account,
            )
        mapping[EXECUTION_ID] = execution
    return mapping


@pytest.fixture
def hub(org: Org, recorder: Recorder) -> HubScope:
    """The organization as the hub's inputs name it.

    After the recorder (not recording yet): its shared botocore loader makes each session cheap.
    """
    return HubScope(
        members=(org.m1, org.m2),
        # No member role (the hub's own account has none either), closed, outside the OUs: all answered.
        others=(org.no_role, org.suspended, org.outside, ACCOUNT),
        excluded=org.excluded,
        bucket=org.bucket,
        regions=REGIONS,
        jobs=JOBS,
    )


@pytest.fixture
def estate(org: Org, hub: HubScope) -> None:
    """Work for every job in m1, m2 and the excluded account alike, in every region of Regions."""
    for account in (*hub.members, hub.excluded):
        for region in REGIONS:
            seed_estate(account, region)
        seed_pipeline(account)


def estate_of(account: str) -> dict[str, Any]:
    """What could change in `account`: its images (state, sharing, deprecation, tags) and snapshots."""
    session = member_session(account)
    found: dict[str, Any] = {}
    for region in REGIONS:
        ec2: Any = session.client("ec2", region_name=region)
        images = ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"]
        found[region] = sorted(
            json.dumps(
                [
                    i["ImageId"],
                    i["State"],
                    i.get("Public"),
                    i.get("DeprecationTime"),
                    sorted((t["Key"], t["Value"]) for t in i.get("Tags", [])),
                ]
            )
            for i in images
        )
        snapshots = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
        found[f"{region} snapshots"] = sorted(s["SnapshotId"] for s in snapshots)
    return found


# -- one invocation ----------------------------------------------------------------------------


@dataclass
class Outcome:
    result: Any  # the answer, or the exception raised
    calls: list[Call]
    environment: dict[str, str]

    @property
    def mutating(self) -> list[Call]:
        return mutating(self.calls, self.environment)

    @property
    def other_calls(self) -> list[Call]:
        """Every call but a Publish to the report topic: what reads or writes anything else."""
        return [
            c
            for c in self.calls
            if not (c.operation == "Publish" and c.params.get("TopicArn") == self.environment["TOPIC_ARN"])
        ]


def recorded(recorder: Recorder, env: Mapping[str, str], call: Callable[[], Any]) -> Outcome:
    recorder.calls.clear()
    recorder.recording = True
    try:
        result = call()
    except RunRefused as err:
        result = err
    finally:
        recorder.recording = False
    return Outcome(result, list(recorder.calls), dict(env))


def check_messages(outcome: Outcome) -> None:
    """Every message published fits SNS's limits (subject, size with attributes, encoding)."""
    for call in outcome.calls:
        if call.operation == "Publish":
            p = call.params
            problems = sns_problems(p.get("Subject"), p.get("Message"), p.get("MessageAttributes"))
            assert not problems, f"Publish breaks SNS limits: {problems}"


def one_line(text: Any) -> bool:
    return isinstance(text, str) and 0 < len(text) <= 2000 and len(text.splitlines()) == 1


def check_refused(result: Any, outcome: Outcome) -> None:
    """Answered "rejected" with a one-line reason; nothing read, written or changed but the error message."""
    assert isinstance(result, dict) and result.get("status") == "rejected", f"not refused: {short(result)}"
    assert one_line(result.get("detail")), f"the reason is not one line: {short(result.get('detail'))}"
    assert not outcome.mutating, f"made mutating calls: {outcome.mutating}"


def labels(case: Case, outcome: Outcome) -> None:
    event(f"{'realistic' if not case.mutations else 'broken' if case.broken else 'mutated'}")
    result = outcome.result
    answered = result.get("status", "answered") if isinstance(result, dict) else type(result).__name__
    event(f"status: {answered}")
    note(f"result: {short(result if isinstance(result, dict) else str(result))}")
    note(f"calls: {outcome.calls}")


# -- Target Sweeps -----------------------------------------------------------------------------


def sweep(job: str, case: Case, org: Org, recorder: Recorder) -> Outcome:
    env = org.env(**JOB_ENV[job])
    return recorded(recorder, env, lambda: handle(BY_NAME[job], case.event, context(), env, Clients()))


def check_sweep(case: Case, outcome: Outcome, org: Org, hub: HubScope, keys_before: list[str]) -> None:
    result = outcome.result
    assert isinstance(result, dict) and isinstance(result.get("status"), str), short(result)
    assert result.get("error") != UNEXPECTED, f"the event reached the last line of defence: {short(result)}"
    check_messages(outcome)
    prefix = case.base["prefix"]
    if case.broken:
        check_refused(result, outcome)
        # Nothing read or written: no role assumed, no lease taken, no object but a too-long message.
        stored = [
            c
            for c in outcome.other_calls
            if not (c.operation == "PutObject" and str(c.params.get("Key")).startswith(f"{REPORT_PREFIX}/"))
        ]
        assert not stored, f"a broken Target Sweep read or wrote: {stored}"
        assert org.keys() == keys_before, f"a broken Target Sweep wrote in the bucket (run prefix {prefix})"
    if not case.mutations:
        account, region = case.base["account"], case.base["region"]
        expected = ("completed",) if account in hub.members else ("completed", "unreachable")
        assert result["status"] in expected, f"a realistic Target Sweep was answered {short(result)}"
        key = f"{prefix}results/{account}-{region}.json"
        assert org.read(key) == result, f"the result is not at {key}"


@pytest.mark.parametrize("job", JOBS)
@pytest.mark.usefixtures("estate")
@FUZZ
@given(data=st.data())
def test_no_target_sweep_crashes_a_job_function_or_makes_a_broken_one_write(
    job: str, data: st.DataObject, org: Org, hub: HubScope, recorder: Recorder
) -> None:
    case = data.draw(sweep_cases(job, hub), label="case")
    before, keys = estate_of(org.excluded), org.keys()
    outcome = sweep(job, case, org, recorder)
    labels(case, outcome)
    check_sweep(case, outcome, org, hub, keys)
    assert estate_of(org.excluded) == before, "the excluded account changed"


@pytest.mark.parametrize("job", JOBS)
@pytest.mark.usefixtures("estate")
def test_a_realistic_target_sweep_acts_in_the_member_account(
    job: str, org: Org, hub: HubScope, recorder: Recorder
) -> None:
    """The harness is not blind: a valid sweep of a member changes something there, and stores its files."""
    run = "6f1c2a9e-0b7d-4c53-9a1e-2f4b8c7d9e10"
    base = {
        "source": "ami-hygiene.organization",
        "detail-type": "Target Sweep",
        "job": job,
        "account": org.m1,
        "region": REGION,
        "run": run,
        "bucket": org.bucket,
        "prefix": run_prefix(job, run),
    }
    case = Case(job, "Target Sweep", base, base)
    outcome = sweep(job, case, org, recorder)
    check_sweep(case, outcome, org, hub, [])
    assert outcome.mutating, f"the valid Target Sweep changed nothing: {short(outcome.result)}"
    assert any(c.operation == "AssumeRole" for c in outcome.calls)
    assert org.keys(base["prefix"]) == [
        f"{base['prefix']}reports/{org.m1}-{REGION}.json",
        f"{base['prefix']}results/{org.m1}-{REGION}.json",
    ]


# -- the targets and digest functions ----------------------------------------------------------


def changed_fields(case: Case) -> set[str]:
    base, sent = case.base, case.event
    return {k for k in {*base, *sent} if base.get(k, MISSING) != sent.get(k, MISSING)}


def names_a_field(message: str, case: Case) -> bool:
    """Whether a refusal names what is wrong: a field that changed, or one checked against it."""
    if not isinstance(case.event, dict):
        return "not a JSON object" in message
    changed = changed_fields(case)
    if changed & {"job", "run", "prefix"}:  # the prefix must be the run's, the key the prefix's
        changed |= {"prefix", "key"}
    # As a refusal shows a key: characters that are not printable escaped (repr), cut.
    shown = {"".join(c if c.isprintable() else repr(c)[1:-1] for c in name)[:40] for name in changed}
    return any(re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", message) for name in shown)


def check_service(case: Case, outcome: Outcome, org: Org, written: str) -> dict[str, Any] | None:
    """The targets or digest function either answered (the input was valid) or refused cleanly."""
    check_messages(outcome)
    result = outcome.result
    if isinstance(result, RunRefused):
        message = str(result)
        assert one_line(message), f"the refusal is not one line: {short(message)}"
        assert names_a_field(message, case), f"the refusal names no field that is wrong: {message}"
        assert not outcome.other_calls, f"a refused input was read or written: {outcome.other_calls}"
        assert case.mutations, f"a realistic {case.kind} was refused: {message}"
        return None
    assert isinstance(result, dict), short(result)
    assert not case.broken, f"a broken {case.kind} was acted on: {short(result)}"
    sent = case.event
    prefix = run_prefix(sent["job"], sent["run"])
    assert (result["job"], result["run"]) == (sent["job"], sent["run"])
    assert ".." not in sent["run"].split(".") and "/" not in sent["run"], f"an unsafe run: {sent['run']!r}"
    puts = [c.params["Key"] for c in outcome.calls if c.operation == "PutObject"]
    assert puts == [prefix + written], f"wrote {puts}, not {prefix + written}"
    return result


@FUZZ
@given(data=st.data())
def test_the_targets_function_answers_a_valid_input_and_refuses_the_rest_cleanly(
    data: st.DataObject, org: Org, hub: HubScope, recorder: Recorder
) -> None:
    case = data.draw(st.sampled_from(JOBS).flatmap(targets_cases), label="case")
    env = org.env()
    outcome = recorded(
        recorder, env, lambda: serve("targets", list_targets, case.event, context(), env, Clients())
    )
    labels(case, outcome)
    answer = check_service(case, outcome, org, TARGETS_FILE)
    if answer is not None:
        assert answer["bucket"] == org.bucket and answer["accounts"] == sorted([org.m1, org.m2, org.no_role])


@FUZZ
@given(data=st.data())
def test_the_digest_function_answers_a_valid_input_and_refuses_the_rest_cleanly(
    data: st.DataObject, org: Org, hub: HubScope, recorder: Recorder
) -> None:
    job = data.draw(st.sampled_from(JOBS), label="job")
    run = str(data.draw(st.uuids(), label="run"))
    env = org.env()
    answer = serve("targets", list_targets, {"job": job, "run": run}, context(), env, Clients())
    case = data.draw(digest_cases(answer, hub), label="case")
    outcome = recorded(recorder, env, lambda: serve("digest", digest, case.event, context(), env, Clients()))
    labels(case, outcome)
    result = check_service(case, outcome, org, "digest.json")
    if result is not None:
        assert result["digest"] == f"s3://{org.bucket}/{run_prefix(job, run)}digest.json"
        assert result["targets"] == answer["count"]


@pytest.mark.parametrize("function", ["job", "targets", "digest"])
def test_a_key_with_a_line_break_is_refused_in_one_line(function: str, org: Org, recorder: Recorder) -> None:
    """What this fuzz found: a key the input must not have was shown as sent, line break and all."""
    odd, run, env = "account\nid", "6f1c2a9e-0b7d-4c53-9a1e-2f4b8c7d9e10", org.env()
    answer = serve("targets", list_targets, {"job": "public", "run": run}, context(), env, Clients())
    if function == "job":
        sent = {
            "source": "ami-hygiene.organization",
            "detail-type": "Target Sweep",
            "job": "public",
            "account": org.m1,
            "region": REGION,
            "run": run,
            "bucket": org.bucket,
            "prefix": run_prefix("public", run),
            odd: "1",
        }
        outcome = recorded(recorder, env, lambda: handle(BY_NAME["public"], sent, context(), env, Clients()))
        check_refused(outcome.result, outcome)
        reason = outcome.result["detail"]
    else:
        sent = {"job": "public", "run": run, odd: "1"} if function == "targets" else {**answer, odd: "1"}
        run_it = list_targets if function == "targets" else digest
        outcome = recorded(recorder, env, lambda: serve(function, run_it, sent, context(), env, Clients()))
        assert isinstance(outcome.result, RunRefused), outcome.result
        reason = str(outcome.result)
    assert one_line(reason) and "account\\nid: Extra inputs are not permitted" in reason, reason
    assert not outcome.other_calls, outcome.other_calls


# -- a member account's own events --------------------------------------------------------------


def member_event(job: str, case: Case, org: Org, recorder: Recorder) -> tuple[Any, Outcome]:
    """The case's event, bound to resources seeded for it in its account, to the job's hub function.

    The excluded account's estate, read once the seeding is done, must be the same afterwards.
    """
    sent = bind(case.event, seed_case(case))
    before = estate_of(org.excluded)
    env = org.env(**JOB_ENV[job])
    outcome = recorded(recorder, env, lambda: handle(BY_NAME[job], sent, context(), env, Clients()))
    assert estate_of(org.excluded) == before, f"the excluded account changed: {short(outcome.result)}"
    return sent, outcome


def check_member_event(case: Case, sent: Any, outcome: Outcome, hub: HubScope) -> None:
    result = outcome.result
    assert isinstance(result, dict) and isinstance(result.get("status"), str), short(result)
    assert result.get("error") != UNEXPECTED, f"the event reached the last line of defence: {short(result)}"
    check_messages(outcome)
    if case.broken:
        assert not outcome.mutating, (
            f"a broken event ({case.mutations}) made mutating calls: {outcome.mutating}"
        )
    if not isinstance(sent, dict) or sent.get("account") not in hub.members:
        check_refused(result, outcome)
    if not case.mutations:  # "failed" too: a build that failed is reported so
        assert result["status"] != "rejected", f"a realistic member event was refused: {result}"


@pytest.mark.parametrize("job", REALTIME_JOBS)
@FUZZ
@given(data=st.data())
def test_no_member_event_crashes_a_job_function_or_acts_for_an_excluded_or_malformed_account(
    job: str, data: st.DataObject, org: Org, hub: HubScope, recorder: Recorder
) -> None:
    case = data.draw(member_cases(job, hub), label="case")
    sent, outcome = member_event(job, case, org, recorder)
    labels(case, outcome)
    check_member_event(case, sent, outcome, hub)


EVERY_KIND = [(job, kind) for job in REALTIME_JOBS for kind in realtime_kinds(job)]


@pytest.mark.parametrize(("job", "kind"), EVERY_KIND)
@settings(FUZZ, max_examples=1, derandomize=True)  # one fixed realistic event
@given(data=st.data())
def test_a_members_event_is_acted_on_and_the_same_from_the_excluded_account_refused(
    job: str, kind: str, data: st.DataObject, org: Org, hub: HubScope, recorder: Recorder
) -> None:
    """The harness is not blind: a member's event acts there; its excluded twin changes nothing."""
    raw = data.draw(realistic_event(kind, job), label="event")
    case = in_account(Case(job, kind, raw, raw), org.m1)
    sent, outcome = member_event(job, case, org, recorder)
    check_member_event(case, sent, outcome, hub)
    assert outcome.result["status"] in ("completed", "ignored"), outcome.result
    if (job, kind) in ACTS and outcome.result["status"] == "completed":
        assert outcome.mutating, f"the member's valid {kind} event changed nothing: {outcome.result}"

    twin = in_account(Case(job, kind, raw, raw), org.excluded)
    twin = Case(job, kind, twin.base, twin.event, ("from the excluded account",), True, org.excluded)
    sent, outcome = member_event(job, twin, org, recorder)
    check_member_event(twin, sent, outcome, hub)
    assert (
        outcome.result["detail"]
        == f"account {org.excluded} is in EXCLUDED_ACCOUNTS: the hub never acts in it"
    )
