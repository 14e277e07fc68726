"""The stack's parameters: what a user tunes at deploy time, with the constraints
CloudFormation checks before it creates anything.

Each parameter keeps its plain name (RotationMode, not a generated logical id),
so `cdk deploy --parameters RotationMode=enforce` works. Most are settings, and
are written once, where the setting is declared (core/settings.py and
jobs/<job>/settings.py, read through each job's JobSpec.settings): name, label,
description, type, default, bounds, pattern; the value reaches the function of every
job that offers the setting as its environment variable (MODE, RETENTION_DAYS, ...),
the one the CLI reads. Every job has its own mode parameter (a variant of its model's
mode; all reach their function as MODE) and its own write condition.

The rest are the stack's own (schedules, the e-mail, the Recycle Bin, the sample
pipeline, NotifyAllClean for the publisher), declared below; GROUPS lays all of them
out in the console.

Three templates take parameters, each with its Layout:
- ACCOUNT, the single-account stack (AmiHygiene): SPECS in GROUPS.
- HUB, the organization hub (AmiHygieneOrganization): the same parameters with the same
  names and meanings, but for HUB_OMITTED (with the reason), plus the organization's own
  (ORGANIZATION_SPECS, first in the console).
- MEMBER, the member template the hub's StackSet deploys: only what its roles and Recycle
  Bin rules read, passed down from the hub's parameters of the same names (no console
  layout: nobody fills it in by hand).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from aws_cdk import Aws, CfnCondition, CfnParameter, Fn, Stack, Token
from constructs import Construct

from ami_hygiene.core.settings import Option
from ami_hygiene.jobs.rebuild.settings import MAX_BASE_PARAMETER_PATHS
from ami_hygiene.jobs.rotate.schedule import DEFAULT_SCHEDULE, ROTATION_SCHEDULE_ENV
from ami_hygiene.registry import JOBS

SCHEDULE_PATTERN = (
    r"^(rate\([1-9]\d* (minute|minutes|hour|hours|day|days)\)|cron\(\S+ \S+ \S+ \S+ \S+ \S+\))$"
)
ALL_JOBS = tuple(job.name for job in JOBS)


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    label: str
    description: str
    type: str
    default: Any
    constraint: str
    allowed_values: tuple[str, ...] | None = None
    allowed_pattern: str | None = None
    min_value: int | None = None
    max_value: int | None = None
    env_var: str | None = None  # the function environment variable it sets
    jobs: tuple[str, ...] = ()  # the jobs whose function gets env_var
    max_length: int | None = None


def setting_spec(option: Option, job: str) -> ParameterSpec:
    """The stack parameter of a setting, as its declaration says."""
    declared = option.parameter
    assert declared is not None
    number, bounds, choices = option.kind is int, option.bounds, option.choices
    if declared.constraint:
        constraint = declared.constraint
    elif number and bounds:
        constraint = f"{declared.name} must be a whole number from {bounds[0]} to {bounds[1]}."
    elif choices:
        constraint = f"{declared.name} must be {' or '.join(choices)}."
    else:
        raise ValueError(f"{declared.name} needs a ConstraintDescription: declare its constraint")
    if declared.default is not None:
        default: Any = declared.default
    else:
        default = option.default if number else option.default_text
    return ParameterSpec(
        declared.name,
        declared.label,
        declared.description,
        "Number" if number else "String",
        default,
        constraint,
        allowed_values=choices or None,
        allowed_pattern=declared.pattern,
        min_value=bounds[0] if number and bounds else None,
        max_value=bounds[1] if number and bounds else None,
        env_var=option.env,
        jobs=(job,),
        max_length=declared.max_length,
    )


def setting_specs() -> tuple[ParameterSpec, ...]:
    """A parameter per setting some job offers with one; a setting two jobs share is one parameter."""
    found: dict[str, ParameterSpec] = {}
    for job in JOBS:
        for option in job.settings.options():
            if not option.offered or option.parameter is None:
                continue
            spec = setting_spec(option, job.name)
            known = found.get(spec.name)
            if known is not None and replace(known, jobs=spec.jobs) != spec:
                raise ValueError(f"{spec.name} is declared twice, differently ({job.name})")
            found[spec.name] = spec if known is None else replace(known, jobs=(*known.jobs, job.name))
    return tuple(found.values())


# The stack's own parameters: no setting reads them.
STACK_SPECS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "RotationSchedule",
        "Schedule",
        "When rotation runs: an EventBridge rate(...) or cron(...) expression (UTC). "
        "Default: daily at 06:00.",
        "String",
        DEFAULT_SCHEDULE,
        "RotationSchedule must be rate(N unit) or cron(six fields), e.g. rate(1 day) or cron(0 6 * * ? *).",
        allowed_pattern=SCHEDULE_PATTERN,
        # The report's "Coming up" simulates rotation on its own schedule.
        env_var=ROTATION_SCHEDULE_ENV,
        jobs=("rotate",),
    ),
    ParameterSpec(
        "AlertEmail",
        "Alert e-mail",
        "E-mail address subscribed to the report topic (confirm the subscription e-mail). Empty: no "
        "subscription; subscribe anything you like to the topic later.",
        "String",
        "",
        "AlertEmail must be empty or one e-mail address.",
        allowed_pattern=r"^$|^[^\s@,]+@[^\s@,]+\.[^\s@,]+$",
    ),
    ParameterSpec(
        "NotifyAllClean",
        "Report clean runs",
        "true: also publish a message when a run found nothing to do (a daily 'all clean').",
        "String",
        "false",
        "NotifyAllClean must be true or false.",
        allowed_values=("true", "false"),
        # The publisher's (core/publisher.py Target), not a run's setting.
        env_var="NOTIFY_ALL_CLEAN",
        jobs=ALL_JOBS,
    ),
    ParameterSpec(
        "RecycleBinDays",
        "Recycle Bin retention (days)",
        "Retired images and their snapshots stay restorable from the Recycle Bin for this many days "
        "(in the stack's region). 0 turns the Recycle Bin rules off.",
        "Number",
        14,
        "RecycleBinDays must be a whole number from 0 to 365.",
        min_value=0,
        max_value=365,
    ),
    ParameterSpec(
        "CreateSamplePipeline",
        "Create the sample pipeline",
        "true: also create a sample Image Builder pipeline (Amazon Linux 2023 with updates, family "
        "sample-al2023) that the rebuild job can start.",
        "String",
        "false",
        "CreateSamplePipeline must be true or false.",
        allowed_values=("true", "false"),
    ),
    ParameterSpec(
        "TagSweepSchedule",
        "Tag sweep schedule",
        "When the tag job sweeps every image (besides the events of new images): an EventBridge rate(...) "
        "or cron(...) expression (UTC).",
        "String",
        "rate(1 day)",
        "TagSweepSchedule must be rate(N unit) or cron(six fields), e.g. rate(1 day) or cron(0 6 * * ? *).",
        allowed_pattern=SCHEDULE_PATTERN,
    ),
    ParameterSpec(
        "PublicScanSchedule",
        "Public sharing scan schedule",
        "When the public job scans every image and snapshot (besides the sharing events): an EventBridge "
        "rate(...) or cron(...) expression (UTC).",
        "String",
        "rate(6 hours)",
        "PublicScanSchedule must be rate(N unit) or cron(six fields), e.g. rate(6 hours).",
        allowed_pattern=SCHEDULE_PATTERN,
    ),
    ParameterSpec(
        "RebuildSchedule",
        "Rebuild check schedule",
        "When the rebuild job looks for stale families: an EventBridge rate(...) or cron(...) "
        "expression (UTC).",
        "String",
        "rate(1 day)",
        "RebuildSchedule must be rate(N unit) or cron(six fields), e.g. rate(1 day).",
        allowed_pattern=SCHEDULE_PATTERN,
    ),
)

# The console's layout: its groups, in order, each with its parameters in order.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Rotation policy",
        (
            "RotationMode",
            "RetentionDays",
            "KeepLatest",
            "DisableGraceDays",
            "MaxActionsPerRun",
            "AllowedShareAccounts",
            "ConsumerRoleName",
            "ConsumerUsageUnknown",
        ),
    ),
    (
        "Tag policy",
        ("TagPolicyMode", "RequiredTags", "TagGraceHours", "TagEscalationDays", "PropagateTags"),
    ),
    ("Public sharing", ("PublicSharingMode", "SharingChecksPerRun")),
    (
        "Rebuild",
        (
            "RebuildMode",
            "MaxImageAgeDays",
            "FamilyPipelines",
            "AutomationInstanceProfile",
            "AutomationSecurityGroupIds",
            "AutomationSubnetId",
            "AutomationInstanceTypes",
            "BaseParameterPaths",
            "CreateSamplePipeline",
        ),
    ),
    (
        "Where and when",
        ("Regions", "RotationSchedule", "TagSweepSchedule", "PublicScanSchedule", "RebuildSchedule"),
    ),
    ("Pace", ("ReadsPerSecond", "WritesPerSecond")),
    ("Reports", ("AlertEmail", "NotifyAllClean", "ComingUpDays")),
    ("Safety net", ("RecycleBinDays",)),
)


Groups = tuple[tuple[str, tuple[str, ...]], ...]


def _laid_out(specs: tuple[ParameterSpec, ...], groups: Groups = GROUPS) -> tuple[ParameterSpec, ...]:
    """Every parameter, in the groups' order; each declared parameter is in exactly one group."""
    by_name = {spec.name: spec for spec in specs}
    names = [name for _, group in groups for name in group]
    if len(by_name) != len(specs) or sorted(names) != sorted(by_name):
        raise ValueError(
            "GROUPS must place every parameter once: "
            f"missing {sorted(set(by_name) - set(names))}, unknown or twice "
            f"{sorted(set(names) - set(by_name)) or sorted({n for n in names if names.count(n) > 1})}"
        )
    return tuple(by_name[name] for name in names)


