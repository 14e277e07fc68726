"""The patch-rebuild job against the embedded AWS: sweeps that start builds, and completion events."""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Any

import boto3

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.executor import Executor, RunContext
from ami_hygiene.core.plan import Action, Outcome
from ami_hygiene.core.report import Report
from ami_hygiene.handlers.rebuild import rebuild
from ami_hygiene.jobs.rebuild.actions import WRITERS
from ami_hygiene.jobs.rebuild.events import parse_build_event
from ami_hygiene.jobs.rebuild.inventory import named_pipelines, newest_by_family, read_images, resolve_bases
from ami_hygiene.jobs.rebuild.model import TAG_BASE_IMAGE, TAG_BASE_PARAMETER, BuildResult, RebuildDecision
from ami_hygiene.jobs.rebuild.policy import plan_rebuild
from ami_hygiene.jobs.rebuild.run import plan_region, rebuild_settings, run_rebuild
from ami_hygiene.jobs.settings import Settings
from sandbox.automation import complete_automation
from sandbox.demo import Seeder
from sandbox.image_builder import complete_build
from tests.helpers.constants import ACCOUNT, NOW, REGION
from tests.helpers.events import scheduled_event
from tests.helpers.faults import deny, deny_names
from tests.helpers.lambda_context import LambdaContext
from tests.helpers.reasons import Reason, has_reason
from tests.helpers.sandbox import report_topic, tags_of

ROLE = f"arn:aws:iam::{ACCOUNT}:role/AmiRebuild"
PIPELINE = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image-pipeline/web"
RECIPE = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image-recipe/web/1.0.0"
INFRA = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:infrastructure-configuration/builders"
ENV = {
    "REGIONS": REGION,
    "MAX_IMAGE_AGE_DAYS": "30",
    "REQUIRED_TAGS": "Owner",
    "AUTOMATION_ROLE_ARN": ROLE,
    "AUTOMATION_INSTANCE_PROFILE": "PatchBuilder",
    "AUTOMATION_SECURITY_GROUP_IDS": "sg-0123456789abcdef0,sg-0fedcba9876543210",
    "AUTOMATION_SUBNET_ID": "subnet-0123456789abcdef0",
}


def _pipeline(status: str = "ENABLED") -> str:
    arn: str = boto3.client("imagebuilder", region_name=REGION).create_image_pipeline(
        name="web",
        imageRecipeArn=RECIPE,
        infrastructureConfigurationArn=INFRA,
        status=status,
        tags={"ami-hygiene:family": "web", "ami-hygiene:pipeline": PIPELINE},
        clientToken="create-web",
    )["imagePipelineArn"]
    return arn


def _builds() -> list[dict[str, Any]]:
    client = boto3.client("imagebuilder", region_name=REGION)
    return list(client.list_image_pipeline_images(imagePipelineArn=PIPELINE)["imageSummaryList"])


def _executions() -> list[dict[str, Any]]:
    ssm = boto3.client("ssm", region_name=REGION)
    return list(ssm.describe_automation_executions()["AutomationExecutionMetadataList"])


def _settings(mode: str, **overrides: Any) -> Settings:
    return Settings.load(ENV, overrides={"mode": mode, **overrides})


def _run(mode: str, event: dict[str, Any] | None = None, **overrides: Any) -> Report:
    parsed = parse_build_event(event, ACCOUNT) if event else None
    return run_rebuild(_settings(mode, **overrides), Clients(), now=NOW, event=parsed)


def _web(seeder: Seeder, age_days: float = 45) -> str:
    return seeder.image(
        "web-2026-10-01", age_days, tags={"ami-hygiene:pipeline": PIPELINE, "Owner": "platform"}
    )


def _app(seeder: Seeder, age_days: float = 45) -> str:
    return seeder.image(
        "app-v7",
        age_days,
        tags={"ami-hygiene:family": "app", "Owner": "payments", "Team": "not-required"},
    )


