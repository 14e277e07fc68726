"""The stack's parameters: what a user tunes at deploy time, with the constraints
CloudFormation checks before it creates anything.

Each parameter keeps its plain name (RotationMode, not a generated logical id),
so `cdk deploy --parameters RotationMode=enforce` works. The values reach the
functions as the environment variables the CLI reads (MODE, RETENTION_DAYS, ...);
each spec names the jobs whose function gets it. Every job has its own mode
parameter (all reach their function as MODE) and its own write condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, CfnCondition, CfnParameter, Fn, Stack, Token
from constructs import Construct

from ami_hygiene.core.estate import ARCHITECTURES
from ami_hygiene.core.settings import DEFAULT_INSTANCE_TYPES, INSTANCE_TYPE

REGION_PATTERN = r"[a-z]{2}(-[a-z]+)+-\d"
ACCOUNT_OR_ORG_PATTERN = (
    r"(\d{12}|arn:aws[a-z-]*:organizations::\d{12}:(organization|ou)/o-[a-z0-9]+(/ou-[a-z0-9-]+)?)"
)
SCHEDULE_PATTERN = (
    r"^(rate\([1-9]\d* (minute|minutes|hour|hours|day|days)\)|cron\(\S+ \S+ \S+ \S+ \S+ \S+\))$"
)
# The characters EC2 allows in a tag key (ami_hygiene.core.tag_rules), minus "=" and ",".
TAG_KEY_PATTERN = r"[A-Za-z0-9_.:/+@ -]{1,128}"
PIPELINE_ARN_PATTERN = r"arn:aws[a-z-]*:imagebuilder:[a-z0-9-]+:\d{12}:image-pipeline/[a-z0-9_-]+"
FAMILY_PIPELINE_PATTERN = rf"[^,=\s]+={PIPELINE_ARN_PATTERN}"
SECURITY_GROUP_PATTERN = r"sg-[0-9a-f]{8,17}"
# architecture=instance type, the same rules as AUTOMATION_INSTANCE_TYPES (ami_hygiene.core.settings).
INSTANCE_TYPE_PATTERN = INSTANCE_TYPE.pattern.removeprefix("^").removesuffix("$")
ARCHITECTURE_INSTANCE_TYPE_PATTERN = rf"({'|'.join(ARCHITECTURES)})={INSTANCE_TYPE_PATTERN}"
# An SSM parameter path like /golden (PutParameter's naming rules; at most 14 levels above a name).
PARAMETER_PATH_PATTERN = r"(/[A-Za-z0-9_.-]+){1,14}"
# IAM resources come from the BaseParameterPaths list one by one (Fn::Select), each behind
# its own condition, so the list has a fixed most.
MAX_BASE_PARAMETER_PATHS = 5

ROTATE, TAGS, PUBLIC, REBUILD = "rotate", "tags", "public", "rebuild"
ALL_JOBS = (ROTATE, TAGS, PUBLIC, REBUILD)


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
        jobs=(ROTATE,),
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
        jobs=(ROTATE,),
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
        jobs=(ROTATE,),
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
        jobs=(ROTATE,),
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
        jobs=ALL_JOBS,
    ),
    ParameterSpec(
        "AllowedShareAccounts",
        "Share allow-list",
        "Comma-separated account ids or organization / OU ARNs an image may be shared with. Rotation "
        "keeps images shared with anyone else; the public job reports (enforce: revokes) sharing with "
        "anyone else. Empty: any sharing keeps an image and counts as outside the allow-list.",
        "String",
        "",
        "AllowedShareAccounts must be 12-digit account ids or organization / OU ARNs, "
        "separated by commas, without spaces.",
        allowed_pattern=rf"^$|^{ACCOUNT_OR_ORG_PATTERN}(,{ACCOUNT_OR_ORG_PATTERN})*$",
        env_var="ALLOWED_SHARE_ACCOUNTS",
        jobs=(ROTATE, PUBLIC),
    ),
    ParameterSpec(
        "ConsumerRoleName",
        "Consumer role name",
        "Name (with its path, if any) of a read-only role in every account you share images with "
        "(README: central image account). Rotation assumes it to see whether those accounts still use "
        "an image it would retire; an image they use, or whose use cannot be read, is kept. Empty: "
        "consumers are not read (see ConsumerUsageUnknown).",
        "String",
        "",
        "ConsumerRoleName must be an IAM role name (letters, digits, +=,.@_-), optionally after a path "
        "like team/, without a leading slash.",
        allowed_pattern=r"^$|^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$",
        max_length=512,
        env_var="CONSUMER_ROLE_NAME",
        jobs=(ROTATE,),
    ),
    ParameterSpec(
        "ConsumerUsageUnknown",
        "Without a consumer role",
        "What rotation does with an image shared only with allow-listed accounts when ConsumerRoleName "
        "is empty, so their use of it is unknown: keep it (safe), or retire it as if they did not use it.",
        "String",
        "keep",
        "ConsumerUsageUnknown must be keep or retire.",
        allowed_values=("keep", "retire"),
        env_var="CONSUMER_USAGE_UNKNOWN",
        jobs=(ROTATE,),
    ),
    ParameterSpec(
        "Regions",
        "Regions",
        "Comma-separated regions every job works in, e.g. eu-west-1,us-east-1. Empty: the stack's region.",
        "String",
        "",
        "Regions must be region names like eu-west-1, separated by commas, without spaces.",
        allowed_pattern=rf"^$|^{REGION_PATTERN}(,{REGION_PATTERN})*$",
        env_var="REGIONS",
        jobs=ALL_JOBS,
    ),
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
        "TagPolicyMode",
        "Tag policy mode",
        "report: check and report only. enforce: also add the auto-tags, copy tags to snapshots and "
        "escalate (deprecate) images that stay non-compliant; the tag job never removes a user's tag.",
        "String",
        "enforce",
        "TagPolicyMode must be report or enforce.",
        allowed_values=("report", "enforce"),
        env_var="MODE",
        jobs=(TAGS,),
    ),
    ParameterSpec(
        "RequiredTags",
        "Required tags",
        "Comma-separated tags every image must have: Key, or Key=regex for a value that must match, e.g. "
        "Owner,Environment=^(prod|staging|dev)$ (escape a comma inside a regex as \\,). Empty: none.",
        "String",
        "",
        "RequiredTags must be empty or Key / Key=regex items separated by commas, on one line, starting "
        "with a tag key, at most 1024 characters.",
        allowed_pattern=r"^$|^[A-Za-z0-9_.:/+@ -][^\r\n]*$",
        max_length=1024,
        env_var="REQUIRED_TAGS",
        jobs=(TAGS,),
    ),
    ParameterSpec(
        "TagGraceHours",
        "Grace before reporting (hours)",
        "A sweep reports a non-compliant image only once it is this many hours old (an event about a new "
        "image reports it at once).",
        "Number",
        24,
        "TagGraceHours must be a whole number from 0 to 8760.",
        min_value=0,
        max_value=8760,
        env_var="TAG_GRACE_HOURS",
        jobs=(TAGS,),
    ),
    ParameterSpec(
        "TagEscalationDays",
        "Escalate after (days)",
        "An image still non-compliant this many days after its creation is deprecated and tagged for "
        "early retirement by rotation. 0: never escalate.",
        "Number",
        0,
        "TagEscalationDays must be a whole number from 0 to 3650.",
        min_value=0,
        max_value=3650,
        env_var="TAG_ESCALATION_DAYS",
        jobs=(TAGS,),
    ),
    ParameterSpec(
        "PropagateTags",
        "Tags copied to snapshots",
        "Comma-separated tag keys copied from an image to its snapshots. Empty: the RequiredTags keys.",
        "String",
        "",
        "PropagateTags must be empty or tag keys (letters, digits, spaces and _ . : / + - @, at most 128 "
        "each) separated by commas.",
        allowed_pattern=rf"^$|^{TAG_KEY_PATTERN}(,{TAG_KEY_PATTERN})*$",
        env_var="PROPAGATE_TAGS",
        jobs=(TAGS,),
    ),
    ParameterSpec(
        "PublicSharingMode",
        "Public sharing mode",
        "report: report public images and snapshots and sharing outside AllowedShareAccounts. enforce: "
        "also revoke that sharing and turn on the account's image block public access.",
        "String",
        "report",
        "PublicSharingMode must be report or enforce.",
        allowed_values=("report", "enforce"),
        env_var="MODE",
        jobs=(PUBLIC,),
    ),
    ParameterSpec(
        "SharingChecksPerRun",
        "Permission reads per scan",
        "Images whose launch and snapshot permissions a scheduled scan reads one by one (EC2 has no bulk "
        "read); a larger estate is covered in a slice that moves on daily. Public images and snapshots are "
        "found every scan regardless.",
        "Number",
        1000,
        "SharingChecksPerRun must be a whole number from 1 to 100000.",
        min_value=1,
        max_value=100000,
        env_var="SHARING_CHECKS_PER_RUN",
        jobs=(PUBLIC,),
    ),
    ParameterSpec(
        "RebuildMode",
        "Rebuild mode",
        "report: report the image families due for a rebuild. enforce: also start their Image Builder "
        "pipeline or SSM runbook (AWS-UpdateLinuxAmi / AWS-UpdateWindowsAmi).",
        "String",
        "report",
        "RebuildMode must be report or enforce.",
        allowed_values=("report", "enforce"),
        env_var="MODE",
        jobs=(REBUILD,),
    ),
    ParameterSpec(
        "MaxImageAgeDays",
        "Rebuild when older than (days)",
        "A family whose newest image is older than this many days (or whose base image moved on) is rebuilt.",
        "Number",
        30,
        "MaxImageAgeDays must be a whole number from 1 to 3650.",
        min_value=1,
        max_value=3650,
        env_var="MAX_IMAGE_AGE_DAYS",
        jobs=(REBUILD,),
    ),
    ParameterSpec(
        "FamilyPipelines",
        "Family pipelines",
        "Comma-separated family=Image Builder pipeline ARN pairs; a family without one is rebuilt from its "
        "pipeline tag or, failing that, with the SSM runbook. Empty: none.",
        "String",
        "",
        "FamilyPipelines must be empty or family=arn:aws:imagebuilder:REGION:ACCOUNT:image-pipeline/NAME "
        "items separated by commas, without spaces.",
        allowed_pattern=rf"^$|^{FAMILY_PIPELINE_PATTERN}(,{FAMILY_PIPELINE_PATTERN})*$",
        max_length=2048,
        env_var="FAMILY_PIPELINES",
        jobs=(REBUILD,),
    ),
    ParameterSpec(
        "AutomationInstanceProfile",
        "Runbook instance profile",
        "Instance profile name the SSM runbooks give the build instance (it needs "
        "AmazonSSMManagedInstanceCore). Empty: the runbook's default (ManagedInstanceProfile).",
        "String",
        "",
        "AutomationInstanceProfile must be empty or an instance profile name (letters, digits and "
        "+ = , . @ _ -, at most 128).",
        allowed_pattern=r"^$|^[\w+=,.@-]{1,128}$",
        env_var="AUTOMATION_INSTANCE_PROFILE",
        jobs=(REBUILD,),
    ),
    ParameterSpec(
        "AutomationSecurityGroupIds",
        "Runbook security groups",
        "Comma-separated security group ids for the runbooks' build instance. Empty: the runbook's default.",
        "String",
        "",
        "AutomationSecurityGroupIds must be empty or security group ids (sg-...) separated by commas, "
        "without spaces.",
        allowed_pattern=rf"^$|^{SECURITY_GROUP_PATTERN}(,{SECURITY_GROUP_PATTERN})*$",
        env_var="AUTOMATION_SECURITY_GROUP_IDS",
        jobs=(REBUILD,),
    ),
    ParameterSpec(
        "AutomationSubnetId",
        "Runbook subnet",
        "Subnet id for the runbooks' build instance (it needs a route to SSM and the package "
        "repositories). Empty: the default VPC.",
        "String",
        "",
        "AutomationSubnetId must be empty or one subnet id (subnet-...).",
        allowed_pattern=r"^$|^subnet-[0-9a-f]{8,17}$",
        env_var="AUTOMATION_SUBNET_ID",
        jobs=(REBUILD,),
    ),
    ParameterSpec(
        "AutomationInstanceTypes",
        "Runbook build instance types",
        "Comma-separated architecture=instance type pairs: the runbooks' build instance for an image of "
        "that architecture (it boots the image, so the type must support the image's architecture; the "
        "runbooks' own default, t2.micro, is x86 only). A family whose image has an architecture not "
        "listed is not rebuilt by a runbook.",
        "String",
        ",".join(f"{arch}={kind}" for arch, kind in DEFAULT_INSTANCE_TYPES.items()),
        "AutomationInstanceTypes must be architecture=instance-type items (architectures "
        f"{', '.join(ARCHITECTURES)}; types like t4g.medium) separated by commas, without spaces.",
        allowed_pattern=rf"^{ARCHITECTURE_INSTANCE_TYPE_PATTERN}(,{ARCHITECTURE_INSTANCE_TYPE_PATTERN})*$",
        max_length=1024,
        env_var="AUTOMATION_INSTANCE_TYPES",
        jobs=(REBUILD,),
    ),
    ParameterSpec(
        "BaseParameterPaths",
        "Private base image parameter paths",
        f"Comma-separated SSM parameter paths (at most {MAX_BASE_PARAMETER_PATHS}), e.g. /golden: the "
        "rebuild job may read the parameters named so or under them (ssm:GetParameter, GetParameters) "
        "to check a family's base image (tag ami-hygiene:base-parameter). The public /aws/service/* "
        "parameters are always readable. Empty: none.",
        "String",
        "",
        f"BaseParameterPaths must be empty or at most {MAX_BASE_PARAMETER_PATHS} parameter paths like "
        "/golden (a leading /, names of letters, digits and _ . - separated by /, no trailing /) "
        "separated by commas, without spaces.",
        allowed_pattern=(
            rf"^$|^{PARAMETER_PATH_PATTERN}(,{PARAMETER_PATH_PATTERN}){{0,{MAX_BASE_PARAMETER_PATHS - 1}}}$"
        ),
        max_length=1024,
        env_var="BASE_PARAMETER_PATHS",
        jobs=(REBUILD,),
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

    def function_environment(self, job: str = ROTATE) -> dict[str, str]:
        """The job's environment variables, with the names Settings and the CLI read."""
        return {spec.env_var: self.value(spec.name) for spec in SPECS if spec.env_var and job in spec.jobs}

    def regions(self) -> list[str]:
        """The regions the jobs act in, as a list token: Regions, or the stack's region when empty."""
        return Token.as_list(
            Fn.condition_if(self.regions_empty.logical_id, [Aws.REGION], Fn.split(",", self.value("Regions")))
        )
