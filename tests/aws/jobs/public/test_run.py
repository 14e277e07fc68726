"""The public-sharing guard against the embedded AWS: a made-public image and its snapshot, a sweep."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.estate import TAG_PUBLIC_ALLOWED
from ami_hygiene.core.plan import Action, Outcome
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.public.events import parse_sharing_event
from ami_hygiene.jobs.public.run import run_public
from ami_hygiene.jobs.settings import Settings
from sandbox.demo import Seeder
from tests.helpers.constants import ACCOUNT, ALLOWED, NOW, REGION, STRANGER
from tests.helpers.events import cloudtrail_event
from tests.helpers.reasons import has_reason
from tests.helpers.sandbox import launch_permissions

ACTOR = f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/alice"


def ec2() -> Any:
    return boto3.client("ec2", region_name=REGION)


def _volume(snapshot_id: str) -> list[dict[str, str]]:
    found = ec2().describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission")
    return list(found["CreateVolumePermissions"])


def _snapshot_of(image_id: str) -> str:
    (image,) = ec2().describe_images(ImageIds=[image_id])["Images"]
    return str(image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"])


def _make_public(image_id: str, *extra: dict[str, str]) -> None:
    ec2().modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"Group": "all"}, *extra]})
    ec2().modify_snapshot_attribute(
        SnapshotId=_snapshot_of(image_id),
        Attribute="createVolumePermission",
        OperationType="add",
        GroupNames=["all"],
    )


def _event(image_id: str) -> dict[str, Any]:
    event = cloudtrail_event("public/image_public.json", actor=ACTOR)
    event["detail"]["requestParameters"]["imageId"] = image_id
    return event


def _run(mode: str, event: dict[str, Any] | None = None) -> Report:
    env = {"REGIONS": REGION, "ALLOWED_SHARE_ACCOUNTS": ALLOWED}
    settings = Settings.load(env, overrides={"mode": mode})
    parsed = parse_sharing_event(event, ACCOUNT) if event else None
    return run_public(settings, Clients(), now=NOW, event=parsed)


def test_an_image_made_public_is_private_again_after_one_invocation(seeder: Seeder) -> None:
    image = seeder.image("web-1", 1)
    _make_public(image, {"UserId": ALLOWED}, {"UserId": STRANGER})
    ec2().enable_image_block_public_access(ImageBlockPublicAccessState="block-new-sharing")
    ec2().disable_image_block_public_access()

    report = _run("enforce", _event(image))

    assert launch_permissions(image) == [{"UserId": ALLOWED}]  # the allowed account keeps its access
    assert _volume(_snapshot_of(image)) == []
    state = ec2().get_image_block_public_access_state()["ImageBlockPublicAccessState"]
    assert state == "block-new-sharing"
    done = {d.image_id: d for d in report.decisions if d.is_action}
    assert done[image].action is Action.REVOKE_PUBLIC and done[image].outcome is Outcome.DONE
    assert all(d.outcome is Outcome.DONE for d in done.values())
    # One critical message: who did it, from where, what was reverted.
    assert report.severity == "critical"
    assert report.subject().startswith("[ami-hygiene] eu-west-1 public: CRITICAL 2 public")
    text = report.render_text()
    assert ACTOR in text and "203.0.113.7" in text
    assert STRANGER in text


def test_report_mode_changes_nothing(seeder: Seeder) -> None:
    image = seeder.image("web-2", 1)
    _make_public(image)
    report = _run("report", _event(image))
    assert {"Group": "all"} in launch_permissions(image)
    assert {d.outcome for d in report.decisions if d.is_action} == {Outcome.PLANNED}
    assert report.has_findings and report.severity == "critical"


def test_the_sweep_leaves_an_allowed_public_image_public_and_block_public_access_off(seeder: Seeder) -> None:
    published = seeder.image("product-1", 1, tags={TAG_PUBLIC_ALLOWED: "true"})
    shared = seeder.image("shared-1", 1)
    ec2().modify_image_attribute(ImageId=published, LaunchPermission={"Add": [{"Group": "all"}]})
    ec2().modify_image_attribute(ImageId=shared, LaunchPermission={"Add": [{"UserId": STRANGER}]})

    report = _run("enforce")

    assert launch_permissions(published) == [{"Group": "all"}]
    assert launch_permissions(shared) == []
    by_id = {d.image_id: d for d in report.decisions}
    assert by_id[published].action is Action.KEEP
    assert by_id[shared].action is Action.REVOKE_ACCOUNTS
    assert ec2().get_image_block_public_access_state()["ImageBlockPublicAccessState"] == "unblocked"
    assert report.severity == "high"


def test_a_private_account_has_nothing_to_say(seeder: Seeder) -> None:
    seeder.image("quiet-1", 1)
    ec2().enable_image_block_public_access(ImageBlockPublicAccessState="block-new-sharing")
    report = _run("enforce")
    assert not report.has_findings
    assert report.subject() == "[ami-hygiene] eu-west-1 public: nothing public or foreign-shared"


def test_a_large_estate_is_read_a_slice_a_day_and_public_ones_are_found_every_day(seeder: Seeder) -> None:
    images = [seeder.image(f"many-{n}", 1) for n in range(5)]
    ec2().modify_image_attribute(ImageId=images[4], LaunchPermission={"Add": [{"UserId": STRANGER}]})
    public = images[0]
    ec2().modify_image_attribute(ImageId=public, LaunchPermission={"Add": [{"Group": "all"}]})
    settings = Settings.load({"REGIONS": REGION}, overrides={"mode": "report", "sharing_checks_per_run": 2})
    read_per_day: list[set[str]] = []
    for day in range(3):
        clients = Clients()
        report = run_public(settings, clients, now=NOW + timedelta(days=day))
        assert clients.counter.calls["ec2.DescribeImageAttribute"] == 2
        by_id = {d.image_id: d for d in report.decisions}
        # Public is known from the page read, whichever slice is read today.
        assert by_id[public].action is Action.REVOKE_PUBLIC
        read_per_day.append({i for i in images if not any("not read" in r for r in by_id[i].reasons)})
        (account,) = [d for d in report.decisions if d.image_id == ACCOUNT]
        assert has_reason(account, "account shares read", "2 of 5 images", "this run")
    assert set().union(*read_per_day) == set(images)  # every image within ceil(5 / 2) = 3 days


def test_the_json_report_says_what_was_removed_and_kept(seeder: Seeder) -> None:
    image = seeder.image("web-json", 1)
    ec2().modify_image_attribute(
        ImageId=image, LaunchPermission={"Add": [{"UserId": STRANGER}, {"UserId": ALLOWED}]}
    )
    (decided,) = [d for d in _run("report").to_dict()["decisions"] if d["image_id"] == image]
    assert decided["action"] == "revoke-accounts" and decided["severity"] == "high"
    assert decided["removed"] == {"accounts": [STRANGER]} and decided["kept_principals"] == [ALLOWED]


def test_an_event_reads_what_it_names_not_the_estate(seeder: Seeder) -> None:
    for n in range(12):
        seeder.image(f"other-{n}", 1)
    published = seeder.image("product-9", 1, tags={TAG_PUBLIC_ALLOWED: "true"})
    image = seeder.image("web-9", 1)
    _make_public(image)
    unfiltered: list[str] = []

    def watch(params: dict[str, Any], **_: Any) -> None:
        if not params.get("Filters") and not params.get("ImageIds") and not params.get("SnapshotIds"):
            unfiltered.append(str(params))

    clients = Clients()
    clients.ec2(REGION).meta.events.register("provide-client-params.ec2.DescribeImages", watch)
    clients.ec2(REGION).meta.events.register("provide-client-params.ec2.DescribeSnapshots", watch)
    settings = Settings.load({"REGIONS": REGION}, overrides={"mode": "enforce"})
    report = run_public(settings, clients, now=NOW, event=parse_sharing_event(_event(image), ACCOUNT))

    assert unfiltered == []
    assert clients.counter.calls["ec2.DescribeImageAttribute"] == 1
    assert launch_permissions(image) == []
    # The allowed-public image was found by its tag: block public access stays off.
    (account,) = [d for d in report.decisions if d.image_id == ACCOUNT]
    assert account.action is Action.KEEP and has_reason(account, published)
