"""The public job's settings, each declared once (core/settings.py says how a declaration is read)."""

from __future__ import annotations

from typing import Annotated

from ami_hygiene.core.settings import (
    AllowedSharingSettings,
    Parameter,
    Setting,
    Variant,
    mode_variant,
    settings_model,
    whole_number,
)


@settings_model
class PublicJobSettings(AllowedSharingSettings):
    variants = {
        "mode": mode_variant(
            "PublicSharingMode",
            "Public sharing mode",
            report="report public images and snapshots and sharing outside AllowedShareAccounts.",
            enforce="also revoke that sharing and turn on the account's image block public access.",
        ),
        "allowed_share_accounts": Variant(
            flag="--allowed-accounts", help="accounts, organization or OU ARNs images may be shared with"
        ),
    }

    # Images whose permissions a sweep reads one by one.
    sharing_checks_per_run: Annotated[
        int,
        whole_number(1, 100000),
        Setting(
            "SHARING_CHECKS_PER_RUN",
            "images whose permissions are read one by one per sweep",
            parameter=Parameter(
                "SharingChecksPerRun",
                "Permission reads per scan",
                "Images whose launch and snapshot permissions a scheduled scan reads one by one (EC2 has no "
                "bulk read); a larger estate is covered in a slice that moves on daily. Public images and "
                "snapshots are found every scan regardless.",
            ),
        ),
    ] = 1000
