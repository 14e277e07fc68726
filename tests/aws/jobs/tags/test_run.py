"""The tag job against the embedded AWS: an event's image, a sweep, report mode, the budget."""

from __future__ import annotations

from typing import Any

import boto3

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.estate import TAG_ESCALATED_AT
from ami_hygiene.core.plan import Action, Outcome
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.settings import Settings
from ami_hygiene.jobs.tags.events import parse_event
from ami_hygiene.jobs.tags.policy import TAG_CREATED_AT, TAG_CREATED_BY
from ami_hygiene.jobs.tags.run import run_tags
from sandbox.demo import Seeder
from tests.helpers.constants import ACCOUNT, NOW, REGION
from tests.helpers.events import cloudtrail_event
from tests.helpers.faults import deny
from tests.helpers.reasons import Reason
from tests.helpers.sandbox import tags_of

CREATOR = f"arn:aws:sts::{ACCOUNT}:assumed-role/ImageBuilder/alice"
ENV = {"REGIONS": REGION, "REQUIRED_TAGS": "Owner,Environment=^(prod|staging|dev)$"}


def _event(image_id: str, name: str = "create_image.json") -> dict[str, Any]:
    event = cloudtrail_event(f"tags/{name}", actor=CREATOR)
    detail = event["detail"]
    if detail.get("responseElements"):
        detail["responseElements"]["imageId"] = image_id
    if "resourcesSet" in (detail.get("requestParameters") or {}):
        detail["requestParameters"]["resourcesSet"]["items"] = [{"resourceId": image_id}]
    return event


def _run(mode: str, event: dict[str, Any] | None = None, **overrides: Any) -> Report:
    settings = Settings.load(ENV, overrides={"mode": mode, **overrides})
    parsed = parse_event(event, ACCOUNT) if event else None
    return run_tags(settings, Clients(), now=NOW, event=parsed)


def test_an_image_created_without_owner_is_tagged_and_reported_in_one_invocation(seeder: Seeder) -> None:
    image_id = seeder.image("web-1", 0.01, tags={"Environment": "prod"}, data_snapshot=True)
    report = _run("enforce", _event(image_id))
    got = {d.action: d for d in report.decisions}
    assert set(got) == {Action.TAG, Action.PROPAGATE, Action.NOTIFY}
    assert all(d.outcome is Outcome.DONE for d in report.decisions)
    tags = tags_of(image_id)
    assert tags[TAG_CREATED_BY] == CREATOR and TAG_CREATED_AT in tags
    snapshots = list(got[Action.PROPAGATE].details()["snapshot_tags"])
    assert len(snapshots) == 2
    assert all(tags_of(s) == {"Environment": "prod"} for s in snapshots)
    # One message's worth: what is missing and who created the image.
    assert report.has_findings
    text = report.render_text()
    assert "missing Owner" in text and CREATOR in text
    assert report.subject() == "[ami-hygiene] eu-west-1 tags: 1 non-compliant, 1 tagged"


def test_a_compliant_image_is_tagged_quietly(seeder: Seeder) -> None:
    image_id = seeder.image("web-2", 0.01, tags={"Owner": "alice", "Environment": "dev"})
    report = _run("enforce", _event(image_id))
    assert {d.action for d in report.decisions} == {Action.TAG, Action.PROPAGATE}
    assert not report.has_findings  # no e-mail for a compliant image


def test_report_mode_changes_nothing(seeder: Seeder) -> None:
    image_id = seeder.image("web-3", 0.01, tags={"Environment": "prod"})
    before = tags_of(image_id)
    report = _run("report", _event(image_id))
    assert tags_of(image_id) == before
    assert {d.outcome for d in report.decisions} == {Outcome.PLANNED}