SPECS: tuple[ParameterSpec, ...] = _laid_out((*setting_specs(), *STACK_SPECS))

# -- the organization hub ------------------------------------------------------------------------

# Organizations identifiers, as the Organizations API reference gives their patterns
# (botocore organizations service-2.json: ParentId, OrganizationId, AccountId), and
# as AWS::CloudFormation::StackSet DeploymentTargets takes them (OrganizationalUnitIds).
PARENT_ID = r"(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})"
ACCOUNT_ID = r"[0-9]{12}"
# IAM role names: 1-64 characters of [\w+=,.@-] (IAM API reference, CreateRole RoleName).
ROLE_NAME = r"[\w+=,.@-]{1,64}"
MAX_CONCURRENT_TARGETS = 1000  # Lambda's default concurrency quota per region

ORGANIZATION_SPECS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "OrganizationalUnitIds",
        "Target OUs",
        "The organization's root (r-...) or OUs (ou-...) whose accounts the hub covers, comma-separated, "
        "without spaces. The member StackSets deploy to every account in them, child OUs included, and to "
        "accounts that join them later; the sweeps act in every active account under them. The "
        "management account itself is never a StackSet target (CloudFormation never deploys service-"
        "managed stack instances to it).",
        "String",
        None,
        "OrganizationalUnitIds must be root or OU ids (r-xxxx, ou-xxxx-xxxxxxxx) separated by commas, "
        "without spaces.",
        allowed_pattern=rf"^{PARENT_ID}(,{PARENT_ID})*$",
        env_var="ORGANIZATIONAL_UNIT_IDS",
    ),
    ParameterSpec(
        "OrganizationId",
        "Organization id",
        "The organization's id (o-...; Organizations console, or `aws organizations describe-organization`). "
        "Only principals of this organization may put events on the hub's bus (aws:PrincipalOrgID), and "
        "the jobs may only assume member roles in its accounts (aws:ResourceOrgID).",
        "String",
        None,
        "OrganizationId must be an organization id like o-a1b2c3d4e5.",
        allowed_pattern=r"^o-[a-z0-9]{10,32}$",
    ),
    ParameterSpec(
        "ExcludedAccounts",
        "Excluded accounts",
        "12-digit account ids, comma-separated, that get no member stacks and in which the jobs never act, "
        "even when they are in the target OUs. Empty: none.",
        "String",
        "",
        "ExcludedAccounts must be empty or 12-digit account ids separated by commas, without spaces.",
        allowed_pattern=rf"^$|^{ACCOUNT_ID}(,{ACCOUNT_ID})*$",
        env_var="EXCLUDED_ACCOUNTS",
        jobs=ALL_JOBS,
    ),
    ParameterSpec(
        "MemberRoleName",
        "Member role name",
        "The name of the role the member StackSet creates in every member account; the hub's jobs assume "
        "it there, and it trusts only them.",
        "String",
        "AmiHygieneMember",
        "MemberRoleName must be an IAM role name: 1-64 letters, digits and +=,.@_-.",
        allowed_pattern=rf"^{ROLE_NAME}$",
        env_var="MEMBER_ROLE_NAME",
        jobs=ALL_JOBS,
    ),
    ParameterSpec(
        "CallAs",
        "Deploying as",
        "SELF when this stack is deployed in the organization's management account, DELEGATED_ADMIN in a "
        "member account registered as a StackSets delegated administrator (AWS::CloudFormation::StackSet "
        "CallAs).",
        "String",
        "SELF",
        "CallAs must be SELF or DELEGATED_ADMIN.",
        allowed_values=("SELF", "DELEGATED_ADMIN"),
    ),
    ParameterSpec(
        "MaxConcurrentTargets",
        "Concurrent targets",
        "How many account-region targets one sweep works on at once (the state machine's Map "
        "concurrency). Each is one Lambda invocation of the job in the hub's account.",
        "Number",
        20,
        f"MaxConcurrentTargets must be a whole number from 1 to {MAX_CONCURRENT_TARGETS}.",
        min_value=1,
        max_value=MAX_CONCURRENT_TARGETS,
    ),
)

