"""The embedded AWS throttles EC2 like EC2 (sandbox/throttling.py), on the tests' virtual clock.

Every client here makes one attempt per call (no retries), so each throttled request is seen.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox import throttling
from sandbox.throttling import BucketKey, Throttle
from tests.helpers.clock import VirtualClock
from tests.helpers.constants import ACCOUNT, FOREIGN, OTHER_REGION, REGION
from tests.helpers.sandbox import register, snapshot

ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})
THROTTLED = "RequestLimitExceeded"


def _client(region: str = REGION, endpoint: str | None = None) -> Any:
    return boto3.client("ec2", region_name=region, config=ONE_ATTEMPT, endpoint_url=endpoint)


def _outcomes(call: Callable[[], Any], times: int) -> list[str]:
    """'ok' or the error code, for each of `times` calls made at the same instant."""
    found = []
    for _ in range(times):
        try:
            call()
            found.append("ok")
        except ClientError as err:
            found.append(err.response["Error"]["Code"])
    return found


@pytest.fixture
def throttle(aws: None, virtual_pacing_clock: VirtualClock) -> Iterator[Throttle]:
    """EC2 throttled on the virtual clock the pacer also waits on."""
    with throttling.throttling(virtual_pacing_clock) as on:
        yield on


def _reads(ec2: Any) -> Callable[[], Any]:
    return lambda: ec2.describe_images(Owners=["self"])


def test_a_read_action_gets_100_at_once_then_20_a_second(
    throttle: Throttle, virtual_pacing_clock: VirtualClock
) -> None:
    ec2 = _client()
    assert _outcomes(_reads(ec2), 100) == ["ok"] * 100
    with pytest.raises(ClientError) as caught:
        ec2.describe_images(Owners=["self"])
    response = caught.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (THROTTLED, 503)
    assert "Request limit exceeded." in response["Error"]["Message"]
    assert throttle.throttled == {BucketKey(ACCOUNT, REGION, "DescribeImages"): 1}

    virtual_pacing_clock.advance(1)
    assert _outcomes(_reads(ec2), 21) == ["ok"] * 20 + [THROTTLED]
    virtual_pacing_clock.advance(0.5)
    assert _outcomes(_reads(ec2), 11) == ["ok"] * 10 + [THROTTLED]
    # A throttled request takes no token: an idle bucket refills to its capacity and no further.
    virtual_pacing_clock.advance(60)
    assert _outcomes(_reads(ec2), 101) == ["ok"] * 100 + [THROTTLED]
    assert throttle.throttled_total("DescribeImages") == 4 and throttle.throttled_total() == 4


def test_the_error_is_ec2s_xml_with_status_503(throttle: Throttle) -> None:
    ec2 = _client()
    answers: list[tuple[int, bytes]] = []
    ec2.meta.events.register(
        "after-call.ec2.DescribeImages",
        lambda http_response, **_: answers.append((http_response.status_code, http_response.content)),
    )
    _outcomes(_reads(ec2), 101)
    status, body = answers[-1]
    root = ET.fromstring(body)
    for element in root.iter():  # moto adds EC2's namespace to every error; the layout is what counts
        element.tag = element.tag.rsplit("}", 1)[-1]
    # EC2 API reference, "Error codes for the Amazon EC2 API": Response/Errors/Error/Code, RequestID.
    assert (status, root.tag) == (503, "Response")
    assert root.findtext("Errors/Error/Code") == THROTTLED
    assert root.findtext("RequestID")


def test_each_action_has_its_own_bucket(throttle: Throttle) -> None:
    ec2 = _client()
    _outcomes(_reads(ec2), 101)
    assert _outcomes(lambda: ec2.describe_regions(), 100) == ["ok"] * 100
    assert _outcomes(lambda: ec2.describe_regions(), 1) == [THROTTLED]


def test_accounts_and_regions_have_their_own_buckets(
    throttle: Throttle, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, elsewhere = _client(), _client(OTHER_REGION)
    assert _outcomes(_reads(ours), 101)[-1] == THROTTLED
    assert _outcomes(_reads(elsewhere), 101) == ["ok"] * 100 + [THROTTLED]
    # moto answers as the account MOTO_ACCOUNT_ID names (its request's `current_account`).
    monkeypatch.setenv("MOTO_ACCOUNT_ID", FOREIGN)
    assert _outcomes(_reads(ours), 101) == ["ok"] * 100 + [THROTTLED]
    assert set(throttle.throttled) == {
        BucketKey(ACCOUNT, REGION, "DescribeImages"),
        BucketKey(ACCOUNT, OTHER_REGION, "DescribeImages"),
        BucketKey(FOREIGN, REGION, "DescribeImages"),
    }


def test_writes_refill_at_5_a_second(throttle: Throttle, virtual_pacing_clock: VirtualClock) -> None:
    ec2 = _client()
    image_id = register(ec2, "throttled-writes", snapshot(ec2))

    def modify_it() -> Any:
        return ec2.modify_image_attribute(ImageId=image_id, Description={"Value": "x"})

    # ModifyImageAttribute has its own bucket in the guide: 100 tokens, 5 a second.
    assert _outcomes(modify_it, 101) == ["ok"] * 100 + [THROTTLED]
    virtual_pacing_clock.advance(1)
    assert _outcomes(modify_it, 6) == ["ok"] * 5 + [THROTTLED]
    virtual_pacing_clock.advance(0.2)
    assert _outcomes(modify_it, 2) == ["ok", THROTTLED]

    # Any other mutating action: 50 tokens, 5 a second.
    def deprecate() -> Any:
        return ec2.disable_image_deprecation(ImageId=image_id)

    assert _outcomes(deprecate, 51) == ["ok"] * 50 + [THROTTLED]
    virtual_pacing_clock.advance(1)
    assert _outcomes(deprecate, 6) == ["ok"] * 5 + [THROTTLED]


def test_an_unfiltered_unpaginated_listing_draws_on_a_smaller_bucket(
    throttle: Throttle, virtual_pacing_clock: VirtualClock
) -> None:
    ec2 = _client()
    everything = _outcomes(lambda: ec2.describe_snapshots(), 51)
    assert everything == ["ok"] * 50 + [THROTTLED]
    virtual_pacing_clock.advance(1)
    assert _outcomes(lambda: ec2.describe_snapshots(), 11) == ["ok"] * 10 + [THROTTLED]
    # Paginated or filtered, the same action draws on the standard bucket.
    assert _outcomes(lambda: ec2.describe_snapshots(MaxResults=5), 60) == ["ok"] * 60
    completed = [{"Name": "status", "Values": ["completed"]}]
    assert _outcomes(lambda: ec2.describe_snapshots(Filters=completed), 40) == ["ok"] * 40
    assert _outcomes(lambda: ec2.describe_snapshots(MaxResults=5), 1) == [THROTTLED]


def test_off_unless_switched_on_and_off_again_after(aws: None, virtual_pacing_clock: VirtualClock) -> None:
    ec2 = _client()
    assert throttling.active() is None
    assert _outcomes(_reads(ec2), 150) == ["ok"] * 150
    with throttling.throttling(virtual_pacing_clock) as on:
        assert throttling.active() is on
        assert _outcomes(_reads(ec2), 101)[-1] == THROTTLED
    assert throttling.active() is None
    assert _outcomes(_reads(ec2), 150) == ["ok"] * 150

    installed = throttling.install(virtual_pacing_clock)
    try:
        assert _outcomes(_reads(ec2), 101)[-1] == THROTTLED
        assert installed.throttled_total() == 1
    finally:
        throttling.uninstall()
    assert _outcomes(_reads(ec2), 150) == ["ok"] * 150


def test_the_served_api_is_throttled_too(endpoint: str, virtual_pacing_clock: VirtualClock) -> None:
    ec2 = _client(endpoint=endpoint)
    with throttling.throttling(virtual_pacing_clock) as on:
        assert _outcomes(_reads(ec2), 101) == ["ok"] * 100 + [THROTTLED]
    assert on.throttled == {BucketKey(ACCOUNT, REGION, "DescribeImages"): 1}


def test_the_real_clock_is_the_default() -> None:
    throttle = Throttle()
    assert all(throttle.admit(ACCOUNT, REGION, "CreateTags") for _ in range(100))
    assert not throttle.admit(ACCOUNT, REGION, "CreateTags")
