"""The embedded AWS over HTTP on a loopback port, for the CLI and for tests.

moto's ThreadedMotoServer serves the same in-process backends that
`sandbox.backend` returns, so a process can seed through either.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime

from moto.server import ThreadedMotoServer

from . import install

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def start(port: int = 0, host: str = "127.0.0.1") -> tuple[ThreadedMotoServer, str]:
    """Starts serving in a background thread; returns the server and its endpoint URL."""
    if host not in LOOPBACK:
        raise ValueError(f"the sandbox serves on loopback only, not {host!r}")
    install()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one line per request
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return server, f"http://{bound_host}:{bound_port}"


def serve(port: int, host: str = "127.0.0.1", *, seed_demo: bool = False) -> None:
    """Serves until interrupted; with seed_demo, seeds the demo estate through the endpoint first."""
    server, endpoint = start(port, host)
    try:
        if seed_demo:
            _seed_demo(endpoint)
        print(f"embedded AWS at {endpoint} (set AWS_ENDPOINT_URL={endpoint}); Ctrl-C stops it", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _seed_demo(endpoint: str) -> None:
    from .demo import seed_demo_estate

    # The seeder's boto3 clients reach this server like any other client would.
    os.environ.update({"AWS_ENDPOINT_URL": endpoint})
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    seed_demo_estate(datetime.now(UTC))
