"""Make one AWS operation fail, the way a real denial or outage reaches boto3."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class _Status:
    status_code: int
    headers: dict[str, str]


def deny(session_or_client: Any, service: str, operation: str, code: str = "UnauthorizedOperation") -> None:
    """Every call of service.operation answers `code` (HTTP 403) from now on."""

    def answer(**_: Any) -> tuple[_Status, dict[str, Any]]:
        error = {"Code": code, "Message": f"You are not authorized to perform {operation}"}
        return _Status(403, {}), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}

    events = getattr(session_or_client, "events", None) or session_or_client.meta.events
    events.register(f"before-call.{service}.{operation}", answer)


def deny_names(
    session_or_client: Any,
    service: str,
    operation: str,
    member: str,
    names: Iterable[str],
    *,
    resource: Callable[[str], str] = str,
    code: str = "AccessDeniedException",
    status: int = 400,
) -> None:
    """A call of service.operation whose `member` (a name or a list of names) has one of `names` is denied.

    As IAM does for operations authorized per named resource (SSM GetParameters checks
    each name it is asked for): one name the caller may not use fails the whole call,
    naming that resource; calls without such a name go through. SSM answers
    AccessDeniedException with HTTP 400.
    """
    denied = set(names)
    action = f"{service}:{operation}"

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        asked = params.get(member)
        asked = [asked] if isinstance(asked, str) else list(asked or [])
        context["denied_names"] = [name for name in asked if name in denied]

    def answer(context: dict[str, Any], **_: Any) -> tuple[_Status, dict[str, Any]] | None:
        hit = context.get("denied_names")
        if not hit:
            return None
        message = (
            f"User: arn:aws:sts::123456789012:assumed-role/ami-hygiene-rebuild/session is not authorized to "
            f"perform: {action} on resource: {resource(hit[0])} because no identity-based policy allows the "
            f"{action} action"
        )
        error = {"Code": code, "Message": message}
        return _Status(status, {}), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}

    events = getattr(session_or_client, "events", None) or session_or_client.meta.events
    events.register(f"before-parameter-build.{service}.{operation}", remember)
    events.register(f"before-call.{service}.{operation}", answer)
