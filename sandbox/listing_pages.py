"""DescribeSnapshots and SSM DescribeParameters with the pages AWS gives.

moto's DescribeSnapshots returns every snapshot in one answer and ignores
OwnerIds; its DescribeParameters always pages by 10 whatever MaxResults says.
Here DescribeSnapshots pages (MaxResults 5-1000) in creation order and honours
OwnerIds ("self" is the calling account), and DescribeParameters honours
MaxResults (1-50, default 10).
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.responses import EC2Response
from moto.ec2.utils import is_filter_matching
from moto.ssm.exceptions import SSMException, ValidationException
from moto.ssm.responses import SimpleSystemManagerResponse

from ._patching import override
from .errors import check_range
from .paging import page, sequence_of

SSM_DEFAULT_PAGE = 10
SSM_MAX_PAGE = 50


def _snapshot_listed(backend: Any, snapshot: Any, owners: list[str], filters: dict[str, Any]) -> bool:
    wanted = {backend.account_id if o == "self" else o for o in owners}
    return (not wanted or snapshot.owner_id in wanted) and all(
        is_filter_matching(snapshot, name, values) for name, values in filters.items()
    )


def _describe_snapshots(self: Any) -> ActionResult:
    backend = self.ec2_backend
    owners = self._get_param("OwnerIds", [])
    filters = self._filters_from_querystring()
    snapshot_ids = self._get_param("SnapshotIds", [])
    limit = check_range("MaxResults", self._get_int_param("MaxResults"), 5, 1000)
    self.error_on_dryrun()
    if snapshot_ids:
        named = backend.describe_snapshots(snapshot_ids=snapshot_ids)  # InvalidSnapshot.NotFound
        return ActionResult(
            {"Snapshots": [s for s in named if _snapshot_listed(backend, s, owners, filters)]}
        )
    result = page(
        backend.snapshots.values(),
        key=lambda s: (sequence_of(s),),
        limit=limit,
        token=self._get_param("NextToken"),
        scope="DescribeSnapshots",
        keep=lambda s: _snapshot_listed(backend, s, owners, filters),
    )
    return ActionResult({"Snapshots": result.items, "NextToken": result.next_token})


def _describe_parameters(self: Any) -> ActionResult:
    size = self._get_int_param("MaxResults") or SSM_DEFAULT_PAGE
    if not 1 <= size <= SSM_MAX_PAGE:
        raise ValidationException(
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint: "
            f"Member must have value less than or equal to {SSM_MAX_PAGE}"
        )
    token = str(self._get_param("NextToken") or "0").strip()
    if not token.isdigit():
        raise SSMException("InvalidNextToken", "The specified token is not valid.")
    start = int(token)
    found = self.ssm_backend.describe_parameters(
        self._get_param("Filters"), self._get_param("ParameterFilters")
    )
    chunk = found[start : start + size]
    answer: dict[str, Any] = {"Parameters": [p.describe_response_object(False) for p in chunk]}
    if start + size < len(found):
        # An offset, as moto's own tokens are: parameters are listed in name-insertion order.
        answer["NextToken"] = str(start + size)
    return ActionResult(answer)


def install() -> None:
    override(EC2Response, "describe_snapshots", _describe_snapshots)
    override(SimpleSystemManagerResponse, "describe_parameters", _describe_parameters)
