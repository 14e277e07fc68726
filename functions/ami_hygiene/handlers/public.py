"""Lambda entry point of the public-sharing guard: a sweep on schedule, one resource on its event.

A "Scheduled Event" sweeps every region in Regions. A CloudTrail event
(ModifyImageAttribute, ModifySnapshotAttribute, DisableImageBlockPublicAccess)
guards the one resource it names within the same invocation, and the message
says who made the change, from where, and what the guard did. An event that
opened nothing (a removal, another attribute) is logged and ends there. An
event that does not parse or is for another account is refused: logged,
reported, nothing read or changed.
"""

from __future__ import annotations

from typing import Any

from ami_hygiene.core.clients import Clients
from ami_hygiene.handlers.common import entry_point, handle
from ami_hygiene.jobs.public import SPEC as PUBLIC

handler = entry_point(PUBLIC)


def public(event: Any, context: Any, env: Any, clients: Clients | None = None) -> dict[str, Any]:
    """The same run with a given environment and clients (tests, the CLI's sandbox)."""
    return handle(PUBLIC, event, context, env, clients)
