"""Fixtures for tests that reach the embedded AWS over a loopback port."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

from sandbox.server import start


@pytest.fixture
def endpoint() -> Iterator[str]:
    """The sandbox served on a free loopback port; its state is reset afterwards."""
    server, url = start(port=0)
    try:
        yield url
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
        server.stop()
