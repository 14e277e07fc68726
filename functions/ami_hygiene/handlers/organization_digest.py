"""Lambda entry point of the hub's last state: one digest of the run (organization/digest.py).

Payload: the targets state's answer; answers where the digest is and the message's id. Bad
input or settings are refused (reported, nothing changed) and raised (organization/service.py).
"""

from __future__ import annotations

from functools import partial

from ami_hygiene.organization.digest import digest
from ami_hygiene.organization.service import entry_point
from ami_hygiene.registry import BY_NAME

run = partial(digest, jobs=frozenset(BY_NAME))
handler = entry_point("digest", run)
