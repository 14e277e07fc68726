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
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from aws_cdk import Aws, CfnCondition, CfnParameter, Fn, Stack, Token
from constructs import Construct

from ami_hygiene.core.settings import Option
from ami_hygiene.jobs.rebuild.settings import MAX_BASE_PARAMETER_PATHS
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
        "cron(0 6 * * ? *)",
        "RotationSchedule must be rate(N unit) or cron(six fields), e.g. rate(1 day) or cron(0 6 * * ? *).",
        allowed_pattern=SCHEDULE_PATTERN,
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
    ("Reports", ("AlertEmail", "NotifyAllClean")),
    ("Safety net", ("RecycleBinDays",)),
)


def _laid_out(specs: tuple[ParameterSpec, ...]) -> tuple[ParameterSpec, ...]:
    """Every parameter, in GROUPS' order; each declared parameter is in exactly one group."""
    by_name = {spec.name: spec for spec in specs}
    names = [name for _, group in GROUPS for name in group]
    if len(by_name) != len(specs) or sorted(names) != sorted(by_name):
        raise ValueError(
            "GROUPS must place every parameter once: "
            f"missing {sorted(set(by_name) - set(names))}, unknown or twice "
            f"{sorted(set(names) - set(by_name)) or sorted({n for n in names if names.count(n) > 1})}"
        )
    return tuple(by_name[name] for name in names)


SPECS: tuple[ParameterSpec, ...] = _laid_out((*setting_specs(), *STACK_SPECS))


class StackParameters(Construct):
    """The CfnParameters, the conditions built on them, and the console's parameter groups."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.params: dict[str, CfnParameter] = {}
        for spec in SPECS:
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

        self.has_alert_email = self._condition(
            "HasAlertEmail", Fn.condition_not(Fn.condition_equals(self.value("AlertEmail"), ""))
        )
        self.recycle_bin_on = self._condition(
            "RecycleBinOn", Fn.condition_not(Fn.condition_equals(self.value("RecycleBinDays"), "0"))
        )
        self.regions_empty = self._condition("RegionsEmpty", Fn.condition_equals(self.value("Regions"), ""))
        self.reads_consumers = self._condition(
            "ReadsConsumers", Fn.condition_not(Fn.condition_equals(self.value("ConsumerRoleName"), ""))
        )
        # One write condition per job: a job's write policy exists only while its mode is enforce.
        self.enforce_mode = self._condition(
            "EnforceMode", Fn.condition_equals(self.value("RotationMode"), "enforce")
        )
        self.tags_enforce = self._condition(
            "TagsEnforceMode", Fn.condition_equals(self.value("TagPolicyMode"), "enforce")
        )
        self.public_enforce = self._condition(
            "PublicEnforceMode", Fn.condition_equals(self.value("PublicSharingMode"), "enforce")
        )
        self.rebuild_enforce = self._condition(
            "RebuildEnforceMode", Fn.condition_equals(self.value("RebuildMode"), "enforce")
        )
        self.sample_pipeline_on = self._condition(
            "SamplePipelineOn", Fn.condition_equals(self.value("CreateSamplePipeline"), "true")
        )
        # BaseParameterPaths one by one: Fn::Select cannot go past the list's end, so the list
        # is padded with empty items first, and each item counts only when it is not empty.
        # (Fn::Equals may hold Ref, Fn::Join, Fn::Select and Fn::Split: cfn-lint's rule E8003
        # schema for it, functions/equals.json.)
        padded = Fn.split(
            ",", Fn.join("", [self.value("BaseParameterPaths"), "," * (MAX_BASE_PARAMETER_PATHS - 1)])
        )
        self.base_parameter_paths: list[tuple[CfnCondition, str]] = []
        for index in range(MAX_BASE_PARAMETER_PATHS):
            path = Fn.select(index, padded)
            condition = self._condition(
                f"HasBaseParameterPath{index + 1}", Fn.condition_not(Fn.condition_equals(path, ""))
            )
            self.base_parameter_paths.append((condition, path))
        Stack.of(self).add_metadata(
            "AWS::CloudFormation::Interface",
            {
                "ParameterGroups": [
                    {"Label": {"default": label}, "Parameters": list(names)} for label, names in GROUPS
                ],
                "ParameterLabels": {spec.name: {"default": spec.label} for spec in SPECS},
            },
        )

    def _condition(self, name: str, expression: Any) -> CfnCondition:
        condition = CfnCondition(self, name, expression=expression)
        condition.override_logical_id(name)
        return condition

    def value(self, name: str) -> str:
        return self.params[name].value_as_string

    def number(self, name: str) -> float:
        return self.params[name].value_as_number

    def function_environment(self, job: str) -> dict[str, str]:
        """The job's environment variables: per setting the job offers (and the publisher's), its value."""
        return {spec.env_var: self.value(spec.name) for spec in SPECS if spec.env_var and job in spec.jobs}

    def regions(self) -> list[str]:
        """The regions the jobs act in, as a list token: Regions, or the stack's region when empty."""
        return Token.as_list(
            Fn.condition_if(self.regions_empty.logical_id, [Aws.REGION], Fn.split(",", self.value("Regions")))
        )
