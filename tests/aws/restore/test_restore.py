"""`ami-hygiene restore` against the embedded AWS: images come back as they were before rotation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import time_machine

import sandbox
from ami_hygiene.core.clients import Clients
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.rotate.run import run_rotation
from ami_hygiene.jobs.settings import ConsumerUsageUnknown, Mode, Settings
from ami_hygiene.restore.report import RestoreOutcome, RestoreReport, StepStatus
from ami_hygiene.restore.steps import RestoreUsageError, restore_images
from sandbox.demo import ALLOWED_ACCOUNT, Seeder
from tests.helpers.cli import run_cli
from tests.helpers.constants import ACCOUNT, NOW, REGION
from tests.helpers.faults import deny
from tests.helpers.reasons import has_reason
from tests.helpers.sandbox import described

RECORD = "ami-hygiene:launch-permissions"
RETIRED_TAGS = ("ami-hygiene:disabled-at", "ami-hygiene:retired-by", "ami-hygiene:retired-at", RECORD)


@pytest.fixture
def clock(aws: None) -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def ec2(clock: Any) -> Any:
    return boto3.client("ec2", region_name=REGION)


@pytest.fixture
def family(ec2: Any) -> dict[str, str]:
    """One family: the oldest image is superseded, past retention, and shared only with an allowed account."""
    seeder = Seeder(REGION, NOW)
    images = {
        name: seeder.image(name, age)
        for name, age in (("svc-v1", 120), ("svc-v2", 10), ("svc-v3", 5), ("svc-v4", 1))
    }
    ec2.modify_image_attribute(
        ImageId=images["svc-v1"], LaunchPermission={"Add": [{"UserId": ALLOWED_ACCOUNT}]}
    )
    return images


def _rotate(now: datetime = NOW) -> Report:
    # The allow-listed account's use is not what these tests are about: no consumer role, retire anyway.
    settings = Settings(
        mode=Mode.ENFORCE,
        regions=(REGION,),
        allowed_share_accounts=frozenset({ALLOWED_ACCOUNT}),
        consumer_usage_unknown=ConsumerUsageUnknown.RETIRE,
    )
    return run_rotation(settings, Clients(), now=now)


def _restore(*image_ids: str, dry_run: bool = False, clients: Clients | None = None) -> RestoreReport:
    return restore_images(clients or Clients(), REGION, image_ids, dry_run=dry_run, now=NOW)


def _retention_rules() -> None:
    """The stack's rules (infra/recycle_bin.py): what rotation retires stays restorable."""
    rbin = boto3.client("rbin", region_name=REGION)
    for resource_type in ("EC2_IMAGE", "EBS_SNAPSHOT"):
        rbin.create_rule(
            ResourceType=resource_type,
            RetentionPeriod={"RetentionPeriodValue": 14, "RetentionPeriodUnit": "DAYS"},
            ResourceTags=[{"ResourceTagKey": "ami-hygiene:retired-by", "ResourceTagValue": "rotate"}],
        )


def _tags(image: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in image.get("Tags", [])}


def _shared_with(ec2: Any, image_id: str) -> list[dict[str, str]]:
    return list(
        ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")["LaunchPermissions"]
    )


def _account_state(ec2: Any) -> dict[str, Any]:
    """Everything restore could change, to compare before and after."""
    images = ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"]
    return {
        "images": sorted((i["ImageId"], i["State"], str(sorted(_tags(i).items()))) for i in images),
        "shared": {i["ImageId"]: _shared_with(ec2, i["ImageId"]) for i in images},
        "snapshots": sorted(s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]),
        "bin": sorted(i["ImageId"] for i in ec2.list_images_in_recycle_bin()["Images"]),
        "bin_snapshots": sorted(s["SnapshotId"] for s in ec2.list_snapshots_in_recycle_bin()["Snapshots"]),
        "tags": sorted(str(t) for t in ec2.describe_tags()["Tags"]),
    }


def _steps(report: RestoreReport, index: int = 0) -> list[tuple[str, str, str]]:
    return [(s.action, s.target, s.status.value) for s in report.images[index].steps]


def _restored_as_before(ec2: Any, image_id: str) -> None:
    image = described(ec2, image_id)
    assert image["State"] == "available"
    assert _shared_with(ec2, image_id) == [{"UserId": ALLOWED_ACCOUNT}]
    tags = _tags(image)
    assert tags.get("ami-hygiene:retain") == "true"
    assert not set(tags) & set(RETIRED_TAGS)


# -- the acceptance scenario ------------------------------------------------------


