"""DescribeLaunchTemplates and DescribeLaunchTemplateVersions with real pages.

moto cuts both listings at MaxResults and never returns a NextToken. Here both
page properly (MaxResults 1-200). DescribeLaunchTemplateVersions without a
template id or name answers, as the API reference describes, the $Latest and/or
$Default version of every launch template in the account (a version that is
both appears once); with an id or name it answers as moto does, paged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.responses import EC2Response

from ._patching import override
from .errors import check_range, invalid_parameter_combination, invalid_parameter_value, missing_parameter
from .paging import page, sequence_of

ACCOUNT_WIDE_VERSIONS = ("$Latest", "$Default")
ACCOUNT_WIDE_RULE = (
    "To describe the launch template data for all your launch templates, for Versions specify "
    "$Latest, $Default, or both, and omit LaunchTemplateId, LaunchTemplateName and version numbers."
)
ALL = 1_000_000  # moto's backend slices at max_results; the paging happens here


def _account_wide(backend: Any, versions: list[str]) -> Iterator[tuple[Any, Any]]:
    for template in backend.launch_templates.values():
        chosen = {template.get_version(v).number: template.get_version(v) for v in versions}
        for number in sorted(chosen):
            yield template, chosen[number]


def _version_view(self: Any, template: Any, version: Any) -> dict[str, Any]:
    return {
        "CreateTime": version.create_time,
        "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
        "DefaultVersion": template.is_default(version),
        "LaunchTemplateData": version.data,
        "LaunchTemplateId": template.id,
        "LaunchTemplateName": template.name,
        "VersionDescription": version.description,
        "VersionNumber": version.number,
    }


def _describe_launch_template_versions(self: Any) -> ActionResult:
    name = self._get_param("LaunchTemplateName")
    template_id = self._get_param("LaunchTemplateId")
    versions = self._get_param("Versions", [])
    limit = check_range("MaxResults", self._get_int_param("MaxResults"), 1, 200)
    token = self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend
    if name and template_id:
        raise invalid_parameter_combination(
            "Specify either LaunchTemplateId or LaunchTemplateName, not both."
        )
    if name or template_id:
        pairs = backend.describe_launch_template_versions(
            name,
            template_id,
            versions,
            self._get_int_param("MinVersion"),
            self._get_int_param("MaxVersion"),
            ALL,
        )
        # A small list rebuilt on every call in the same order: its positions are stable keys.
        result = page(
            list(enumerate(dict.fromkeys(pairs))),
            key=lambda item: (item[0],),
            limit=limit,
            token=token,
            scope="DescribeLaunchTemplateVersions:one",
        )
        chosen = [pair for _, pair in result.items]
    else:
        if not versions:
            raise missing_parameter(ACCOUNT_WIDE_RULE)
        if any(v not in ACCOUNT_WIDE_VERSIONS for v in versions):
            raise invalid_parameter_value(ACCOUNT_WIDE_RULE)
        result = page(
            _account_wide(backend, versions),
            key=lambda pair: (sequence_of(pair[0]), pair[1].number),
            limit=limit,
            token=token,
            scope="DescribeLaunchTemplateVersions:all",
        )
        chosen = result.items
    return ActionResult(
        {
            "LaunchTemplateVersions": [
                _version_view(self, template, version) for template, version in chosen
            ],
            "NextToken": result.next_token,
        }
    )


def _describe_launch_templates(self: Any) -> ActionResult:
    limit = check_range("MaxResults", self._get_int_param("MaxResults"), 1, 200)
    self.error_on_dryrun()
    backend = self.ec2_backend
    selected = {
        template.id
        for template in backend.describe_launch_templates(
            template_names=self._get_param("LaunchTemplateNames", []),
            template_ids=self._get_param("LaunchTemplateIds", []),
            filters=self._filters_from_querystring(),
        )
    }
    result = page(
        backend.launch_templates.values(),
        key=lambda t: (sequence_of(t),),
        limit=limit,
        token=self._get_param("NextToken"),
        scope="DescribeLaunchTemplates",
        keep=lambda t: t.id in selected,
    )
    return ActionResult(
        {
            "LaunchTemplates": [
                {
                    "CreateTime": template.create_time,
                    "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                    "DefaultVersionNumber": template.default_version_number,
                    "LatestVersionNumber": template.latest_version_number,
                    "LaunchTemplateId": template.id,
                    "LaunchTemplateName": template.name,
                    "Tags": template.tags,
                }
                for template in result.items
            ],
            "NextToken": result.next_token,
        }
    )


def install() -> None:
    override(EC2Response, "describe_launch_template_versions", _describe_launch_template_versions)
    override(EC2Response, "describe_launch_templates", _describe_launch_templates)
