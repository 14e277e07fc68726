"""Pages as EC2 returns them: MaxResults items and an opaque NextToken."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, TypeVar

from moto.ec2.exceptions import EC2ClientError

T = TypeVar("T")
LAUNCH_TEMPLATE_VERSIONS_MAX = 200


class InvalidNextToken(EC2ClientError):
    def __init__(self) -> None:
        super().__init__("InvalidNextToken", "The specified NextToken is not valid")


def page(items: Sequence[T], max_results: int | None, token: str | None) -> tuple[list[T], str | None]:
    """One page of `items` (already in a stable order) and the token for the next."""
    start = _decode(token) if token else 0
    if start > len(items):
        raise InvalidNextToken()
    if not max_results:
        return list(items[start:]), None
    end = start + max_results
    return list(items[start:end]), (_encode(end) if end < len(items) else None)


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"sandbox:{offset}".encode()).decode()


def _decode(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, offset = text.split(":", 1)
        if prefix != "sandbox":
            raise ValueError(prefix)
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        raise InvalidNextToken() from None


def paginated(original: Any, key: str, limit: int, sort_key: Any = None) -> Any:
    """Wraps a moto response method that returns every item at once into pages."""
    from moto.core.responses import ActionResult

    def method(self: Any) -> Any:
        max_results = self._get_int_param("MaxResults")
        token = self._get_param("NextToken")
        result = original(self)
        if max_results is None and token is None:
            return result
        body: dict[str, Any] = result.result if hasattr(result, "result") else result
        items = list(body.get(key, []))
        if sort_key is not None:
            items.sort(key=sort_key)
        max_results = min(max_results or limit, limit)
        items, next_token = page(items, max_results, token)
        out = {**body, key: items}
        out.pop("NextToken", None)
        if next_token:
            out["NextToken"] = next_token
        return ActionResult(out)

    return method


def describe_launch_template_versions(self: Any) -> Any:
    """Every version asked for, in pages of MaxResults (moto cuts the list instead)."""
    from moto.core.responses import ActionResult

    self.error_on_dryrun()
    versions = self.ec2_backend.describe_launch_template_versions(
        template_name=self._get_param("LaunchTemplateName"),
        template_id=self._get_param("LaunchTemplateId"),
        versions=self._get_param("Versions", []),
        min_version=self._get_int_param("MinVersion"),
        max_version=self._get_int_param("MaxVersion"),
        max_results=None,
    )
    max_results = min(
        self._get_int_param("MaxResults") or LAUNCH_TEMPLATE_VERSIONS_MAX, LAUNCH_TEMPLATE_VERSIONS_MAX
    )
    items, token = page(versions, max_results, self._get_param("NextToken"))
    result: dict[str, Any] = {
        "LaunchTemplateVersions": [
            {
                "CreateTime": version.create_time,
                "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                "DefaultVersion": template.is_default(version),
                "LaunchTemplateData": version.data,
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "VersionDescription": version.description,
                "VersionNumber": version.number,
            }
            for template, version in items
        ]
    }
    if token:
        result["NextToken"] = token
    return ActionResult(result)