def test_an_image_rotation_disabled_comes_back_shared_with_the_allowed_account(
    ec2: Any, family: dict[str, str]
) -> None:
    image_id = family["svc-v1"]
    rotation = _rotate()
    assert [(d.image_id, d.action.value, d.outcome.value) for d in rotation.decisions if d.is_action] == [
        (image_id, "disable", "done")
    ]
    disabled = described(ec2, image_id)
    assert disabled["State"] == "disabled" and _shared_with(ec2, image_id) == []
    assert _tags(disabled)[RECORD] == ALLOWED_ACCOUNT  # written by rotation before DisableImage

    report = _restore(image_id)

    assert report.exit_code == 0 and report.images[0].outcome is RestoreOutcome.RESTORED
    assert _steps(report) == [
        ("tag-retain", image_id, "done"),
        ("enable-image", image_id, "done"),
        ("share", image_id, "done"),
        ("untag", image_id, "done"),
    ]
    _restored_as_before(ec2, image_id)
    # The next rotation run keeps it.
    again = {d.image_id: d for d in _rotate().decisions}
    assert again[image_id].action.value == "keep"
    assert has_reason(again[image_id], "ami-hygiene:retain")


def test_an_image_rotation_deregistered_comes_back_from_the_bin_with_its_snapshots(
    ec2: Any, family: dict[str, str], clock: Any
) -> None:
    _retention_rules()
    image_id = family["svc-v1"]
    snapshots = [m["Ebs"]["SnapshotId"] for m in described(ec2, image_id)["BlockDeviceMappings"]]
    _rotate()
    clock.shift(timedelta(days=15))
    later = _rotate(NOW + timedelta(days=15))
    assert [(d.image_id, d.action.value, d.outcome.value) for d in later.decisions if d.is_action] == [
        (image_id, "deregister", "done")
    ]
    assert [i["ImageId"] for i in ec2.list_images_in_recycle_bin()["Images"]] == [image_id]
    assert sorted(s["SnapshotId"] for s in ec2.list_snapshots_in_recycle_bin()["Snapshots"]) == sorted(
        snapshots
    )

    report = _restore(image_id)

    assert report.exit_code == 0, report.render_text()
    assert _steps(report) == [
        ("tag-retain", image_id, "done"),
        *[("restore-snapshot", s, "done") for s in snapshots],
        ("restore-image", image_id, "done"),
        ("enable-image", image_id, "done"),  # it was disabled when it was deregistered
        ("share", image_id, "done"),
        ("untag", image_id, "done"),
        *[("untag", s, "done") for s in snapshots],
    ]
    _restored_as_before(ec2, image_id)
    assert [m["Ebs"]["SnapshotId"] for m in described(ec2, image_id)["BlockDeviceMappings"]] == snapshots
    for snap in ec2.describe_snapshots(SnapshotIds=snapshots)["Snapshots"]:
        assert not {t["Key"] for t in snap.get("Tags", [])} & set(RETIRED_TAGS)
    assert ec2.list_images_in_recycle_bin()["Images"] == []
    assert ec2.list_snapshots_in_recycle_bin()["Snapshots"] == []


# -- finding snapshots in the bin ---------------------------------------------------------


def _retire_together(ec2: Any, *image_ids: str, at: str = "2026-11-27T06:00:00Z") -> dict[str, list[str]]:
    """What an earlier rotation (before `retired-with`) did to each image in one run; their snapshots."""
    found = {}
    for image_id in image_ids:
        snaps = [m["Ebs"]["SnapshotId"] for m in described(ec2, image_id)["BlockDeviceMappings"]]
        tags = [
            {"Key": "ami-hygiene:retired-by", "Value": "rotate"},
            {"Key": "ami-hygiene:retired-at", "Value": at},
        ]
        ec2.create_tags(Resources=[image_id, *snaps], Tags=tags)
        ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)
        found[image_id] = snaps
    return found


def test_snapshots_retired_in_the_same_run_are_restored_only_with_all_their_images(ec2: Any) -> None:
    _retention_rules()
    seeder = Seeder(REGION, NOW)
    first, second = seeder.image("app-v1", 200, data_snapshot=True), seeder.image("app-v2", 190)
    snapshots = _retire_together(ec2, first, second)
    before = _account_state(ec2)

    alone = _restore(first)
    assert alone.exit_code == 1 and alone.images[0].outcome is RestoreOutcome.FAILED
    assert second in str(alone.images[0].error) and "can't be told apart" in str(alone.images[0].error)
    assert alone.images[0].steps == () and _account_state(ec2) == before

    together = _restore(first, second)
    assert together.exit_code == 0, together.render_text()
    for image_id in (first, second):
        assert described(ec2, image_id)["State"] == "available"
    restored = [s.target for i in together.images for s in i.steps if s.action == "restore-snapshot"]
    assert sorted(restored) == sorted(snapshots[first] + snapshots[second])  # each once


