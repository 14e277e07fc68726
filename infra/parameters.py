"""The stack's parameters: what a user tunes at deploy time, with the constraints
CloudFormation checks before it creates anything.

Each parameter keeps its plain name (RotationMode, not a generated logical id),
so `cdk deploy --parameters RotationMode=enforce` works. The values reach the
functions as the environment variables the CLI reads (MODE, RETENTION_DAYS, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, CfnCondition, CfnParameter, Fn, Stack, Token
from constructs import Construct

REGION_PATTERN = r"[a-z]{2}(-[a-z]+)+-\d"
ACCOUNT_OR_ORG_PATTERN = (
    r"(\d{12}|arn:aws[a-z-]*:organizations::\d{12}:(organization|ou)/o-[a-z0-9]+(/ou-[a-z0-9-]+)?)"
)


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


SPECS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "RotationMode",
        "Mode",
        "report: read and report only, change nothing. enforce: deprecate, disable and deregister "
        "what the report lists.",
        "String",
        "report",
        "RotationMode must be report or enforce.",
        allowed_values=("report", "enforce"),
        env_var="MODE",
    ),
    ParameterSpec(
        "RetentionDays",
        "Retention (days)",
        "A superseded image is disabled once it is older than this many days and unused.",
        "Number",
        90,
        "RetentionDays must be a whole number from 1 to 3650.",
        min_value=1,
        max_value=3650,
        env_var="RETENTION_DAYS",
    ),
    ParameterSpec(
        "KeepLatest",
        "Keep newest per family",
        "The newest N available images of every family are always kept.",
        "Number",
        3,
        "KeepLatest must be a whole number from 1 to 100.",
        min_value=1,
        max_value=100,
        env_var="KEEP_LATEST",
    ),
    ParameterSpec(
        "DisableGraceDays",
        "Grace after disabling (days)",
        "Days a disabled image waits before it is deregistered with its snapshots (0: deregister at once).",
        "Number",
        14,
        "DisableGraceDays must be a whole number from 0 to 365.",
        min_value=0,
        max_value=365,
        env_var="DISABLE_GRACE_DAYS",
    ),
    ParameterSpec(
        "MaxActionsPerRun",
        "Max actions per run",
        "At most this many images are changed by one run; the rest are deferred to the next run.",
        "Number",
        100,
        "MaxActionsPerRun must be a whole number from 1 to 10000.",
        min_value=1,
        max_value=10000,
        env_var="MAX_ACTIONS",
    ),
    ParameterSpec(
        "AllowedShareAccounts",
        "Share allow-list",
        "Comma-separated account ids or organization / OU ARNs an image may be shared with and still be "
        "retired. Images shared with anyone else are kept. Empty: any sharing keeps an image.",
        "String",
        "",
        "AllowedShareAccounts must be 12-digit account ids or organization / OU ARNs, "
        "separated by commas, without spaces.",
        allowed_pattern=rf"^$|^{ACCOUNT_OR_ORG_PATTERN}(,{ACCOUNT_OR_ORG_PATTERN})*$",
        env_var="ALLOWED_SHARE_ACCOUNTS",
    ),
    ParameterSpec(
        "Regions",
        "Regions",
        "Comma-separated regions to rotate, e.g. eu-west-1,us-east-1. Empty: the stack's region.",
        "String",
        "",
        "Regions must be region names like eu-west-1, separated by commas, without spaces.",
        allowed_pattern=rf"^$|^{REGION_PATTERN}(,{REGION_PATTERN})*$",
        env_var="REGIONS",
    ),
    ParameterSpec(
        "RotationSchedule",
        "Schedule",
        "When rotation runs: an EventBridge rate(...) or cron(...) expression (UTC). "
        "Default: daily at 06:00.",
        "String",
        "cron(0 6 * * ? *)",
        "RotationSchedule must be rate(N unit) or cron(six fields), e.g. rate(1 day) or cron(0 6 * * ? *).",
        allowed_pattern=r"^(rate\([1-9]\d* (minute|minutes|hour|hours|day|days)\)"
        r"|cron\(\S+ \S+ \S+ \S+ \S+ \S+\))$",
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
        env_var="NOTIFY_ALL_CLEAN",
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
)

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
        ),
    ),
    ("Where and when", ("Regions", "RotationSchedule")),
    ("Reports", ("AlertEmail", "NotifyAllClean")),
    ("Safety net", ("RecycleBinDays",)),
)


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
        self.enforce_mode = self._condition(
            "EnforceMode", Fn.condition_equals(self.value("RotationMode"), "enforce")
        )
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

    def function_environment(self) -> dict[str, str]:
        """Environment variables with the names Settings and the CLI read."""
        return {spec.env_var: self.value(spec.name) for spec in SPECS if spec.env_var}

    def regions(self) -> list[str]:
        """The regions the jobs act in, as a list token: Regions, or the stack's region when empty."""
        return Token.as_list(
            Fn.condition_if(self.regions_empty.logical_id, [Aws.REGION], Fn.split(",", self.value("Regions")))
        )