def _rebuilds(report: Report) -> list[RebuildDecision]:
    return [d for d in report.decisions if isinstance(d, RebuildDecision)]


# -- sweeps --------------------------------------------------------------------------------


def test_a_stale_family_gets_exactly_one_build_and_a_second_run_starts_none(seeder: Seeder) -> None:
    _pipeline()
    image_id = _web(seeder)
    seeder.image("fresh-2026-11-20", 7)

    first = _run("enforce")
    (started,) = _rebuilds(first)
    assert (started.action, started.outcome, started.image_id) == (Action.REBUILD, Outcome.DONE, image_id)
    assert started.pipeline_arn == PIPELINE
    (build,) = _builds()
    assert started.build_id == build["arn"]
    assert Reason("started Image Builder build", build["arn"]) in started.reasons
    s = first.summary()
    assert (s["stale_families"], s["builds_started"]) == (1, 1)
    assert first.subject() == "[ami-hygiene] eu-west-1 rebuild: 1 stale, 1 build started"

    second = _run("enforce")
    assert _rebuilds(second) == []
    assert len(_builds()) == 1
    (web,) = [d for d in second.decisions if d.family == "web"]
    assert web.action is Action.KEEP
    assert web.reasons[0] == Reason("kept", f"build {build['arn']}", "running")
    assert web.findings == ("stale: its newest image is older than the age limit",)
    assert second.summary()["stale_families"] == 1 and second.summary()["builds_started"] == 0
    assert not second.has_findings  # nothing new to tell: the build is running


def test_report_mode_starts_nothing(seeder: Seeder) -> None:
    _pipeline()
    _web(seeder)
    _app(seeder)
    report = _run("report")
    assert {d.outcome for d in _rebuilds(report)} == {Outcome.PLANNED}
    assert len(_rebuilds(report)) == 2
    assert _builds() == [] and _executions() == []
    assert report.summary()["builds_started"] == 2
    text = report.render_text()
    assert "RebuildMode=enforce" in text
    assert "builds started       2 (would be)" in text


def test_a_family_without_a_pipeline_runs_the_ssm_runbook_with_its_parameters(seeder: Seeder) -> None:
    image_id = _app(seeder)
    report = _run("enforce")
    (started,) = _rebuilds(report)
    assert started.outcome is Outcome.DONE and started.runbook == "AWS-UpdateLinuxAmi"
    (execution,) = _executions()
    assert started.build_id == execution["AutomationExecutionId"]
    ssm = boto3.client("ssm", region_name=REGION)
    got = ssm.get_automation_execution(AutomationExecutionId=started.build_id)["AutomationExecution"]
    params = got["Parameters"]
    assert params["SourceAmiId"] == [image_id]
    assert params["IamInstanceProfileName"] == ["PatchBuilder"]
    assert params["AutomationAssumeRole"] == [ROLE]
    assert params["SecurityGroupIds"] == ["sg-0123456789abcdef0,sg-0fedcba9876543210"]
    assert params["SubnetId"] == ["subnet-0123456789abcdef0"]
    assert params["TargetAmiName"] == ["app-{{global:DATE_TIME}}"]

    again = _run("enforce")
    assert _rebuilds(again) == [] and len(_executions()) == 1
    (app,) = again.decisions
    assert app.reasons[0] == Reason("kept", f"build {started.build_id}", "running")


