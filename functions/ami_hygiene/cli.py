"""`ami-hygiene`: the jobs from a shell, against a real account or the embedded AWS.

Every setting flag overrides the environment variable of the same name
(--retention-days <-> RETENTION_DAYS). Credentials come from the standard AWS
chain; AWS_ENDPOINT_URL points the run at another endpoint (the sandbox).

Across accounts (`--accounts`, `--role-name`): across_accounts.py.

A job run shows its progress on standard error when that is a terminal (progress.py), unless
--quiet; the report goes to standard output or --output, never mixed with it.

Exit codes: 0 the run completed (findings are not errors); 1 an action failed or
something could not be read (a usage source, a region, an account); 2 bad arguments, settings
or credentials.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ami_hygiene import __version__
from ami_hygiene.across_accounts import ORGANIZATION, run_accounts
from ami_hygiene.core.clients import Clients
from ami_hygiene.core.coverage import allowed_images_warnings
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.executor import never_stop
from ami_hygiene.core.job import JobSpec
from ami_hygiene.core.members import (
    DEFAULT_ROLE_NAME,
    check_role_name,
    parse_accounts,
)
from ami_hygiene.core.report import Report
from ami_hygiene.core.settings import SettingsError
from ami_hygiene.flags import add_output_flags, add_setting_flags, overrides, write_text
from ami_hygiene.progress import progress_line
from ami_hygiene.registry import BY_NAME, JOBS

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, then exit 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ami-hygiene", description="Keep AWS machine images healthy.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for job in JOBS:
        _add_job(sub.add_parser(job.name, help=job.summary), job)

    from ami_hygiene.restore import cli as restore_cli

    restore_cli.add_parser(sub)

    from ami_hygiene.doctor import run as doctor

    doctor.add_parser(sub)

    from ami_hygiene.forecast import cli as forecast_cli

    forecast_cli.add_parser(sub)

    demo = sub.add_parser("demo", help="seed the embedded AWS and run rotate in report then enforce mode")
    demo.add_argument("--format", choices=["text", "json"], default="text")

    box = sub.add_parser("sandbox", help="serve the embedded AWS on a loopback port")
    box.add_argument("--port", type=int, default=5000)
    box.add_argument("--seed-demo", action="store_true", help="seed the demo estate first")
    return parser


def _add_job(parser: argparse.ArgumentParser, job: JobSpec[Any]) -> None:
    """A flag per setting the job offers (its settings model, jobs/<job>/settings.py), then the output."""
    add_setting_flags(parser, job)
    add_output_flags(parser)
    across = parser.add_argument_group("across accounts")
    across.add_argument(
        "--accounts",
        type=_accounts,
        metavar="LIST",
        help="run in each of these accounts, 12-digit ids separated by commas, with the role "
        "--role-name assumed there; or 'organization': every ACTIVE account of the organization "
        "(from its management account or a delegated administrator; the caller's own account "
        "only if the role can be assumed in it). Without it, the job runs in the caller's account.",
    )
    across.add_argument(
        "--role-name",
        type=_role_name,
        metavar="NAME",
        help=f"the role assumed in each account of --accounts [default {DEFAULT_ROLE_NAME}, "
        "the organization hub's member role]",
    )


def _accounts(text: str) -> str | tuple[str, ...]:
    if text.strip().lower() == ORGANIZATION:
        return ORGANIZATION
    try:
        return parse_accounts(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"{err} (give 12-digit account ids separated by commas, or {ORGANIZATION})"
        ) from err


def _role_name(text: str) -> str:
    try:
        return check_role_name(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def main(
    argv: Sequence[str] | None = None, env: dict[str, str] | None = None, stdout: TextIO | None = None
) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "role_name", None) and not getattr(args, "accounts", None):
        parser.error("--role-name applies only with --accounts")
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
    if args.command == "forecast":
        from ami_hygiene.forecast import cli as forecast_cli

        return forecast_cli.run(args, env, out)
    return _run_job(BY_NAME[args.command], args, env, out)


def _run_job(job: JobSpec[Any], args: argparse.Namespace, env: dict[str, str], out: TextIO) -> int:
    try:
        settings = job.settings.load(env, overrides=overrides(job, args))
    except SettingsError as err:
        print(f"ami-hygiene: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "accounts", None):
        return _run_accounts(job, settings, args, out)
    try:
        # The line is cleared on leaving the block, before an error or the report is written.
        with progress_line(sys.stderr, f"ami-hygiene {job.name}", quiet=args.quiet) as progress:
            clients = Clients()
            if progress is not None:
                clients.counter.listeners.append(progress)
            report = job.run(settings, clients, never_stop, None)
            report = report.with_warnings(
                allowed_images_warnings(clients, report.regions), clients.counter.calls
            )
    except (NoCredentialsError, NoRegionError) as err:
        print(f"ami-hygiene: error: {err} (configure AWS credentials and a region)", file=sys.stderr)
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as err:
        print(f"ami-hygiene: error: {describe_error(err)}", file=sys.stderr)
        return EXIT_FAILED
    write_report(report, args.format, args.output, out)
    # Any error (an unreadable source, region or account) fails the run, not only a failed action.
    return EXIT_FAILED if report.failed or report.all_errors else EXIT_OK


def _run_accounts(job: JobSpec[Any], settings: Any, args: argparse.Namespace, out: TextIO) -> int:
    """--accounts: the job in each account (across_accounts.py); exit 1 if any account failed."""
    try:
        with progress_line(sys.stderr, f"ami-hygiene {job.name}", quiet=args.quiet) as progress:
            text, failed = run_accounts(
                job,
                settings,
                args.accounts,
                args.role_name or DEFAULT_ROLE_NAME,
                fmt=args.format,
                listener=progress,
            )
    except (NoCredentialsError, NoRegionError) as err:
        print(f"ami-hygiene: error: {err} (configure AWS credentials and a region)", file=sys.stderr)
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as err:
        print(
            f"ami-hygiene: error: could not list the organization's accounts: {describe_error(err)}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    write_text(text, args.output, out)
    return EXIT_FAILED if failed else EXIT_OK


def write_report(report: Report, fmt: str, path: str | None, out: TextIO) -> None:
    """The report written piece by piece: one of 50,000 images is never held as one string."""
    # JSON: json.dumps(report.to_dict(), indent=2) in pieces, one decision at a time.
    as_json = fmt == "json"
    pieces = report.json_chunks(indent=2) if as_json else (f"{line}\n" for line in report.text_lines())
    end = "\n" if as_json else ""
    if not path:
        out.writelines(pieces)
        out.write(end)
        return
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(pieces)
        handle.write(end)
    print(f"report written to {path}", file=out)


if __name__ == "__main__":
    sys.exit(main())
