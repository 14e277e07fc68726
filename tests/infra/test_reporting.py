"""Reporting: the encrypted topic, the e-mail subscription, the report bucket, the dashboard's metrics."""

from __future__ import annotations

import json

from ami_hygiene.core.observability import METRIC_NAMES, NAMESPACE, run_metrics
from ami_hygiene.registry import BY_NAME, JOBS
from tests.helpers.synthesized import Synthesized
from tests.helpers.template import HANDLERS, evaluated, one_resource


def test_topic_uses_a_rotating_customer_managed_key_and_tls_only(synth: Synthesized) -> None:
    topic_id, topic = one_resource(synth, "AWS::SNS::Topic")
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert synth.template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    _, policy = one_resource(synth, "AWS::SNS::TopicPolicy")
    [deny] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]


def test_email_subscription_only_when_an_address_is_given(synth: Synthesized) -> None:
    sub_id, sub = one_resource(synth, "AWS::SNS::Subscription")
    assert sub["Properties"]["Protocol"] == "email"
    assert sub["Properties"]["Endpoint"] == {"Ref": "AlertEmail"}
    assert evaluated(synth.template).created(sub_id) is False
    assert evaluated(synth.template, AlertEmail="ops@example.com").created(sub_id) is True


def test_report_bucket_is_encrypted_private_tls_only_and_expires_reports(synth: Synthesized) -> None:
    bucket_id, bucket = one_resource(synth, "AWS::S3::Bucket")
    props = bucket["Properties"]
    [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(props["PublicAccessBlockConfiguration"].values())
    [expiry] = props["LifecycleConfiguration"]["Rules"]
    assert expiry["ExpirationInDays"] == 90 and expiry["Prefix"] == "reports/"
    _, policy = one_resource(synth, "AWS::S3::BucketPolicy")
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


# -- dashboard -----------------------------------------------------------------------------------


def test_dashboard_shows_every_job_metric(synth: Synthesized) -> None:
    _, board = one_resource(synth, "AWS::CloudWatch::Dashboard")
    body = json.dumps(board["Properties"]["DashboardBody"])
    for name in (*METRIC_NAMES, *(m for spec in JOBS for m in spec.view.dashboard_metrics)):
        assert f'\\"{NAMESPACE}\\",\\"{name}\\"' in body, name


def test_dashboard_has_a_row_per_job_with_its_metrics(synth: Synthesized) -> None:
    [board] = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(board["Properties"]["DashboardBody"])
    for job in HANDLERS:
        assert f"## {job}" in body, job
        view = BY_NAME[job].view
        for name in view.dashboard_metrics:
            assert name in run_metrics(view.metrics)
            assert f'\\"{name}\\",\\"job\\",\\"{job}\\"' in body, (job, name)


def test_public_and_rebuild_metrics_read_the_summary_keys_of_their_jobs() -> None:
    def keys(job: str) -> dict[str, str]:
        return {name: key for name, (key, _) in run_metrics(BY_NAME[job].view.metrics).items()}

    public = {keys("public")[n] for n in BY_NAME["public"].view.dashboard_metrics if n != "ImagesSeen"}
    assert public == {"public", "foreign_shared", "revoked", "block_public_access_enabled"}
    rebuild = {keys("rebuild")[n] for n in BY_NAME["rebuild"].view.dashboard_metrics}
    assert rebuild == {"stale_families", "builds_started", "builds_finished", "builds_failed"}
