"""The sandbox's remembering picker (sandbox/response_speed.py) serializes the same bytes as moto's."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
import pytest
import time_machine
import xmltodict
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.core import responses as moto_responses
from moto.core.serialize import XFormedAttributePicker

from sandbox import response_speed
from sandbox.demo import seed_demo_estate
from tests.helpers.constants import REGION

NOW = datetime(2026, 6, 1, tzinfo=UTC)
# Each response carries a fresh request id; nothing else may differ.
_REQUEST_ID = re.compile(rb"<requestId>[^<]*</requestId>|<RequestId>[^<]*</RequestId>")


def _bodies(calls: list[Callable[[], Any]], captured: list[bytes]) -> list[bytes]:
    captured.clear()
    for call in calls:
        call()
    return [_REQUEST_ID.sub(b"", body) for body in captured]


def _capture(client: Any, captured: list[bytes]) -> None:
    def keep(response_dict: dict[str, Any], **_: Any) -> None:
        captured.append(response_dict["body"])

    client.meta.events.register("before-parse", keep)


@pytest.mark.usefixtures("aws")
def test_responses_are_byte_identical_to_motos_own_picker() -> None:
    with time_machine.travel(NOW, tick=False):
        seed_demo_estate(NOW)
    captured: list[bytes] = []
    ec2 = boto3.client("ec2", region_name=REGION)
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    ssm = boto3.client("ssm", region_name=REGION)
    for client in (ec2, autoscaling, ssm):
        _capture(client, captured)
    images = [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]]
    calls: list[Callable[[], Any]] = [
        lambda: ec2.describe_images(Owners=["self"], IncludeDeprecated=True, IncludeDisabled=True),
        lambda: ec2.describe_snapshots(OwnerIds=["self"]),
        lambda: ec2.describe_instances(),
        lambda: ec2.describe_launch_template_versions(Versions=["$Latest", "$Default"]),
        lambda: ec2.describe_tags(),
        lambda: autoscaling.describe_auto_scaling_groups(),
        lambda: ssm.describe_parameters(),
        *[partial(ec2.describe_image_attribute, ImageId=i, Attribute="launchPermission") for i in images[:5]],
    ]
    assert moto_responses.XFormedAttributePicker is response_speed.CachedAttributePicker
    remembered = _bodies(calls, captured)
    again = _bodies(calls, captured)  # served from the caches filled above
    try:
        moto_responses.XFormedAttributePicker = XFormedAttributePicker  # type: ignore[misc]
        own = _bodies(calls, captured)
    finally:
        response_speed.install()
    assert len(own) == len(calls)
    assert b"<imagesSet>" in own[0] and b"<item>" in own[0]  # a real estate was compared
    assert remembered == own
    assert again == own


# -- the XML writer ---------------------------------------------------------------------------

_NAMES = st.sampled_from(["a", "b", "item", "@id", "@x", "#text", "#comment", "@xmlns", "bad name", "<x>"])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.text(alphabet="ab<>&\"' \n\t-", max_size=6),
    st.binary(max_size=3),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_NAMES, inner, max_size=4)),
    max_leaves=12,
)


def _written(unparse: Callable[..., str], document: Any, **kwargs: Any) -> str | type[BaseException]:
    try:
        return unparse(document, **kwargs)
    except (ValueError, TypeError, AttributeError) as err:
        return type(err)


@settings(max_examples=300, deadline=None)
@given(
    document=st.dictionaries(_NAMES, _VALUES, min_size=0, max_size=3),
    full_document=st.booleans(),
    short=st.booleans(),
)
def test_the_writer_writes_what_xmltodict_writes(
    document: dict[str, Any], full_document: bool, short: bool
) -> None:
    kwargs = {"full_document": full_document, "short_empty_elements": short}
    assert _written(response_speed.unparse, document, **kwargs) == _written(
        xmltodict.unparse, document, **kwargs
    )


def test_the_writer_writes_a_response_as_xmltodict_does() -> None:
    document = {
        "DescribeImagesResponse": {
            "@xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
            "requestId": "r-1",
            "imagesSet": {
                "item": [{"imageId": "ami-1", "name": "a & <b>", "tagSet": None}, {"imageId": "ami-2"}]
            },
            "empty": [],
            "#comment": "note",
        }
    }
    for short in (True, False):
        mine = response_speed.unparse(document, full_document=True, short_empty_elements=short)
        assert mine == xmltodict.unparse(document, full_document=True, short_empty_elements=short)
    assert "<tagSet/>" in response_speed.unparse(document, short_empty_elements=True)