def test_images_rotation_retired_in_one_run_come_back_one_at_a_time_with_exactly_their_snapshots(
    ec2: Any,
) -> None:
    _retention_rules()
    seeder = Seeder(REGION, NOW)
    first, second = seeder.image("app-v1", 200, data_snapshot=True), seeder.image("app-v2", 190)
    for name, age in (("app-v7", 3), ("app-v8", 2), ("app-v9", 1)):
        seeder.image(name, age)
    snapshots = {
        i: [m["Ebs"]["SnapshotId"] for m in described(ec2, i)["BlockDeviceMappings"]] for i in (first, second)
    }
    settings = Settings(mode=Mode.ENFORCE, regions=(REGION,), disable_grace_days=0)
    retired = run_rotation(settings, Clients(), now=NOW)
    assert sorted(d.image_id for d in retired.decisions if d.action.value == "deregister") == sorted(
        [first, second]
    )

    alone = _restore(first)

    assert alone.exit_code == 0, alone.render_text()
    restored = [s.target for s in alone.images[0].steps if s.action == "restore-snapshot"]
    assert restored == snapshots[first]  # rotation tagged each with ami-hygiene:retired-with
    assert [i["ImageId"] for i in ec2.list_images_in_recycle_bin()["Images"]] == [second]


def test_a_snapshot_create_image_made_is_found_by_its_description(ec2: Any) -> None:
    _retention_rules()
    base = Seeder(REGION, NOW).image("base-v1", 1)
    reservation = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1)
    image_id = ec2.create_image(
        InstanceId=reservation["Instances"][0]["InstanceId"], Name="app-from-instance"
    )["ImageId"]
    other = Seeder(REGION, NOW).image("app-v2", 100)
    snapshots = _retire_together(ec2, image_id, other)  # same run: only the description tells them apart
    (snap,) = snapshots[image_id]
    assert ec2.list_snapshots_in_recycle_bin(SnapshotIds=[snap])["Snapshots"][0]["Description"].endswith(
        image_id
    )

    report = _restore(image_id)

    assert report.exit_code == 0, report.render_text()
    assert [s.target for s in report.images[0].steps if s.action == "restore-snapshot"] == [snap]
    assert [i["ImageId"] for i in ec2.list_images_in_recycle_bin()["Images"]] == [other]


# -- what changes nothing -----------------------------------------------------------------


def test_a_dry_run_plans_every_step_and_changes_nothing(ec2: Any, family: dict[str, str], clock: Any) -> None:
    _retention_rules()
    image_id = family["svc-v1"]
    _rotate()
    clock.shift(timedelta(days=15))
    _rotate(NOW + timedelta(days=15))
    before = _account_state(ec2)
    clients = Clients()

    report = _restore(image_id, dry_run=True, clients=clients)

    assert report.exit_code == 0 and report.images[0].outcome is RestoreOutcome.PLANNED
    assert {s.status for s in report.images[0].steps} == {StepStatus.PLANNED}
    assert [s.action for s in report.images[0].steps] == [
        "tag-retain",
        "restore-snapshot",
        "restore-image",
        "enable-image",
        "share",
        "untag",
        "untag",
    ]
    assert _account_state(ec2) == before
    assert clients.counter.writes() == 0
    assert "DRY RUN: nothing was changed" in report.render_text()


def test_a_malformed_record_fails_that_image_and_changes_nothing(ec2: Any, family: dict[str, str]) -> None:
    image_id = family["svc-v1"]
    _rotate()
    ec2.create_tags(Resources=[image_id], Tags=[{"Key": RECORD, "Value": f"{ALLOWED_ACCOUNT} everyone"}])
    before = _account_state(ec2)

    report = _restore(image_id, family["svc-v4"])

    failed, other = report.images
    assert failed.outcome is RestoreOutcome.FAILED and failed.steps == ()
    assert "launch-permission record" in str(failed.error) and "'everyone'" in str(failed.error)
    assert other.outcome is RestoreOutcome.NOT_RESTORABLE  # svc-v4: available, never retired
    assert report.exit_code == 1
    assert _account_state(ec2) == before


