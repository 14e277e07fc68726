"""A report too large for one document: its message is made without the decisions, the whole
report goes to the bucket in parts, one part in memory at a time."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from ami_hygiene.core import publisher
from ami_hygiene.core.clients import Clients
from ami_hygiene.core.plan import Action, Decision, Plan
from ami_hygiene.core.publisher import (
    INLINE_DECISIONS,
    MESSAGE_BUDGET,
    SHORT_TEXT_BYTES,
    Publisher,
    Target,
    messages_for,
    store_json,
)
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.rotate.view import VIEW as ROTATE_VIEW
from ami_hygiene.jobs.settings import Mode, Settings
from tests.helpers.builders import decision
from tests.helpers.constants import ACCOUNT, NOW

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ami-hygiene-reports"
REGION = "eu-west-1"


class FakeS3AndSns:
    """Records Publish, PutObject and the multipart calls, as S3 would hold their result."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.objects: dict[str, bytes] = {}
        self.uploads: dict[str, list[tuple[int, bytes]]] = {}
        self.part_sizes: list[int] = []
        self.calls: list[str] = []

    def sns(self, region: str) -> FakeS3AndSns:
        return self

    def client(self, service: str, region: str) -> FakeS3AndSns:
        assert service == "s3"
        return self

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.published.append(kwargs)
        return {"MessageId": "m-1"}

    def put_object(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append("PutObject")
        self.objects[kwargs["Key"]] = kwargs["Body"]
        return {}

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append("CreateMultipartUpload")
        assert kwargs["ContentType"] == "application/json"
        self.uploads[kwargs["Key"]] = []
        return {"UploadId": "u-1"}

    def upload_part(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append("UploadPart")
        assert kwargs["UploadId"] == "u-1"
        self.uploads[kwargs["Key"]].append((kwargs["PartNumber"], kwargs["Body"]))
        self.part_sizes.append(len(kwargs["Body"]))
        return {"ETag": f'"etag-{kwargs["PartNumber"]}"'}

    def complete_multipart_upload(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append("CompleteMultipartUpload")
        parts = self.uploads.pop(kwargs["Key"])
        listed = kwargs["MultipartUpload"]["Parts"]
        assert [p["PartNumber"] for p in listed] == [n for n, _ in parts] == list(range(1, len(parts) + 1))
        assert [p["ETag"] for p in listed] == [f'"etag-{n}"' for n, _ in parts]
        self.objects[kwargs["Key"]] = b"".join(body for _, body in parts)
        return {}


def _report(count: int) -> Report:
    decisions: list[Decision] = [
        decision(f"ami-{i:05d}", Action.DISABLE if i % 3 else Action.KEEP, reasons=(f"reason {i}",))
        for i in range(count)
    ]
    settings = Settings.load({"REGIONS": REGION})
    plan = Plan("rotate", REGION, tuple(decisions))
    return Report("rotate", Mode.REPORT, ACCOUNT, (REGION,), (plan,), settings, NOW, NOW, view=ROTATE_VIEW)


def test_a_report_of_many_decisions_is_made_without_them_and_stored_whole() -> None:
    report = _report(INLINE_DECISIONS * 5)
    [message] = messages_for(report)
    assert "decisions" not in message.document
    assert message.document["decisions_omitted"] == INLINE_DECISIONS * 5
    assert message.document["summary"] == report.summary()
    assert len(message.text.encode()) <= SHORT_TEXT_BYTES + 100
    head, cut, _ = message.text.partition("  ... (cut here)\n")
    assert cut and report.render_text().startswith(head)  # the text's first lines, as they are
    assert len(head.encode()) > SHORT_TEXT_BYTES - 1_000
    assert message.full is not None

    s3 = FakeS3AndSns()
    [published] = Publisher(cast(Clients, s3), Target(TOPIC, bucket="reports-bucket")).publish_report(report)

    [(key, body)] = s3.objects.items()
    assert published.stored_at == f"s3://reports-bucket/{key}"
    assert json.loads(body) == report.to_dict()
    [sent] = s3.published
    assert len(sent["Message"].encode()) < MESSAGE_BUDGET
    document = json.loads(json.loads(sent["Message"])["sqs"])
    assert document["full_report"]["key"] == key and document["decisions_omitted"] == INLINE_DECISIONS * 5


def test_a_report_past_one_part_goes_up_in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publisher, "PART_BYTES", 64 * 1024)
    report = _report(3_000)
    s3 = FakeS3AndSns()

    written = store_json(s3, "reports-bucket", "reports/rotate/x.json", report.json_chunks(indent=1))

    whole = json.dumps(report.to_dict(), indent=1).encode()
    assert s3.objects["reports/rotate/x.json"] == whole and written == len(whole)
    uploads = s3.calls.count("UploadPart")
    assert s3.calls == ["CreateMultipartUpload", *["UploadPart"] * uploads, "CompleteMultipartUpload"]
    assert uploads == pytest.approx(len(whole) / (64 * 1024), abs=1)


def test_every_part_but_the_last_is_at_least_a_part_and_small_reports_are_one_put() -> None:
    small = FakeS3AndSns()
    store_json(small, "b", "k", ['{"a": ', "1}"])
    assert small.calls == ["PutObject"] and small.objects["k"] == b'{"a": 1}'

    parts = FakeS3AndSns()
    piece = "x" * (1024 * 1024)
    store_json(parts, "b", "k", [piece] * 20)  # 20 MiB in 1 MiB pieces
    sizes = parts.part_sizes
    assert len(sizes) == 3 and all(size >= publisher.PART_BYTES for size in sizes[:-1])
    assert sum(sizes) == 20 * 1024 * 1024 and parts.objects["k"] == piece.encode() * 20
