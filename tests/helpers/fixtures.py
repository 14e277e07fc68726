"""The fixtures every kind of test may ask for, registered by tests/conftest.py.

`aws` runs the embedded AWS in-process; `endpoint` serves it on a loopback port;
`ec2` is a client of it; `seeder` seeds it with the clock travelled to `NOW`;
`synth` is the stack synthesized once per test process.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ami_hygiene.core import pacing
from tests.helpers.clock import VirtualClock
from tests.helpers.constants import NOW, REGION
from tests.helpers.synthesized import Synthesized, synthesize

if TYPE_CHECKING:
    from sandbox.demo import Seeder


@pytest.fixture
def aws() -> Iterator[None]:
    """The embedded AWS in-process: moto plus the AMI operations it lacks."""
    from moto import mock_aws

    import sandbox

    sandbox.install()
    with mock_aws():
        yield


@pytest.fixture
def endpoint() -> Iterator[str]:
    """The sandbox served on a free loopback port; its state is reset afterwards."""
    from sandbox.server import start

    server, url = start(port=0)
    try:
        yield url
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
        server.stop()


@pytest.fixture
def ec2(aws: None) -> Any:
    """An EC2 client of the embedded AWS in REGION."""
    import boto3

    return boto3.client("ec2", region_name=REGION)


@pytest.fixture
def seeder(aws: None) -> Iterator[Seeder]:
    """A Seeder of the embedded AWS in REGION, with the clock travelled to NOW (and ticking).

    EC2 refuses deprecation times in the past, so the sandbox's clock must read NOW.
    """
    import time_machine

    from sandbox.demo import Seeder

    with time_machine.travel(NOW, tick=True):
        yield Seeder(REGION, NOW)


@pytest.fixture(scope="module")
def synth() -> Synthesized:
    """The stack synthesized once per test process (see tests/helpers/synthesized.py)."""
    return synthesize()


@pytest.fixture(autouse=True)
def virtual_pacing_clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    """Every test paces on a virtual clock: the pacer's waits advance it instead of sleeping."""
    clock = VirtualClock()
    monkeypatch.setattr(pacing, "monotonic", clock.monotonic)
    monkeypatch.setattr(pacing, "sleep", clock.sleep)
    return clock
