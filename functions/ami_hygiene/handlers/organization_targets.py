"""Lambda entry point of the hub's first state: the run's targets (organization/targets.py).

Payload {"job", "run"}; answers where targets.json is. Bad input or settings are refused
(reported, nothing changed) and raised, so the execution stops there (organization/service.py).
"""

from __future__ import annotations

from functools import partial

from ami_hygiene.organization.service import entry_point
from ami_hygiene.organization.targets import list_targets
from ami_hygiene.registry import BY_NAME

run = partial(list_targets, jobs=frozenset(BY_NAME))
handler = entry_point("targets", run)
