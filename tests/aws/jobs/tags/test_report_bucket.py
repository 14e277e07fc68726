"""A large tag sweep: the e-mail groups the non-compliant images, the bucket gets every one.

The embedded S3 takes the multipart upload as S3 does (parts of 5 MiB at least but the last),
so a report of tens of MB is stored in parts, one in memory at a time.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.plan import Action, Outcome, Plan
from ami_hygiene.core.publisher import PART_BYTES, Publisher, Target
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.settings import Mode, Settings
from ami_hygiene.jobs.tags.policy import TagDecision
from ami_hygiene.jobs.tags.run import run_tags
from ami_hygiene.jobs.tags.view import VIEW
from sandbox.demo import Seeder
from tests.helpers.constants import ACCOUNT, NOW, REGION, SNS_LIMIT
from tests.helpers.sandbox import Capturing

BUCKET = "ami-hygiene-reports"
ENV = {"REGIONS": REGION, "REQUIRED_TAGS": "Owner,Environment=^(prod|staging|dev)$"}


def _topic_and_bucket() -> Target:
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="ami-hygiene-reports")["TopicArn"]
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    return Target(topic, bucket=BUCKET)


def _stored(uri: str) -> dict[str, Any]:
    key = uri.removeprefix(f"s3://{BUCKET}/")
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return dict(json.loads(body))


def test_a_sweeps_email_groups_its_images_and_the_bucket_has_every_one(seeder: Seeder) -> None:
    target = _topic_and_bucket()
    images = {seeder.image(f"fam{n % 7}-v{n}", 3 + n % 5) for n in range(600)}
    settings = Settings.load(ENV, overrides={"mode": "report"})
    clients = Capturing()
    report = run_tags(settings, clients, now=NOW)

    [published] = Publisher(clients, target).publish_report(report)

    stored = _stored(published.stored_at)
    assert {d["image_id"] for d in stored["decisions"]} == images
    assert len(stored["decisions"]) == len(report.decisions) == 1_200  # auto-tag and notice each
    assert stored == json.loads(json.dumps(report.to_dict()))
    [sent] = clients.published
    assert len(sent["Message"].encode()) < SNS_LIMIT
    email = json.loads(sent["Message"])["email"]
    assert "     600  missing Owner\n" in email and "by family (7 families)" in email
    assert f"Full report: {published.stored_at}" in email
    named = [i for i in images if i in email]
    assert len(named) <= 3 * 10 + 100  # the groups' examples and the 100 auto-tags the budget allows


def test_a_report_of_tens_of_megabytes_reaches_the_bucket_in_parts(aws: None) -> None:
    target = _topic_and_bucket()
    decisions = tuple(
        TagDecision(
            image_id=f"ami-{n:017x}",
            region=REGION,
            family=f"fam{n % 2_000}",
            name=f"fam{n % 2_000}-v{n}",
            action=action,
            outcome=Outcome.PLANNED if action is Action.NOTIFY else Outcome.DEFERRED,
            reasons=("missing Owner", "missing Environment", f"non-compliant {n % 900} hours after creation"),
            findings=("missing Owner", "missing Environment"),
        )
        for n in range(25_000)
        for action in (Action.TAG, Action.NOTIFY)
    )
    settings = Settings.load(ENV)
    plan = Plan("tags", REGION, decisions)
    report = Report("tags", Mode.REPORT, ACCOUNT, (REGION,), (plan,), settings, NOW, NOW, view=VIEW)

    [published] = Publisher(Clients(), target).publish_report(report)

    key = published.stored_at.removeprefix(f"s3://{BUCKET}/")
    head = boto3.client("s3", region_name=REGION).head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] > 2 * PART_BYTES
    assert head["ETag"].endswith('-3"')  # a multipart object's ETag: its parts' digest, "-" and their count
    stored = _stored(published.stored_at)
    assert len(stored["decisions"]) == 50_000
    assert stored["decisions"][-1]["image_id"] == f"ami-{24_999:017x}"
    assert stored["summary"]["non_compliant"] == 25_000