def test_the_same_decision_retried_returns_the_build_already_started(seeder: Seeder) -> None:
    _pipeline()
    _web(seeder)
    _app(seeder)
    first = {d.family: d.build_id for d in _rebuilds(_run("enforce"))}
    # A retry that cannot see the running builds (e.g. read before they were listed)
    # sends the same client tokens and gets the same builds back.

    settings = _settings("enforce")
    clients = Clients()
    estate = read_images(clients, REGION, ACCOUNT)

    # Plan as the first run did, without the running builds.
    policy = rebuild_settings(settings)
    bases, _ = resolve_bases(clients, REGION, newest_by_family(estate).values())
    plan = plan_rebuild(
        estate, policy, NOW, bases, {}, dict.fromkeys(named_pipelines(estate, policy), "ENABLED")
    )
    applied = Executor(RunContext(clients, "rebuild", NOW, settings=settings), settings.mode, WRITERS).apply(
        plan
    )
    again = {d.family: d.build_id for d in applied.decisions if isinstance(d, RebuildDecision)}
    assert again == first
    assert len(_builds()) == 1 and len(_executions()) == 1
    assert plan_region(clients, REGION, estate, policy, NOW).actions == ()


def test_a_moved_base_rebuilds_a_young_image(seeder: Seeder) -> None:
    old_base = seeder.image("al2023-base-1", 60)
    new_base = seeder.image("al2023-base-2", 1)
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/golden/al2023", Value=new_base, Type="String", DataType="aws:ec2:image"
    )
    seeder.image(
        "api-v3",
        2,
        tags={"ami-hygiene:family": "api", TAG_BASE_PARAMETER: "/golden/al2023", TAG_BASE_IMAGE: old_base},
    )
    report = _run("report")
    (api,) = [d for d in _rebuilds(report) if d.family == "api"]
    assert has_reason(api, "base moved", f"from {old_base} to {new_base}")
    assert api.family_tags[TAG_BASE_IMAGE] == new_base
    assert api.findings == (f"stale: its base moved on to {new_base}",)


def test_the_budget_defers_what_is_over_it(seeder: Seeder) -> None:
    _pipeline()
    _web(seeder)
    _app(seeder)
    report = _run("enforce", max_actions=1)
    outcomes = sorted(d.outcome.value for d in _rebuilds(report))
    assert outcomes == ["deferred", "done"]
    assert len(_builds()) + len(_executions()) == 1


def test_a_disabled_pipeline_starts_nothing_and_says_so(seeder: Seeder) -> None:
    _pipeline(status="DISABLED")
    _web(seeder)
    report = _run("enforce")
    assert _rebuilds(report) == [] and _builds() == []
    (web,) = report.decisions
    assert web.reasons[0] == Reason("kept", f"pipeline {PIPELINE}", "ami-hygiene:pipeline", "DISABLED")


def test_a_sweep_reads_pages_not_images(seeder: Seeder) -> None:
    _pipeline()
    for n in range(12):
        seeder.image(f"svc{n}-v1", 45, tags={"ami-hygiene:family": f"svc{n}"})
    _web(seeder)
    clients = Clients()
    run_rebuild(_settings("report"), clients, now=NOW)
    calls = clients.counter.calls
    assert calls["ec2.DescribeImages"] == 1
    assert calls["imagebuilder.ListImagePipelines"] == 1
    assert calls["imagebuilder.ListImagePipelineImages"] == 1
    assert calls["ssm.DescribeAutomationExecutions"] == 1
    assert calls["ssm.GetAutomationExecution"] == 0  # nothing running


# -- completion events ---------------------------------------------------------------------


def test_an_image_builder_completion_reports_the_new_image(seeder: Seeder) -> None:
    _pipeline()
    _web(seeder)
    (started,) = _rebuilds(_run("enforce"))
    event = complete_build(str(started.build_id))
    report = _run("enforce", event)
    (result,) = report.decisions
    assert isinstance(result, BuildResult)
    assert result.succeeded and result.outcome is Outcome.DONE and result.action is Action.REBUILD
    new_id = result.new_image_id
    assert new_id and result.image_id == new_id
    text = report.render_text()
    assert "succeeded" in text and f"new image {new_id} (web " in text
    assert "console: https://eu-west-1.console.aws.amazon.com/imagebuilder/" in text
    assert report.summary()["builds_finished"] == 1 and report.has_findings
    assert report.severity == "info"
    assert report.subject() == f"[ami-hygiene] eu-west-1 rebuild: web rebuilt: {new_id}"
    # The distribution tagged the AMI with the family's tags: the next sweep sees it fresh.
    assert tags_of(new_id)["ami-hygiene:family"] == "web"
    (web,) = _run("enforce").decisions
    assert web.image_id == new_id and web.reasons[0] == Reason("kept", "fresh")


