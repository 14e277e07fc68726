"""`ami-hygiene doctor`: a pre-flight check before deploying or switching a job to enforce.

It reads, never writes: who the credentials are; per region, whether every call
each job makes is allowed (CALLS, below), whether a CloudTrail trail feeds
EventBridge, which of the stack's rules exist, block public access, Allowed AMIs
and Recycle Bin rules; and the Lambda concurrency the functions need. One line
per check; exit 0 when none fails, 1 when one does, 2 for bad arguments or
credentials that do not work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.estate import TAG_ESCALATED_AT, TAG_FAMILY, TAG_PREFIX, TAG_RETIRED_BY
from ami_hygiene.core.settings import REGION_PATTERN
from ami_hygiene.doctor.checks import (
    Check,
    Status,
    as_json,
    check_allowed_images,
    check_consumer_roles,
    check_image_block_public_access,
    check_lambda_concurrency,
    check_recycle_bin,
    check_rules,
    check_snapshot_block_public_access,
    check_trail,
    endpoint_limits,
)
from ami_hygiene.doctor.permissions import Call, Kind, Probe, Prober, find_owned, job_check

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_STACK_NAME = "AmiHygiene"  # app.py's STACK_NAME

ROTATE, TAGS, PUBLIC, REBUILD = "rotate", "tags", "public", "rebuild"
READ, WRITE = Kind.READ, Kind.WRITE
DRY_RUN, HARMLESS, UNTESTABLE = Probe.DRY_RUN, Probe.READ, Probe.NONE

PROBE = "ami-hygiene-doctor"  # names no resource: looking it up proves only the permission
NOT_FOUND = ("ResourceNotFoundException",)
ARN = "arn:{partition}:imagebuilder:{region}:{account}"  # filled in per region
FAR_FUTURE = "2099-01-01T00:00:00Z"  # EnableImageDeprecation needs a time; DryRun sets none
BASE_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
IMAGE = {"ImageId": "{image}"}
SNAPSHOT_ATTRIBUTE = {"SnapshotId": "{snapshot}", "Attribute": "createVolumePermission"}
PROBE_TAG = [{"Key": f"{TAG_PREFIX}doctor", "Value": "dry-run"}]
PUBLIC_GROUP = [{"Group": "all"}]

# Every call each job makes, from the code (jobs/<job>/inventory.py and actions.py, whose
# writers declare their IAM actions; rebuild's completion.py; core/coverage.py) and the IAM
# actions the stack grants (infra/permissions*.py).
# Left out, as only the Lambda handlers make them: sns:Publish and s3:PutObject (the
# report), dynamodb:PutItem/DeleteItem (a sweep's lease); the command line prints its report.
ALLOWED_IMAGES = "ec2:GetAllowedImagesSettings"  # every run: coverage.allowed_images_warnings
CALLS: tuple[Call, ...] = (
    # rotate: whole-page inventory, per-candidate checks, the staged retirement
    Call(ROTATE, "ec2:DescribeImages", READ, DRY_RUN),
    Call(ROTATE, ALLOWED_IMAGES, READ, DRY_RUN),
    Call(ROTATE, "ec2:DescribeSnapshots", READ, DRY_RUN),
    Call(ROTATE, "ec2:DescribeInstances", READ, DRY_RUN),
    Call(ROTATE, "ec2:DescribeLaunchTemplates", READ, DRY_RUN),
    Call(ROTATE, "ec2:DescribeLaunchTemplateVersions", READ, DRY_RUN, {"Versions": ["$Latest", "$Default"]}),
    Call(ROTATE, "autoscaling:DescribeAutoScalingGroups", READ, HARMLESS, {"MaxRecords": 1}),
    Call(ROTATE, "autoscaling:DescribeLaunchConfigurations", READ, HARMLESS, {"MaxRecords": 1}),
    Call(ROTATE, "ssm:DescribeParameters", READ, HARMLESS, {"MaxResults": 1}),
    Call(ROTATE, "ssm:GetParameters", READ, HARMLESS, {"Names": [f"/{PROBE}"]}),
    Call(ROTATE, "ec2:DescribeImageAttribute", READ, DRY_RUN, {**IMAGE, "Attribute": "launchPermission"}),
    Call(
        ROTATE,
        "ec2:DescribeImageReferences",
        READ,
        DRY_RUN,
        {"ImageIds": ["{image}"], "IncludeAllResourceTypes": True},
    ),
    # DescribeImageReferences asks Image Builder for recipes with the caller's permissions.
    Call(ROTATE, "imagebuilder:ListImageRecipes", READ, HARMLESS, {"maxResults": 1}),
    Call(ROTATE, "imagebuilder:ListContainerRecipes", READ, HARMLESS, {"maxResults": 1}),
    Call(
        ROTATE,
        "imagebuilder:GetContainerRecipe",
        READ,
        HARMLESS,
        {"containerRecipeArn": f"{ARN}:container-recipe/{PROBE}/1.0.0"},
        NOT_FOUND,
    ),
    Call(ROTATE, "ec2:EnableImageDeprecation", WRITE, DRY_RUN, {**IMAGE, "DeprecateAt": FAR_FUTURE}),
    Call(
        ROTATE,
        "ec2:CreateTags",
        WRITE,
        DRY_RUN,
        {"Resources": ["{image}", "{snapshot}"], "Tags": [{"Key": TAG_RETIRED_BY, "Value": ROTATE}]},
    ),
    Call(ROTATE, "ec2:DisableImage", WRITE, DRY_RUN, IMAGE),
    Call(ROTATE, "ec2:DeregisterImage", WRITE, DRY_RUN, {**IMAGE, "DeleteAssociatedSnapshots": True}),
    Call(ROTATE, "ec2:DeleteSnapshot", WRITE, DRY_RUN, {"SnapshotId": "{snapshot}"}),
    # tags: reads images and snapshots; adds ami-hygiene: tags, copies tags to snapshots, escalates
    Call(TAGS, "ec2:DescribeImages", READ, DRY_RUN),
    Call(TAGS, ALLOWED_IMAGES, READ, DRY_RUN),
    Call(TAGS, "ec2:DescribeSnapshots", READ, DRY_RUN),
    Call(TAGS, "ec2:CreateTags", WRITE, DRY_RUN, {"Resources": ["{image}"], "Tags": PROBE_TAG}),
    Call(TAGS, "ec2:CreateTags", WRITE, DRY_RUN, {"Resources": ["{snapshot}"], "Tags": PROBE_TAG}),
    Call(
        TAGS,
        "ec2:DeleteTags",
        WRITE,
        DRY_RUN,
        {"Resources": ["{image}"], "Tags": [{"Key": TAG_ESCALATED_AT}]},
    ),
    Call(TAGS, "ec2:EnableImageDeprecation", WRITE, DRY_RUN, {**IMAGE, "DeprecateAt": FAR_FUTURE}),
    # public: sharing of images and snapshots, image block public access
    Call(PUBLIC, "ec2:DescribeImages", READ, DRY_RUN),
    Call(PUBLIC, ALLOWED_IMAGES, READ, DRY_RUN),
    Call(PUBLIC, "ec2:DescribeSnapshots", READ, DRY_RUN),
    Call(PUBLIC, "ec2:GetImageBlockPublicAccessState", READ, DRY_RUN),
    Call(PUBLIC, "ec2:DescribeImageAttribute", READ, DRY_RUN, {**IMAGE, "Attribute": "launchPermission"}),
    Call(PUBLIC, "ec2:DescribeSnapshotAttribute", READ, DRY_RUN, SNAPSHOT_ATTRIBUTE),
    Call(
        PUBLIC,
        "ec2:ModifyImageAttribute",
        WRITE,
        DRY_RUN,
        {**IMAGE, "LaunchPermission": {"Remove": PUBLIC_GROUP}},
    ),
    Call(
        PUBLIC,
        "ec2:ModifySnapshotAttribute",
        WRITE,
        DRY_RUN,
        {**SNAPSHOT_ATTRIBUTE, "CreateVolumePermission": {"Remove": PUBLIC_GROUP}},
    ),
    Call(
        PUBLIC,
        "ec2:EnableImageBlockPublicAccess",
        WRITE,
        DRY_RUN,
        {"ImageBlockPublicAccessState": "block-new-sharing"},
    ),
    # rebuild: families, base images, pipelines and runbooks; starts builds, tags what they made
    Call(REBUILD, "ec2:DescribeImages", READ, DRY_RUN),
    Call(REBUILD, ALLOWED_IMAGES, READ, DRY_RUN),
    Call(REBUILD, "ssm:GetParameters", READ, HARMLESS, {"Names": [BASE_PARAMETER]}),
    Call(REBUILD, "ssm:GetParameter", READ, HARMLESS, {"Name": BASE_PARAMETER}),
    Call(REBUILD, "imagebuilder:ListImagePipelines", READ, HARMLESS, {"maxResults": 1}),
    Call(
        REBUILD,
        "imagebuilder:GetImagePipeline",
        READ,
        HARMLESS,
        {"imagePipelineArn": f"{ARN}:image-pipeline/{PROBE}"},
        NOT_FOUND,
    ),
    Call(
        REBUILD,
        "imagebuilder:ListImagePipelineImages",
        READ,
        HARMLESS,
        {"imagePipelineArn": f"{ARN}:image-pipeline/{PROBE}"},
        NOT_FOUND,
    ),
    Call(
        REBUILD,
        "imagebuilder:GetImage",
        READ,
        HARMLESS,
        {"imageBuildVersionArn": f"{ARN}:image/{PROBE}/1.0.0/1"},
        NOT_FOUND,
    ),
    Call(REBUILD, "ssm:DescribeAutomationExecutions", READ, HARMLESS, {"MaxResults": 1}),
    Call(
        REBUILD,
        "ssm:GetAutomationExecution",
        READ,
        HARMLESS,
        {"AutomationExecutionId": "00000000-0000-4000-8000-000000000000"},
        ("AutomationExecutionNotFoundException",),
    ),
    Call(
        REBUILD,
        "ec2:CreateTags",
        WRITE,
        DRY_RUN,
        {"Resources": ["{image}"], "Tags": [{"Key": TAG_FAMILY, "Value": PROBE}]},
    ),
    Call(REBUILD, "imagebuilder:StartImagePipelineExecution", WRITE, UNTESTABLE),
    Call(REBUILD, "ssm:StartAutomationExecution", WRITE, UNTESTABLE),
    Call(REBUILD, "ssm:AddTagsToResource", WRITE, UNTESTABLE),
    Call(REBUILD, "iam:PassRole", WRITE, UNTESTABLE),
)
JOBS = (ROTATE, TAGS, PUBLIC, REBUILD)


def run_doctor(
    clients: Clients,
    regions: Sequence[str],
    stack_name: str = DEFAULT_STACK_NAME,
    endpoint: str | None = None,
    consumer_role_name: str = "",
    consumer_accounts: Sequence[str] = (),
) -> tuple[list[Check], int]:
    """Every check, in output order, and the exit code they add up to."""
    identity_check, identity = _credentials(clients, regions[0])
    if identity is None:
        return [identity_check], EXIT_USAGE
    checks = [identity_check]
    account = str(identity["Account"])
    caller = str(identity.get("Arn", account))
    partition = caller.split(":")[1] if caller.startswith("arn:") else "aws"
    for region in regions:
        prober = Prober(clients, region, account, partition, find_owned(clients, region))
        for job in JOBS:
            results = [prober.probe(c) for c in CALLS if c.job == job]
            checks.append(job_check(job, region, results, caller))
        checks += [
            check_trail(clients, region),
            check_rules(clients, region, stack_name),
            check_image_block_public_access(clients, region),
            check_snapshot_block_public_access(clients, region),
            check_allowed_images(clients, region),
            check_recycle_bin(clients, region),
        ]
    checks.append(check_consumer_roles(clients, regions[0], partition, consumer_role_name, consumer_accounts))
    # The functions run in the stack's region: the first one named, as for the jobs' settings.
    checks.append(check_lambda_concurrency(clients, regions[0]))
    if endpoint:
        checks.append(endpoint_limits(endpoint))
    return checks, EXIT_OK if all(c.ok for c in checks) else EXIT_FAILED


def _credentials(clients: Clients, region: str) -> tuple[Check, dict[str, Any] | None]:
    try:
        identity = dict(clients.sts(region).get_caller_identity())
    except (NoCredentialsError, NoRegionError) as err:
        why = f"{err} (configure AWS credentials and a region)"
    except (ClientError, BotoCoreError) as err:
        why = describe_error(err)
    else:
        detail = f"account {identity['Account']} as {identity.get('Arn')}"
        return Check("credentials", None, Status.PASS, detail), identity
    fix = "configure credentials (profile, environment or role) that STS GetCallerIdentity accepts"
    return Check("credentials", None, Status.FAIL, f"no working credentials: {why}", fix), None


MARKS = {Status.PASS: "✔", Status.WARN: "!", Status.FAIL: "✘"}


def render_text(checks: Sequence[Check]) -> str:
    lines = []
    for c in checks:
        where = f" [{c.region}]" if c.region else ""
        fix = f" -> fix: {c.fix}" if c.fix and c.status is not Status.PASS else ""
        lines.append(f"{MARKS[c.status]} {c.check}{where}: {c.detail}{fix}")
    counts = {s: sum(1 for c in checks if c.status is s) for s in Status}
    lines.append(
        f"{counts[Status.PASS]} passed, {counts[Status.WARN]} warnings, {counts[Status.FAIL]} failed"
    )
    return "\n".join(lines) + "\n"


def regions_from(given: Sequence[str] | None, env: dict[str, str]) -> list[str]:
    """--region, else REGIONS, else AWS_REGION, as for the jobs; ValueError with the reason."""
    raw = list(given or []) or [r.strip() for r in env.get("REGIONS", "").split(",") if r.strip()]
    if not raw:
        default = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        raw = [default] if default else []
    if not raw:
        raise ValueError("name a region with --region (or set REGIONS or AWS_REGION)")
    for region in raw:
        if not REGION_PATTERN.match(region):
            raise ValueError(f"--region {region!r} is not a region name like eu-west-1")
    return list(dict.fromkeys(raw))


def add_parser(sub: Any) -> None:
    """The `doctor` subcommand, on the CLI's subparsers."""
    doctor = sub.add_parser(
        "doctor", help="check credentials, permissions and account settings before deploying or enforcing"
    )
    doctor.add_argument(
        "--region", action="append", dest="regions", help="region to check; repeat for more [REGIONS]"
    )
    doctor.add_argument("--format", choices=["text", "json"], default="text")
    doctor.add_argument(
        "--consumer-role-name",
        help="the read-only role rotation assumes in consumer accounts [CONSUMER_ROLE_NAME]",
    )
    doctor.add_argument(
        "--allowed-share-accounts",
        help="accounts (and organization / OU ARNs, not expanded here) images are shared with "
        "[ALLOWED_SHARE_ACCOUNTS]",
    )
    doctor.add_argument(
        "--stack-name",
        default=DEFAULT_STACK_NAME,
        help=f"the stack whose EventBridge rules to look for [{DEFAULT_STACK_NAME}]",
    )


def run(
    args: argparse.Namespace, env: dict[str, str], out: TextIO, clients: Callable[[], Clients] | None = None
) -> int:
    try:
        wanted = regions_from(args.regions, env)
    except ValueError as err:
        print(f"ami-hygiene: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    role = (args.consumer_role_name or env.get("CONSUMER_ROLE_NAME", "")).strip().lstrip("/")
    shared = args.allowed_share_accounts or env.get("ALLOWED_SHARE_ACCOUNTS", "")
    accounts = [a for a in (p.strip() for p in shared.split(",")) if a.isdigit() and len(a) == 12]
    checks, code = run_doctor(
        (clients or Clients)(),
        wanted,
        args.stack_name,
        env.get("AWS_ENDPOINT_URL") or None,
        consumer_role_name=role,
        consumer_accounts=accounts,
    )
    out.write(as_json(checks) if args.format == "json" else render_text(checks))
    if code == EXIT_USAGE:
        print(f"ami-hygiene: error: {checks[0].detail}", file=sys.stderr)
    return code