def test_a_deleted_image_changes_nothing_and_says_why(seeder: Seeder) -> None:
    image_id = seeder.image("web-4", 0.01)
    boto3.client("ec2", region_name=REGION).deregister_image(ImageId=image_id)
    report = _run("enforce", _event(image_id))
    assert report.decisions == ()
    assert report.all_errors == (
        f"{image_id} no longer exists (deleted, deregistered or never created): nothing to do",
    )


def test_delete_tags_is_caught_without_making_the_tagger_the_creator(seeder: Seeder) -> None:
    image_id = seeder.image("web-5", 3, tags={"Environment": "prod", TAG_CREATED_AT: "x"})
    report = _run("enforce", _event(image_id, "delete_tags.json"))
    (notify,) = [d for d in report.decisions if d.action is Action.NOTIFY]
    assert Reason("non-compliant", f"after DeleteTags by {CREATOR}") in notify.reasons
    assert TAG_CREATED_BY not in tags_of(image_id)


def test_a_snapshot_shared_with_another_image_is_not_tagged(seeder: Seeder) -> None:
    shared = seeder.snapshot(8)
    first = seeder.image("a-1", 1, tags={"Owner": "alice", "Environment": "dev"}, snapshot_id=shared)
    seeder.image("b-1", 1, tags={"Owner": "bob", "Environment": "prod"}, snapshot_id=shared)
    report = _run("enforce", _event(first))
    assert Action.PROPAGATE not in {d.action for d in report.decisions}
    assert tags_of(shared) == {}
    said = [r for d in report.decisions for r in d.reasons]
    assert Reason(shared, "used by 2 images", "not tagged") in said
    # Only the event's image is decided on, though the other was read.
    assert {d.image_id for d in report.decisions} == {first}


def test_the_sweep_reports_past_grace_escalates_and_respects_the_budget(seeder: Seeder) -> None:
    young = seeder.image("young", 0.5, tags={"Environment": "prod"})
    old = seeder.image("old", 3, tags={"Environment": "prod", TAG_CREATED_AT: "x"})
    ancient = seeder.image("ancient", 40, tags={TAG_CREATED_AT: "x"})
    good = seeder.image("good", 40, tags={"Owner": "a", "Environment": "dev", TAG_CREATED_AT: "x"})
    report = _run("enforce", tag_escalation_days=30)
    actions = {(d.image_id, d.action) for d in report.decisions}
    assert (young, Action.NOTIFY) not in actions  # still in grace
    assert (old, Action.NOTIFY) in actions
    assert (ancient, Action.DEPRECATE) in actions
    assert tags_of(ancient)[TAG_ESCALATED_AT] == "2026-11-27T06:00:00Z"
    (image,) = boto3.client("ec2", region_name=REGION).describe_images(ImageIds=[ancient])["Images"]
    assert image["DeprecationTime"]
    assert {d.action for d in report.decisions if d.image_id == good} <= {Action.PROPAGATE, Action.KEEP}
    assert report.summary()["non_compliant"] == 3

    limited = _run("enforce", max_actions=1)
    costly = [d for d in limited.decisions if d.action not in (Action.KEEP, Action.NOTIFY)]
    assert [d.outcome for d in costly].count(Outcome.DONE) <= 1
    assert all(d.outcome in (Outcome.DONE, Outcome.DEFERRED) for d in costly)


def test_unreadable_snapshots_propagate_nothing_and_say_so(seeder: Seeder) -> None:
    image_id = seeder.image("web-6", 1, tags={"Owner": "a", "Environment": "dev"})
    session = boto3.Session(region_name=REGION)
    deny(session, "ec2", "DescribeSnapshots", "UnauthorizedOperation")
    settings = Settings.load(ENV, overrides={"mode": "enforce"})
    event = parse_event(_event(image_id), ACCOUNT)
    report = run_tags(settings, Clients(session=session), now=NOW, event=event)
    assert Action.PROPAGATE not in {d.action for d in report.decisions}
    assert any("cannot read snapshot tags" in e for e in report.all_errors)
