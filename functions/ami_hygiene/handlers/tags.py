"""Lambda entry point of the tag job: a sweep on schedule, one image on its event.

A "Scheduled Event" sweeps every region in Regions and publishes one digest
per region that has something wrong. An EC2 event (CloudTrail CreateImage,
CopyImage, RegisterImage, CreateTags, DeleteTags, or "EC2 AMI
State Change" to available) checks just the images it names, at once, and
publishes only when one of them breaks the tag policy: no e-mail for a
compliant image. An event that does not parse, is for another account or
names no image is refused: logged, reported, nothing read or changed.
"""

from __future__ import annotations

from typing import Any

from ami_hygiene.core.clients import Clients
from ami_hygiene.handlers.common import entry_point, handle
from ami_hygiene.jobs.tags import SPEC as TAGS

handler = entry_point(TAGS)


def tags(event: Any, context: Any, env: Any, clients: Clients | None = None) -> dict[str, Any]:
    """The same run with a given environment and clients (tests, the CLI's sandbox)."""
    return handle(TAGS, event, context, env, clients)