def test_a_failed_build_reports_the_reason(seeder: Seeder) -> None:
    _pipeline()
    image_id = _web(seeder)
    (started,) = _rebuilds(_run("enforce"))
    event = complete_build(str(started.build_id), succeed=False, reason="Component update-linux failed")
    report = _run("enforce", event)
    (result,) = report.decisions
    assert result.outcome is Outcome.FAILED and result.error == "Component update-linux failed"
    assert report.severity == "error" and report.summary()["builds_failed"] == 1
    text = report.render_text()
    assert "ended FAILED" in text and "Component update-linux failed" in text
    assert "/aws/imagebuilder/web" in text
    # The next sweep tries again: the failed build is not running.
    (again,) = _rebuilds(_run("enforce"))
    assert again.image_id == image_id and again.outcome is Outcome.DONE
    assert len(_builds()) == 1  # same day, same token: Image Builder returns the same build


def test_an_ssm_completion_tags_the_new_image_and_names_it(seeder: Seeder) -> None:
    source = _app(seeder)
    (started,) = _rebuilds(_run("enforce"))
    event = complete_automation(str(started.build_id))
    report = _run("enforce", event)
    (result,) = report.decisions
    assert isinstance(result, BuildResult) and result.succeeded
    new_id = result.new_image_id
    assert new_id and new_id != source and result.source_image_id == source
    assert result.family == "app"
    tags = tags_of(new_id)
    assert tags["ami-hygiene:family"] == "app" and tags["Owner"] == "payments"
    assert "Team" not in tags  # only the required keys are copied
    text = report.render_text()
    assert f"new image {new_id}" in text and f"rebuilt from {source}" in text
    assert f"tagged {new_id}: Owner=payments, ami-hygiene:family=app" in text
    # The next sweep sees the family fresh (its newest image is the rebuilt one).
    (app,) = _run("enforce").decisions
    assert app.image_id == new_id and app.reasons[0] == Reason("kept", "fresh")


def test_an_ssm_completion_in_report_mode_tags_nothing(seeder: Seeder) -> None:
    _app(seeder)
    (started,) = _rebuilds(_run("enforce"))
    event = complete_automation(str(started.build_id))
    report = _run("report", event)
    (result,) = report.decisions
    assert isinstance(result, BuildResult)
    new_id = str(result.new_image_id)
    assert "ami-hygiene:family" not in tags_of(new_id)
    assert Reason(f"would tag {new_id}", "Owner=payments", "ami-hygiene:family=app") in result.reasons


def test_an_ssm_completion_whose_tags_cannot_be_put_on_fails_and_says_which(seeder: Seeder) -> None:
    _app(seeder)
    (started,) = _rebuilds(_run("enforce"))
    event = complete_automation(str(started.build_id))
    clients = Clients()
    deny(clients.session, "ec2", "CreateTags")
    report = run_rebuild(_settings("enforce"), clients, now=NOW, event=parse_build_event(event, ACCOUNT))
    (result,) = report.decisions
    assert isinstance(result, BuildResult) and result.succeeded
    new_id = str(result.new_image_id)
    assert "ami-hygiene:family" not in tags_of(new_id)
    assert (result.action, result.outcome) == (Action.REBUILD, Outcome.FAILED)
    assert result.error == (
        f"build succeeded but tagging {new_id} failed: "
        "UnauthorizedOperation: You are not authorized to perform CreateTags"
    )
    assert result.reasons[-1] == Reason("not tagged", "Owner=payments", "ami-hygiene:family=app")
    assert not result.tags_added and report.severity == "error"


