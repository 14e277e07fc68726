"""What gets published: one message per region with something to say, sized for SNS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ami_hygiene.core.plan import Action, Decision, Outcome, Plan
from ami_hygiene.core.publisher import (
    INLINE_DECISIONS,
    MESSAGE_BUDGET,
    SNS_MESSAGE_LIMIT,
    Message,
    Publisher,
    Severity,
    Target,
    error_message,
    messages_for,
    severity_of,
    sns_subject,
)
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.rotate.view import VIEW as ROTATE_VIEW
from ami_hygiene.jobs.settings import Mode, Settings, SettingsError
from tests.helpers.builders import decision
from tests.helpers.constants import ACCOUNT, NOW

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ami-hygiene-reports"


def _decision(image_id: str, action: Action, **kw: Any) -> Decision:
    return decision(image_id, action, reasons=(f"reason for {image_id}: " + "x" * 60,), created=NOW, **kw)


def _report(
    plans: dict[str, list[Decision]], mode: Mode = Mode.REPORT, errors: tuple[str, ...] = ()
) -> Report:
    settings = Settings.load({"REGIONS": ",".join(plans)}, overrides={"mode": mode.value})
    return Report(
        "rotate",
        mode,
        ACCOUNT,
        tuple(plans),
        tuple(Plan("rotate", region, tuple(ds)) for region, ds in plans.items()),
        settings,
        NOW,
        NOW,
        errors=errors,
        view=ROTATE_VIEW,
    )


class FakeClients:
    """Records SNS and S3 calls; enforces the SNS size limit like the service."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.stored: list[dict[str, Any]] = []

    def sns(self, region: str) -> FakeClients:
        assert region == "eu-west-1"
        return self

    def client(self, service: str, region: str) -> FakeClients:
        assert (service, region) == ("s3", "eu-west-1")
        return self

    def publish(self, **kwargs: Any) -> dict[str, str]:
        size = len(kwargs["Message"].encode()) + sum(
            len(k) + len(v["DataType"]) + len(v["StringValue"])
            for k, v in kwargs["MessageAttributes"].items()
        )
        if size > SNS_MESSAGE_LIMIT:
            raise AssertionError(f"InvalidParameter: message too long ({size})")
        self.published.append(kwargs)
        return {"MessageId": f"m-{len(self.published)}"}

    def put_object(self, **kwargs: Any) -> dict[str, str]:
        self.stored.append(kwargs)
        return {}


def test_one_message_per_region_with_findings_and_none_for_a_clean_region() -> None:
    report = _report(
        {
            "eu-west-1": [_decision("ami-1", Action.DISABLE)],
            "us-east-1": [_decision("ami-2", Action.KEEP, region="us-east-1")],
        }
    )
    [message] = messages_for(report)
    assert message.attributes == {
        "job": "rotate",
        "severity": "info",
        "region": "eu-west-1",
        "account": ACCOUNT,
        "mode": "report",
    }
    assert message.document["regions"] == ["eu-west-1"]
    assert [d["image_id"] for d in message.document["decisions"]] == ["ami-1"]
    assert [m.attributes["region"] for m in messages_for(report, notify_all_clean=True)] == [
        "eu-west-1",
        "us-east-1",
    ]


def test_severity_says_error_for_failures_and_region_errors_warning_for_deferred_work() -> None:
    failed = _report(
        {"eu-west-1": [_decision("ami-1", Action.DISABLE, outcome=Outcome.FAILED)]},
        Mode.ENFORCE,
    )
    deferred = _report({"eu-west-1": [_decision("ami-1", Action.DISABLE, outcome=Outcome.DEFERRED)]})
    unreadable = _report({"eu-west-1": []}, errors=("eu-west-1: cannot list images",))
    assert severity_of(failed) is Severity.ERROR
    assert severity_of(deferred) is Severity.WARNING
    assert severity_of(unreadable) is Severity.ERROR
    [message] = messages_for(unreadable)  # an error is something to say
    assert "cannot list images" in message.text