def test_images_not_ours_not_retired_or_not_found_are_reported_and_left_alone(ec2: Any) -> None:
    from moto.ec2.models.amis import Ami

    backend = sandbox.backend("ec2", REGION, ACCOUNT)
    theirs = Ami(backend, "ami-0aaaaaaaaaaaaaaa1", name="theirs", owner_id="999988887777")
    theirs.launch_permissions.append({"UserId": ACCOUNT})  # shared with us: we see it
    theirs.state = "disabled"
    backend.amis[theirs.id] = theirs
    ours = Seeder(REGION, NOW).image("svc-v9", 1)
    ec2.create_tags(Resources=[ours], Tags=[{"Key": "ami-hygiene:retain", "Value": "true"}])
    before = _account_state(ec2)

    report = _restore(theirs.id, ours, "ami-0123456789abcdef0")

    outcomes = {i.image_id: (i.outcome, i.error) for i in report.images}
    assert outcomes[theirs.id] == (
        RestoreOutcome.NOT_RESTORABLE,
        "owned by account 999988887777: only its owner can restore it",
    )
    assert outcomes[ours][0] is RestoreOutcome.NOT_RESTORABLE and "not retired" in str(outcomes[ours][1])
    assert "not found in eu-west-1" in str(outcomes["ami-0123456789abcdef0"][1])
    assert report.exit_code == 1 and all(not i.steps for i in report.images)
    assert _account_state(ec2) == before


@pytest.mark.parametrize("ids", [[], ["ami-123"], ["snap-0123456789abcdef0"], ["ami-0123456789ABCDEF0"]])
def test_bad_image_ids_are_a_usage_error_before_any_call(ids: list[str]) -> None:
    clients = Clients()
    with pytest.raises(RestoreUsageError):
        restore_images(clients, REGION, ids, dry_run=False, now=NOW)
    assert clients.counter.total == 0


def test_a_failed_step_stops_that_image_and_a_second_run_finishes_it(
    ec2: Any, family: dict[str, str]
) -> None:
    image_id = family["svc-v1"]
    _rotate()
    clients = Clients()
    deny(clients.session, "ec2", "EnableImage")

    failed = _restore(image_id, clients=clients)

    assert failed.exit_code == 1 and failed.images[0].outcome is RestoreOutcome.FAILED
    assert _steps(failed) == [("tag-retain", image_id, "done"), ("enable-image", image_id, "failed")]
    assert "UnauthorizedOperation" in str(failed.images[0].error)
    assert described(ec2, image_id)["State"] == "disabled" and RECORD in _tags(described(ec2, image_id))

    assert _restore(image_id).exit_code == 0
    _restored_as_before(ec2, image_id)


# -- the command line ---------------------------------------------------------------------


def test_cli_restores_and_writes_json(ec2: Any, family: dict[str, str], tmp_path: Path) -> None:
    image_id = family["svc-v1"]
    _rotate()
    code, out = run_cli(["restore", "--region", REGION, image_id, "--dry-run", "--format", "json"])
    report = json.loads(out)
    assert code == 0 and (report["job"], report["region"], report["dry_run"]) == ("restore", REGION, True)
    assert report["images"][0]["outcome"] == "planned" and report["images"][0]["error"] is None
    assert report["images"][0]["steps"][0] == {
        "action": "tag-retain",
        "target": image_id,
        "status": "planned",
        "detail": "ami-hygiene:retain=true",
        "error": None,
    }
    assert described(ec2, image_id)["State"] == "disabled"

    target = tmp_path / "restore.txt"
    code, out = run_cli(["restore", image_id, "--output", str(target)])  # region from AWS_REGION
    assert code == 0 and "report written to" in out
    assert f"{image_id}: restored" in target.read_text()
    assert described(ec2, image_id)["State"] == "available"

    code, _ = run_cli(["restore", image_id])  # now available and not retired
    assert code == 1


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["restore", "ami-bad"], {"AWS_REGION": REGION}, "not an image id"),
        (["restore", "ami-0123456789abcdef0"], {}, "name --region"),
        (["restore", "--region", "nowhere", "ami-0123456789abcdef0"], {}, "not a region name"),
    ],
)
def test_cli_usage_errors_exit_2(
    argv: list[str], env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_cli(argv, env, region=None)  # the region only where `env` names it
    assert (code, out) == (2, "")
    assert message in capsys.readouterr().err


def test_cli_without_credentials_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _ = run_cli(["restore", "--region", REGION, "ami-0123456789abcdef0"])
    assert code == 2 and "credentials" in capsys.readouterr().err
