"""The hub's inputs: every field constrained, anything else refused with the field named and shown bounded."""

from __future__ import annotations

from typing import Any

import pytest

from ami_hygiene.core.events import EventError
from ami_hygiene.organization.events import (
    DigestInput,
    TargetsInput,
    TargetSweep,
    parse,
    parse_targets,
    report_key,
    result_key,
    run_prefix,
)
from tests.helpers.hostile import HUGE

RUN = "6f1c2a9e-0b7d-4c53-9a1e-2f4b8c7d9e10"
JOBS = ("rotate", "tags", "public", "rebuild")


def sweep(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "source": "ami-hygiene.organization",
        "detail-type": "Target Sweep",
        "job": "public",
        "account": "111122223333",
        "region": "eu-west-1",
        "run": RUN,
        "bucket": "ami-hygiene-reports-123456789012",
        "prefix": f"organization/public/{RUN}/",
    }
    event.update(changes)
    return event


def test_a_target_sweep_names_where_its_result_and_report_go() -> None:
    parsed = parse(TargetSweep, sweep(), ("public",))
    assert (parsed.account, parsed.region, parsed.job) == ("111122223333", "eu-west-1", "public")
    assert parsed.result_key == f"organization/public/{RUN}/results/111122223333-eu-west-1.json"
    assert parsed.report_key == f"organization/public/{RUN}/reports/111122223333-eu-west-1.json"
    assert result_key(parsed.prefix, "111122223333", "eu-west-1") == parsed.result_key
    assert report_key(parsed.prefix, "111122223333", "eu-west-1") == parsed.report_key
    assert run_prefix("public", RUN) == parsed.prefix


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"job": "rotate"}, "job", "not a job of this function (public)"),
        ({"job": "Public"}, "job", "not a job name"),
        ({"account": "11112222333"}, "account", "not an account id"),
        ({"account": 111122223333}, "account", "string"),
        ({"account": "111122223333\n"}, "account", "not an account id"),
        ({"region": "eu_west_1"}, "region", "not a region name"),
        ({"region": HUGE}, "region", "at most"),
        ({"run": ""}, "run", "not a Step Functions execution name"),
        ({"run": "a" * 81}, "run", "not a Step Functions execution name"),
        ({"run": "a b"}, "run", "not a Step Functions execution name"),
        ({"run": ".."}, "run", "not a Step Functions execution name"),
        ({"bucket": "ab"}, "bucket", "not an S3 bucket name"),
        ({"bucket": "my..bucket"}, "bucket", "two adjacent periods"),
        ({"bucket": "192.168.1.10"}, "bucket", "IP address"),
        ({"bucket": "xn--bucket"}, "bucket", "reserved prefix"),
        ({"bucket": "bucket-s3alias"}, "bucket", "reserved prefix or suffix"),
        ({"bucket": "UPPER"}, "bucket", "not an S3 bucket name"),
        ({"prefix": f"organization/public/{RUN}"}, "prefix must be", "the run's own"),
        ({"prefix": "organization/tags/x/"}, "prefix must be", "the run's own"),
        ({"source": "aws.events"}, "source", "ami-hygiene.organization"),
        ({"detail-type": "Scheduled Event"}, "detail-type", "Target Sweep"),
        ({"detail": {}}, "detail", "Extra inputs are not permitted"),
        ({"detail_type": "Target Sweep"}, "detail_type", "Extra inputs are not permitted"),
    ],
)
def test_a_malformed_target_sweep_is_refused_naming_its_field(
    changes: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(EventError) as caught:
        parse(TargetSweep, sweep(**changes), ("public",))
    message = str(caught.value)
    assert message.startswith("malformed TargetSweep input: ")
    assert field in message and says in message
    assert HUGE[:81] not in message


@pytest.mark.parametrize(
    "missing", ["job", "account", "region", "run", "bucket", "prefix", "source", "detail-type"]
)
def test_every_field_of_a_target_sweep_is_required(missing: str) -> None:
    event = sweep()
    del event[missing]
    with pytest.raises(EventError, match=f"{missing}: Field required"):
        parse(TargetSweep, event, ("public",))


@pytest.mark.parametrize("event", [None, "{}", [], 7])
def test_a_target_sweep_must_be_an_object(event: Any) -> None:
    with pytest.raises(EventError, match="not a JSON object"):
        parse(TargetSweep, event, ("public",))


def test_the_targets_input_is_the_job_and_the_run() -> None:
    parsed = parse(TargetsInput, {"job": "tags", "run": RUN}, JOBS)
    assert (parsed.job, parsed.run) == ("tags", RUN)
    with pytest.raises(EventError, match="job: not a job of this function"):
        parse(TargetsInput, {"job": "tags", "run": RUN}, ())


def _listed(**changes: Any) -> dict[str, Any]:
    prefix = f"organization/rotate/{RUN}/"
    listed: dict[str, Any] = {
        "job": "rotate",
        "run": RUN,
        "bucket": "reports",
        "key": f"{prefix}targets.json",
        "prefix": prefix,
        "count": 2,
        "accounts": ["111122223333"],
        "regions": ["eu-west-1", "us-east-1"],
        "excluded": [],
        "skipped": [],
    }
    listed.update(changes)
    return listed


def test_the_digest_input_is_the_targets_answer() -> None:
    parsed = parse(DigestInput, _listed(), JOBS)
    assert parsed.key == f"{parsed.prefix}targets.json" and parsed.count == 2


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"key": "organization/rotate/other/targets.json"}, "key must be"),
        ({"count": True}, "count"),
        ({"count": -1}, "count"),
        ({"accounts": ["1"]}, "accounts.0"),
        ({"regions": "eu-west-1"}, "regions"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_malformed_digest_input_is_refused(changes: dict[str, Any], says: str) -> None:
    with pytest.raises(EventError, match="malformed DigestInput input") as caught:
        parse(DigestInput, _listed(**changes), JOBS)
    assert says in str(caught.value)


def test_targets_json_is_an_array_of_accounts_and_regions() -> None:
    targets = parse_targets([{"account": "111122223333", "region": "eu-west-1"}])
    assert [(t.account, t.region) for t in targets] == [("111122223333", "eu-west-1")]
    with pytest.raises(EventError, match="not a JSON array"):
        parse_targets({"account": "111122223333"})
    with pytest.raises(EventError, match="region"):
        parse_targets([{"account": "111122223333", "region": "nowhere"}])
