"""`ami-hygiene forecast --region R [--region R2 ...] --days N`: rotation over the coming weeks, read-only.

The same settings, flags and variables as `rotate` (but --mode: nothing is ever
changed). It reads each region as rotate does, then runs the rotation policy
forward, one run per scheduled run (jobs/rotate/forecast.py). The only calls it
makes are reads: the listings, and the launch permissions and references of the
images a run would retire, exactly when rotate would read them.

Exit codes as the other subcommands: 0 the forecast is complete; 1 a region or a
usage source could not be read (the forecast then keeps what it cannot see, as
rotate would); 2 bad arguments, settings or credentials.
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
from ami_hygiene.core.concurrency import REGION_WORKERS, parallel_map
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.estate import RegionEstate
from ami_hygiene.core.pacing import Pace
from ami_hygiene.core.paging import InventoryError
from ami_hygiene.core.plan import Plan
from ami_hygiene.core.settings import SettingsError
from ami_hygiene.flags import add_output_flags, add_setting_flags, overrides, write_text
from ami_hygiene.forecast.text import render_text
from ami_hygiene.jobs.rotate.coming_up import UNSHARED_NOTE, assumed_unshared
from ami_hygiene.jobs.rotate.consumers import ConsumerReader
from ami_hygiene.jobs.rotate.forecast import (
    DEFAULT_DAYS,
    MAX_DAYS,
    Forecast,
    NewImages,
    scheduled_runs,
    simulate,
)
from ami_hygiene.jobs.rotate.inventory import read_region
from ami_hygiene.jobs.rotate.policy import plan_rotation
from ami_hygiene.jobs.rotate.run import checked_plan
from ami_hygiene.jobs.rotate.settings import RotateJobSettings
from ami_hygiene.registry import BY_NAME

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ROTATE = "rotate"


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "forecast",
        help="what rotation with these settings will do over the coming weeks (read-only)",
        description="Run the rotation policy forward, one run per scheduled run, and show every "
        "deprecation, disable and deregistration to come, week by week and family by family. "
        "Read-only: it changes nothing.",
    )
    add_setting_flags(parser, BY_NAME[ROTATE], leave_out=("mode", "coming_up_days"))
    parser.add_argument(
        "--days",
        type=_days,
        default=DEFAULT_DAYS,
        help=f"how far ahead, 1 to {MAX_DAYS} [default {DEFAULT_DAYS}]",
    )
    parser.add_argument(
        "--new-images",
        choices=[n.value for n in NewImages],
        default=NewImages.CADENCE.value,
        help="none: no new image is built; cadence: each family keeps building at the median interval "
        "of its last few images [default cadence]",
    )
    parser.add_argument(
        "--assume-unshared",
        action="store_true",
        help="take the images whose launch permissions are not read yet as unshared, instead of reading "
        "them when a run would act (as rotate does): no per-image read, so a large estate's forecast "
        "is quick; an image that is in fact shared would be kept, not retired",
    )
    parser.add_argument(
        "--chart", metavar="FILE", help="also draw GiB reclaimed per week to FILE (.png or .svg)"
    )
    add_output_flags(parser)


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 1 to {MAX_DAYS}")
    return days


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from ami_hygiene.progress import progress_line

    job = BY_NAME[ROTATE]
    try:
        settings = RotateJobSettings.load(env, overrides=overrides(job, args))
    except SettingsError as err:
        return _usage(str(err))
    if args.chart:
        # Before anything is read: a bad name, or no matplotlib (it does not load it).
        from ami_hygiene.forecast.chart import ChartError, check_chart

        try:
            check_chart(args.chart)
        except ChartError as err:
            return _usage(str(err))
    try:
        with progress_line(sys.stderr, "ami-hygiene forecast", quiet=args.quiet) as progress:
            clients = Clients()
            if progress is not None:
                clients.counter.listeners.append(progress)
            forecast, account, unread = forecast_account(
                settings,
                clients,
                days=args.days,
                new_images=NewImages(args.new_images),
                now=datetime.now(UTC),
                assume_unshared=args.assume_unshared,
            )
    except (NoCredentialsError, NoRegionError) as err:
        return _usage(f"{err} (configure AWS credentials and a region)")
    except (ClientError, BotoCoreError) as err:
        print(f"ami-hygiene: error: {describe_error(err)}", file=sys.stderr)
        return EXIT_FAILED
    calls = dict(sorted(clients.counter.calls.items()))
    if args.format == "json":
        document = {**forecast.to_dict(), "account": account, "unread_regions": unread, "api_calls": calls}
        text = json.dumps(document, indent=2) + "\n"
    else:
        text = render_text(forecast, account=account, unread_regions=unread)
    write_text(text, args.output, out, "forecast")
    if args.chart:
        from ami_hygiene.forecast.chart import ChartError, write_chart

        try:
            write_chart(forecast, args.chart)
        except ChartError as err:
            print(f"ami-hygiene: error: {err}", file=sys.stderr)
            return EXIT_FAILED
        print(f"chart written to {args.chart}", file=sys.stderr if not args.output else out)
    return EXIT_FAILED if unread or forecast.errors else EXIT_OK


def forecast_account(
    settings: RotateJobSettings,
    clients: Clients,
    *,
    days: int,
    new_images: NewImages,
    now: datetime,
    assume_unshared: bool = False,
) -> tuple[Forecast, str, list[str]]:
    """Read the settings' regions as rotate does (side by side), then run the policy forward.

    Each run reads the launch permissions and references of the images it would act on, as rotate
    does; with `assume_unshared`, no run reads anything: the images not read yet are taken as
    unshared (the report's Coming up does the same). Returns the forecast, the account, and the
    regions that could not be read (with why).
    """
    clients.pacer.configure(Pace(settings.reads_per_second, settings.writes_per_second))
    regions = settings.regions
    account = clients.account_id(regions[0])

    def read(region: str) -> RegionEstate | InventoryError:
        try:
            return read_region(clients, region, account)
        except InventoryError as err:
            return err

    found = parallel_map(read, regions, REGION_WORKERS)
    estates = [e for e in found if isinstance(e, RegionEstate)]
    unread = [f"{r}: {e}" for r, e in zip(regions, found, strict=True) if isinstance(e, InventoryError)]
    consumers = ConsumerReader(clients, settings.consumer_role_name, account)

    def planner(estate: RegionEstate, at: datetime, budget: int) -> tuple[Plan, RegionEstate]:
        if assume_unshared:
            return plan_rotation(estate, settings, at, budget), estate
        return checked_plan(estate, settings, at, budget, clients, consumers)

    forecast = simulate(
        [assumed_unshared(e) for e in estates] if assume_unshared else estates,
        settings,
        scheduled_runs(settings.schedule, now, days),
        planner,
        days=days,
        schedule=settings.schedule,
        new_images=new_images,
        notes=(UNSHARED_NOTE,) if assume_unshared else (),
    )
    return forecast, account, unread


def _usage(message: str) -> int:
    print(f"ami-hygiene: error: {message}", file=sys.stderr)
    return EXIT_USAGE
