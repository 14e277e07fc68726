"""`ami-hygiene restore --region R IMAGE_ID [IMAGE_ID ...] [--dry-run]`: its flags and its run.

Exit codes as the other subcommands: 0 every image restored (or would be), 1 an
image failed or is not restorable (or a read failed), 2 bad arguments or
credentials; then nothing was changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.settings import REGION_PATTERN
from ami_hygiene.restore.steps import RestoreUsageError, restore_images

EXIT_FAILED, EXIT_USAGE = 1, 2


def add_parser(sub: Any) -> None:
    restore = sub.add_parser("restore", help="bring back images rotation disabled or deregistered")
    restore.add_argument("image_ids", nargs="+", metavar="IMAGE_ID", help="ami-... ids to restore")
    restore.add_argument("--region", help="region of the images [AWS_REGION]")
    restore.add_argument("--dry-run", action="store_true", help="show the steps; change nothing")
    restore.add_argument("--format", choices=["text", "json"], default="text")
    restore.add_argument("--output", help="write the report to this file instead of standard output")


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    region = args.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
    if not REGION_PATTERN.match(region):
        return _usage(
            f"--region {region!r} is not a region name like eu-west-1" if region else "name --region"
        )
    try:
        report = restore_images(
            Clients(), region, args.image_ids, dry_run=args.dry_run, now=datetime.now(UTC)
        )
    except RestoreUsageError as err:
        return _usage(str(err))
    except (NoCredentialsError, NoRegionError) as err:
        return _usage(f"{err} (configure AWS credentials and a region)")
    except (ClientError, BotoCoreError) as err:
        print(f"ami-hygiene: error: {describe_error(err)}", file=sys.stderr)
        return EXIT_FAILED
    text = json.dumps(report.to_dict(), indent=2) + "\n" if args.format == "json" else report.render_text()
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"report written to {args.output}", file=out)
    else:
        out.write(text)
    return report.exit_code


def _usage(message: str) -> int:
    print(f"ami-hygiene: error: {message}", file=sys.stderr)
    return EXIT_USAGE
