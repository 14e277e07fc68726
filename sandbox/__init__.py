"""The embedded AWS: moto, plus the AMI operations the product calls that moto lacks.

`install()` patches moto in-process (idempotent); after it, `moto.mock_aws()`
and the loopback server (`sandbox.server`) both behave as described in
`sandbox.images` and `sandbox.references`. Nothing here ships to Lambda.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

DEFAULT_ACCOUNT = "123456789012"
_installed = False


def install() -> None:
    """Put the extensions in place; safe to call any number of times."""
    global _installed
    if _installed:
        return
    # Only seeded images exist: faster, and no stranger AMIs in a report.
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    from moto.ec2.models.instances import InstanceBackend
    from moto.ec2.responses.amis import AmisResponse
    from moto.ec2.responses.elastic_block_store import ElasticBlockStore
    from moto.ec2.responses.launch_templates import LaunchTemplates

    from . import images, references
    from .paging import describe_launch_template_versions, paginated

    images.patch_model()
    for name in (
        "register_image",
        "describe_images",
        "deregister_image",
        "disable_image",
        "enable_image",
        "enable_image_deprecation",
        "disable_image_deprecation",
        "enable_image_deregistration_protection",
        "disable_image_deregistration_protection",
    ):
        setattr(AmisResponse, name, getattr(images, name))
    AmisResponse.describe_image_attribute = images.describe_image_attribute_last_launched(  # type: ignore[method-assign]
        AmisResponse.describe_image_attribute
    )
    AmisResponse.describe_image_references = references.describe_image_references  # type: ignore[attr-defined]
    ElasticBlockStore.describe_snapshots = paginated(  # type: ignore[method-assign]
        ElasticBlockStore.describe_snapshots, "Snapshots", 1000, sort_key=lambda s: s.id
    )
    LaunchTemplates.describe_launch_template_versions = describe_launch_template_versions  # type: ignore[method-assign]
    InstanceBackend.run_instances = images.stamp_launches(InstanceBackend.run_instances)  # type: ignore[method-assign]
    _installed = True


def backend(service: str, region: str, account_id: str = DEFAULT_ACCOUNT) -> Any:
    """moto's backend for a service, region and account (for fast seeding)."""
    from moto.backends import get_backend

    return get_backend(service)[account_id][region]  # type: ignore[call-overload]


def set_last_launched(image_id: str, region: str, when: datetime, account_id: str = DEFAULT_ACCOUNT) -> None:
    """Stamp an image's LastLaunchedTime, as a launch at `when` would."""
    from .images import iso_millis

    backend("ec2", region, account_id).amis[image_id].last_launched_time = iso_millis(when.astimezone(UTC))
