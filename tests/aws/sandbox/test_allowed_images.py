"""The embedded AWS's Allowed AMIs setting, and what it hides from DescribeImages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import sandbox
from sandbox.clock import now
from sandbox.image_model import extras_of
from tests.helpers.constants import FOREIGN, REGION, STRANGER
from tests.helpers.sandbox import error_code, foreign_image, register, snapshot


def _public(image_id: str, name: str, owner: str = FOREIGN, **attrs: Any) -> str:
    """A public image of another owner in this region (seeded: no API makes one)."""
    return foreign_image(image_id, name=name, owner=owner, public=True, **attrs)


def _listed(ec2: Any, **kwargs: Any) -> dict[str, Any]:
    return {i["ImageId"]: i.get("ImageAllowed") for i in ec2.describe_images(**kwargs)["Images"]}


def _criteria(ec2: Any, *criteria: dict[str, Any]) -> None:
    ec2.replace_image_criteria_in_allowed_images_settings(ImageCriteria=list(criteria))


def test_every_account_starts_disabled_and_describe_images_has_no_image_allowed(ec2: Any) -> None:
    own = register(ec2, "web-1", snapshot(ec2))
    theirs = _public("ami-0000000000000a001", "base-1")
    setting = ec2.get_allowed_images_settings()
    assert (setting["State"], setting["ImageCriteria"], setting["ManagedBy"]) == ("disabled", [], "account")
    assert _listed(ec2) == {own: None, theirs: None}


def test_enabled_hides_other_owners_outside_the_criteria_never_the_accounts_own(ec2: Any) -> None:
    own = register(ec2, "web-1", snapshot(ec2))
    allowed = _public("ami-0000000000000a001", "base-1", owner=STRANGER)
    hidden = _public("ami-0000000000000a002", "base-2")
    _criteria(ec2, {"ImageProviders": [STRANGER]})
    assert (
        ec2.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")["AllowedImagesSettingsState"]
        == "enabled"
    )

    assert _listed(ec2) == {own: True, allowed: True}
    # Own images stay discoverable however they are asked for (API reference: "always discoverable").
    assert _listed(ec2, Owners=["self"]) == {own: True}
    assert _listed(ec2, ImageIds=[own]) == {own: True}
    # A hidden image is not returned even by id.
    assert _listed(ec2, ImageIds=[hidden]) == {}


def test_audit_mode_lists_everything_and_marks_what_would_be_hidden(ec2: Any) -> None:
    own = register(ec2, "web-1", snapshot(ec2))
    allowed = _public("ami-0000000000000a001", "al2023-ami-2025", owner_alias="amazon")
    outside = _public("ami-0000000000000a002", "base-2")
    _criteria(ec2, {"ImageProviders": ["amazon"]})
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")
    assert ec2.get_allowed_images_settings()["State"] == "audit-mode"
    assert _listed(ec2) == {own: True, allowed: True, outside: False}


def test_a_criterion_needs_all_its_parameters_and_any_criterion_will_do(ec2: Any) -> None:
    both = _public("ami-0000000000000a001", "golden-[v2].x", owner=STRANGER)
    wrong_name = _public("ami-0000000000000a002", "other-1", owner=STRANGER)
    by_code = _public("ami-0000000000000a003", "vendor-1", product_codes={"abc123"})
    _public("ami-0000000000000a004", "golden-[v2].x")  # the name alone is not enough: wrong owner
    _criteria(
        ec2,
        {"ImageProviders": [STRANGER], "ImageNames": ["golden-[v?].*"]},
        {"MarketplaceProductCodes": ["abc123"]},
    )
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")
    assert set(_listed(ec2)) == {both, by_code}
    assert wrong_name not in _listed(ec2)


def test_creation_and_deprecation_conditions(ec2: Any) -> None:
    young = _public("ami-0000000000000a001", "young", creation_date=now() - timedelta(days=10))
    old = _public("ami-0000000000000a002", "old", creation_date=now() - timedelta(days=400))
    deprecated = _public("ami-0000000000000a003", "deprecated", creation_date=now() - timedelta(days=5))
    extras_of(sandbox.backend("ec2", REGION).amis[deprecated]).deprecate_at = now() - timedelta(days=1)
    _criteria(
        ec2,
        {
            "ImageProviders": [FOREIGN],
            "CreationDateCondition": {"MaximumDaysSinceCreated": 300},
            "DeprecationTimeCondition": {"MaximumDaysSinceDeprecated": 0},
        },
    )
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")
    found = _listed(ec2, IncludeDeprecated=True)
    assert found == {young: True, old: False, deprecated: False}


def test_watermark_and_scan_criteria_match_nothing_here(ec2: Any) -> None:
    image = _public("ami-0000000000000a001", "base-1")
    _criteria(
        ec2,
        {"ImageProviders": [FOREIGN], "ScanResultCondition": {"MaximumSeverityLabel": "high"}},
        {"ImageProviders": [FOREIGN], "ImageWatermarks": [{"WatermarkKey": "*"}]},
    )
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")
    assert _listed(ec2) == {image: False}


def test_disable_keeps_the_criteria_and_shows_everything(ec2: Any) -> None:
    image = _public("ami-0000000000000a001", "base-1")
    _criteria(ec2, {"ImageProviders": ["none"]})
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")
    assert _listed(ec2) == {}
    assert ec2.disable_allowed_images_settings()["AllowedImagesSettingsState"] == "disabled"
    setting = ec2.get_allowed_images_settings()
    assert setting["State"] == "disabled" and setting["ImageCriteria"] == [{"ImageProviders": ["none"]}]
    assert _listed(ec2) == {image: None}


def test_the_setting_is_per_region(ec2: Any) -> None:
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")
    other = boto3.client("ec2", region_name="us-east-1")
    assert other.get_allowed_images_settings()["State"] == "disabled"


@pytest.mark.parametrize(
    ("criteria", "code"),
    [
        ([{"ImageProviders": ["amazon"]}] * 11, "InvalidParameterValue"),
        ([{"ImageProviders": ["none", "amazon"]}], "InvalidParameterCombination"),
        ([{"ImageProviders": ["somebody"]}], "InvalidParameterValue"),
        ([{"ImageNames": [f"n{k:03}" for k in range(51)]}], "InvalidParameterValue"),
    ],
)
def test_bad_criteria_are_refused(ec2: Any, criteria: list[dict[str, Any]], code: str) -> None:
    with pytest.raises(ClientError) as err:
        _criteria(ec2, *criteria)
    assert error_code(err) == code
    assert ec2.get_allowed_images_settings()["ImageCriteria"] == []


def test_enable_takes_only_enabled_or_audit_mode(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.enable_allowed_images_settings(AllowedImagesSettingsState="disabled")
    assert error_code(err) == "InvalidParameterValue"


def test_dry_run_changes_nothing(ec2: Any) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = [
        (ec2.get_allowed_images_settings, {}),
        (ec2.enable_allowed_images_settings, {"AllowedImagesSettingsState": "enabled"}),
        (
            ec2.replace_image_criteria_in_allowed_images_settings,
            {"ImageCriteria": [{"ImageProviders": ["none"]}]},
        ),
        (ec2.disable_allowed_images_settings, {}),
    ]
    for call, kwargs in calls:
        with pytest.raises(ClientError) as err:
            call(DryRun=True, **kwargs)
        assert error_code(err) == "DryRunOperation"
    setting = ec2.get_allowed_images_settings()
    assert (setting["State"], setting["ImageCriteria"]) == ("disabled", [])