# What a hub has no use for, and why (each is left out of the hub's template).
HUB_OMITTED: dict[str, str] = {
    "CreateSamplePipeline": (
        "the sample Image Builder pipeline is a single-account demonstration; a hub would build it in its "
        "own account, where the jobs do not act (they act in the member accounts, with their own pipelines)"
    ),
}

HUB_GROUPS: Groups = (
    ("Organization", tuple(spec.name for spec in ORGANIZATION_SPECS)),
    *((label, tuple(name for name in names if name not in HUB_OMITTED)) for label, names in GROUPS),
)
HUB_SPECS: tuple[ParameterSpec, ...] = _laid_out(
    (*ORGANIZATION_SPECS, *(spec for spec in SPECS if spec.name not in HUB_OMITTED)), HUB_GROUPS
)

# The member template's: what its roles' permissions and its Recycle Bin rules read. The hub passes
# each down with the value of its own parameter of the same name.
MEMBER_PARAMETERS = (
    "MemberRoleName",
    "Regions",
    "RotationMode",
    "TagPolicyMode",
    "PublicSharingMode",
    "RebuildMode",
    "ConsumerRoleName",
    "BaseParameterPaths",
    "RecycleBinDays",
)


@dataclass(frozen=True)
class Layout:
    """A template's parameters, in order, and their console groups (None: no console layout)."""

    specs: tuple[ParameterSpec, ...]
    groups: Groups | None


