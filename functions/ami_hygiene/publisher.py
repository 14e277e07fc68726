"""Publishes what a run found to the SNS topic: one message per job and region.

Each message uses MessageStructure=json: people (e-mail, default) get the
readable text, machines (SQS, Lambda, HTTP/S, e-mail-json, Firehose) get the
JSON report. Message attributes job, severity, region, account and mode let
subscribers filter. A region with nothing to say publishes nothing unless
NOTIFY_ALL_CLEAN asks for an "all clean" message.

SNS takes at most 256 KiB per message. A report that does not fit is stored
whole in the report bucket (its default encryption applies) and the message
carries the summary and a link to it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .report import Report
from .settings import SettingsError

# SNS counts the message body and the attributes (names, types and values).
SNS_MESSAGE_LIMIT = 262_144
# What a message may use: the limit less room for rounding and attribute overhead.
MESSAGE_BUDGET = SNS_MESSAGE_LIMIT - 8_192
# The readable text appears twice (default, email); keep a shortened one well inside the budget.
SHORT_TEXT_BYTES = 48_000
SUBJECT_MAX = 99  # SNS: "must be less than 100 characters"
# Protocols that receive the JSON document; every other one gets "default" (the text).
JSON_PROTOCOLS = ("sqs", "lambda", "http", "https", "email-json", "firehose")
REPORT_PREFIX = "reports"
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off", ""}


class Severity(StrEnum):
    """Message severities, lowest first (report_views.SEVERITY_ORDER)."""

    INFO = "info"  # actions planned or done, or an "all clean"
    WARNING = "warning"  # work left for the next run (deferred)
    MEDIUM = "medium"  # e.g. image block public access is off
    HIGH = "high"  # e.g. an image shared with a foreign account
    ERROR = "error"  # a failed action, an unreadable region, a rejected run
    CRITICAL = "critical"  # e.g. a public image or snapshot


@dataclass(frozen=True)
class Target:
    """Where reports go, from the handler's environment."""

    topic_arn: str
    bucket: str = ""
    notify_all_clean: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Target:
        flag = env.get("NOTIFY_ALL_CLEAN", "").strip().lower()
        if flag not in _TRUE | _FALSE:
            raise SettingsError(f"NOTIFY_ALL_CLEAN must be true or false, not {env['NOTIFY_ALL_CLEAN']!r}")
        return cls(
            topic_arn=env.get("TOPIC_ARN", "").strip(),
            bucket=env.get("REPORT_BUCKET", "").strip(),
            notify_all_clean=flag in _TRUE,
        )

    @property
    def region(self) -> str:
        # arn:partition:sns:region:account:name
        parts = self.topic_arn.split(":")
        return parts[3] if len(parts) > 5 else ""


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    document: dict[str, Any]
    attributes: dict[str, str]

    def body(self) -> str:
        """The MessageStructure=json body: text for people, the document for machines."""
        doc = json.dumps(self.document, separators=(",", ":"), default=str)
        return json.dumps({"default": self.text, "email": self.text, **dict.fromkeys(JSON_PROTOCOLS, doc)})

    def sns_attributes(self) -> dict[str, dict[str, str]]:
        return {k: {"DataType": "String", "StringValue": v} for k, v in self.attributes.items()}

    def size(self) -> int:
        attrs = sum(len(k.encode()) + len("String") + len(v.encode()) for k, v in self.attributes.items())
        return len(self.body().encode()) + attrs


@dataclass(frozen=True)
class Published:
    region: str
    severity: str
    message_id: str
    stored_at: str = ""  # s3:// URI of the whole report when it was too large to send
    attributes: dict[str, str] = field(default_factory=dict)


# -- what to say (pure) -------------------------------------------------------------------


def severity_of(report: Report) -> Severity:
    return Severity(report.severity)


def messages_for(report: Report, *, notify_all_clean: bool = False) -> list[Message]:
    """One message per region that has something to say."""
    out = []
    for region in report.regions:
        regional = report.for_region(region)
        if not regional.has_findings and not notify_all_clean:
            continue
        out.append(
            Message(
                subject=sns_subject(regional.subject()),
                text=regional.render_text(),
                document=regional.to_dict(),
                attributes={
                    "job": report.job,
                    "severity": severity_of(regional).value,
                    "region": region,
                    "account": report.account,
                    "mode": report.mode.value,
                },
            )
        )
    return out