def test_a_failed_automation_reports_its_failure_message(seeder: Seeder) -> None:
    _app(seeder)
    (started,) = _rebuilds(_run("enforce"))
    event = complete_automation(str(started.build_id), succeed=False, reason="Step updateOSSoftware failed")
    report = _run("enforce", event)
    (result,) = report.decisions
    assert result.outcome is Outcome.FAILED and result.error == "Step updateOSSoftware failed"
    assert report.severity == "error"
    assert "Step updateOSSoftware failed" in report.render_text()


def test_a_build_still_running_is_logged_not_told(seeder: Seeder) -> None:
    _pipeline()
    _web(seeder)
    (started,) = _rebuilds(_run("enforce"))
    event = {
        "version": "0",
        "id": "8a5c1f2e-8c3a-4a6e-9d3b-2f0c1e7d9a10",
        "detail-type": "EC2 Image Builder Image State Change",
        "source": "aws.imagebuilder",
        "account": ACCOUNT,
        "time": "2026-11-27T06:05:00Z",
        "region": REGION,
        "resources": [started.build_id],
        "detail": {"previous-state": {"status": "PENDING"}, "state": {"status": "BUILDING"}},
    }
    report = _run("enforce", event)
    (result,) = report.decisions
    assert result.action is Action.KEEP and not report.has_findings


# -- handler -------------------------------------------------------------------------------


SCHEDULED = scheduled_event("ami-hygiene-rebuild")
_context = partial(LambdaContext, "ami-hygiene-rebuild", timeout_ms=900_000)


def _env(mode: str = "enforce") -> dict[str, str]:
    return {**ENV, "MODE": mode, "TOPIC_ARN": report_topic(), "AWS_REGION": REGION}


def test_the_handler_sweeps_on_schedule_and_reports_the_completion(seeder: Seeder) -> None:
    _pipeline()
    _web(seeder)
    env = _env()
    swept = rebuild(SCHEDULED, _context(), env, Clients())
    assert swept["status"] == "completed" and swept["summary"]["builds_started"] == 1
    assert len(swept["messages"]) == 1
    (build,) = _builds()
    done = rebuild(complete_build(build["arn"]), _context(), env, Clients())
    assert done["status"] == "completed" and done["summary"]["builds_finished"] == 1
    assert len(done["messages"]) == 1


def test_the_handler_refuses_a_malformed_event_and_changes_nothing(seeder: Seeder) -> None:
    _pipeline()
    _web(seeder)
    (build,) = _rebuilds(_run("enforce"))
    event = complete_build(str(build.build_id))
    del event["detail"]["state"]
    answer = rebuild(event, _context(), _env(), Clients())
    assert answer["status"] == "rejected" and answer["error"] == "event not acted on"
    assert "detail.state" in answer["detail"]
    other = rebuild(
        {"source": "aws.ec2", "detail-type": "EC2 AMI State Change"},
        _context(),
        _env(),
        Clients(),
    )
    assert other["status"] == "rejected"
    assert len(_builds()) == 1


def test_an_image_builder_output_its_distribution_did_not_tag_gets_the_family_tags(seeder: Seeder) -> None:
    bare = boto3.client("imagebuilder", region_name=REGION).create_image_pipeline(
        name="api",
        imageRecipeArn=f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image-recipe/api-recipe/1.0.0",
        infrastructureConfigurationArn=INFRA,
        clientToken="create-api",
    )["imagePipelineArn"]
    seeder.image("api-2026-09-01", 45, tags={"ami-hygiene:family": "api", "Owner": "payments"})
    (started,) = _rebuilds(_run("enforce", family_pipelines=f"api={bare}"))
    event = complete_build(str(started.build_id))

    report = _run("enforce", event, family_pipelines=f"api={bare}")

    (result,) = report.decisions
    assert isinstance(result, BuildResult) and result.new_image_id
    tags = tags_of(result.new_image_id)
    assert tags["ami-hygiene:family"] == "api" and tags["Owner"] == "payments"
    assert has_reason(result, f"tagged {result.new_image_id}")
    # Rotation now groups it with the old image, which the next sweep sees as superseded.
    (fresh,) = _run("enforce", family_pipelines=f"api={bare}").decisions
    assert fresh.image_id == result.new_image_id


