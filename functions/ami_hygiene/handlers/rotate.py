"""Lambda entry point of the rotate job: parse, load settings, run, publish, measure.

The EventBridge schedule invokes it with a "Scheduled Event". Anything else is
refused: logged, reported to the topic as an error, and nothing is read or
changed. Bad settings are refused the same way.
"""

from __future__ import annotations

from typing import Any

from ami_hygiene.core.clients import Clients
from ami_hygiene.handlers.common import entry_point, handle
from ami_hygiene.jobs.rotate import SPEC as ROTATE

handler = entry_point(ROTATE)


def rotate(event: Any, context: Any, env: Any, clients: Clients | None = None) -> dict[str, Any]:
    """The same run with a given environment and clients (tests, the CLI's sandbox)."""
    return handle(ROTATE, event, context, env, clients)
