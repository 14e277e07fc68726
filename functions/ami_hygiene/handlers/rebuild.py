"""Lambda entry point of the patch-rebuild job: a sweep on schedule, a report when a build ends.

A "Scheduled Event" sweeps every region in Regions and starts the builds stale
families need (enforce mode). An "EC2 Image Builder Image State Change"
(aws.imagebuilder) or "EC2 Automation Execution Status-change Notification"
(aws.ssm, the AWS-UpdateLinuxAmi / AWS-UpdateWindowsAmi runbooks) event reports
how that build went, and tags an SSM build's new image with its family tags. A
build still under way is logged, not e-mailed. Any other event, or one that does
not parse or is for another account, is refused: logged, reported, nothing read
or changed.
"""

from __future__ import annotations

from typing import Any

from ami_hygiene.core.clients import Clients
from ami_hygiene.handlers.common import entry_point, handle
from ami_hygiene.jobs.rebuild import SPEC as REBUILD

handler = entry_point(REBUILD)


def rebuild(event: Any, context: Any, env: Any, clients: Clients | None = None) -> dict[str, Any]:
    """The same run with a given environment and clients (tests, the CLI's sandbox)."""
    return handle(REBUILD, event, context, env, clients)
