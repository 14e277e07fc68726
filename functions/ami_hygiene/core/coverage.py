"""What a sweep cannot see or cover in a region, said in its report as warnings.

- Real time: an EventBridge rule receives only the events of its own region
  (EventBridge user guide, "Sending and receiving events between AWS Regions").
  The stack's job rules are in the stack's region, and forwarding rules in every
  other region of `Regions` send them that region's events (infra/forwarding.py),
  so the stack names all of `Regions` in REALTIME_REGIONS. A region of a run
  that is not named there (a function deployed some other way, or a run over
  regions its rules were not deployed to) is covered by the sweep only: no guard
  within seconds, no tagging on creation, no rebuild completion e-mail.
- Allowed AMIs: when the account's Allowed AMIs setting is on, DescribeImages
  leaves out images of other owners outside its criteria (allowed_images).

Warnings do not make a run fail and do not by themselves send a message: they
are facts about the set-up, repeated in every report until it changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ami_hygiene.core.allowed_images import allowed_images_warning
from ami_hygiene.core.clients import Clients

# Environment variable the stack sets on functions that have real-time rules: the regions
# whose events reach them (their own rules' region and the forwarding rules'), comma-separated.
REALTIME_REGIONS = "REALTIME_REGIONS"


def realtime_warnings(job: str, regions: Iterable[str], env: Mapping[str, str]) -> tuple[str, ...]:
    """One warning per region of the run that no real-time rule of this job covers."""
    if REALTIME_REGIONS not in env:
        return ()  # a job without rules, or a CLI run: nothing claims real time
    covered = {r.strip() for r in env[REALTIME_REGIONS].split(",") if r.strip()}
    where = ", ".join(sorted(covered)) or "no region"
    return tuple(
        f"{region}: no real-time rule here (the {job} job's EventBridge and forwarding rules are in {where}, "
        f"and a rule sees only its own region's events); {region} is covered by this sweep only"
        for region in regions
        if region not in covered
    )


def allowed_images_warnings(clients: Clients, regions: Iterable[str]) -> tuple[str, ...]:
    """One warning per region whose Allowed AMIs setting hides images from DescribeImages."""
    found = []
    for region in regions:
        warning = allowed_images_warning(clients.ec2(region), region)
        if warning:
            found.append(warning if warning.startswith(f"{region}:") else f"{region}: {warning}")
    return tuple(found)
