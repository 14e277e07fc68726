"""The hub's last state: one digest of every target, failures first, as one message and digest.json.

A run over the organization fixture (conftest.py): the targets state lists m1, m2 and
no_role in two regions; some targets sweep, one is recorded failed by the state machine's
Catch, one has no result at all. The digest reads them back from S3.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from ami_hygiene.core.clients import Clients
from ami_hygiene.handlers.common import handle
from ami_hygiene.handlers.organization_digest import run as digest
from ami_hygiene.handlers.organization_targets import run as list_targets
from ami_hygiene.handlers.public import PUBLIC
from ami_hygiene.organization.service import RunRefused, serve
from tests.aws.organization.conftest import RUN, Org, context, image_in, member_session
from tests.aws.organization.test_sweep import sweep_event
from tests.helpers.constants import OTHER_REGION, REGION


def _targets(org: Org) -> dict[str, Any]:
    return serve("targets", list_targets, {"job": "public", "run": RUN}, context(), org.env(), Clients())


def _put(org: Org, key: str, body: Any) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    boto3.client("s3", region_name=REGION).put_object(Bucket=org.bucket, Key=key, Body=text.encode())


def _failure_record(account: str, region: str) -> dict[str, Any]:
    """What the state machine's Catch writes for a target whose Lambda failed (infra/sweep_machine.py)."""
    return {
        "account": account,
        "region": region,
        "status": "failed",
        "summary": {},
        "severity": "error",
        "gib_reclaimed": 0,
        "errors": [],
        "error": "Lambda.Unknown: Task timed out after 300.00 seconds",
        "report": "",
    }


def test_one_digest_of_every_target_failures_first(org: Org) -> None:
    listed = _targets(org)
    prefix = listed["prefix"]
    ec2 = member_session(org.m1).client("ec2", region_name=REGION)
    public = image_in(ec2, "public")
    ec2.modify_image_attribute(ImageId=public, LaunchPermission={"Add": [{"Group": "all"}]})
    for account, region in (
        (org.m1, REGION),
        (org.m1, OTHER_REGION),
        (org.m2, REGION),
        (org.no_role, REGION),
    ):
        handle(PUBLIC, sweep_event(org, account, region=region), context(), org.env(), Clients())
    _put(
        org, f"{prefix}results/{org.no_role}-{OTHER_REGION}.json", _failure_record(org.no_role, OTHER_REGION)
    )
    # m2 in OTHER_REGION recorded nothing: missing.
    org.messages()  # the sweep's own critical message

    answer = serve("digest", digest, listed, context(), org.env(), Clients())

    assert answer == {
        "job": "public",
        "run": RUN,
        "targets": 6,
        "failed": 3,
        "message_id": answer["message_id"],
        "digest": f"s3://{org.bucket}/{prefix}digest.json",
    }
    (message,) = org.messages()
    assert message["MessageId"] == answer["message_id"]
    attributes = {k: v["Value"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {
        "job": "public",
        "severity": "critical",
        "mode": "enforce",
        "account": "organization",
    }
    document = json.loads(message["Message"])
    statuses = [(t["account"], t["region"], t["status"]) for t in document["targets"]]
    assert statuses[:3] == sorted(
        [
            (org.m2, OTHER_REGION, "missing"),
            (org.no_role, REGION, "unreachable"),
            (org.no_role, OTHER_REGION, "failed"),
        ]
    )
    assert sorted(statuses[3:]) == sorted(
        [(org.m1, REGION, "completed"), (org.m1, OTHER_REGION, "completed"), (org.m2, REGION, "completed")]
    )
    assert document["totals"]["completed"] == 3 and document["totals"]["summary"]["revoked"] == 1
    assert org.read(f"{prefix}digest.json") == {k: v for k, v in document.items() if k != "full_digest"}
    assert "Task timed out" in message["Subject"] + json.dumps(document)


def test_a_result_that_cannot_be_read_is_a_failed_target_and_stray_results_are_left_out(org: Org) -> None:
    listed = _targets(org)
    prefix = listed["prefix"]
    _put(org, f"{prefix}results/{org.m1}-{REGION}.json", "{not json")
    _put(org, f"{prefix}results/{org.m2}-{REGION}.json", _failure_record(org.m1, REGION))  # names another
    _put(org, f"{prefix}results/{org.outside}-{REGION}.json", _failure_record(org.outside, REGION))
    _put(org, f"{prefix}results/notes.txt", "x")

    answer = serve("digest", digest, listed, context(), org.env(), Clients())

    assert answer["targets"] == 6 and answer["failed"] == 6
    stored = org.read(f"{prefix}digest.json")
    by_target = {(t["account"], t["region"]): t for t in stored["targets"]}
    assert (org.outside, REGION) not in by_target
    assert "cannot be read" in by_target[(org.m1, REGION)]["error"]
    assert f"names {org.m1} {REGION} instead" in by_target[(org.m2, REGION)]["error"]
    assert by_target[(org.no_role, REGION)]["status"] == "missing"


def test_the_results_are_read_page_by_page(org: Org) -> None:
    """More results than one ListObjectsV2 page (1,000 keys): every one is read."""
    listed = _targets(org)
    prefix = listed["prefix"]
    for k in range(1001):
        _put(org, f"{prefix}results/zz-{k:04}.json", "{}")  # not a result's name: listed, left out
    _put(org, f"{prefix}results/{org.m1}-{REGION}.json", _failure_record(org.m1, REGION))
    clients = Clients()
    serve("digest", digest, listed, context(), org.env(), clients)
    assert clients.counter.calls["s3.ListObjectsV2"] == 2
    stored = org.read(f"{prefix}digest.json")
    assert {(t["account"], t["status"]) for t in stored["targets"] if t["region"] == REGION} >= {
        (org.m1, "failed")
    }


def _changed(listed: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**listed, **changes}


BAD_INPUT = {
    "another prefix": {"prefix": "organization/public/other/"},
    "another key": {"key": "organization/elsewhere.json"},
    "an unknown job": {"job": "nope"},
    "an extra key": {"extra": 1},
    "a negative count": {"count": -1},
    "a text count": {"count": "6"},
    "a malformed skipped account": {"skipped": ["1"]},
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_refused_and_nothing_is_published_or_written(org: Org, case: str) -> None:
    listed = _targets(org)
    before = org.keys()
    with pytest.raises(RunRefused, match="digest: input not acted on"):
        serve("digest", digest, _changed(listed, **BAD_INPUT[case]), context(), org.env(), Clients())
    assert org.keys() == before
    (message,) = org.messages()
    assert message["MessageAttributes"]["severity"]["Value"] == "error"


def test_another_bucket_than_the_report_bucket_is_refused(org: Org) -> None:
    listed = _targets(org)
    with pytest.raises(RunRefused, match="not this hub's report bucket"):
        serve("digest", digest, _changed(listed, bucket="someone-elses"), context(), org.env(), Clients())
