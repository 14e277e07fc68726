"""The embedded AWS: moto, plus the AMI operations and behaviours it lacks.

`install()` patches moto in this process (idempotent); then `moto.mock_aws()`
or `sandbox.server` serve the extended API. See each module for what it adds
and which EC2 documentation it follows.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account

_installed = False


def install() -> None:
    """Extends moto in-process. Safe to call any number of times."""
    global _installed
    # Only seeded images should exist: moto otherwise loads hundreds of public AMIs.
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    if _installed:
        return
    from . import (
        accounts,
        allowed_images,
        automation,
        dry_run,
        image_builder,
        image_lifecycle,
        image_listing,
        image_model,
        image_recipes,
        image_references,
        image_registration,
        image_sharing,
        lambda_account,
        launch_templates,
        listing_pages,
        recycle_bin,
        response_speed,
        snapshot_block_public_access,
        tag_lookup,
    )

    for module in (
        tag_lookup,
        image_model,
        image_registration,
        image_lifecycle,
        image_listing,
        image_references,
        image_sharing,
        launch_templates,
        listing_pages,
        image_builder,
        automation,
        image_recipes,
        allowed_images,
        snapshot_block_public_access,
        lambda_account,
        accounts,
        dry_run,  # after the modules whose reads it wraps (DescribeImageAttribute)
        recycle_bin,  # last: it wraps image_lifecycle's and image_registration's deletions
        response_speed,  # serialization only; independent of the others
    ):
        module.install()
    _installed = True


def backend(service: str, region: str, account_id: str = DEFAULT_ACCOUNT_ID) -> Any:
    """moto's backend for a service, region and account: for fast seeding and inspection."""
    from moto.backends import get_backend

    install()
    found = get_backend(service)[account_id][region]  # type: ignore[call-overload]
    if service == "ec2":
        from .image_table import images_of

        images_of(found)
    return found


def set_last_launched(
    image_id: str, region: str, when: datetime, account_id: str = DEFAULT_ACCOUNT_ID
) -> None:
    """Seeds an image's LastLaunchedTime, as if an instance had been launched from it at `when`."""
    from .image_lifecycle import set_last_launched as stamp

    stamp(backend("ec2", region, account_id), image_id, when)


__all__ = ["DEFAULT_ACCOUNT_ID", "backend", "install", "set_last_launched"]
