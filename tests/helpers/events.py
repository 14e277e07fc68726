"""Event fixtures (tests/fixtures/events, one folder per job) and the events tests make themselves.

tags/      CloudTrail image calls and AMI state changes the tag job parses
public/    CloudTrail sharing calls the public-sharing guard parses
rebuild/   Image Builder and SSM Automation state changes the rebuild job parses
real/      published samples, with their provenance in real/SOURCES.md
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.helpers.constants import ACCOUNT, NOW, REGION

EVENTS = Path(__file__).resolve().parent.parent / "fixtures" / "events"
SCHEDULE_ID = "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"  # the id of AWS's scheduled-event example


def load_event(path: str) -> dict[str, Any]:
    """The fixture at `path` under tests/fixtures/events, e.g. "tags/create_image.json"."""
    loaded: dict[str, Any] = json.loads((EVENTS / path).read_text())
    return loaded


def cloudtrail_event(
    path: str, *, account: str = ACCOUNT, region: str = REGION, actor: str | None = None
) -> dict[str, Any]:
    """A CloudTrail fixture made this account's and region's (envelope and record), by `actor` if given."""
    event = load_event(path)
    event.update(account=account, region=region)
    detail = event["detail"]
    detail.update(recipientAccountId=account, awsRegion=region)
    if actor is not None:
        detail["userIdentity"]["arn"] = actor
    return event


def scheduled_event(
    rule: str = "ami-hygiene",
    *,
    at: datetime = NOW,
    event_id: str = SCHEDULE_ID,
    account: str = ACCOUNT,
    region: str = REGION,
    **changes: Any,
) -> dict[str, Any]:
    """An EventBridge schedule rule's event, as Lambda receives it; `changes` replace envelope fields."""
    event: dict[str, Any] = {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{rule}"],
        "detail": {},
    }
    event.update(copy.deepcopy(changes))
    return event


# The envelope and CloudTrail detail fields every CloudTrail parser reads (path, the name a refusal gives it).
CLOUDTRAIL_READ_FIELDS: tuple[tuple[list[str], str], ...] = (
    (["version"], "version"),
    (["id"], "id"),
    (["account"], "account"),
    (["time"], "time"),
    (["region"], "region"),
    (["source"], "source"),
    (["detail-type"], "detail-type"),
    (["detail", "eventSource"], "detail.eventSource"),
    (["detail", "eventName"], "detail.eventName"),
    (["detail", "eventTime"], "detail.eventTime"),
    (["detail", "awsRegion"], "detail.awsRegion"),
    (["detail", "userIdentity", "arn"], "detail.userIdentity.arn"),
    (["detail", "sourceIPAddress"], "detail.sourceIPAddress"),
    (["detail", "recipientAccountId"], "detail.recipientAccountId"),
    (["detail", "errorCode"], "detail.errorCode"),
)


def cloudtrail_read_fields(fixture: str) -> list[tuple[str, list[str], str]]:
    """Hostile-value cases for a CloudTrail fixture: (fixture, path, name) for each field above."""
    return [(fixture, list(path), name) for path, name in CLOUDTRAIL_READ_FIELDS]
