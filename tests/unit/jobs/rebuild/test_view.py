"""The rebuild job's report view: its counts, headline, settings line, footer, findings, severity."""

from __future__ import annotations

from datetime import timedelta

from ami_hygiene.core.plan import Action, Decision, Outcome, Plan
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.rebuild.model import BuildKind, BuildResult, RebuildDecision, StaleKind
from ami_hygiene.jobs.rebuild.view import VIEW, RebuildView
from ami_hygiene.jobs.settings import Mode, Settings
from tests.helpers.builders import decision
from tests.helpers.constants import ACCOUNT, NOW, REGION

PIPELINE = "arn:aws:imagebuilder:eu-west-1:123456789012:image-pipeline/web"
STALE = ("stale: its newest image is older than the age limit",)


def _report(mode: Mode, *decisions: Decision, errors: tuple[str, ...] = ()) -> Report:
    settings = Settings.load(
        {
            "REGIONS": REGION,
            "MAX_ACTIONS": "5",
            "FAMILY_PIPELINES": f"web={PIPELINE}",
            "AUTOMATION_ROLE_ARN": "arn:aws:iam::123456789012:role/AmiRebuild",
        },
        overrides={"mode": mode.value},
    )
    return Report(
        job="rebuild",
        mode=mode,
        account=ACCOUNT,
        regions=(REGION,),
        plans=(Plan(job="rebuild", region=REGION, decisions=decisions, errors=errors),),
        settings=settings,
        started=NOW,
        finished=NOW,
        view=VIEW,
    )


def _rebuild(family: str, outcome: Outcome = Outcome.PLANNED, build_id: str | None = None) -> RebuildDecision:
    return RebuildDecision(
        image_id=f"ami-{family:0>17}"[:21],
        region=REGION,
        family=family,
        name=f"{family}-1",
        action=Action.REBUILD,
        reasons=("newest image is 45 days old (limit 30)",),
        outcome=outcome,
        created=NOW - timedelta(days=45),
        findings=STALE,
        method=BuildKind.IMAGE_BUILDER,
        pipeline_arn=PIPELINE,
        stale=(StaleKind.AGE,),
        build_id=build_id,
    )


def _kept(family: str, *, stale: bool = False) -> Decision:
    return decision(
        "ami-0123456789abcdef0",
        Action.KEEP,
        family=family,
        name=f"{family}-1",
        reasons=("kept: build x running",) if stale else ("kept: fresh",),
        findings=STALE if stale else (),
    )


def _result(*, succeeded: bool) -> BuildResult:
    return BuildResult(
        image_id="ami-0aaaaaaaaaaaaaaaa" if succeeded else "ami-0bbbbbbbbbbbbbbbb",
        region=REGION,
        family="app",
        name="app-2026-11-27_06.00.00",
        action=Action.REBUILD,
        reasons=("Automation AWS-UpdateLinuxAmi e succeeded",),
        outcome=Outcome.DONE if succeeded else Outcome.FAILED,
        error=None if succeeded else "Step updateOSSoftware failed",
        kind=BuildKind.SSM_AUTOMATION,
        build_id="d5378fed-ac24-43eb-8f93-725f00217e1d",
        status="Success" if succeeded else "Failed",
        finished=True,
        succeeded=succeeded,
        new_image_id="ami-0aaaaaaaaaaaaaaaa" if succeeded else None,
        duration=timedelta(minutes=14),
    )


def test_the_rebuild_job_has_its_view() -> None:
    assert isinstance(_report(Mode.REPORT).view, RebuildView)


def test_a_report_mode_sweep_counts_stale_families_and_would_be_builds() -> None:
    report = _report(Mode.REPORT, _rebuild("web"), _kept("api", stale=True), _kept("db"))
    s = report.summary()
    assert (s["stale_families"], s["builds_started"], s["builds_finished"], s["builds_failed"]) == (
        2,
        1,
        0,
        0,
    )
    assert report.subject() == "[ami-hygiene] eu-west-1 rebuild (report mode): 2 stale, 1 to rebuild"
    text = report.render_text()
    assert "builds started       1 (would be)" in text
    assert "stack parameter RebuildMode=enforce" in text
    assert "max image age 30 days · pipelines web=web" in text and "role AmiRebuild" in text
    assert report.has_findings and report.severity == "info"


def test_an_enforced_sweep_counts_started_builds_and_defers_as_warnings() -> None:
    report = _report(
        Mode.ENFORCE, _rebuild("web", Outcome.DONE, "arn:b/1"), _rebuild("api", Outcome.DEFERRED)
    )
    s = report.summary()
    assert s["builds_started"] == 1 and s["deferred"] == 1
    assert report.severity == "warning"
    assert report.to_dict()["decisions"][0]["build_id"] == "arn:b/1"


def test_a_sweep_with_only_running_builds_tells_nobody() -> None:
    report = _report(Mode.ENFORCE, _kept("web", stale=True), _kept("db"))
    assert report.summary()["stale_families"] == 1
    assert not report.has_findings


def test_a_finished_build_is_a_finding_and_names_the_new_image() -> None:
    report = _report(Mode.ENFORCE, _result(succeeded=True))
    s = report.summary()
    assert (s["builds_finished"], s["builds_failed"], s["builds_started"]) == (1, 0, 0)
    assert report.has_findings and report.severity == "info"
    assert report.subject() == "[ami-hygiene] eu-west-1 rebuild: app rebuilt: ami-0aaaaaaaaaaaaaaaa"
    build = report.to_dict()["decisions"][0]["build"]
    assert build["new_image_id"] == "ami-0aaaaaaaaaaaaaaaa" and build["duration_seconds"] == 840
    assert "rotation retires the older images" in report.render_text()


def test_a_failed_build_is_an_error() -> None:
    report = _report(Mode.ENFORCE, _result(succeeded=False))
    s = report.summary()
    assert (s["builds_finished"], s["builds_failed"]) == (0, 1)
    assert report.severity == "error"
    assert report.subject() == "[ami-hygiene] eu-west-1 rebuild: 1 FAILED, app build Failed"
    text = report.render_text()
    assert "! Step updateOSSoftware failed" in text and "next UTC day" in text


def test_a_build_still_running_is_not_a_finding() -> None:
    running = BuildResult(
        image_id="arn:aws:imagebuilder:eu-west-1:123456789012:image/web/1.0.0/1",
        region=REGION,
        family="web",
        name="web",
        action=Action.KEEP,
        reasons=("building",),
        status="BUILDING",
        finished=False,
    )
    assert not RebuildView().is_finding(running)
    assert not _report(Mode.ENFORCE, running).has_findings
