"""`ami-hygiene`: the jobs from a shell, against a real account or the embedded AWS.

Every setting flag overrides the environment variable of the same name
(--retention-days <-> RETENTION_DAYS). Credentials come from the standard AWS
chain; AWS_ENDPOINT_URL points the run at another endpoint (the sandbox).

Exit codes: 0 the run completed (findings are not errors); 1 an action failed or
something could not be read (a usage source, a region); 2 bad arguments, settings or credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ami_hygiene import __version__
from ami_hygiene.core.clients import Clients
from ami_hygiene.core.coverage import allowed_images_warnings
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.report import Report
from ami_hygiene.core.settings import ConsumerUsageUnknown, Mode, Settings, SettingsError
from ami_hygiene.jobs.rotate.run import run_rotation

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, then exit 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ami-hygiene", description="Keep AWS machine images healthy.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    rotate = sub.add_parser("rotate", help="retire old, unused AMIs in stages")
    _add_common(rotate)
    rotate.add_argument(
        "--retention-days", type=int, help="age before a superseded image retires [RETENTION_DAYS, 90]"
    )
    rotate.add_argument(
        "--keep-latest", type=int, help="newest available images kept per family [KEEP_LATEST, 3]"
    )
    rotate.add_argument(
        "--disable-grace-days",
        type=int,
        help="days an image stays disabled before deregistration; 0 deregisters at once "
        "[DISABLE_GRACE_DAYS, 14]",
    )
    rotate.add_argument("--max-actions", type=int, help="most images changed in one run [MAX_ACTIONS, 100]")
    rotate.add_argument(
        "--allowed-share-accounts",
        help="accounts, organization or OU ARNs an image may be shared with and still retire "
        "[ALLOWED_SHARE_ACCOUNTS]",
    )
    rotate.add_argument(
        "--price-per-gib-month",
        type=float,
        help="snapshot price for the saving estimate [PRICE_PER_GIB_MONTH, 0.05]",
    )
    rotate.add_argument(
        "--consumer-role-name",
        help="IAM role (name, or path/name) assumed in each account an image is shared with, to read "
        "its usage before retiring the image [CONSUMER_ROLE_NAME]",
    )
    rotate.add_argument(
        "--consumer-usage-unknown",
        choices=[u.value for u in ConsumerUsageUnknown],
        help="without a consumer role: keep or retire an image shared with allow-listed accounts "
        "[CONSUMER_USAGE_UNKNOWN, keep]",
    )

    tags = sub.add_parser("tags", help="check required tags, add auto-tags, tag snapshots, escalate")
    _add_common(tags)
    tags.add_argument(
        "--required-tags",
        help=r"required keys, each Key or Key=regex, e.g. 'Owner,CostCenter=^\d{4}$' [REQUIRED_TAGS]",
    )
    tags.add_argument(
        "--tag-grace-hours", type=int, help="hours before a sweep reports an image [TAG_GRACE_HOURS, 24]"
    )
    tags.add_argument(
        "--tag-escalation-days",
        type=int,
        help="days non-compliant before deprecation; 0 never [TAG_ESCALATION_DAYS, 0]",
    )
    tags.add_argument(
        "--propagate-tags", help="keys copied to snapshots; default the required keys [PROPAGATE_TAGS]"
    )
    tags.add_argument("--max-actions", type=int, help="most changes in one run [MAX_ACTIONS, 100]")

    public = sub.add_parser("public", help="find and revoke public or foreign-shared AMIs and snapshots")
    _add_common(public)
    public.add_argument(
        "--allowed-accounts",
        dest="allowed_share_accounts",
        help="accounts, organization or OU ARNs images may be shared with [ALLOWED_SHARE_ACCOUNTS]",
    )
    public.add_argument("--max-actions", type=int, help="most changes in one run [MAX_ACTIONS, 100]")
    public.add_argument(
        "--sharing-checks-per-run",
        type=int,
        help="images whose permissions are read one by one per sweep [SHARING_CHECKS_PER_RUN, 1000]",
    )

    rebuild = sub.add_parser("rebuild", help="start a patch build for stale image families")
    _add_common(rebuild)
    rebuild.add_argument(
        "--max-image-age-days",
        type=int,
        help="a family whose newest image is older is rebuilt [MAX_IMAGE_AGE_DAYS, 30]",
    )
    rebuild.add_argument(
        "--family-pipelines", help="family=image-pipeline-arn, comma-separated [FAMILY_PIPELINES]"
    )
    rebuild.add_argument("--automation-role-arn", help="role SSM Automation assumes [AUTOMATION_ROLE_ARN]")
    rebuild.add_argument(
        "--automation-instance-profile", help="instance profile of the build [AUTOMATION_INSTANCE_PROFILE]"
    )
    rebuild.add_argument(
        "--automation-security-group-ids", help="build instance groups [AUTOMATION_SECURITY_GROUP_IDS]"
    )
    rebuild.add_argument("--automation-subnet-id", help="build instance subnet [AUTOMATION_SUBNET_ID]")
    rebuild.add_argument(
        "--automation-instance-types",
        help="build instance type per image architecture, architecture=type, comma-separated "
        "[AUTOMATION_INSTANCE_TYPES, arm64=t4g.medium,x86_64=t3.medium]",
    )
    rebuild.add_argument(
        "--base-parameter-paths",
        help="private SSM parameter paths of base images the role may read, e.g. /golden "
        "[BASE_PARAMETER_PATHS]",
    )
    rebuild.add_argument("--max-actions", type=int, help="most builds started in one run [MAX_ACTIONS, 100]")

    from ami_hygiene.restore import cli as restore_cli

    restore_cli.add_parser(sub)

    from ami_hygiene.doctor import run as doctor

    doctor.add_parser(sub)

    demo = sub.add_parser("demo", help="seed the embedded AWS and run rotate in report then enforce mode")
    demo.add_argument("--format", choices=["text", "json"], default="text")

    box = sub.add_parser("sandbox", help="serve the embedded AWS on a loopback port")
    box.add_argument("--port", type=int, default=5000)
    box.add_argument("--seed-demo", action="store_true", help="seed the demo estate first")
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region", action="append", dest="regions", help="region to scan; repeat for more [REGIONS]"
    )
    parser.add_argument(
        "--mode", choices=[m.value for m in Mode], help="report changes nothing [MODE, report]"
    )
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--output", help="write the report to this file instead of standard output")


def main(
    argv: Sequence[str] | None = None, env: dict[str, str] | None = None, stdout: TextIO | None = None
) -> int:
    args = build_parser().parse_args(argv)
    env = dict(os.environ) if env is None else env
    out = stdout or sys.stdout
    if args.command == "demo":
        from sandbox.demo import run_demo

        return run_demo(out, fmt=args.format)
    if args.command == "sandbox":
        from sandbox.server import serve

        serve(args.port, seed_demo=args.seed_demo)
        return EXIT_OK
    if args.command == "restore":
        from ami_hygiene.restore import cli as restore_cli

        return restore_cli.run(args, env, out)
    if args.command == "doctor":
        from ami_hygiene.doctor import run as doctor

        return doctor.run(args, env, out)
    return _run_job(args, env, out)


def _job(command: str) -> Callable[[Settings, Clients], Report]:
    if command == "tags":
        from ami_hygiene.jobs.tags.run import run_tags

        return run_tags
    if command == "public":
        from ami_hygiene.jobs.public.run import run_public

        return run_public
    if command == "rebuild":
        from ami_hygiene.jobs.rebuild.run import run_rebuild

        return run_rebuild
    return run_rotation


def _run_job(args: argparse.Namespace, env: dict[str, str], out: TextIO) -> int:
    try:
        settings = Settings.load(env, overrides=_overrides(args))
    except SettingsError as err:
        print(f"ami-hygiene: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    try:
        clients = Clients()
        report = _job(args.command)(settings, clients)
        report = report.with_warnings(allowed_images_warnings(clients, report.regions), clients.counter.calls)
    except (NoCredentialsError, NoRegionError) as err:
        print(f"ami-hygiene: error: {err} (configure AWS credentials and a region)", file=sys.stderr)
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as err:
        print(f"ami-hygiene: error: {describe_error(err)}", file=sys.stderr)
        return EXIT_FAILED
    write_report(report, args.format, args.output, out)
    # Any error (an unreadable source, region or account) fails the run, not only a failed action.
    return EXIT_FAILED if report.failed or report.all_errors else EXIT_OK


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = (
        "mode",
        "regions",
        "retention_days",
        "keep_latest",
        "disable_grace_days",
        "max_actions",
        "allowed_share_accounts",
        "price_per_gib_month",
        "required_tags",
        "tag_grace_hours",
        "tag_escalation_days",
        "propagate_tags",
        "sharing_checks_per_run",
        "max_image_age_days",
        "family_pipelines",
        "automation_role_arn",
        "automation_instance_profile",
        "automation_security_group_ids",
        "automation_subnet_id",
        "automation_instance_types",
        "base_parameter_paths",
        "consumer_role_name",
        "consumer_usage_unknown",
    )
    return {name: getattr(args, name, None) for name in names}


def write_report(report: Report, fmt: str, path: str | None, out: TextIO) -> None:
    text = json.dumps(report.to_dict(), indent=2) + "\n" if fmt == "json" else report.render_text()
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"report written to {path}", file=out)
    else:
        out.write(text)


if __name__ == "__main__":
    sys.exit(main())
