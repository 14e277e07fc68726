"""allowed_images_warning: one sentence when Allowed AMIs can hide images from the jobs."""

from __future__ import annotations

from typing import Any

import pytest

from ami_hygiene.core.allowed_images import allowed_images_warning, read_allowed_images
from tests.helpers.constants import REGION
from tests.helpers.faults import deny


def _calls(ec2: Any) -> list[str]:
    seen: list[str] = []
    ec2.meta.events.register("before-call.ec2.*", lambda model, **_: seen.append(model.name))
    return seen


def test_disabled_gives_no_warning_after_one_read(ec2: Any) -> None:
    seen = _calls(ec2)
    assert allowed_images_warning(ec2, REGION) is None
    assert seen == ["GetAllowedImagesSettings"]


def test_enabled_warns_that_other_owners_images_outside_the_criteria_are_hidden(ec2: Any) -> None:
    ec2.replace_image_criteria_in_allowed_images_settings(ImageCriteria=[{"ImageProviders": ["amazon"]}])
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")
    warning = allowed_images_warning(ec2, REGION)
    assert warning is not None
    assert f"Allowed AMIs is enabled in {REGION} with 1 criterion" in warning
    assert "images of other owners outside the criteria" in warning
    assert "base image" in warning and "own images are never hidden" in warning


def test_audit_mode_warns_what_enabling_would_hide(ec2: Any) -> None:
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")
    warning = allowed_images_warning(ec2, REGION)
    assert warning is not None and "audit-mode" in warning and "no criteria" in warning
    assert "nothing is hidden yet" in warning


def test_an_unreadable_setting_says_so(ec2: Any) -> None:
    deny(ec2, "ec2", "GetAllowedImagesSettings")
    warning = allowed_images_warning(ec2, REGION)
    assert warning == (
        f"could not read the Allowed AMIs setting in {REGION}: UnauthorizedOperation: "
        "You are not authorized to perform GetAllowedImagesSettings"
    )


@pytest.mark.parametrize("code", ["InvalidAction", "UnsupportedOperation"])
def test_an_endpoint_without_the_api_gives_no_warning(ec2: Any, code: str) -> None:
    deny(ec2, "ec2", "GetAllowedImagesSettings", code=code)
    assert allowed_images_warning(ec2, REGION) is None
    assert read_allowed_images(ec2, REGION).absent
