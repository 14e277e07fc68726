"""Recycle Bin retention rules (the `rbin` service), which moto lacks.

Served like any moto service, in-process (`moto.mock_aws`) and by the loopback
server: `install()` registers a backend named "rbin" with moto (a `moto.rbin`
module entry whose `rbin_backends` moto's `get_backend` imports, and the URL
pattern in moto's backend index, which both the botocore stubber and the
server's host dispatcher read; the server finds the service from the request's
SigV4 scope, "rbin", and builds the host `rbin.<region>.amazonaws.com` from it).
What EC2 does with the rules (images and snapshots kept on deletion, listed and
restored) is in `recycle_bin_ec2`.

Operations follow the Recycle Bin API reference (REST-JSON, botocore
rbin/2021-06-15): CreateRule, GetRule, ListRules and DeleteRule.
- Tag-level rules (ResourceTags) retain a deleted resource that has at least one
  of the rule's tag key and value pairs; Region-level rules (no ResourceTags)
  retain every deleted resource of their type, except ones carrying one of the
  rule's ExcludeResourceTags ("Work with retention rules", EBS User Guide).
- Precedence ("Considerations for Recycle Bin"): a matching tag-level rule wins
  over a Region-level one; among several, the longest retention period.
- RetentionPeriodValue: 1-365 days for EBS_SNAPSHOT and EC2_IMAGE, 1-7 for
  EBS_VOLUME (CreateRule reference); the unit is DAYS only.
- Only Region-level rules can be locked (UnlockDelay 7-30 days); a locked rule
  can't be deleted (ConflictException, reason INVALID_RULE_STATE).

Not modelled: UpdateRule, Lock/UnlockRule, rule tagging operations, and the
up to 30 minutes AWS takes before an account's first rule starts retaining
(here every rule is "available" at once). An omitted ResourceTagValue matches
only an empty tag value, where the reference does not say otherwise.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import string
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse, EmptyResult

SERVICE = "rbin"
RESOURCE_TYPES = ("EBS_SNAPSHOT", "EC2_IMAGE", "EBS_VOLUME")
RETENTION_DAYS = {"EBS_SNAPSHOT": (1, 365), "EC2_IMAGE": (1, 365), "EBS_VOLUME": (1, 7)}
UNLOCK_DELAY_DAYS = (7, 30)
MAX_RESULTS = 1000
MAX_TAGS = 50  # ResourceTags: up to 50 pairs per rule; ExcludeResourceTags: 5
MAX_EXCLUDE_TAGS = 5
_DESCRIPTION = re.compile(r"^[\S ]{0,255}$")
_ID_ALPHABET = string.ascii_letters + string.digits

Tag = tuple[str, str]


# -- errors (shapes of the Recycle Bin API reference; moto adds their HTTP status) ---------


class RecycleBinError(ServiceException):
    pass


class ValidationException(RecycleBinError):
    code = "ValidationException"

    def __init__(self, message: str, reason: str = "INVALID_PARAMETER_VALUE") -> None:
        super().__init__(message)
        self.Reason = reason


class ResourceNotFoundException(RecycleBinError):
    code = "ResourceNotFoundException"
    Reason = "RULE_NOT_FOUND"


class ConflictException(RecycleBinError):
    code = "ConflictException"
    Reason = "INVALID_RULE_STATE"


# -- model --------------------------------------------------------------------------------


@dataclass
class Rule:
    identifier: str
    arn: str
    resource_type: str
    retention_days: int
    description: str
    resource_tags: tuple[Tag, ...]
    exclude_tags: tuple[Tag, ...]
    tags: list[dict[str, str]]
    unlock_delay_days: int | None = None

    @property
    def is_tag_level(self) -> bool:
        return bool(self.resource_tags)

    @property
    def lock_state(self) -> str | None:
        return "locked" if self.unlock_delay_days is not None else None

    def retains(self, tags: Mapping[str, str]) -> bool:
        if self.is_tag_level:
            return any(tags.get(key) == value for key, value in self.resource_tags)
        return not any(tags.get(key) == value for key, value in self.exclude_tags)

    def summary(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "Identifier": self.identifier,
            "Description": self.description,
            "RetentionPeriod": {"RetentionPeriodValue": self.retention_days, "RetentionPeriodUnit": "DAYS"},
            "RuleArn": self.arn,
        }
        if self.lock_state:
            found["LockState"] = self.lock_state
        return found

    def describe(self) -> dict[str, Any]:
        found = self.summary()
        found.update(
            {
                "ResourceType": self.resource_type,
                "ResourceTags": _tag_list(self.resource_tags),
                "ExcludeResourceTags": _tag_list(self.exclude_tags),
                "Status": "available",
            }
        )
        if self.unlock_delay_days is not None:
            found["LockConfiguration"] = {
                "UnlockDelay": {"UnlockDelayValue": self.unlock_delay_days, "UnlockDelayUnit": "DAYS"}
            }
        return found


def _tag_list(tags: tuple[Tag, ...]) -> list[dict[str, str]]:
    return [{"ResourceTagKey": key, "ResourceTagValue": value} for key, value in tags]


def _tags(raw: Any, name: str, limit: int) -> tuple[Tag, ...]:
    items = list(raw or [])
    if len(items) > limit:
        raise ValidationException(f"{name} can have at most {limit} items.")
    found = []
    for item in items:
        key = item.get("ResourceTagKey") or ""
        if not 1 <= len(key) <= 128:
            raise ValidationException(f"{name}: a ResourceTagKey must be 1 to 128 characters long.")
        found.append((key, item.get("ResourceTagValue") or ""))
    return tuple(dict.fromkeys(found))


def _days(value: Any, name: str, bounds: tuple[int, int], what: str) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = -1
    if not bounds[0] <= days <= bounds[1]:
        raise ValidationException(f"{name} must be between {bounds[0]} and {bounds[1]} days for {what}.")
    return days


class RecycleBinBackend(BaseBackend):
    """The retention rules of one account and region, in creation order."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.rules: dict[str, Rule] = {}

    @property
    def _url_module(self) -> Any:  # moto reads url_bases/url_paths from here
        return sys.modules[__name__]

    def create_rule(self, params: Mapping[str, Any]) -> Rule:
        resource_type = params.get("ResourceType")
        if resource_type not in RESOURCE_TYPES:
            raise ValidationException(f"ResourceType must be one of {', '.join(RESOURCE_TYPES)}.")
        period = params.get("RetentionPeriod") or {}
        if period.get("RetentionPeriodUnit") != "DAYS":
            raise ValidationException("RetentionPeriodUnit must be DAYS.")
        days = _days(
            period.get("RetentionPeriodValue"),
            "RetentionPeriodValue",
            RETENTION_DAYS[resource_type],
            resource_type,
        )
        description = params.get("Description") or ""
        if not _DESCRIPTION.match(description):
            raise ValidationException("Description must be at most 255 characters, without line breaks.")
        resource_tags = _tags(params.get("ResourceTags"), "ResourceTags", MAX_TAGS)
        exclude_tags = _tags(params.get("ExcludeResourceTags"), "ExcludeResourceTags", MAX_EXCLUDE_TAGS)
        if resource_tags and exclude_tags:
            raise ValidationException("ExcludeResourceTags can be specified for Region-level rules only.")
        unlock = None
        lock = params.get("LockConfiguration")
        if lock:
            if resource_tags:
                raise ValidationException("Only Region-level retention rules can be locked.")
            delay = lock.get("UnlockDelay") or {}
            if delay.get("UnlockDelayUnit") != "DAYS":
                raise ValidationException("UnlockDelayUnit must be DAYS.")
            unlock = _days(delay.get("UnlockDelayValue"), "UnlockDelayValue", UNLOCK_DELAY_DAYS, "a lock")
        identifier = self._new_identifier()
        rule = Rule(
            identifier=identifier,
            arn=f"arn:{self.partition}:rbin:{self.region_name}:{self.account_id}:rule/{identifier}",
            resource_type=resource_type,
            retention_days=days,
            description=description,
            resource_tags=resource_tags,
            exclude_tags=exclude_tags,
            tags=[{"Key": t["Key"], "Value": t["Value"]} for t in params.get("Tags") or []],
            unlock_delay_days=unlock,
        )
        self.rules[identifier] = rule
        return rule

    def _new_identifier(self) -> str:
        while True:  # RuleIdentifier: 11 characters of [0-9a-zA-Z]
            identifier = "".join(secrets.choice(_ID_ALPHABET) for _ in range(11))
            if identifier not in self.rules:
                return identifier

    def get_rule(self, identifier: str) -> Rule:
        rule = self.rules.get(identifier or "")
        if rule is None:
            raise ResourceNotFoundException(f"Rule {identifier} was not found.")
        return rule

    def delete_rule(self, identifier: str) -> None:
        rule = self.get_rule(identifier)
        if rule.lock_state == "locked":
            raise ConflictException(f"Rule {identifier} is locked; unlock it and wait out its unlock delay.")
        del self.rules[identifier]

    def list_rules(self, params: Mapping[str, Any]) -> tuple[list[Rule], str | None]:
        resource_type = params.get("ResourceType")
        if resource_type not in RESOURCE_TYPES:
            raise ValidationException(f"ResourceType must be one of {', '.join(RESOURCE_TYPES)}.")
        wanted = set(_tags(params.get("ResourceTags"), "ResourceTags", MAX_TAGS))
        lock_state = params.get("LockState")
        limit = params.get("MaxResults") or MAX_RESULTS
        if not 1 <= int(limit) <= MAX_RESULTS:
            raise ValidationException(f"MaxResults must be between 1 and {MAX_RESULTS}.")
        rules = [
            r
            for r in self.rules.values()
            if r.resource_type == resource_type
            and wanted <= set(r.resource_tags)
            and (not lock_state or r.lock_state == lock_state)
        ]
        start = _page_start(params.get("NextToken"), rules)
        chunk = rules[start : start + int(limit)]
        more = start + int(limit) < len(rules)
        return chunk, _token(chunk[-1].identifier) if more else None

    def retention_for(self, resource_type: str, tags: Mapping[str, str]) -> timedelta | None:
        """How long a resource deleted now stays in the bin, or None when no rule retains it."""
        matching = [r for r in self.rules.values() if r.resource_type == resource_type and r.retains(tags)]
        tag_level = [r for r in matching if r.is_tag_level]
        chosen = tag_level or matching
        if not chosen:
            return None
        return timedelta(days=max(r.retention_days for r in chosen))