_HUB_BY_NAME = {spec.name: spec for spec in HUB_SPECS}
ACCOUNT = Layout(SPECS, GROUPS)
HUB = Layout(HUB_SPECS, HUB_GROUPS)
MEMBER = Layout(tuple(_HUB_BY_NAME[name] for name in MEMBER_PARAMETERS), None)


class StackParameters(Construct):
    """The CfnParameters, the conditions built on them, and the console's parameter groups.

    A condition is added to the template the first time something asks for it, so a template
    holds only the conditions its resources use (cfn-lint W8001), and only those whose
    parameters its layout has.
    """

    def __init__(self, scope: Construct, construct_id: str, layout: Layout = ACCOUNT) -> None:
        super().__init__(scope, construct_id)
        self.layout = layout
        self.params: dict[str, CfnParameter] = {}
        self._conditions: dict[str, CfnCondition] = {}
        for spec in layout.specs:
            param = CfnParameter(
                self,
                spec.name,
                type=spec.type,
                default=spec.default,
                description=spec.description,
                constraint_description=spec.constraint,
                allowed_values=list(spec.allowed_values) if spec.allowed_values else None,
                allowed_pattern=spec.allowed_pattern,
                min_value=spec.min_value,
                max_value=spec.max_value,
                max_length=spec.max_length,
            )
            param.override_logical_id(spec.name)
            self.params[spec.name] = param
        if layout.groups is not None:
            Stack.of(self).add_metadata(
                "AWS::CloudFormation::Interface",
                {
                    "ParameterGroups": [
                        {"Label": {"default": label}, "Parameters": list(names)}
                        for label, names in layout.groups
                    ],
                    "ParameterLabels": {spec.name: {"default": spec.label} for spec in layout.specs},
                },
            )

    # -- conditions ------------------------------------------------------------------------------

    def _condition(self, name: str, expression: Callable[[], Any]) -> CfnCondition:
        """The condition `name`, created with `expression()` the first time it is asked for."""
        if name not in self._conditions:
            condition = CfnCondition(self, name, expression=expression())
            condition.override_logical_id(name)
            self._conditions[name] = condition
        return self._conditions[name]

    def _given(self, name: str, value: str) -> CfnCondition:
        """`name`: `value` is not empty."""
        return self._condition(name, lambda: Fn.condition_not(Fn.condition_equals(value, "")))

    def _not_empty(self, name: str, parameter: str) -> CfnCondition:
        return self._given(name, self.value(parameter))

    def _equals(self, name: str, parameter: str, value: str) -> CfnCondition:
        return self._condition(name, lambda: Fn.condition_equals(self.value(parameter), value))

    @property
    def has_alert_email(self) -> CfnCondition:
        return self._not_empty("HasAlertEmail", "AlertEmail")

    @property
    def recycle_bin_on(self) -> CfnCondition:
        return self._condition(
            "RecycleBinOn", lambda: Fn.condition_not(Fn.condition_equals(self.value("RecycleBinDays"), "0"))
        )

    @property
    def regions_empty(self) -> CfnCondition:
        return self._equals("RegionsEmpty", "Regions", "")

    @property
    def reads_consumers(self) -> CfnCondition:
        return self._not_empty("ReadsConsumers", "ConsumerRoleName")

    # One write condition per job: a job's write policy exists only while its mode is enforce.
    @property
    def enforce_mode(self) -> CfnCondition:
        return self._equals("EnforceMode", "RotationMode", "enforce")

    @property
    def tags_enforce(self) -> CfnCondition:
        return self._equals("TagsEnforceMode", "TagPolicyMode", "enforce")

    @property
    def public_enforce(self) -> CfnCondition:
        return self._equals("PublicEnforceMode", "PublicSharingMode", "enforce")

    @property
    def rebuild_enforce(self) -> CfnCondition:
        return self._equals("RebuildEnforceMode", "RebuildMode", "enforce")

    @property
    def sample_pipeline_on(self) -> CfnCondition:
        return self._equals("SamplePipelineOn", "CreateSamplePipeline", "true")

    @property
    def has_excluded_accounts(self) -> CfnCondition:
        return self._not_empty("HasExcludedAccounts", "ExcludedAccounts")

    @property
    def base_parameter_paths(self) -> list[tuple[CfnCondition, str]]:
        """BaseParameterPaths one by one, each with the condition that it is given.

        Fn::Select cannot go past the list's end, so the list is padded with empty items
        first, and each item counts only when it is not empty. (Fn::Equals may hold Ref,
        Fn::Join, Fn::Select and Fn::Split: cfn-lint's rule E8003 schema for it,
        functions/equals.json.)
        """
        padded = Fn.split(
            ",", Fn.join("", [self.value("BaseParameterPaths"), "," * (MAX_BASE_PARAMETER_PATHS - 1)])
        )
        found: list[tuple[CfnCondition, str]] = []
        for index in range(MAX_BASE_PARAMETER_PATHS):
            path = Fn.select(index, padded)
            found.append((self._given(f"HasBaseParameterPath{index + 1}", path), path))
        return found

    # -- values ----------------------------------------------------------------------------------

    def value(self, name: str) -> str:
        return self.params[name].value_as_string

    def number(self, name: str) -> float:
        return self.params[name].value_as_number

    def function_environment(self, job: str) -> dict[str, str]:
        """The job's environment variables: per setting the job offers (and the publisher's), its value."""
        return {
            spec.env_var: self.value(spec.name)
            for spec in self.layout.specs
            if spec.env_var and job in spec.jobs
        }

    def regions(self) -> list[str]:
        """The regions the jobs act in, as a list token: Regions, or the stack's region when empty."""
        return Token.as_list(
            Fn.condition_if(self.regions_empty.logical_id, [Aws.REGION], Fn.split(",", self.value("Regions")))
        )