# -- the runbooks' build instance, per image architecture ----------------------------------


def _execution_parameters(build_id: str | None) -> dict[str, list[str]]:
    ssm = boto3.client("ssm", region_name=REGION)
    execution = ssm.get_automation_execution(AutomationExecutionId=str(build_id))["AutomationExecution"]
    return dict(execution["Parameters"])


def test_each_family_builds_on_an_instance_type_of_its_images_architecture(seeder: Seeder) -> None:
    arm = seeder.image(
        "api-arm-v3", 45, tags={"ami-hygiene:family": "api-arm", "Owner": "platform"}, architecture="arm64"
    )
    x86 = _app(seeder)
    report = _run("enforce")
    started = {d.family: d for d in _rebuilds(report)}
    assert {f: (d.outcome, d.instance_type) for f, d in started.items()} == {
        "api-arm": (Outcome.DONE, "t4g.medium"),
        "app": (Outcome.DONE, "t3.medium"),
    }
    assert _execution_parameters(started["api-arm"].build_id)["InstanceType"] == ["t4g.medium"]
    assert _execution_parameters(started["app"].build_id)["InstanceType"] == ["t3.medium"]
    # Both launch (the sandbox refuses a mismatch as EC2 does) and make an image of their architecture.
    for family, source, architecture in (("api-arm", arm, "arm64"), ("app", x86, "x86_64")):
        done = _run("enforce", complete_automation(str(started[family].build_id)))
        (result,) = done.decisions
        assert isinstance(result, BuildResult) and result.succeeded, result.reasons
        assert result.source_image_id == source
        (image,) = boto3.client("ec2", region_name=REGION).describe_images(
            ImageIds=[str(result.new_image_id)]
        )["Images"]
        assert image["Architecture"] == architecture


def test_an_image_architecture_without_an_instance_type_starts_no_build(seeder: Seeder) -> None:
    seeder.image("legacy-v1", 45, tags={"ami-hygiene:family": "legacy"}, architecture="i386")
    _app(seeder)
    report = _run("enforce", automation_instance_types="x86_64=t3.medium")
    (app,) = _rebuilds(report)
    assert app.family == "app" and app.outcome is Outcome.DONE
    (legacy,) = [d for d in report.decisions if d.family == "legacy"]
    assert legacy.action is Action.KEEP
    assert legacy.reasons[0] == Reason("i386", "add i386=t2.medium to AUTOMATION_INSTANCE_TYPES")
    assert legacy.findings == ("stale: its newest image is older than the age limit",)
    assert any("family legacy:" in e and "nothing started" in e for e in report.all_errors)
    assert len(_executions()) == 1


# -- private base parameters ---------------------------------------------------------------


def _parameter_arn(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}"


def _based_family(seeder: Seeder, family: str, parameter: str, parent: str) -> str:
    return seeder.image(
        f"{family}-v1",
        2,
        tags={"ami-hygiene:family": family, TAG_BASE_PARAMETER: parameter, TAG_BASE_IMAGE: parent},
    )