def test_body_is_text_for_people_and_json_for_machines() -> None:
    report = _report({"eu-west-1": [_decision("ami-1", Action.DISABLE)]})
    [message] = messages_for(report)
    body = json.loads(message.body())
    assert body["default"] == body["email"] == report.render_text()
    for protocol in ("sqs", "lambda", "http", "https", "email-json", "firehose"):
        assert json.loads(body[protocol]) == report.to_dict()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[ami-hygiene] eu-west-1 rotate: 3 retired", "[ami-hygiene] eu-west-1 rotate: 3 retired"),
        ("[ami-hygiene] x: " + "y" * 120, "[ami-hygiene] x: " + "y" * 79 + "..."),
        ("[ami-hygiene] a · b…\nc", "[ami-hygiene] a ? b... c"),
    ],
)
def test_subject_is_ascii_one_line_and_under_100_characters(text: str, expected: str) -> None:
    subject = sns_subject(text)
    assert subject == expected
    assert len(subject) < 100 and subject.isascii()


@pytest.mark.parametrize("count", [500, 3000])  # built whole then shortened; made without decisions
def test_a_report_too_large_for_sns_is_stored_whole_and_linked(count: int) -> None:
    decisions = [_decision(f"ami-{i:05d}", Action.DISABLE) for i in range(count)]
    report = _report({"eu-west-1": decisions})
    assert Message("s", report.render_text(), report.to_dict(), {}).size() > SNS_MESSAGE_LIMIT
    [message] = messages_for(report)
    assert ("decisions" in message.document) is (count <= INLINE_DECISIONS)
    clients = FakeClients()

    published = Publisher(clients, Target(TOPIC, bucket="reports-bucket")).publish_report(report)

    [stored] = clients.stored
    assert stored["Bucket"] == "reports-bucket" and stored["Key"].startswith("reports/rotate/eu-west-1/")
    assert json.loads(stored["Body"]) == report.to_dict()
    assert published[0].stored_at == f"s3://reports-bucket/{stored['Key']}"
    [sent] = clients.published
    body = json.loads(sent["Message"])
    document = json.loads(body["sqs"])
    assert document["summary"] == report.summary() and "decisions" not in document
    assert document["decisions_omitted"] == count
    assert document["full_report"]["key"] == stored["Key"]
    assert f"Full report: s3://reports-bucket/{stored['Key']}" in body["email"]
    assert body["email"].startswith(report.subject())
    assert len(sent["Message"].encode()) < MESSAGE_BUDGET


def test_a_report_too_large_without_a_bucket_is_shortened_and_says_so() -> None:
    report = _report({"eu-west-1": [_decision(f"ami-{i:05d}", Action.DISABLE) for i in range(3000)]})
    clients = FakeClients()
    Publisher(clients, Target(TOPIC)).publish_report(report)
    [sent] = clients.published
    assert "no REPORT_BUCKET is configured" in json.loads(sent["Message"])["email"]
    assert clients.stored == []


def test_publish_sends_subject_structure_and_attributes() -> None:
    clients = FakeClients()
    message = error_message(
        job="rotate",
        account=ACCOUNT,
        region="eu-west-1",
        problem="bad settings",
        detail="KEEP_LATEST must be between 1 and 100, not 0",
    )
    Publisher(clients, Target(TOPIC)).publish(message)
    [sent] = clients.published
    assert sent["TopicArn"] == TOPIC and sent["MessageStructure"] == "json"
    assert sent["Subject"] == "[ami-hygiene] eu-west-1 rotate: ERROR bad settings"
    assert sent["MessageAttributes"]["severity"] == {"DataType": "String", "StringValue": "error"}
    body = json.loads(sent["Message"])
    assert "KEEP_LATEST must be between 1 and 100" in body["email"]
    assert "nothing was changed" in body["email"]
    assert json.loads(body["sqs"])["changed"] is False


def test_target_reads_its_environment_and_refuses_a_bad_flag() -> None:
    target = Target.from_env({"TOPIC_ARN": TOPIC, "REPORT_BUCKET": "b", "NOTIFY_ALL_CLEAN": "TRUE"})
    assert (target.region, target.bucket, target.notify_all_clean) == ("eu-west-1", "b", True)
    assert Target.from_env({}).notify_all_clean is False
    with pytest.raises(SettingsError, match="NOTIFY_ALL_CLEAN must be true or false"):
        Target.from_env({"NOTIFY_ALL_CLEAN": "sometimes"})


def test_message_size_counts_body_and_attributes() -> None:
    message = Message("s", "t", {}, {"job": "rotate"})
    assert message.size() == len(message.body().encode()) + len("job") + len("String") + len("rotate")