def _token(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode()


def _page_start(token: str | None, rules: list[Rule]) -> int:
    """The position after the rule a token names; ValidationException for any other token."""
    if not token:
        return 0
    try:
        after = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError):
        after = ""
    ids = [r.identifier for r in rules]
    if after not in ids:
        raise ValidationException(f"Invalid pagination token: {token}", reason="INVALID_PAGE_TOKEN")
    return ids.index(after) + 1


rbin_backends = BackendDict(RecycleBinBackend, SERVICE)


def retention_for(
    account_id: str, region: str, resource_type: str, tags: Mapping[str, str]
) -> timedelta | None:
    """The retention a resource deleted now in that account and region gets; None: deleted for good."""
    return rbin_backends[account_id][region].retention_for(resource_type, tags)


# -- responses ----------------------------------------------------------------------------


class RecycleBinResponse(BaseResponse):
    def __init__(self) -> None:
        super().__init__(service_name=SERVICE)
        self.automated_parameter_parsing = True

    @property
    def backend(self) -> RecycleBinBackend:
        return rbin_backends[self.current_account][self.region]

    def _params(self, *names: str) -> dict[str, Any]:
        return {name: self._get_param(name) for name in names}

    def create_rule(self) -> ActionResult:
        fields = ("RetentionPeriod", "Description", "Tags", "ResourceType", "ResourceTags")
        rule = self.backend.create_rule(self._params(*fields, "LockConfiguration", "ExcludeResourceTags"))
        return ActionResult({**rule.describe(), "Tags": rule.tags})

    def get_rule(self) -> ActionResult:
        return ActionResult(self.backend.get_rule(self._get_param("Identifier")).describe())

    def delete_rule(self) -> ActionResult:
        self.backend.delete_rule(self._get_param("Identifier"))
        return EmptyResult()

    def list_rules(self) -> ActionResult:
        params = self._params("ResourceType", "ResourceTags", "LockState", "MaxResults", "NextToken")
        rules, token = self.backend.list_rules(params)
        result: dict[str, Any] = {"Rules": [r.summary() for r in rules]}
        if token:
            result["NextToken"] = token
        return ActionResult(result)


# Read by moto through RecycleBinBackend._url_module, like a service's urls.py.
url_bases = [r"https?://rbin\.(.+)\.amazonaws\.com"]
url_paths = {
    "{0}/rules$": RecycleBinResponse.dispatch,
    "{0}/rules/(?P<identifier>[^/]+)$": RecycleBinResponse.dispatch,
    "{0}/list-rules$": RecycleBinResponse.dispatch,
}


def install() -> None:
    """Makes moto serve "rbin" (in-process and in its server), then EC2's side of the bin."""
    import moto.backend_index as backend_index

    from . import recycle_bin_ec2

    shim = sys.modules.get("moto.rbin")
    if shim is None:
        shim = types.ModuleType("moto.rbin", "Recycle Bin, from sandbox.recycle_bin")
        shim.rbin_backends = rbin_backends  # type: ignore[attr-defined]
        sys.modules["moto.rbin"] = shim
    if not any(service == SERVICE for service, _ in backend_index.backend_url_patterns):
        backend_index.backend_url_patterns.append((SERVICE, re.compile(url_bases[0])))
    recycle_bin_ec2.install()
