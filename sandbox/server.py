"""The embedded AWS on a loopback port, for the CLI and for out-of-process tools."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from moto.server import ThreadedMotoServer

from . import install


def start(port: int = 0, host: str = "127.0.0.1") -> tuple[ThreadedMotoServer, str]:
    """Start serving in a thread; returns the server and its endpoint URL."""
    install()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return server, f"http://{bound_host}:{bound_port}"


def serve(port: int, host: str = "127.0.0.1", seed_demo: bool = False) -> None:
    """Serve until interrupted. Loopback only: the sandbox has no authentication."""
    install()
    if seed_demo:
        from moto import mock_aws

        from .demo import seed_demo_estate

        # Seed in-process; the server thread shares the same backends.
        mock = mock_aws()
        mock.start()
        seed_demo_estate(datetime.now(UTC))
    server, endpoint = start(port, host)
    print(f"embedded AWS at {endpoint} (AWS_ENDPOINT_URL={endpoint}); Ctrl-C stops it", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
