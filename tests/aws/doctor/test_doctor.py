"""`ami-hygiene doctor` against the embedded AWS: one passing and one failing case per check."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

import sandbox
from ami_hygiene.core.clients import Clients
from ami_hygiene.doctor import run as doctor
from ami_hygiene.doctor.checks import Check, Status
from sandbox.demo import Seeder
from sandbox.lambda_account import set_concurrency_quota
from tests.helpers.cli import run_cli
from tests.helpers.constants import ACCOUNT, OTHER_REGION, REGION
from tests.helpers.faults import deny


@pytest.fixture
def clients(aws: None) -> Clients:
    return Clients()


@pytest.fixture
def image(aws: None) -> str:
    return Seeder(REGION, datetime.now(UTC)).image("web-1", 1)


def _run(clients: Clients, regions: Sequence[str] = (REGION,), **kwargs: Any) -> tuple[list[Check], int]:
    return doctor.run_doctor(clients, list(regions), **kwargs)


def _check(checks: list[Check], name: str, region: str | None = REGION) -> Check:
    found = [c for c in checks if c.check == name and c.region == region]
    assert len(found) == 1, [(c.check, c.region) for c in checks]
    return found[0]


def _one(clients: Clients, name: str, region: str | None = REGION, **kwargs: Any) -> Check:
    checks, _ = _run(clients, **kwargs)
    return _check(checks, name, region)


# -- credentials -----------------------------------------------------------------------------


def test_credentials_name_the_account_and_caller(clients: Clients) -> None:
    checks, _ = _run(clients)
    assert checks[0].status is Status.PASS and checks[0].check == "credentials"
    assert f"account {ACCOUNT} as arn:aws:" in checks[0].detail


def test_credentials_that_do_not_work_stop_everything_with_exit_2(clients: Clients) -> None:
    deny(clients.session, "sts", "GetCallerIdentity", code="InvalidClientTokenId")
    checks, code = _run(clients)
    assert code == doctor.EXIT_USAGE and len(checks) == 1
    assert checks[0].status is Status.FAIL and "InvalidClientTokenId" in checks[0].detail


# -- permissions -----------------------------------------------------------------------------


def test_every_jobs_calls_are_allowed_with_an_owned_image(clients: Clients, image: str) -> None:
    checks, _ = _run(clients)
    for job in doctor.JOBS:
        assert _check(checks, f"permissions: {job}").status is Status.PASS, job
    rotate = _check(checks, "permissions: rotate")
    assert rotate.detail == "20 calls allowed (15 reads, 5 enforce-mode writes)"
    rebuild = _check(checks, "permissions: rebuild").detail
    assert "not testable without acting: imagebuilder:StartImagePipelineExecution" in rebuild


def test_the_writes_use_dry_run_on_the_owned_image(clients: Clients, image: str) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    clients.session.events.register(
        "provide-client-params.ec2.*", lambda params, model, **_: sent.append((model.name, dict(params)))
    )
    _run(clients)
    disable = [p for name, p in sent if name == "DisableImage"]
    assert disable == [{"ImageId": image, "DryRun": True}]
    assert sandbox.backend("ec2", REGION).amis[image].state == "available"


def test_a_denied_write_fails_its_jobs_and_says_report_mode_needs_only_reads(
    clients: Clients, image: str
) -> None:
    deny(clients.session, "ec2", "DisableImage")
    checks, code = _run(clients)
    rotate = _check(checks, "permissions: rotate")
    assert rotate.status is Status.FAIL and code == doctor.EXIT_FAILED
    assert "ec2:DisableImage (enforce-mode write)" in rotate.detail
    assert rotate.fix is not None and "report mode needs only the reads" in rotate.fix
    assert _check(checks, "permissions: tags").status is Status.PASS


def test_a_denied_read_of_another_service_fails(clients: Clients, image: str) -> None:
    deny(clients.session, "ssm", "DescribeParameters", code="AccessDeniedException")
    rotate = _one(clients, "permissions: rotate")
    assert rotate.status is Status.FAIL and "ssm:DescribeParameters (read)" in rotate.detail
    assert rotate.fix is not None and "report mode" not in rotate.fix


def test_without_an_owned_image_the_writes_are_skipped_with_the_reason(clients: Clients) -> None:
    rotate = _one(clients, "permissions: rotate")
    assert rotate.status is Status.WARN
    assert "skipped ec2:DescribeImageAttribute" in rotate.detail
    assert f"this account owns no image in {REGION}" in rotate.detail


# -- CloudTrail ------------------------------------------------------------------------------


def _trail(region: str, name: str = "org-trail", *, multi_region: bool = True, logging: bool = True) -> Any:
    s3 = boto3.client("s3", region_name=region)
    bucket = f"{name}-logs-{region}"
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **config)
    trails = boto3.client("cloudtrail", region_name=region)
    trails.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=multi_region)
    if logging:
        trails.start_logging(Name=name)
    return trails


def test_a_multi_region_trail_homed_elsewhere_covers_the_region(clients: Clients) -> None:
    _trail(OTHER_REGION)
    check = _one(clients, "cloudtrail")
    assert check.status is Status.PASS
    assert check.detail == f"trail org-trail (multi-region, home {OTHER_REGION}) is logging management events"


def test_no_trail_fails_and_says_what_is_lost(clients: Clients) -> None:
    _trail(OTHER_REGION, multi_region=False)  # a single-region trail of another region does not count
    check = _one(clients, "cloudtrail")
    assert check.status is Status.FAIL
    assert "no trail records management (write) events" in check.detail and "schedules only" in check.detail
    assert check.fix is not None and "--is-multi-region-trail" in check.fix


def test_a_trail_that_is_not_logging_fails_with_start_logging(clients: Clients) -> None:
    _trail(REGION, "stopped", logging=False)
    check = _one(clients, "cloudtrail")
    assert check.status is Status.FAIL and "is not logging" in check.detail
    assert check.fix == "aws cloudtrail start-logging --name stopped"


def test_a_trail_recording_only_read_events_does_not_count(clients: Clients) -> None:
    trails = _trail(REGION, "reads")
    selector = [
        {"Field": "eventCategory", "Equals": ["Management"]},
        {"Field": "readOnly", "Equals": ["true"]},
    ]
    trails.put_event_selectors(TrailName="reads", AdvancedEventSelectors=[{"FieldSelectors": selector}])
    assert _one(clients, "cloudtrail").status is Status.FAIL


def test_a_trail_whose_status_is_unreadable_fails(clients: Clients) -> None:
    _trail(REGION)
    deny(clients.session, "cloudtrail", "GetTrailStatus", code="AccessDeniedException")
    check = _one(clients, "cloudtrail")
    assert check.status is Status.FAIL and check.detail.startswith(
        "could not read trail org-trail: AccessDenied"
    )


def test_unreadable_trails_fail(clients: Clients) -> None:
    deny(clients.session, "cloudtrail", "DescribeTrails", code="AccessDeniedException")
    check = _one(clients, "cloudtrail")
    assert check.status is Status.FAIL and check.detail.startswith("could not read the trails")


# -- EventBridge rules -----------------------------------------------------------------------


def _rule(
    region: str, name: str, description: str, *, schedule: bool = False, state: str = "ENABLED"
) -> None:
    shape = (
        {"ScheduleExpression": "rate(1 day)"}
        if schedule
        else {"EventPattern": json.dumps({"source": ["aws.ec2"]})}
    )
    boto3.client("events", region_name=region).put_rule(
        Name=name, Description=description, State=state, **shape
    )


def test_the_stacks_rules_say_which_jobs_react_in_real_time(clients: Clients) -> None:
    _rule(REGION, "AmiHygiene-TagsImageCallsRule1A2B3C4D-ABCDEF123456", "ami-hygiene tags: an image was made")
    _rule(REGION, "AmiHygiene-PublicSharingCallsRule5E6F-123456ABCDEF", "ami-hygiene public: sharing changed")
    _rule(
        REGION,
        "AmiHygiene-RotateScheduleRule0A1B2C3D-7890ABCDEF12",
        "ami-hygiene: runs the rotate job",
        schedule=True,
    )
    _rule(REGION, "AmiHygieneStaging-RebuildRule-1", "ami-hygiene rebuild: another stack", state="DISABLED")
    check = _one(clients, "eventbridge rules")
    assert check.status is Status.PASS
    assert (
        check.detail == "real-time rules for public, tags; schedules for rotate; rebuild here by sweeps only"
    )


def test_a_disabled_rule_of_the_stack_fails(clients: Clients) -> None:
    _rule(
        REGION,
        "AmiHygiene-TagsImageCallsRule1A2B-XYZ",
        "ami-hygiene tags: an image was made",
        state="DISABLED",
    )
    check = _one(clients, "eventbridge rules")
    assert check.status is Status.FAIL
    assert (
        check.fix == f"aws events enable-rule --region {REGION} --name AmiHygiene-TagsImageCallsRule1A2B-XYZ"
    )


def test_a_region_without_the_stacks_rules_has_sweeps_only(clients: Clients) -> None:
    _rule(OTHER_REGION, "AmiHygiene-TagsImageCallsRule1A2B-XYZ", "ami-hygiene tags: an image was made")
    checks, _ = _run(clients, (REGION, OTHER_REGION))
    here = _check(checks, "eventbridge rules")
    assert here.status is Status.WARN and "sweeps only" in here.detail
    assert _check(checks, "eventbridge rules", OTHER_REGION).status is Status.PASS


def test_another_stack_name_is_looked_for(clients: Clients) -> None:
    _rule(REGION, "Golden-TagsImageCallsRule1A2B-XYZ", "ami-hygiene tags: an image was made")
    assert _one(clients, "eventbridge rules", stack_name="Golden").status is Status.PASS


def test_unreadable_rules_fail(clients: Clients) -> None:
    deny(clients.session, "events", "ListRules", code="AccessDeniedException")
    assert _one(clients, "eventbridge rules").status is Status.FAIL


# -- block public access ---------------------------------------------------------------------


def test_image_block_public_access(clients: Clients) -> None:
    check = _one(clients, "image block public access")
    assert check.status is Status.WARN and check.detail.startswith("unblocked")
    boto3.client("ec2", region_name=REGION).enable_image_block_public_access(
        ImageBlockPublicAccessState="block-new-sharing"
    )
    assert _one(clients, "image block public access").status is Status.PASS


def test_unreadable_image_block_public_access_fails(clients: Clients) -> None:
    deny(clients.session, "ec2", "GetImageBlockPublicAccessState")
    assert _one(clients, "image block public access").status is Status.FAIL


def test_snapshot_block_public_access(clients: Clients) -> None:
    check = _one(clients, "snapshot block public access")
    assert check.status is Status.WARN and check.fix is not None and "--state block-new-sharing" in check.fix
    boto3.client("ec2", region_name=REGION).enable_snapshot_block_public_access(State="block-all-sharing")
    assert _one(clients, "snapshot block public access").status is Status.PASS


def test_unreadable_snapshot_block_public_access_fails(clients: Clients) -> None:
    deny(clients.session, "ec2", "GetSnapshotBlockPublicAccessState")
    assert _one(clients, "snapshot block public access").status is Status.FAIL


# -- Allowed AMIs ----------------------------------------------------------------------------


def test_allowed_amis(clients: Clients) -> None:
    check = _one(clients, "allowed AMIs")
    assert check.status is Status.PASS and check.detail.startswith("disabled")
    boto3.client("ec2", region_name=REGION).enable_allowed_images_settings(
        AllowedImagesSettingsState="enabled"
    )
    check = _one(clients, "allowed AMIs")
    assert check.status is Status.WARN and "hides images of other owners" in check.detail


def test_unreadable_allowed_amis_fails(clients: Clients) -> None:
    deny(clients.session, "ec2", "GetAllowedImagesSettings")
    check = _one(clients, "allowed AMIs")
    assert (
        check.status is Status.FAIL and check.fix is not None and "ec2:GetAllowedImagesSettings" in check.fix
    )


# -- Recycle Bin -----------------------------------------------------------------------------

RETIRED = [{"ResourceTagKey": "ami-hygiene:retired-by", "ResourceTagValue": "rotate"}]


def _bin_rule(resource_type: str, **kwargs: Any) -> None:
    boto3.client("rbin", region_name=REGION).create_rule(
        ResourceType=resource_type,
        RetentionPeriod={"RetentionPeriodValue": 7, "RetentionPeriodUnit": "DAYS"},
        **kwargs,
    )


def test_recycle_bin_rules_for_what_rotate_retires(clients: Clients) -> None:
    _bin_rule("EC2_IMAGE", ResourceTags=RETIRED)
    _bin_rule("EBS_SNAPSHOT")  # Region-level: keeps everything
    check = _one(clients, "recycle bin")
    assert check.status is Status.PASS and "EC2_IMAGE" in check.detail and "EBS_SNAPSHOT" in check.detail


def test_recycle_bin_without_a_rule_that_keeps_retired_snapshots_warns(clients: Clients) -> None:
    _bin_rule("EC2_IMAGE", ResourceTags=RETIRED)
    _bin_rule("EBS_SNAPSHOT", ExcludeResourceTags=RETIRED)  # Region-level, but not for these
    check = _one(clients, "recycle bin")
    assert check.status is Status.WARN and "no Recycle Bin rule keeps EBS_SNAPSHOT" in check.detail
    assert check.fix is not None and "--resource-type EBS_SNAPSHOT" in check.fix


def test_unreadable_recycle_bin_fails(clients: Clients) -> None:
    deny(clients.session, "rbin", "ListRules", code="AccessDeniedException")
    assert _one(clients, "recycle bin").status is Status.FAIL


# -- Lambda concurrency ----------------------------------------------------------------------


def test_lambda_concurrency_with_room_for_the_four_functions(clients: Clients) -> None:
    check = _one(clients, "lambda concurrency")
    assert check.status is Status.PASS and check.detail.startswith("1000 of 1000 concurrent executions")


def test_lambda_concurrency_too_small_fails(clients: Clients) -> None:
    set_concurrency_quota(sandbox.backend("lambda", REGION), 3)
    check = _one(clients, "lambda concurrency")
    assert check.status is Status.FAIL and "fewer than 4" in check.detail


def test_lambda_concurrency_is_checked_in_the_first_region_only(clients: Clients) -> None:
    checks, _ = _run(clients, (REGION, OTHER_REGION))
    assert [c.region for c in checks if c.check == "lambda concurrency"] == [REGION]


def test_unreadable_lambda_settings_fail(clients: Clients) -> None:
    deny(clients.session, "lambda", "GetAccountSettings", code="AccessDeniedException")
    assert _one(clients, "lambda concurrency").status is Status.FAIL


# -- the sandbox's own limits ----------------------------------------------------------------


def test_an_endpoint_adds_a_warning_about_what_it_cannot_prove(clients: Clients) -> None:
    check = _one(clients, "endpoint", None, endpoint="http://127.0.0.1:5000")
    assert check.status is Status.WARN and "enforces no IAM" in check.detail
    assert all(c.check != "endpoint" for c in _run(clients)[0])


# -- the command line ------------------------------------------------------------------------


def _all_set(region: str) -> None:
    """An account where every check passes or only warns."""
    Seeder(region, datetime.now(UTC)).image("web-1", 1)
    _trail(region)
    for job in ("tags", "public", "rebuild"):
        _rule(region, f"AmiHygiene-{job.title()}EventsRule-ABC", f"ami-hygiene {job}: events")
    ec2 = boto3.client("ec2", region_name=region)
    ec2.enable_image_block_public_access(ImageBlockPublicAccessState="block-new-sharing")
    ec2.enable_snapshot_block_public_access(State="block-new-sharing")
    _bin_rule("EC2_IMAGE", ResourceTags=RETIRED)
    _bin_rule("EBS_SNAPSHOT", ResourceTags=RETIRED)


def test_json_has_every_check_as_data_and_exit_0_when_none_fails(aws: None) -> None:
    _all_set(REGION)
    code, out = run_cli(["doctor", "--region", REGION, "--format", "json", "--consumer-role-name", "reader"])
    checks = json.loads(out)
    assert code == 0
    assert all(set(c) == {"check", "region", "ok", "status", "detail", "fix"} for c in checks)
    assert all(c["ok"] and c["status"] == "pass" for c in checks), [
        c for c in checks if c["status"] != "pass"
    ]
    assert [c["check"] for c in checks[:5]] == [
        "credentials",
        "permissions: rotate",
        "permissions: tags",
        "permissions: public",
        "permissions: rebuild",
    ]


def test_text_has_one_line_per_check_and_exit_1_on_a_failure(aws: None) -> None:
    code, out = run_cli(["doctor", "--region", REGION])
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith("✔ credentials: account")
    assert any(line.startswith(f"✘ cloudtrail [{REGION}]: no trail") and "-> fix: " in line for line in lines)
    assert any(line.startswith(f"! image block public access [{REGION}]: unblocked") for line in lines)
    # credentials, 10 per region, consumer roles, lambda, summary
    assert lines[-1].endswith("failed") and len(lines) == 14


def test_regions_come_from_the_environment_when_not_given(aws: None) -> None:
    _, out = run_cli(["doctor", "--format", "json"], env={"REGIONS": f"{REGION},{OTHER_REGION}"})
    regions = {c["region"] for c in json.loads(out)}
    assert regions == {None, REGION, OTHER_REGION}


def test_a_bad_region_exits_2_with_one_line(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(["doctor", "--region", "nowhere"])
    assert code == 2 and out == ""
    err = capsys.readouterr().err
    assert "'nowhere' is not a region name" in err and err.count("\n") == 1


def test_missing_credentials_exit_2(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> Clients:
        found = Clients()
        deny(found.session, "sts", "GetCallerIdentity", code="ExpiredToken")
        return found

    monkeypatch.setattr(doctor, "Clients", broken)
    code, out = run_cli(["doctor", "--region", REGION])
    assert code == 2 and out.startswith("✘ credentials: no working credentials: ExpiredToken")


def test_no_credentials_at_all_exit_2(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, out = run_cli(["doctor", "--region", REGION])
    assert code == 2 and "Unable to locate credentials" in out


# -- consumer roles ----------------------------------------------------------------------------


def test_consumer_roles_pass_when_every_allowed_account_trusts_this_one(clients: Clients) -> None:
    from sandbox.accounts import create_role

    create_role("111122223333", "ami-hygiene-consumer", (ACCOUNT,))
    check = _one(
        clients,
        "consumer roles",
        None,
        consumer_role_name="ami-hygiene-consumer",
        consumer_accounts=["111122223333"],
    )
    assert check.status is Status.PASS and "assumable in all 1 accounts" in check.detail


def test_a_consumer_role_that_cannot_be_assumed_fails_naming_the_account(clients: Clients) -> None:
    from sandbox.accounts import create_role

    create_role("111122223333", "ami-hygiene-consumer", (ACCOUNT,))
    checks, code = _run(
        clients, consumer_role_name="ami-hygiene-consumer", consumer_accounts=["111122223333", "444455556666"]
    )
    check = _check(checks, "consumer roles", None)
    assert check.status is Status.FAIL and code == 1
    assert "1 of 2 accounts" in check.detail and "444455556666" in check.detail
    assert "infra/consumer-role.yaml" in (check.fix or "")


def test_no_consumer_role_is_a_warning_that_says_shared_images_are_kept(clients: Clients) -> None:
    check = _one(clients, "consumer roles", None)
    assert check.status is Status.WARN and "kept while their use is unknown" in check.detail
