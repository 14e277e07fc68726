"""DescribeImages in the embedded AWS: what is listed, in real pages, and at what cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from botocore.exceptions import ClientError

import sandbox
from sandbox.image_model import extras_of
from tests.helpers.constants import ACCOUNT, REGION
from tests.helpers.sandbox import error_code, foreign_image, register, snapshot


def _ids(answer: dict[str, Any]) -> list[str]:
    return [i["ImageId"] for i in answer["Images"]]


def _seed(count: int, prefix: str = "img") -> list[str]:
    """Images registered straight through the backend: fast, and in a known order."""
    backend = sandbox.backend("ec2", REGION, ACCOUNT)
    ids = []
    for k in range(count):
        image = backend.register_image(f"{prefix}-{k:05d}", "")
        backend.create_tags([image.id], {"family": prefix, "n": str(k)})
        ids.append(image.id)
    return ids


# -- what is listed -----------------------------------------------------------------------


def test_owners_always_see_their_deprecated_images(ec2: Any) -> None:
    image_id = register(ec2, "old", snapshot(ec2))
    ec2.enable_image_deprecation(ImageId=image_id, DeprecateAt=datetime.now(UTC) + timedelta(hours=1))
    with time_machine.travel(datetime.now(UTC) + timedelta(days=1)):
        assert _ids(ec2.describe_images(Owners=["self"])) == [image_id]
        assert _ids(ec2.describe_images(Owners=["self"], IncludeDeprecated=False)) == [image_id]


def test_others_deprecated_images_need_include_deprecated_or_their_id(ec2: Any) -> None:
    theirs = foreign_image("ami-0a0a0a0a0a0a0a0a0", shared=True)
    extras_of(sandbox.backend("ec2", REGION).amis[theirs]).deprecate_at = datetime(2026, 1, 1)
    assert _ids(ec2.describe_images(ExecutableUsers=["self"])) == []
    assert _ids(ec2.describe_images(ExecutableUsers=["self"], IncludeDeprecated=True)) == [theirs]
    assert _ids(ec2.describe_images(ImageIds=[theirs])) == [theirs]
    shown = ec2.describe_images(ImageIds=[theirs])["Images"][0]
    assert shown["DeprecationTime"] == "2026-01-01T00:00:00.000Z"


def test_a_future_deprecation_is_shown_but_hides_nothing(ec2: Any) -> None:
    theirs = foreign_image("ami-0b0b0b0b0b0b0b0b0", shared=True)
    extras_of(sandbox.backend("ec2", REGION).amis[theirs]).deprecate_at = datetime.now() + timedelta(days=9)
    assert _ids(ec2.describe_images(ExecutableUsers=["self"])) == [theirs]


def test_disabled_images_need_include_disabled_even_by_id(ec2: Any) -> None:
    kept, disabled = register(ec2, "kept", snapshot(ec2)), register(ec2, "disabled", snapshot(ec2))
    ec2.disable_image(ImageId=disabled)
    assert _ids(ec2.describe_images(Owners=["self"])) == [kept]
    assert _ids(ec2.describe_images(ImageIds=[disabled])) == []
    assert _ids(ec2.describe_images(Owners=["self"], IncludeDisabled=True)) == [kept, disabled]


def test_filters_owners_and_ids_still_apply(ec2: Any) -> None:
    ids = _seed(5, "flt")
    assert _ids(ec2.describe_images(Filters=[{"Name": "name", "Values": ["flt-00003"]}])) == [ids[3]]
    assert _ids(ec2.describe_images(Filters=[{"Name": "tag:n", "Values": ["1", "4"]}])) == [ids[1], ids[4]]
    assert _ids(ec2.describe_images(Owners=["999988887777"])) == []
    by_id = ec2.describe_images(ImageIds=[ids[2], ids[0]], Filters=[{"Name": "tag:n", "Values": ["2"]}])
    assert _ids(by_id) == [ids[2]]
    with pytest.raises(ClientError) as err:
        ec2.describe_images(ImageIds=["ami-0123456789abcdef0"])
    assert error_code(err) == "InvalidAMIID.NotFound"


# -- pages --------------------------------------------------------------------------------


def test_describe_images_pages_in_registration_order(ec2: Any) -> None:
    ids = _seed(25)
    pages = list(
        ec2.get_paginator("describe_images").paginate(Owners=["self"], PaginationConfig={"PageSize": 10})
    )
    assert [len(p["Images"]) for p in pages] == [10, 10, 5]
    assert [i for p in pages for i in _ids(p)] == ids
    assert "NextToken" not in pages[-1]
    assert _ids(ec2.describe_images(Owners=["self"])) == ids  # no MaxResults: everything at once


def test_deletions_between_pages_neither_skip_nor_repeat(ec2: Any) -> None:
    ids = _seed(12)
    first = ec2.describe_images(Owners=["self"], MaxResults=5)
    ec2.deregister_image(ImageId=ids[2])  # already returned
    ec2.deregister_image(ImageId=ids[7])  # not yet returned
    rest = ec2.describe_images(Owners=["self"], MaxResults=5, NextToken=first["NextToken"])
    last = ec2.describe_images(Owners=["self"], MaxResults=5, NextToken=rest["NextToken"])
    assert _ids(first) + _ids(rest) + _ids(last) == ids[:7] + ids[8:]
    assert "NextToken" not in last


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"MaxResults": 0}, "InvalidParameterValue"),
        ({"MaxResults": 1001}, "InvalidParameterValue"),
        ({"MaxResults": 5, "NextToken": "nonsense"}, "InvalidPaginationToken"),
        ({"ImageIds": ["IMAGE"], "MaxResults": 5}, "InvalidParameterCombination"),
    ],
)
def test_bad_page_requests_get_ec2_errors(ec2: Any, kwargs: dict[str, Any], code: str) -> None:
    image_id = _seed(1)[0]
    kwargs = {k: ([image_id] if v == ["IMAGE"] else v) for k, v in kwargs.items()}
    with pytest.raises(ClientError) as err:
        ec2.describe_images(Owners=["self"], **kwargs)
    assert error_code(err) == code


def test_a_token_from_another_listing_is_refused(ec2: Any) -> None:
    _seed(3)
    for _ in range(7):
        snapshot(ec2)
    snapshot_token = ec2.describe_snapshots(OwnerIds=["self"], MaxResults=5)["NextToken"]
    with pytest.raises(ClientError) as err:
        ec2.describe_images(Owners=["self"], MaxResults=5, NextToken=snapshot_token)
    assert error_code(err) == "InvalidPaginationToken"


def test_a_large_estate_lists_in_whole_pages_without_scanning_per_image(
    ec2: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.ec2.models.tags import TagBackend

    import sandbox.image_listing as listing

    ids = _seed(1200, "big")
    tag_scans: list[Any] = []

    def scan_tags(*args: Any, **kwargs: Any) -> list[Any]:
        tag_scans.append(args)
        return []

    monkeypatch.setattr(TagBackend, "describe_tags", scan_tags)
    pages = list(
        ec2.get_paginator("describe_images").paginate(
            Owners=["self"], IncludeDisabled=True, IncludeDeprecated=True, PaginationConfig={"PageSize": 1000}
        )
    )
    assert [len(p["Images"]) for p in pages] == [1000, 200]
    assert [i for p in pages for i in _ids(p)] == ids
    assert pages[1]["Images"][-1]["Tags"] == [
        {"Key": "family", "Value": "big"},
        {"Key": "n", "Value": "1199"},
    ]
    assert tag_scans == []  # each image's tags come from one lookup, not a scan of every tag
    # Launching from an image looks it up by id instead of filtering the whole estate.
    checks: list[Any] = []
    real_check = listing.is_filter_matching

    def check(*args: Any) -> bool:
        checks.append(args)
        return bool(real_check(*args))

    monkeypatch.setattr(listing, "is_filter_matching", check)
    ec2.run_instances(ImageId=ids[600], MinCount=1, MaxCount=1)
    assert len(checks) < 10


# -- DescribeImageAttribute ---------------------------------------------------------------


def test_describe_image_attribute_answers_ec2_errors_for_unknown_images(ec2: Any) -> None:
    for attribute in ("description", "lastLaunchedTime", "deregistrationProtection"):
        with pytest.raises(ClientError) as err:
            ec2.describe_image_attribute(ImageId="ami-0123456789abcdef0", Attribute=attribute)
        assert error_code(err) == "InvalidAMIID.NotFound"
