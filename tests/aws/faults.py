"""Make one AWS operation fail, the way a real denial or outage reaches boto3."""

from __future__ import annotations

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
