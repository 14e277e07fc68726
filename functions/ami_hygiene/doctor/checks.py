"""`ami-hygiene doctor`: one check's result, and the checks of the account's settings.

Each check reads, never writes. A setting the jobs depend on that is missing is a
failure (✘); one that only narrows what the jobs can do is a warning (!); a
setting that cannot be read is a failure, since nothing then says it is right.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.allowed_images import describe_setting, read_allowed_images
from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import describe_error

JOBS = ("rotate", "tags", "public", "rebuild")
REAL_TIME_JOBS = ("tags", "public", "rebuild")  # rotate runs on its schedule only
JOB_FUNCTIONS = len(JOBS)  # the stack deploys one function per job and reserves no concurrency


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    check: str
    region: str | None
    status: Status
    detail: str
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not Status.FAIL

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "region": self.region,
            "ok": self.ok,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
        }


def unreadable(check: str, region: str | None, what: str, err: Exception, actions: str) -> Check:
    return Check(
        check,
        region,
        Status.FAIL,
        f"could not read {what}: {describe_error(err)}",
        f"allow {actions} for these credentials and run doctor again",
    )


def _pages(call: Any, key: str, token_key: str = "NextToken", **kwargs: Any) -> Iterator[Any]:
    while True:
        answer = call(**kwargs)
        yield from answer.get(key, [])
        token = answer.get(token_key)
        if not token:
            return
        kwargs[token_key] = token


# -- CloudTrail -----------------------------------------------------------------------------


def _records_management_writes(selectors: Mapping[str, Any]) -> bool:
    """Whether a trail's selectors record EC2's write management events (CloudTrail API reference)."""
    advanced = selectors.get("AdvancedEventSelectors") or []
    basic = selectors.get("EventSelectors") or []
    if advanced:
        return any(_advanced_records(s.get("FieldSelectors") or []) for s in advanced)
    if basic:
        # IncludeManagementEvents and ReadWriteType default to true and All.
        return any(
            s.get("IncludeManagementEvents", True) and s.get("ReadWriteType", "All") in ("All", "WriteOnly")
            for s in basic
        )
    return True  # no selectors: a trail's default records every management event


def _advanced_records(fields: list[Mapping[str, Any]]) -> bool:
    by_field = {f.get("Field"): f for f in fields}
    category = by_field.get("eventCategory") or {}
    if "Management" not in (category.get("Equals") or []):
        return False
    if (by_field.get("readOnly") or {}).get("Equals") == ["true"]:
        return False  # reads only: the sharing and tagging calls are writes
    source = by_field.get("eventSource") or {}
    if source.get("Equals") and "ec2.amazonaws.com" not in source["Equals"]:
        return False
    return "ec2.amazonaws.com" not in (source.get("NotEquals") or [])


def _trail_state(clients: Clients, trail: Mapping[str, Any], region: str) -> tuple[bool, bool]:
    """(records management writes, is logging).

    A shadow trail (a multi-region trail's copy, or an organization's trail in a member
    account) is read by its ARN, as GetTrailStatus requires for one (CloudTrail API
    reference), in its home region.
    """
    arn, home = trail.get("TrailARN") or trail["Name"], trail.get("HomeRegion") or region
    client = clients.cloudtrail(home)
    records = _records_management_writes(client.get_event_selectors(TrailName=arn))
    return records, bool(client.get_trail_status(Name=arn).get("IsLogging"))


def check_trail(clients: Clients, region: str) -> Check:
    """A logging trail that records management events in the region (multi-region, shadow or its own)."""
    name = "cloudtrail"
    try:
        trails = clients.cloudtrail(region).describe_trails(includeShadowTrails=True).get("trailList", [])
    except (ClientError, BotoCoreError) as err:
        return unreadable(name, region, "the trails", err, "cloudtrail:DescribeTrails")
    stopped: list[str] = []
    problems: list[str] = []
    organization: list[str] = []
    for trail in [t for t in trails if t.get("IsMultiRegionTrail") or t.get("HomeRegion") == region]:
        try:
            records, logging = _trail_state(clients, trail, region)
        except (ClientError, BotoCoreError) as err:
            # A member account may see its organization's trail without reading its settings.
            (organization if trail.get("IsOrganizationTrail") else problems).append(
                f"{trail.get('Name')}: {describe_error(err)}"
            )
            continue
        if records and logging:
            scope = "multi-region" if trail.get("IsMultiRegionTrail") else "single-region"
            home = trail.get("HomeRegion") or region
            return Check(
                name,
                region,
                Status.PASS,
                f"trail {trail.get('Name')} ({scope}, home {home}) is logging management events",
            )
        if records:
            stopped.append(str(trail.get("Name")))
    if organization:
        return Check(
            name,
            region,
            Status.WARN,
            f"organization trail {'; '.join(organization)}: whether it logs management events is not "
            "readable from this account",
            "ask the organization's management account to confirm the trail logs management (write) events",
        )
    if problems and not stopped:
        return Check(
            name,
            region,
            Status.FAIL,
            f"could not read trail {'; '.join(problems)}",
            "allow cloudtrail:GetEventSelectors and cloudtrail:GetTrailStatus and run doctor again",
        )
    without = (
        "EventBridge gets EC2 API calls (CreateTags, ModifyImageAttribute, ...) only through a "
        "CloudTrail trail, so the tags and public jobs act on their schedules only"
    )
    if stopped:
        return Check(
            name,
            region,
            Status.FAIL,
            f"trail {', '.join(stopped)} records management events but is not logging: {without}",
            f"aws cloudtrail start-logging --name {stopped[0]}",
        )
    return Check(
        name,
        region,
        Status.FAIL,
        f"no trail records management (write) events in {region}: {without}",
        "create a multi-region trail: aws cloudtrail create-trail --name ami-hygiene --s3-bucket-name BUCKET "
        "--is-multi-region-trail, then aws cloudtrail start-logging --name ami-hygiene",
    )


# -- EventBridge rules ----------------------------------------------------------------------

# The stack's rule descriptions (infra/triggers.py): "ami-hygiene <job>: ..." for event
# rules, "ami-hygiene: runs the <job> job" for schedules.
_EVENT_RULE = re.compile(r"^ami-hygiene (\w+):")
_SCHEDULE_RULE = re.compile(r"^ami-hygiene: runs the (\w+) job")


def _rule_job(rule: Mapping[str, Any]) -> str | None:
    description = str(rule.get("Description") or "")
    found = _EVENT_RULE.match(description) or _SCHEDULE_RULE.match(description)
    if found:
        return found.group(1)
    name = str(rule.get("Name") or "").lower()  # CloudFormation names carry the construct id
    return next((job for job in JOBS if f"-{job}" in name), None)


def check_rules(clients: Clients, region: str, stack_name: str) -> Check:
    """The stack's EventBridge rules in the region: which jobs react to events there.

    CloudFormation names a rule it creates STACK-LogicalId-SUFFIX, so the stack's rules
    are those named "<stack name>-..."; a rule receives only its own region's events
    (EventBridge user guide), so a region without them is covered by sweeps only.
    """
    name = "eventbridge rules"
    try:
        rules = list(
            _pages(clients.events(region).list_rules, "Rules", NamePrefix=f"{stack_name}-", Limit=100)
        )
    except (ClientError, BotoCoreError) as err:
        return unreadable(name, region, "the EventBridge rules", err, "events:ListRules")
    if not rules:
        return Check(
            name,
            region,
            Status.WARN,
            f"no {stack_name} rules in {region}: an EventBridge rule sees only its own region's events, "
            f"so images here are covered by sweeps only",
            f"for real-time guards in {region}, deploy the stack there (the sweeps of the stack's region "
            "still cover it when REGIONS lists it)",
        )
    disabled = sorted(str(r.get("Name")) for r in rules if r.get("State") == "DISABLED")
    real_time = sorted({job for r in rules if r.get("EventPattern") and (job := _rule_job(r))})
    schedules = sorted({job for r in rules if r.get("ScheduleExpression") and (job := _rule_job(r))})
    missing = [job for job in REAL_TIME_JOBS if job not in real_time]
    summary = (
        f"real-time rules for {', '.join(real_time) or 'no job'}; "
        f"schedules for {', '.join(schedules) or 'no job'}"
        + (f"; {', '.join(missing)} here by sweeps only" if missing else "")
    )
    if disabled:
        return Check(
            name,
            region,
            Status.FAIL,
            f"{summary}; disabled: {', '.join(disabled)}",
            f"aws events enable-rule --region {region} --name {disabled[0]}"
            + (" (and the others)" if len(disabled) > 1 else ""),
        )
    return Check(name, region, Status.PASS, summary)


# -- block public access --------------------------------------------------------------------


def check_image_block_public_access(clients: Clients, region: str) -> Check:
    name = "image block public access"
    try:
        answer = clients.ec2(region).get_image_block_public_access_state()
    except (ClientError, BotoCoreError) as err:
        return unreadable(
            name, region, "the image block public access state", err, "ec2:GetImageBlockPublicAccessState"
        )
    state = str(answer.get("ImageBlockPublicAccessState"))
    managed = " (managed by a declarative policy)" if answer.get("ManagedBy") == "declarative-policy" else ""
    if state == "block-new-sharing":
        return Check(name, region, Status.PASS, f"block-new-sharing{managed}: no image can be made public")
    return Check(
        name,
        region,
        Status.WARN,
        f"{state}{managed}: images can be made public; the public job turns it on in enforce mode "
        "(unless an image here is tagged ami-hygiene:public-allowed=true)",
        f"aws ec2 enable-image-block-public-access --region {region} --image-block-public-access-state "
        "block-new-sharing",
    )


def check_snapshot_block_public_access(clients: Clients, region: str) -> Check:
    name = "snapshot block public access"
    try:
        answer = clients.ec2(region).get_snapshot_block_public_access_state()
    except (ClientError, BotoCoreError) as err:
        return unreadable(
            name,
            region,
            "the snapshot block public access state",
            err,
            "ec2:GetSnapshotBlockPublicAccessState",
        )
    state = str(answer.get("State"))
    if state in ("block-all-sharing", "block-new-sharing"):
        return Check(name, region, Status.PASS, f"{state}: no snapshot can be newly made public")
    return Check(
        name,
        region,
        Status.WARN,
        f"{state}: snapshots can be made public; the public job revokes that only after the fact",
        f"aws ec2 enable-snapshot-block-public-access --region {region} --state block-new-sharing",
    )


# -- Allowed AMIs ---------------------------------------------------------------------------


def check_allowed_images(clients: Clients, region: str) -> Check:
    name = "allowed AMIs"
    setting = read_allowed_images(clients.ec2(region), region)
    if setting.error is not None:
        return Check(
            name,
            region,
            Status.FAIL,
            f"could not read the Allowed AMIs setting: {setting.error}",
            "allow ec2:GetAllowedImagesSettings for these credentials and run doctor again",
        )
    if setting.absent:
        return Check(name, region, Status.PASS, "not offered here: DescribeImages hides nothing")
    sentence = describe_setting(setting)
    if sentence is None:
        return Check(name, region, Status.PASS, "disabled: DescribeImages shows every image")
    return Check(
        name,
        region,
        Status.WARN,
        sentence,
        "allow the owners of your base images in the criteria (ImageProviders), or use base images from an "
        "SSM parameter of an allowed provider",
    )


# -- Recycle Bin ----------------------------------------------------------------------------

RETIRED_BY = "ami-hygiene:retired-by"
RETIRING_JOB = "rotate"
RBIN_TYPES = ("EC2_IMAGE", "EBS_SNAPSHOT")


def _rule_keeps_retired(rule: Mapping[str, Any]) -> bool:
    """Tag-level rules keep what carries one of their tags; Region-level ones all but the excluded."""
    wanted = {"ResourceTagKey": RETIRED_BY, "ResourceTagValue": RETIRING_JOB}
    tags = rule.get("ResourceTags") or []
    if tags:
        return any(
            t.get("ResourceTagKey") == RETIRED_BY and t.get("ResourceTagValue") == RETIRING_JOB for t in tags
        )
    return wanted not in (rule.get("ExcludeResourceTags") or [])


def check_recycle_bin(clients: Clients, region: str) -> Check:
    name = "recycle bin"
    rbin = clients.rbin(region)
    keeping: dict[str, list[str]] = {}
    try:
        for resource_type in RBIN_TYPES:
            summaries = list(_pages(rbin.list_rules, "Rules", ResourceType=resource_type))
            rules = [rbin.get_rule(Identifier=s["Identifier"]) for s in summaries]
            keeping[resource_type] = [
                f"{r['Identifier']} ({r.get('RetentionPeriod', {}).get('RetentionPeriodValue')} days)"
                for r in rules
                if _rule_keeps_retired(r)
            ]
    except (ClientError, BotoCoreError) as err:
        return unreadable(name, region, "the Recycle Bin rules", err, "rbin:ListRules and rbin:GetRule")
    missing = [t for t in RBIN_TYPES if not keeping[t]]
    if not missing:
        kept = "; ".join(f"{t}: {', '.join(keeping[t])}" for t in RBIN_TYPES)
        return Check(name, region, Status.PASS, f"what rotate deregisters stays restorable ({kept})")
    return Check(
        name,
        region,
        Status.WARN,
        f"no Recycle Bin rule keeps {' or '.join(missing)} tagged {RETIRED_BY}={RETIRING_JOB} in {region}: "
        "what rotate deregisters there cannot be restored",
        f"deploy the stack with RecycleBinDays > 0 in {region}, or: aws rbin create-rule --region {region} "
        f"--resource-type {missing[0]} --retention-period RetentionPeriodValue=7,RetentionPeriodUnit=DAYS "
        f"--resource-tags ResourceTagKey={RETIRED_BY},ResourceTagValue={RETIRING_JOB}",
    )


# -- consumer accounts ----------------------------------------------------------------------


def check_consumer_roles(
    clients: Clients, region: str, partition: str, role_name: str, accounts: Sequence[str]
) -> Check:
    """Rotation can assume the read-only consumer role in every allow-listed account (consumers.py).

    Without it, images shared with such an account are kept and every run reports an error.
    Organization and OU shares are not expanded here: doctor checks the accounts listed.
    """
    name = "consumer roles"
    if not role_name:
        return Check(
            name,
            None,
            Status.WARN,
            "no --consumer-role-name: images shared with allow-listed accounts are kept while their use "
            "is unknown (ConsumerUsageUnknown=keep)",
            "deploy infra/consumer-role.yaml to those accounts and pass --consumer-role-name "
            "(stack parameter ConsumerRoleName); README: central image account",
        )
    if not accounts:
        return Check(name, None, Status.PASS, f"role {role_name}: no allow-listed account ids to check")
    refused = []
    sts = clients.sts(region)
    for account in accounts:
        arn = f"arn:{partition}:iam::{account}:role/{role_name}"
        try:
            sts.assume_role(RoleArn=arn, RoleSessionName="ami-hygiene-doctor")
        except (ClientError, BotoCoreError) as err:
            refused.append(f"{account} ({describe_error(err)[:120]})")
    if refused:
        return Check(
            name,
            None,
            Status.FAIL,
            f"cannot assume {role_name} in {len(refused)} of {len(accounts)} accounts: {'; '.join(refused)}",
            "deploy infra/consumer-role.yaml there (a StackSet; README: central image account) trusting "
            "this account's rotate role, or remove the account from the allow-list",
        )
    return Check(name, None, Status.PASS, f"role {role_name} assumable in all {len(accounts)} accounts")


# -- Lambda concurrency ---------------------------------------------------------------------


def check_lambda_concurrency(clients: Clients, region: str) -> Check:
    """Room in the account's unreserved pool for every job function to run at once."""
    name = "lambda concurrency"
    try:
        limit = clients.lambda_(region).get_account_settings().get("AccountLimit", {})
    except (ClientError, BotoCoreError) as err:
        return unreadable(name, region, "the Lambda account settings", err, "lambda:GetAccountSettings")
    quota = limit.get("ConcurrentExecutions")
    unreserved = int(limit.get("UnreservedConcurrentExecutions", quota or 0))
    detail = (
        f"{unreserved} of {quota} concurrent executions unreserved; the stack's {JOB_FUNCTIONS} functions "
        "reserve none and share that pool with the account's other functions"
    )
    if unreserved < JOB_FUNCTIONS:
        return Check(
            name,
            region,
            Status.FAIL,
            f"{detail}: fewer than {JOB_FUNCTIONS}, so the jobs would be throttled",
            "request a higher Lambda 'Concurrent executions' quota in Service Quotas, or release reserved "
            "concurrency of other functions in this region",
        )
    return Check(name, region, Status.PASS, detail)


# -- the sandbox ----------------------------------------------------------------------------


def endpoint_limits(endpoint: str) -> Check:
    """What an answer from a local endpoint (the embedded AWS) does not prove."""
    return Check(
        "endpoint",
        None,
        Status.WARN,
        f"AWS_ENDPOINT_URL={endpoint}: the embedded AWS enforces no IAM (every permission check passes and "
        "DryRun always answers DryRunOperation), CloudTrail delivers no events and EventBridge rules invoke "
        "nothing (no real time), snapshot block public access is state only, the Lambda quota is 1,000 "
        "unless seeded; these checks say what the settings are, not that AWS would behave so",
        "run doctor against the real account (unset AWS_ENDPOINT_URL) before deploying",
    )


def as_json(checks: list[Check]) -> str:
    return json.dumps([c.to_dict() for c in checks], indent=2) + "\n"
