"""Published event samples (tests/fixtures/events/real, provenance in SOURCES.md) through each job's parser.

Each fixture goes through the entry its handler uses, with the fixture's own account: the tag job's
``parse_event``, the public job's ``parse_sharing_event``, the rebuild job's ``parse_build_event``
and the handlers' ``ScheduledEvent`` model. Samples the parsers refuse are asserted refused, with
the reason: placeholders left in documentation examples, ids an anonymiser mangled, a record its
publisher trimmed, and ImportImage, whose record names an import task rather than an image.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser import ValidationError, parse

from ami_hygiene.jobs.public.events import parse_sharing_event
from ami_hygiene.jobs.rebuild.events import parse_build_event
from ami_hygiene.jobs.rebuild.model import BuildKind
from ami_hygiene.jobs.tags.events import EventError, parse_event
from tests.helpers.events import EVENTS, load_event

REAL = EVENTS / "real"


def account(event: dict[str, Any]) -> str:
    return str(event["account"])


def refusal(parser: Any, name: str, *args: Any) -> str:
    event = load_event(f"real/{name}")
    with pytest.raises(EventError) as caught:
        parser(event, account(event), *args)
    return str(caught.value)


# -- every fixture is accounted for ----------------------------------------------------------

TESTED = {
    # tag job
    "create_image_streamalert.json",
    "copy_image_lineage.json",
    "register_image_documented.json",
    "import_image_documented.json",
    "create_tags_instance_console.json",
    "create_tags_lambda_role_volume.json",
    "delete_tags_documented.json",
    "ami_state_change_available_doc.json",
    "ami_state_change_available_doc_filled.json",
    "own_role_create_tags.json",
    # public job
    "modify_image_attribute_public_streamalert.json",
    "modify_image_attribute_remove_public_streamalert.json",
    "modify_snapshot_attribute_public_streamalert.json",
    "modify_image_attribute_share_stratus.json",
    "iam_user_modify_image_attribute.json",
    "modify_snapshot_attribute_share_stratus.json",
    "modify_image_attribute_organization_documented.json",
    "disable_image_block_public_access_documented.json",
    # rebuild job
    "imagebuilder_state_change_doc.json",
    "imagebuilder_state_change_doc_filled.json",
    "ssm_automation_execution_doc.json",
    # schedules
    "scheduled_event_doc.json",
    "scheduled_event_old_console_template.json",
}


def test_every_fixture_is_tested_and_has_its_source_written_down() -> None:
    on_disk = {p.name for p in REAL.glob("*.json")}
    assert on_disk == TESTED
    sources = (REAL / "SOURCES.md").read_text()
    listed = set(re.findall(r"`([a-z0-9_]+\.json)`", sources))
    assert on_disk <= listed


# -- tag job: parse_event ----------------------------------------------------------------------


def test_real_console_create_image() -> None:
    event = load_event("real/create_image_streamalert.json")
    parsed = parse_event(event, account(event))
    assert parsed.image_ids == ("ami-6eb72111",)
    assert parsed.event_name == "CreateImage"
    assert parsed.principal_arn == "arn:aws:iam::444444444444:user/test"
    assert parsed.source_ip == "12.10.0.1"
    assert (parsed.region, parsed.account) == ("us-east-1", "444444444444")
    assert parsed.time == datetime(2018, 5, 15, 16, 1, 34, tzinfo=UTC)
    assert (parsed.source_image, parsed.source_region) == (None, None)


def test_copy_image_record_trimmed_by_its_publisher_is_refused_for_its_missing_identity() -> None:
    # The only published CopyImage record has no userIdentity (left out by the publisher).
    why = refusal(parse_event, "copy_image_lineage.json")
    assert "detail.userIdentity" in why
    # What it would give with one: the copy and its source.
    event = load_event("real/copy_image_lineage.json")
    event["detail"]["userIdentity"] = {"type": "IAMUser", "arn": "arn:aws:iam::527579490183:user/x"}
    parsed = parse_event(event, account(event))
    assert parsed.image_ids == ("ami-00339be3aeeb7ac2d",)
    assert (parsed.source_image, parsed.source_region) == ("ami-0528b3966f95526ee", "us-west-2")
    assert parsed.source_ip == "205.251.233.178"


def test_register_image_documented_shape() -> None:
    event = load_event("real/register_image_documented.json")
    parsed = parse_event(event, account(event))
    assert (parsed.event_name, parsed.image_ids) == ("RegisterImage", ("ami-1234567890abcdef0",))
    assert parsed.principal_arn == "arn:aws:iam::123456789012:user/alice"


def test_import_image_names_an_import_task_not_an_image_and_is_refused() -> None:
    event = load_event("real/import_image_documented.json")
    response = event["detail"]["responseElements"]
    assert "imageId" not in response
    assert response["importTaskId"].startswith("import-ami-")
    why = refusal(parse_event, "import_image_documented.json")
    assert "ImportImage" in why


@pytest.mark.parametrize(
    ("name", "resource"),
    [
        ("create_tags_instance_console.json", "i-0ac0c97c76bda8dfb"),
        ("create_tags_lambda_role_volume.json", "vol-02e6465799de7075a"),
    ],
)
def test_real_create_tags_on_other_resources_are_refused_naming_them(name: str, resource: str) -> None:
    why = refusal(parse_event, name)
    assert "CreateTags" in why
    assert resource in why


def test_real_create_tags_shape_finds_an_image_among_its_resources() -> None:
    # The real console record with one more resource: an image next to the instance.
    event = load_event("real/create_tags_instance_console.json")
    items = event["detail"]["requestParameters"]["resourcesSet"]["items"]
    items.append({"resourceId": "ami-0ac0c97c76bda8dfb"})
    parsed = parse_event(event, account(event))
    assert (parsed.event_name, parsed.image_ids) == ("CreateTags", ("ami-0ac0c97c76bda8dfb",))
    assert parsed.principal_arn == "arn:aws:iam::069159957172:user/Suchintya"
    assert parsed.source_ip == "165.225.34.95"
    assert (parsed.region, parsed.account) == ("us-east-2", "069159957172")


def test_delete_tags_documented_shape() -> None:
    event = load_event("real/delete_tags_documented.json")
    parsed = parse_event(event, account(event))
    assert (parsed.event_name, parsed.image_ids) == ("DeleteTags", ("ami-0abcdef1234567890",))


def test_ami_state_change_doc_example_keeps_a_placeholder_time_and_is_refused() -> None:
    why = refusal(parse_event, "ami_state_change_available_doc.json")
    assert why.startswith("malformed event: time")


def test_ami_state_change_doc_example_with_a_time() -> None:
    event = load_event("real/ami_state_change_available_doc_filled.json")
    parsed = parse_event(event, account(event))
    assert parsed.image_ids == ("ami-0abcdef1234567890",)
    assert (parsed.event_name, parsed.state) == ("StateChange:available", "available")
    assert (parsed.region, parsed.account) == ("us-east-1", "012345678901")
    assert parsed.principal_arn is None


def test_own_role_create_tags_parses_to_our_image_and_role_session() -> None:
    event = load_event("real/own_role_create_tags.json")
    parsed = parse_event(event, account(event))
    assert (parsed.event_name, parsed.image_ids) == ("CreateTags", ("ami-0a1b2c3d4e5f60718",))
    assert parsed.principal_arn == (
        "arn:aws:sts::111122223333:assumed-role/AmiHygiene-TagsRole1A2B3C4D-9ZYX8WVU7TSR/"
        "AmiHygiene-TagsFunction5E6F7A8B-QwErTyUiOp12"
    )
    issuer = event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]
    assert issuer["arn"] == "arn:aws:iam::111122223333:role/AmiHygiene-TagsRole1A2B3C4D-9ZYX8WVU7TSR"


# -- public job: parse_sharing_event -----------------------------------------------------------


def test_real_console_make_public() -> None:
    event = load_event("real/modify_image_attribute_public_streamalert.json")
    parsed = parse_sharing_event(event, account(event))
    assert (parsed.resource_id, parsed.resource_type) == ("ami-6eb72111", "image")
    assert parsed.event_name == "ModifyImageAttribute"
    assert (parsed.added, parsed.removed) == (("all",), ())
    assert parsed.made_public and parsed.needs_guard
    assert parsed.principal_arn == "arn:aws:iam::444444444444:user/test"
    assert parsed.source_ip == "12.1.0.11"


SANITISED_PRINCIPAL = (
    "malformed event: detail.userIdentity.arn: not an IAM or STS principal ARN of an account"
)


def with_principal(name: str) -> dict[str, Any]:
    """A StreamAlert sample with only its sanitised userIdentity.arn ("...") replaced by an ARN."""
    event = load_event(f"real/{name}")
    assert event["detail"]["userIdentity"]["arn"] == "..."
    event["detail"]["userIdentity"]["arn"] = f"arn:aws:iam::{account(event)}:user/sanitised"
    return event


def test_real_remove_public_keeps_its_sanitised_principal_and_is_refused_for_it() -> None:
    # StreamAlert wrote "..." for the principal's ARN; CloudTrail always writes an ARN there.
    why = refusal(parse_sharing_event, "modify_image_attribute_remove_public_streamalert.json")
    assert why == f"{SANITISED_PRINCIPAL} (got '...')"


def test_real_remove_public_needs_no_guard() -> None:
    event = with_principal("modify_image_attribute_remove_public_streamalert.json")
    parsed = parse_sharing_event(event, account(event))
    assert (parsed.resource_id, parsed.resource_type) == ("ami-00000000000000000", "image")
    assert (parsed.added, parsed.removed) == ((), ("all",))
    assert not parsed.made_public
    assert not parsed.needs_guard
    assert parsed.source_ip == "..."  # sanitised by the publisher: a source address may be any name


def test_real_snapshot_made_public_keeps_its_sanitised_principal_and_is_refused_for_it() -> None:
    why = refusal(parse_sharing_event, "modify_snapshot_attribute_public_streamalert.json")
    assert why == f"{SANITISED_PRINCIPAL} (got '...')"


def test_real_snapshot_made_public() -> None:
    event = with_principal("modify_snapshot_attribute_public_streamalert.json")
    parsed = parse_sharing_event(event, account(event))
    assert (parsed.resource_id, parsed.resource_type) == ("snap-00000000000000000", "snapshot")
    assert (parsed.event_name, parsed.added) == ("ModifySnapshotAttribute", ("all",))
    assert parsed.made_public and parsed.needs_guard


def test_real_stratus_share_keeps_its_anonymised_mixed_case_image_id_and_region_and_is_refused() -> None:
    why = refusal(parse_sharing_event, "modify_image_attribute_share_stratus.json")
    # Every problem of the whole event is named, with its value: both regions and the image id.
    assert why.startswith("malformed event: region: not a region name like eu-west-1 (got 'me-south-1r')")
    assert "detail.awsRegion: not a region name like eu-west-1 (got 'me-south-1r')" in why
    assert "detail.requestParameters.imageId: not an image id" in why
    assert "(got 'ami-de1fbCab6ccB03e6D')" in why


def test_iam_user_share_without_session_context() -> None:
    event = load_event("real/iam_user_modify_image_attribute.json")
    identity = event["detail"]["userIdentity"]
    assert identity["type"] == "IAMUser"
    assert "sessionContext" not in identity
    parsed = parse_sharing_event(event, account(event))
    assert (parsed.resource_id, parsed.resource_type) == ("ami-de1fbcab6ccb03e6d", "image")
    assert (parsed.added, parsed.removed) == (("846424999548",), ())
    assert parsed.needs_guard and not parsed.made_public
    assert parsed.principal_arn == "arn:aws:iam::118238665043:user/christophe"
    assert parsed.source_ip == "253.19.58.252"
    assert parsed.account == "118238665043"


def test_real_stratus_snapshot_share_keeps_its_anonymised_region_and_is_refused() -> None:
    why = refusal(parse_sharing_event, "modify_snapshot_attribute_share_stratus.json")
    assert why.startswith("malformed event: region: not a region name like eu-west-1 (got 'me-central-3r')")


def test_real_stratus_snapshot_share() -> None:
    # The anonymiser's region me-central-3r (no such region) replaced by a real one; nothing else.
    event = load_event("real/modify_snapshot_attribute_share_stratus.json")
    event["region"] = event["detail"]["awsRegion"] = "me-central-1"
    parsed = parse_sharing_event(event, account(event))
    assert (parsed.resource_id, parsed.resource_type) == ("snap-041993b54a9b3af6f", "snapshot")
    assert (parsed.added, parsed.removed) == (("098797384747",), ())
    assert parsed.needs_guard
    assert parsed.principal_arn == "arn:aws:iam::756680937392:user/christophe"
    assert parsed.time == datetime(2024, 8, 1, 12, 28, 2, tzinfo=UTC)


def test_organization_and_ou_share_documented_shape() -> None:
    event = load_event("real/modify_image_attribute_organization_documented.json")
    parsed = parse_sharing_event(event, account(event))
    assert parsed.resource_id == "ami-0abcdef1234567890"
    assert parsed.added == (
        "arn:aws:organizations::111122223333:organization/o-123example",
        "arn:aws:organizations::111122223333:ou/o-123example/ou-1234-5example",
    )
    assert parsed.needs_guard and not parsed.made_public


def test_disable_image_block_public_access_documented_shape() -> None:
    event = load_event("real/disable_image_block_public_access_documented.json")
    parsed = parse_sharing_event(event, account(event))
    assert (parsed.resource_id, parsed.resource_type) == ("123456789012", "account")
    assert (parsed.event_name, parsed.region) == ("DisableImageBlockPublicAccess", "us-east-1")
    assert parsed.needs_guard
    assert parsed.principal_arn == "arn:aws:iam::123456789012:user/alice"


# -- rebuild job: parse_build_event ------------------------------------------------------------


def test_image_builder_doc_example_keeps_an_upper_case_placeholder_in_its_arn_and_is_refused() -> None:
    event = load_event("real/imagebuilder_state_change_doc.json")
    (arn,) = event["resources"]
    assert "EXAMPLE22222" in arn
    why = refusal(parse_build_event, "imagebuilder_state_change_doc.json")
    # The refusal shows the first 80 characters of the ARN, not all of it.
    assert why == f"Image Builder event names {arn[:80]!r}…, which is not an image build version ARN"


def test_image_builder_doc_example_with_its_placeholder_lower_cased() -> None:
    event = load_event("real/imagebuilder_state_change_doc_filled.json")
    parsed = parse_build_event(event, account(event))
    name = "cmkencryptedworkflowtest-a1b2c3d4-5678-90ab-cdef-example22222"
    assert parsed.kind is BuildKind.IMAGE_BUILDER
    assert parsed.build_id == f"arn:aws:imagebuilder:us-west-2:111122223333:image/{name}/1.0.0/1"
    assert (parsed.status, parsed.previous_status) == ("AVAILABLE", "TESTING")
    assert (parsed.finished, parsed.succeeded) == (True, True)
    assert (parsed.name, parsed.family) == (name, name)
    assert (parsed.region, parsed.account) == ("us-west-2", "111122223333")
    assert parsed.new_image_id is None
    assert parsed.failure_reason is None
    assert parsed.ended == datetime(2024, 1, 18, 17, 50, 56, tzinfo=UTC)


def test_ssm_doc_example_runs_another_runbook_and_is_refused_by_default() -> None:
    why = refusal(parse_build_event, "ssm_automation_execution_doc.json")
    assert "runcommand1" in why
    assert "not a rebuild runbook" in why


def test_ssm_doc_example_when_its_runbook_is_a_rebuild_runbook() -> None:
    event = load_event("real/ssm_automation_execution_doc.json")
    parsed = parse_build_event(event, account(event), frozenset({"runcommand1"}))
    assert parsed.kind is BuildKind.SSM_AUTOMATION
    assert parsed.build_id == "333ba70b-2333-48db-b17e-a5e69c6f4d1c"
    assert (parsed.status, parsed.finished, parsed.succeeded) == ("Success", True, True)
    assert parsed.name == "runcommand1"
    assert parsed.family is None
    assert parsed.started == datetime(2016, 11, 29, 19, 43, 20, tzinfo=UTC)
    assert parsed.ended == datetime(2016, 11, 29, 19, 43, 26, tzinfo=UTC)
    assert parsed.duration == timedelta(milliseconds=5753)
    assert (parsed.region, parsed.account) == ("us-east-2", "123456789012")
    assert parsed.failure_reason is None


# -- schedules: the handlers' ScheduledEvent model ----------------------------------------------


def parse_schedule(name: str) -> Any:
    # Imported here: handlers.common pulls in the whole handler stack, which the parsers above do not need.
    from ami_hygiene.handlers.common import ScheduledEvent

    return parse(event=load_event(f"real/{name}"), model=ScheduledEvent)


def test_scheduled_event_doc_example() -> None:
    schedule = parse_schedule("scheduled_event_doc.json")
    assert schedule.id == "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"
    assert schedule.time == datetime(2015, 10, 8, 16, 53, 6, tzinfo=UTC)
    assert schedule.resources == ["arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"]


def test_old_scheduled_event_template_without_version_is_refused() -> None:
    # It has no version, and its time is the placeholder 1970-01-01T00:00:00Z, before any AMI.
    with pytest.raises(ValidationError) as caught:
        parse_schedule("scheduled_event_old_console_template.json")
    assert [e["loc"] for e in caught.value.errors()] == [("version",), ("time",)]
