"""The rotate job's settings, each declared once (core/settings.py says how a declaration is read)."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from ami_hygiene.core.settings import (
    NOT_OFFERED,
    AllowedSharingSettings,
    Parameter,
    RequiredTagsSettings,
    Setting,
    Variant,
    lowered,
    mode_variant,
    settings_model,
    text_or_empty,
    whole_number,
)
from ami_hygiene.jobs.rotate.schedule import (
    DEFAULT_SCHEDULE,
    ROTATION_SCHEDULE_ENV,
    ScheduleError,
    ScheduleUnsupported,
    parse_schedule,
)


class ConsumerUsageUnknown(StrEnum):
    """What rotation does with an image shared with allow-listed accounts when no
    ConsumerRoleName lets it look at their usage: keep it, or retire it anyway."""

    KEEP = "keep"
    RETIRE = "retire"


# An IAM role name (letters, digits and +=,.@_-, at most 64), after an optional path
# ("team/images/"; each segment the same characters): IAM's RoleName and Path rules,
# kept to the characters role names allow. A leading "/" is accepted and dropped.
ROLE_NAME_PATTERN = re.compile(r"^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
ROLE_PATH_LIMIT = 512


SCHEDULE_WHAT = "an EventBridge rate(...) or cron(...) expression, e.g. cron(0 6 * * ? *)"


def _schedule(value: str) -> str:
    # One EventBridge takes but the forecast cannot simulate (e.g. W) is kept: rotation runs;
    # its forecast says why it cannot.
    try:
        parse_schedule(value)
    except ScheduleUnsupported:
        pass
    except ScheduleError as err:
        raise ValueError(f"must be {SCHEDULE_WHAT}: {err}") from err
    return value.strip()


def _role_name(value: object) -> object:
    return value.strip().lstrip("/") if isinstance(value, str) else value


@settings_model
class RotateJobSettings(RequiredTagsSettings, AllowedSharingSettings):
    variants = {
        "mode": mode_variant(
            "RotationMode",
            "Mode",
            report="read and report only, change nothing.",
            enforce="deprecate, disable and deregister what the report lists.",
        ),
        "max_actions": Variant(help="most images changed in one run"),
        "allowed_share_accounts": Variant(
            help="accounts, organization or OU ARNs an image may be shared with and still retire"
        ),
        # The tag job's rules: an escalated image is retired early only while it still breaks them.
        "required_tags": NOT_OFFERED,
    }

    retention_days: Annotated[
        int,
        whole_number(1, 3650),
        Setting(
            "RETENTION_DAYS",
            "age before a superseded image retires",
            parameter=Parameter(
                "RetentionDays",
                "Retention (days)",
                "A superseded image is disabled once it is older than this many days and unused.",
            ),
        ),
    ] = 90
    keep_latest: Annotated[
        int,
        whole_number(1, 100),
        Setting(
            "KEEP_LATEST",
            "newest available images kept per family",
            parameter=Parameter(
                "KeepLatest",
                "Keep newest per family",
                "The newest N available images of every family are always kept.",
            ),
        ),
    ] = 3
    disable_grace_days: Annotated[
        int,
        whole_number(0, 365),
        Setting(
            "DISABLE_GRACE_DAYS",
            "days an image stays disabled before deregistration; 0 deregisters at once",
            parameter=Parameter(
                "DisableGraceDays",
                "Grace after disabling (days)",
                "Days a disabled image waits before it is deregistered with its snapshots "
                "(0: deregister at once).",
            ),
        ),
    ] = 14
    # Snapshot storage price used for the saving estimate (USD per GiB-month).
    price_per_gib_month: Annotated[
        float,
        Field(ge=0, le=10, allow_inf_nan=False),
        Setting("PRICE_PER_GIB_MONTH", "snapshot price for the saving estimate"),
    ] = 0.05
    # The role (name, with its path if any) rotation assumes in each account an image is
    # shared with, to read that account's usage of it; empty: it cannot look.
    consumer_role_name: Annotated[
        str,
        BeforeValidator(_role_name),
        text_or_empty(ROLE_NAME_PATTERN, max_length=ROLE_PATH_LIMIT + 64),
        Setting(
            "CONSUMER_ROLE_NAME",
            "IAM role (name, or path/name) assumed in each account an image is shared with, to read its "
            "usage before retiring the image",
            what="an IAM role name, optionally after its path (e.g. ami-hygiene-consumer or "
            "team/ami-hygiene-consumer)",
            parameter=Parameter(
                "ConsumerRoleName",
                "Consumer role name",
                "Name (with its path, if any) of a read-only role in every account you share images with "
                "(README: central image account). Rotation assumes it to see whether those accounts still "
                "use an image it would retire; an image they use, or whose use cannot be read, is kept. "
                "Empty: consumers are not read (see ConsumerUsageUnknown).",
                "ConsumerRoleName must be an IAM role name (letters, digits, +=,.@_-), optionally after a "
                "path like team/, without a leading slash.",
                pattern=f"^$|{ROLE_NAME_PATTERN.pattern}",
                max_length=ROLE_PATH_LIMIT,
            ),
        ),
    ] = ""
    # Without a consumer role: keep an image shared with allow-listed accounts, or retire it.
    consumer_usage_unknown: Annotated[
        ConsumerUsageUnknown,
        BeforeValidator(lowered),
        Setting(
            "CONSUMER_USAGE_UNKNOWN",
            "without a consumer role: keep or retire an image shared with allow-listed accounts",
            blank_is_default=True,
            parameter=Parameter(
                "ConsumerUsageUnknown",
                "Without a consumer role",
                "What rotation does with an image shared only with allow-listed accounts when "
                "ConsumerRoleName is empty, so their use of it is unknown: keep it (safe), or retire it as "
                "if they did not use it.",
            ),
        ),
    ] = ConsumerUsageUnknown.KEEP

    # When rotation runs: the stack gives the function its RotationSchedule. The report's
    # "Coming up" and `ami-hygiene forecast` simulate one rotation per scheduled run.
    schedule: Annotated[
        str,
        AfterValidator(_schedule),
        Setting(
            ROTATION_SCHEDULE_ENV,
            "when rotation runs (the stack's RotationSchedule), for the forecast of the coming weeks",
            what=SCHEDULE_WHAT,
        ),
    ] = DEFAULT_SCHEDULE

    # How far the report's "Coming up" looks (jobs/rotate/coming_up.py); 0 leaves it out. It costs
    # CPU, not calls: one plan of the estate per scheduled run in those days.
    coming_up_days: Annotated[
        int,
        whole_number(0, 90),
        Setting(
            "COMING_UP_DAYS",
            "days the report's Coming up section looks ahead (0: none)",
            parameter=Parameter(
                "ComingUpDays",
                "Coming up (days)",
                "How many days ahead the rotation report's Coming up section counts what the next runs would "
                "do (0 leaves it out). It makes no API call; it plans the estate once per scheduled run.",
            ),
        ),
    ] = 28

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)

    @property
    def disable_grace(self) -> timedelta:
        return timedelta(days=self.disable_grace_days)
