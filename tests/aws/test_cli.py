"""The command line: flags over environment, report formats, exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ami_hygiene import cli
from ami_hygiene.core.clients import Clients
from sandbox.demo import Seeder
from tests.helpers.cli import run_cli
from tests.helpers.constants import REGION
from tests.helpers.faults import deny


@pytest.fixture
def old_images(aws: None) -> list[str]:
    s = Seeder(REGION, datetime.now(UTC))
    return [s.image(f"svc-v{k}", 30 * k + 1) for k in range(6)]


def test_json_report_with_flags_overriding_environment(old_images: list[str]) -> None:
    code, out = run_cli(
        ["rotate", "--region", REGION, "--format", "json", "--keep-latest", "2"],
        env={"KEEP_LATEST": "5", "RETENTION_DAYS": "45"},
    )
    assert code == 0
    report = json.loads(out)
    assert report["job"] == "rotate" and report["mode"] == "report" and report["regions"] == [REGION]
    assert report["settings"]["keep_latest"] == 2 and report["settings"]["retention_days"] == 45
    actions = {d["image_id"]: d["action"] for d in report["decisions"]}
    assert [actions[i] for i in old_images] == ["keep", "keep", "disable", "disable", "disable", "disable"]


def test_text_report_to_a_file(old_images: list[str], tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    code, out = run_cli(["rotate", "--output", str(target)])
    assert code == 0 and "report written to" in out
    assert "REPORT MODE: nothing was changed" in target.read_text()


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["rotate", "--retention-days", "0"], {}, "RETENTION_DAYS must be between 1 and 3650"),
        (["rotate"], {"MODE": "delete-all"}, "MODE must be report or enforce"),
        (["rotate", "--region", "nowhere"], {}, "REGIONS has 'nowhere'"),
    ],
)
def test_bad_settings_exit_2_with_one_line(
    argv: list[str], env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_cli(argv, env)
    assert code == 2 and out == ""
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run_cli(["rotate", "--mode", "delete-all"])
    assert exit_.value.code == 2
    assert "invalid choice: 'delete-all'" in capsys.readouterr().err


def test_a_failed_action_exits_1(old_images: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_clients(*args: Any, **kwargs: Any) -> Clients:
        clients = Clients(*args, **kwargs)
        deny(clients.session, "ec2", "DisableImage")
        return clients

    monkeypatch.setattr(cli, "Clients", failing_clients)
    code, out = run_cli(["rotate", "--mode", "enforce", "--format", "json"])
    assert code == 1
    assert json.loads(out)["summary"]["failed"] == 3


def test_a_denied_usage_source_retires_nothing_reports_an_error_and_exits_1(
    old_images: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied_clients(*args: Any, **kwargs: Any) -> Clients:
        clients = Clients(*args, **kwargs)
        deny(clients.session, "ec2", "DescribeLaunchTemplateVersions")
        return clients

    monkeypatch.setattr(cli, "Clients", denied_clients)
    code, out = run_cli(["rotate", "--mode", "enforce", "--format", "json"])
    report = json.loads(out)
    assert code == 1
    assert {d["action"] for d in report["decisions"]} == {"keep"}
    assert report["summary"]["errors"] == 1
    (error,) = report["errors"]
    assert "launch-templates" in error and "UnauthorizedOperation" in error


# -- the other jobs ------------------------------------------------------------------------------


def test_tags_reports_what_is_missing_and_enforce_adds_only_tags(aws: None) -> None:
    s = Seeder(REGION, datetime.now(UTC))
    image = s.image("svc-tags", 3, tags={"Environment": "production"})
    code, out = run_cli(
        ["tags", "--required-tags", "Owner,Environment=^(prod|dev)$", "--format", "json"],
    )
    assert code == 0
    report = json.loads(out)
    assert report["job"] == "tags" and report["summary"]["non_compliant"] == 1
    notify = next(d for d in report["decisions"] if d["action"] == "notify")
    assert notify["image_id"] == image
    assert notify["findings"] == ["missing Owner", "Environment='production' does not match ^(prod|dev)$"]
    code, _ = run_cli(["tags", "--mode", "enforce", "--required-tags", "Owner"])
    assert code == 0
    tags = Clients().ec2(REGION).describe_images(ImageIds=[image])["Images"][0]["Tags"]
    assert {t["Key"] for t in tags} == {"Environment", "ami-hygiene:created-at"}


def test_tags_refuses_a_bad_pattern(aws: None) -> None:
    code, _ = run_cli(["tags", "--required-tags", "Owner=("])
    assert code == 2


def test_public_finds_and_revokes(aws: None) -> None:
    s = Seeder(REGION, datetime.now(UTC))
    image = s.image("svc-public", 1)
    ec2 = Clients().ec2(REGION)
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]})
    code, out = run_cli(["public", "--allowed-accounts", "111122223333"])
    assert code == 0 and "CRITICAL 1 public" in out and "REVOKE-PUBLIC" in out
    code, _ = run_cli(["public", "--mode", "enforce"])
    assert code == 0
    perms = ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")["LaunchPermissions"]
    assert perms == []


def test_rebuild_reports_a_stale_family_and_starts_nothing_in_report_mode(aws: None) -> None:
    s = Seeder(REGION, datetime.now(UTC))
    image = s.image("legacy-api-v3", 60)
    code, out = run_cli(["rebuild", "--max-image-age-days", "30", "--format", "json"])
    assert code == 0
    report = json.loads(out)
    (decision,) = [d for d in report["decisions"] if d["action"] == "rebuild"]
    assert decision["image_id"] == image and decision["outcome"] == "planned"
    assert decision["runbook"] == "AWS-UpdateLinuxAmi"
    # In report mode the summary counts what enforce would start; nothing was started.
    assert report["summary"]["stale_families"] == 1 and report["summary"]["builds_started"] == 1
    ssm = Clients().ssm(REGION)
    assert ssm.describe_automation_executions()["AutomationExecutionMetadataList"] == []


def test_rebuild_refuses_a_bad_pipeline_map(aws: None) -> None:
    code, _ = run_cli(["rebuild", "--family-pipelines", "web=not-an-arn"])
    assert code == 2


def test_rebuild_takes_the_build_instance_types_and_base_parameter_paths(aws: None) -> None:
    s = Seeder(REGION, datetime.now(UTC))
    s.image("arm-api-v3", 60, architecture="arm64")
    code, out = run_cli(
        [
            "rebuild",
            "--format",
            "json",
            "--automation-instance-types",
            "arm64=m7g.large",
            "--base-parameter-paths",
            "/golden,/team/images",
        ],
        env={"AUTOMATION_INSTANCE_TYPES": "arm64=t4g.small", "BASE_PARAMETER_PATHS": "/other"},
    )
    assert code == 0
    report = json.loads(out)
    assert report["settings"]["automation_instance_types"] == {"arm64": "m7g.large"}
    assert report["settings"]["base_parameter_paths"] == ["/golden", "/team/images"]
    (decision,) = [d for d in report["decisions"] if d["action"] == "rebuild"]
    assert decision["instance_type"] == "m7g.large"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--automation-instance-types", "arm64=graviton"],
            "AUTOMATION_INSTANCE_TYPES has 'graviton' for arm64",
        ),
        (["--base-parameter-paths", "golden"], "BASE_PARAMETER_PATHS has 'golden'"),
    ],
)
def test_rebuild_refuses_bad_instance_types_and_paths(
    aws: None, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_cli(["rebuild", *argv])
    assert code == 2 and message in capsys.readouterr().err


def test_allowed_amis_on_is_one_warning_per_region_in_the_report(old_images: list[str]) -> None:
    import boto3

    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")
    code, out = run_cli(["rotate", "--format", "json"])
    report = json.loads(out)
    assert code == 0  # a warning is not an error: the run completed
    (warning,) = report["warnings"]
    assert warning.startswith(f"{REGION}: Allowed AMIs is enabled")
    assert report["api_calls"]["ec2.GetAllowedImagesSettings"] == 1  # counted, though read after the run
    ec2.disable_allowed_images_settings()
    assert json.loads(run_cli(["rotate", "--format", "json"])[1])["warnings"] == []