def test_a_denied_base_parameter_leaves_only_its_own_family_unchecked(seeder: Seeder) -> None:
    old_base = seeder.image("base-1", 60)
    new_base = seeder.image("base-2", 1)
    ssm = boto3.client("ssm", region_name=REGION)
    for name in ("/golden/base", "/team/base"):
        ssm.put_parameter(Name=name, Value=new_base, Type="String", DataType="aws:ec2:image")
    _based_family(seeder, "golden-web", "/golden/base", old_base)
    _based_family(seeder, "team-web", "/team/base", old_base)
    clients = Clients()
    attempts: Counter[str] = Counter()  # calls made, the denied ones too (they never reach the sandbox)
    clients.session.events.register("before-call.ssm.*", lambda model, **_: attempts.update([model.name]))
    # The role may read /team but not /golden: one denied name fails a whole GetParameters call.
    for operation, member in (("GetParameters", "Names"), ("GetParameter", "Name")):
        deny_names(clients.session, "ssm", operation, member, ["/golden/base"], resource=_parameter_arn)

    report = run_rebuild(_settings("report"), clients, now=NOW)

    (team,) = [d for d in _rebuilds(report) if d.family == "team-web"]
    assert (
        Reason(
            "base moved",
            f"from {old_base} to {new_base}",
            "SSM parameter /team/base",
            f"was tag {TAG_BASE_IMAGE}",
        )
        in team.reasons
    )
    (golden,) = [d for d in report.decisions if d.family == "golden-web"]
    assert golden.action is Action.KEEP and golden.reasons[0] == Reason("kept", "fresh")
    [unchecked] = [r for r in golden.reasons if r.startswith("base not checked")]
    assert unchecked.startswith(
        "base not checked: SSM parameter /golden/base: cannot read parameter /golden/base "
        "(AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/ami-hygiene-rebuild/session "
        f"is not authorized to perform: ssm:GetParameter on resource: {_parameter_arn('/golden/base')}"
    )
    assert unchecked.endswith("; allow it with BaseParameterPaths (e.g. /golden)")
    assert [e for e in report.all_errors if "/golden/base" in e] == [
        f"{REGION}: {unchecked.removeprefix('base not checked: SSM parameter /golden/base: ')}"
    ]
    assert (attempts["GetParameters"], attempts["GetParameter"]) == (1, 2)


def test_a_denied_parameter_under_a_granted_path_says_something_else_denies_it(seeder: Seeder) -> None:
    base = seeder.image("base-1", 60)
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/golden/base", Value=base, Type="String", DataType="aws:ec2:image"
    )
    _based_family(seeder, "golden-web", "/golden/base", base)
    clients = Clients()
    for operation, member in (("GetParameters", "Names"), ("GetParameter", "Name")):
        deny_names(clients.session, "ssm", operation, member, ["/golden/base"], resource=_parameter_arn)
    report = run_rebuild(_settings("report", base_parameter_paths="/golden"), clients, now=NOW)
    (golden,) = [d for d in report.decisions if d.family == "golden-web"]
    assert golden.reasons[-1] == Reason(
        "BaseParameterPaths already has /golden",
        "something else denies it",
        "permissions boundary",
        "service control policy",
        "stack update not deployed yet",
    )


def test_a_missing_base_parameter_read_alone_is_no_error(seeder: Seeder) -> None:
    base = seeder.image("base-1", 60)
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/team/base", Value=base, Type="String", DataType="aws:ec2:image"
    )
    _based_family(seeder, "golden-web", "/golden/base", base)  # no such parameter
    _based_family(seeder, "team-web", "/team/base", base)
    _based_family(seeder, "secret-web", "/secret/base", base)
    clients = Clients()
    for operation, member in (("GetParameters", "Names"), ("GetParameter", "Name")):
        deny_names(clients.session, "ssm", operation, member, ["/secret/base"], resource=_parameter_arn)
    report = run_rebuild(_settings("report"), clients, now=NOW)
    reasons = {d.family: d.reasons for d in report.decisions}
    assert Reason("base not checked", "SSM parameter /golden/base", "does not exist") in reasons["golden-web"]
    assert Reason("base unchanged", base, "SSM parameter /team/base") in reasons["team-web"]
    assert [e for e in report.all_errors if "parameter" in e] == [
        e
        for e in report.all_errors
        if "/secret/base" in e and "allow it with BaseParameterPaths (e.g. /secret)" in e
    ]
