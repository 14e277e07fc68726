"""The hub's first state: the accounts x regions a run of a job sweeps, written to the report bucket.

The accounts are the organization's ACTIVE accounts under ORGANIZATIONAL_UNIT_IDS (roots or
OUs, the OUs below them included; empty: the whole organization), read with Organizations'
paginated lists (core/members.py), less EXCLUDED_ACCOUNTS and less the management account:
service-managed StackSets never deploy a stack instance to it (CloudFormation API reference,
DeploymentTargets), so it has no member role and would be "unreachable" in every digest; a root
id in ORGANIZATIONAL_UNIT_IDS lists it. The regions are the Regions
setting. The targets go to ``organization/<job>/<run>/targets.json`` as a JSON array of
``{"account", "region"}``, which the Distributed Map's ItemReader reads (Step Functions
Developer Guide, "ItemReader (Map)": a JSON file in S3 holding an array).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import SettingsError
from ami_hygiene.core.members import PARENT_ID, management_account, organization_accounts
from ami_hygiene.core.observability import logger
from ami_hygiene.core.settings import Settings
from ami_hygiene.organization.events import TARGETS_FILE, TargetsInput, parse, run_prefix
from ami_hygiene.organization.hub import excluded_accounts

ORGANIZATIONAL_UNIT_IDS = "ORGANIZATIONAL_UNIT_IDS"
REPORT_BUCKET = "REPORT_BUCKET"


def parents(env: Mapping[str, str]) -> tuple[str, ...]:
    """ORGANIZATIONAL_UNIT_IDS: root (r-...) and OU (ou-...-...) ids, comma-separated; empty: all."""
    ids = tuple(
        dict.fromkeys(p.strip() for p in env.get(ORGANIZATIONAL_UNIT_IDS, "").split(",") if p.strip())
    )
    wrong = [p for p in ids if not PARENT_ID.match(p)]
    if wrong:
        shown = ", ".join(repr(p[:40]) for p in wrong[:3])
        raise SettingsError(
            f"{ORGANIZATIONAL_UNIT_IDS}: not organization root (r-...) or OU (ou-...-...) ids: {shown}"
        )
    return ids


def report_bucket(env: Mapping[str, str]) -> str:
    bucket = env.get(REPORT_BUCKET, "").strip()
    if not bucket:
        raise SettingsError(f"{REPORT_BUCKET} is not set: the hub keeps its targets and results there")
    return bucket


def list_targets(
    event: Any, env: Mapping[str, str], clients: Clients, *, jobs: Collection[str]
) -> dict[str, Any]:
    """Write the run's targets.json and answer where it is, with what was counted and left out.

    Raises EventError (bad input) or SettingsError (bad settings) before any read.
    """
    request = parse(TargetsInput, event, jobs)
    units = parents(env)
    excluded = excluded_accounts(env)
    regions = Settings.load(env).regions
    bucket = report_bucket(env)
    region = env.get("AWS_REGION", "").strip() or regions[0]

    accounts = organization_accounts(clients, region, units)
    left_out = excluded | {management_account(clients, region)}
    kept = [a.id for a in accounts if a.id not in left_out]
    skipped = [a.id for a in accounts if a.id in left_out]
    targets = [{"account": account, "region": r} for account in kept for r in regions]

    prefix = run_prefix(request.job, request.run)
    key = prefix + TARGETS_FILE
    clients.client("s3", region).put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(targets, separators=(",", ":")).encode(),
        ContentType="application/json",
    )
    logger.info(
        f"{request.job}: {len(targets)} targets in {len(kept)} accounts x {len(regions)} regions",
        extra={"run": request.run, "key": key, "skipped": skipped, "parents": list(units)},
    )
    return {
        "job": request.job,
        "run": request.run,
        "bucket": bucket,
        "key": key,
        "prefix": prefix,
        "count": len(targets),
        "accounts": kept,
        "regions": list(regions),
        # EXCLUDED_ACCOUNTS as set; `skipped`: the organization's accounts it left out (the
        # excluded ones and the management account).
        "excluded": sorted(excluded),
        "skipped": skipped,
    }
