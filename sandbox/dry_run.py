"""DryRun for the EC2 reads moto answers as if the flag were absent.

The EC2 API reference says of every DryRun parameter: "Checks whether you have the
required permissions for the action, without actually making the request ... If you
have the required permissions, the error response is DryRunOperation. Otherwise, it
is UnauthorizedOperation." moto honours it on most calls (its `error_on_dryrun`), but
DescribeImageAttribute and DescribeSnapshotAttribute ignore it and answer the read.

These two are reads, so the wrapper lets the read run (an unknown or foreign image
or snapshot still gets its usual error, as a real request's validation would) and
then answers DryRunOperation (HTTP 412) instead of the result. The sandbox enforces
no IAM, so UnauthorizedOperation never comes from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.ec2.responses import EC2Response

from ._patching import override

READS_WITHOUT_DRY_RUN = ("describe_image_attribute", "describe_snapshot_attribute")
_MARK = "_sandbox_honours_dry_run"


def _honouring_dry_run(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def answer(self: Any) -> Any:
        result = read(self)
        self.error_on_dryrun()
        return result

    setattr(answer, _MARK, True)
    return answer


def install() -> None:
    # Wraps whatever answers the call now (moto's, or another sandbox module's override),
    # so this module installs after those; a second install leaves the wrapper as it is.
    for name in READS_WITHOUT_DRY_RUN:
        current = getattr(EC2Response, name)
        if not getattr(current, _MARK, False):
            override(EC2Response, name, _honouring_dry_run(current))