def error_message(*, job: str, account: str, region: str, problem: str, detail: str = "") -> Message:
    """A run that was refused (bad event, bad settings): nothing was changed."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"[ami-hygiene] {region} {job}: ERROR, nothing was changed",
        "",
        problem,
    ]
    if detail:
        lines += ["", detail]
    lines += [
        "",
        f"Account {account or 'unknown'} · {region} · {now}",
        "The run stopped before reading or changing any image. Fix the input above;",
        "the next scheduled run will try again.",
    ]
    return Message(
        subject=sns_subject(f"[ami-hygiene] {region} {job}: ERROR {problem}"),
        text="\n".join(lines) + "\n",
        document={
            "schema_version": 1,
            "job": job,
            "account": account,
            "regions": [region],
            "time": now,
            "error": problem,
            "detail": detail,
            "changed": False,
        },
        attributes={"job": job, "severity": Severity.ERROR.value, "region": region, "account": account},
    )


def sns_subject(text: str) -> str:
    """ASCII, one line, under 100 characters, starting with a printable character."""
    ascii_text = text.replace("…", "...").encode("ascii", "replace").decode("ascii")
    line = re.sub(r"[\x00-\x1f\x7f]+", " ", ascii_text).strip()
    if len(line) > SUBJECT_MAX:
        line = line[: SUBJECT_MAX - 3].rstrip() + "..."
    return line or "[ami-hygiene]"


def shortened(message: Message, *, location: Mapping[str, str] | None, why: str) -> Message:
    """The message without the decision list, pointing at the stored whole report."""
    lines = []
    size = 0
    for line in message.text.splitlines():
        size += len(line.encode()) + 1
        if size > SHORT_TEXT_BYTES:
            lines.append("  ... (cut here)")
            break
        lines.append(line)
    if location:
        lines += [
            "",
            why,
            f"Full report: {location['s3_uri']}",
            f"Open it in the console: {location['console_url']}",
        ]
    else:
        lines += ["", why, "The full report was not stored: no REPORT_BUCKET is configured."]
    document = {k: v for k, v in message.document.items() if k != "decisions"}
    document["decisions_omitted"] = len(message.document.get("decisions", []))
    if location:
        document["full_report"] = dict(location)
    return replace(message, text="\n".join(lines) + "\n", document=document)


# -- sending ------------------------------------------------------------------------------


class Publisher:
    """Sends messages to the topic; stores a report too large for SNS in the bucket."""

    def __init__(self, clients: Any, target: Target) -> None:
        self.clients = clients
        self.target = target

    def publish_report(self, report: Report) -> list[Published]:
        return [self.publish(m) for m in messages_for(report, notify_all_clean=self.target.notify_all_clean)]

    def publish(self, message: Message) -> Published:
        stored = ""
        if message.size() > MESSAGE_BUDGET:
            location = self._store(message) if self.target.bucket else None
            stored = location["s3_uri"] if location else ""
            message = shortened(
                message,
                location=location,
                why=f"This report is {message.size():,} bytes, more than one SNS message holds.",
            )
        response = self.clients.sns(self.target.region).publish(
            TopicArn=self.target.topic_arn,
            Subject=message.subject,
            Message=message.body(),
            MessageStructure="json",
            MessageAttributes=message.sns_attributes(),
        )
        return Published(
            region=message.attributes.get("region", ""),
            severity=message.attributes.get("severity", ""),
            message_id=str(response.get("MessageId", "")),
            stored_at=stored,
            attributes=dict(message.attributes),
        )

    def _store(self, message: Message) -> dict[str, str]:
        attrs = message.attributes
        now = datetime.now(UTC)
        key = (
            f"{REPORT_PREFIX}/{attrs.get('job', 'job')}/{attrs.get('region', 'region')}/"
            f"{now:%Y/%m/%d/%H%M%SZ}-{uuid.uuid4().hex[:8]}.json"
        )
        region = self.target.region
        self.clients.client("s3", region).put_object(
            Bucket=self.target.bucket,
            Key=key,
            Body=json.dumps(message.document, indent=1, default=str).encode(),
            ContentType="application/json",
        )
        return {
            "bucket": self.target.bucket,
            "key": key,
            "s3_uri": f"s3://{self.target.bucket}/{key}",
            "console_url": f"https://{region}.console.aws.amazon.com/s3/object/{self.target.bucket}"
            f"?region={region}&prefix={key}",
        }
