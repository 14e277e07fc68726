"""Image families: the control tag, else the Image Builder ARN, else the name without its version."""

from __future__ import annotations

import pytest

from ami_hygiene.core.estate import TAG_FAMILY, TAG_IMAGE_BUILDER_ARN
from ami_hygiene.core.families import (
    FamilyTagError,
    derived_family,
    family_from_image_builder_arn,
    family_from_name,
    family_of,
)
from tests.helpers.builders import image

ARN = "arn:aws:imagebuilder:eu-west-1:123456789012:image/golden-linux/1.0.0/1"


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("web-2024-05-01T10-00-00Z", "web"),
        ("web-2024-05-01T10:00:00Z", "web"),
        ("web-20240501T1000Z", "web"),
        ("base-al2023-1.4.2", "base-al2023"),
        ("app-v42", "app"),
        ("app-V7", "app"),
        ("build_20240501_1200", "build"),
        ("ubuntu-22.04-amd64-20240501", "ubuntu-22.04-amd64"),
        ("al2023-ami-2023.4.20240513.0-kernel-6.1-x86_64", "al2023-ami-2023.4.20240513.0-kernel-6.1-x86_64"),
        ("golden-linux 2025-12-01 build 3", "golden-linux 2025-12-01 build"),
        ("web-pending-build", "web-pending-build"),
        ("team/web.1", "team/web"),
        ("web-", "web"),
        ("1.2.3", "1.2.3"),  # all version: the whole name
        ("20240501", "20240501"),
        ("v42", "v42"),
        ("", ""),
    ],
)
def test_family_from_name_drops_the_trailing_version_or_timestamp(name: str, family: str) -> None:
    assert family_from_name(name) == family


def test_the_family_tag_wins_over_everything() -> None:
    tagged = image(name="web-v1", tags={TAG_FAMILY: "frontend", TAG_IMAGE_BUILDER_ARN: ARN})
    assert family_of(tagged) == "frontend"


def test_the_image_builder_arn_wins_over_the_name() -> None:
    tagged = image(name="golden-linux 2025-12-01 build 3", tags={TAG_IMAGE_BUILDER_ARN: ARN})
    assert family_of(tagged) == "golden-linux"


@pytest.mark.parametrize(
    ("arn", "family"),
    [
        (ARN, "golden-linux"),
        ("arn:aws-us-gov:imagebuilder:us-gov-west-1:123456789012:image/gov-base/2.1.0/4", "gov-base"),
        ("arn:aws:imagebuilder:eu-west-1:123456789012:image/short", "short"),
        ("arn:aws:imagebuilder:eu-west-1:123456789012:image-recipe/web/1.0.0", None),
        ("arn:aws:ec2:eu-west-1:123456789012:image/ami-1", None),
        ("not an arn", None),
        ("", None),
    ],
)
def test_family_from_image_builder_arn(arn: str, family: str | None) -> None:
    assert family_from_image_builder_arn(arn) == family


def test_a_malformed_image_builder_arn_falls_back_to_the_name() -> None:
    assert family_of(image(name="web-v3", tags={TAG_IMAGE_BUILDER_ARN: "garbage"})) == "web"


def test_without_tags_the_name_decides() -> None:
    assert family_of(image(name="base-al2023-1.4.2")) == "base-al2023"


def test_a_nameless_image_is_its_own_family() -> None:
    assert family_of(image("ami-0abc", name="")) == "ami-0abc"


@pytest.mark.parametrize("value", ["web", "W", "team/web.frontend_1-x", "9lives", "a" * 128])
def test_valid_family_tags(value: str) -> None:
    assert family_of(image(tags={TAG_FAMILY: value})) == value


@pytest.mark.parametrize("value", ["", " web", "web ", "-web", ".web", "/web", "web!", "wéb", "a" * 129])
def test_a_bad_family_tag_is_an_error_naming_image_tag_and_value(value: str) -> None:
    bad = image("ami-0bad", name="web-v1", tags={TAG_FAMILY: value})
    with pytest.raises(FamilyTagError) as caught:
        family_of(bad)
    message = str(caught.value)
    assert "ami-0bad" in message and TAG_FAMILY in message and repr(value) in message
    assert caught.value.image_id == "ami-0bad" and caught.value.value == value
    # The fallback ignores the bad tag.
    assert derived_family(bad) == "web"
