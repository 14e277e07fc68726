"""The organization digest: one result per account and region, failures first, totals, one SNS message."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any

import pytest

from ami_hygiene.core.estate import SnapshotRef
from ami_hygiene.core.fleet import Digest, TargetResult, ordered
from ami_hygiene.core.plan import Action, Decision, Outcome, Plan
from ami_hygiene.core.publisher import SNS_MESSAGE_LIMIT, is_over
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.rotate.view import VIEW as ROTATE_VIEW
from ami_hygiene.jobs.settings import Mode, Settings
from tests.helpers.builders import decision
from tests.helpers.constants import NOW, OTHER_REGION, REGION

A1, A2, A3, A4 = "111111111111", "222222222222", "333333333333", "444444444444"
_decision = partial(decision, created=NOW)
SNAPS = (SnapshotRef("snap-1", "/dev/xvda", 8), SnapshotRef("snap-2", "/dev/xvdb", 100))
LINK = "s3://reports/organization/rotate/run-7/reports/"


def _report(
    account: str,
    plans: dict[str, list[Decision]],
    *,
    mode: Mode = Mode.REPORT,
    errors: tuple[str, ...] = (),
) -> Report:
    settings = Settings.load({"AWS_REGION": REGION}, overrides={"mode": mode.value})
    return Report(
        "rotate",
        mode,
        account,
        tuple(plans),
        tuple(Plan(job="rotate", region=r, decisions=tuple(ds)) for r, ds in plans.items()),
        settings,
        NOW,
        NOW,
        errors=errors,
        view=ROTATE_VIEW,
    )


def _clean(account: str, region: str = REGION, gib: int = 0) -> TargetResult:
    """A completed target: one image kept, or one retired reclaiming `gib` (report mode)."""
    if gib:
        snaps = (SnapshotRef("snap-9", "/dev/xvda", gib),)
        plans = {region: [_decision("ami-2", Action.DEREGISTER, region=region, snapshots=snaps)]}
    else:
        plans = {region: [_decision("ami-1", Action.KEEP, region=region)]}
    return TargetResult.from_report(
        _report(account, plans), account=account, region=region, location=f"{LINK}{account}-{region}.json"
    )


def _digest(*results: TargetResult, mode: str = "report") -> Digest:
    return Digest("rotate", mode, results, NOW, NOW + timedelta(minutes=3), run="run-7")


# -- one target --------------------------------------------------------------------------------


def test_a_completed_target_takes_its_regions_part_of_the_report() -> None:
    report = _report(
        A1,
        {
            REGION: [_decision("ami-1", Action.KEEP), _decision("ami-2", Action.DEREGISTER, snapshots=SNAPS)],
            OTHER_REGION: [_decision("ami-3", Action.DISABLE, region=OTHER_REGION)],
        },
        errors=(f"{OTHER_REGION}: cannot list images in {OTHER_REGION}: AccessDenied",),
    )

    here = TargetResult.from_report(report, account=A1, region=REGION, location="s3://b/k.json")
    there = TargetResult.from_report(report, account=A1, region=OTHER_REGION)

    assert (here.status, here.account, here.region, here.report) == ("completed", A1, REGION, "s3://b/k.json")
    assert (here.summary["images"], here.summary["retired"], here.gib_reclaimed) == (2, 1, 108)
    assert here.severity == "info" and here.errors == () and not here.is_problem
    assert here.headline == "1 would retire, 108 GiB reclaimable"
    assert there.summary["images"] == 1 and there.gib_reclaimed == 0
    assert there.errors == (f"{OTHER_REGION}: cannot list images in {OTHER_REGION}: AccessDenied",)
    assert there.severity == "error" and there.is_problem


def test_targets_that_did_not_run_are_errors_saying_why() -> None:
    unreachable = TargetResult.unreachable(A1, REGION, f"account {A1}: could not assume r (AccessDenied: no)")
    failed = TargetResult.failed(A2, REGION, "Lambda.Unknown: Task timed out after 300 seconds")
    missing = TargetResult.missing(A3, REGION)
    for result in (unreachable, failed, missing):
        assert result.severity == "error" and result.is_problem and not result.completed
    assert unreachable.problem() == "could not assume r (AccessDenied: no)"
    assert failed.problem() == "Lambda.Unknown: Task timed out after 300 seconds"
    assert missing.status == "missing" and missing.problem().startswith("no result")
    with pytest.raises(ValueError, match="status must be one of"):
        TargetResult(A1, REGION, "exploded")


def test_a_result_goes_to_json_and_back_unchanged() -> None:
    for result in (_clean(A1, gib=20), TargetResult.unreachable(A2, OTHER_REGION, "why")):
        text = json.dumps(result.to_dict())
        assert TargetResult.from_dict(json.loads(text)) == result


def test_a_minimal_failed_result_is_read_with_defaults_and_unknown_keys_are_ignored() -> None:
    # What a Step Functions Catch may write: the names, the status and the error, and more.
    read = TargetResult.from_dict(
        {"account": A1, "region": REGION, "status": "failed", "error": "States.Timeout", "run": "x"}
    )
    assert read == TargetResult.failed(A1, REGION, "States.Timeout")
    assert read.severity == "error" and read.summary == {} and read.gib_reclaimed == 0


GOOD: dict[str, Any] = {"account": A1, "region": REGION, "status": "completed"}


@pytest.mark.parametrize(
    ("junk", "message"),
    [
        ([GOOD], "must be an object"),
        ("completed", "must be an object"),
        ({"region": REGION, "status": "completed"}, "account is missing"),
        ({**GOOD, "account": 111111111111}, "account must be str"),
        ({**GOOD, "account": "12345"}, "12-digit"),
        ({**GOOD, "account": "11111111111\n"}, "12-digit"),
        ({**GOOD, "account": "\u0661" * 12}, "12-digit"),  # Arabic-Indic digits are \d too
        ({**GOOD, "region": "eu-west-1/../x"}, "region must be a region name"),
        ({**GOOD, "region": ""}, "region must be a region name"),
        ({**GOOD, "status": "COMPLETED"}, "status must be one of"),
        ({**GOOD, "status": None}, "status is missing"),
        ({**GOOD, "summary": [1, 2]}, "summary must be Mapping"),
        ({**GOOD, "severity": "apocalyptic"}, "severity must be one of"),
        ({**GOOD, "gib_reclaimed": -1}, "gib_reclaimed"),
        ({**GOOD, "gib_reclaimed": True}, "gib_reclaimed"),
        ({**GOOD, "gib_reclaimed": "12"}, "gib_reclaimed"),
        ({**GOOD, "gib_reclaimed": float("nan")}, "gib_reclaimed"),
        ({**GOOD, "errors": "one"}, "errors must be list"),
        ({**GOOD, "errors": ["one", 2]}, "errors must be a list of text"),
        ({**GOOD, "error": {"Error": "x"}}, "error must be str"),
        ({**GOOD, "report": 7}, "report must be str"),
    ],
)
def test_from_dict_rejects_junk_naming_the_field(junk: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TargetResult.from_dict(junk)


def test_from_dict_bounds_a_huge_error() -> None:
    read = TargetResult.from_dict({**GOOD, "status": "failed", "error": "x" * 100_000})
    assert len(read.error) < 2_100 and read.error.endswith("more characters not shown]")


# -- the digest --------------------------------------------------------------------------------


def test_failures_come_first_then_the_others_by_account_and_region() -> None:
    with_errors = TargetResult.from_report(
        _report(A1, {REGION: []}, errors=(f"{REGION}: cannot list images: Throttling",)),
        account=A1,
        region=REGION,
    )
    results = (
        _clean(A1, OTHER_REGION),
        with_errors,
        _clean(A2, REGION),
        TargetResult.missing(A4, REGION),
        TargetResult.unreachable(A3, OTHER_REGION, "AccessDenied"),
        TargetResult.unreachable(A3, REGION, "AccessDenied"),
    )
    expected = [
        (A3, REGION),
        (A3, OTHER_REGION),
        (A4, REGION),
        (A1, REGION),  # completed, with an error
        (A1, OTHER_REGION),
        (A2, REGION),
    ]
    assert [(r.account, r.region) for r in ordered(results)] == expected
    digest = _digest(*results)
    assert [(t["account"], t["region"]) for t in digest.to_dict()["targets"]] == [
        (r.account, r.region) for r in ordered(results)
    ]
    text = digest.render_text()
    failures = text.index("Failures")
    table = text.index("By account and region")
    assert failures < table
    failure_lines = [line for line in text[failures:table].splitlines() if line.startswith("  !")]
    assert [line.split()[1:3] for line in failure_lines] == [[a, r] for a, r in expected[:4]]
    assert "cannot list images: Throttling" in failure_lines[-1]
    # The accounts too: those with problems first.
    assert [row["account"] for row in digest.account_rows()] == [A1, A3, A4, A2]


def test_totals_sum_the_completed_targets_counts() -> None:
    digest = _digest(
        _clean(A1, REGION, gib=10),
        _clean(A1, OTHER_REGION, gib=5),
        _clean(A2, REGION),
        TargetResult.unreachable(A3, REGION, "AccessDenied"),
    )
    t = digest.totals()
    assert (t["accounts"], t["regions"], t["targets"]) == (3, 2, 4)
    assert (t["completed"], t["unreachable"], t["failed"], t["missing"], t["with_problems"]) == (
        3,
        1,
        0,
        0,
        1,
    )
    assert t["gib_reclaimed"] == 15
    assert t["summary"]["images"] == 3 and t["summary"]["retired"] == 2 and t["summary"]["kept"] == 1
    assert t["summary"]["actions"]["deregister"]["planned"] == 2
    assert t["summary"]["monthly_saving_usd"] == round(15 * 0.05, 2)
    assert "would_change" not in t["summary"]  # a flag is not a count
    a1 = next(row for row in digest.account_rows() if row["account"] == A1)
    assert a1 == {
        "account": A1,
        "regions": sorted((REGION, OTHER_REGION)),
        "status": "completed",
        "problems": 0,
        "severity": "info",
        "images": 2,
        "changes": 2,
        "gib_reclaimed": 15,
    }
    assert digest.headline() == (
        "[ami-hygiene] rotate (report mode) across 3 accounts \u00d7 2 regions: "
        "1 failed, 15 GiB reclaimable, 2 to change"
    )
    # ASCII and under 100 characters: the least important part is left out.
    assert digest.subject() == (
        "[ami-hygiene] rotate (report mode) across 3 accounts x 2 regions: 1 failed, 15 GiB reclaimable"
    )
    data = digest.to_dict()
    assert (data["job"], data["mode"], data["run"], data["account"]) == (
        "rotate",
        "report",
        "run-7",
        "organization",
    )
    assert data["totals"] == t and data["failed"] is True and data["severity"] == "error"


def test_enforce_mode_counts_what_was_done() -> None:
    done = _decision("ami-2", Action.DISABLE, outcome=Outcome.DONE)
    result = TargetResult.from_report(
        _report(A1, {REGION: [done]}, mode=Mode.ENFORCE), account=A1, region=REGION
    )
    digest = _digest(result, mode="enforce")
    assert "ENFORCE MODE" in digest.render_text()
    assert digest.headline().endswith("1 account \u00d7 1 region: 1 changed")
    assert not digest.failed and digest.severity == "info"


def test_severity_is_the_highest_and_at_least_error_when_a_target_did_not_complete() -> None:
    clean = _clean(A1)
    critical = TargetResult(A2, REGION, "completed", {"images": 1}, severity="critical")
    deferred = TargetResult(A2, OTHER_REGION, "completed", {"images": 1}, severity="warning")
    assert _digest(clean).severity == "info"
    assert _digest(clean, deferred).severity == "warning"
    assert _digest(clean, deferred, TargetResult.missing(A3, REGION)).severity == "error"
    assert _digest(clean, critical, TargetResult.failed(A3, REGION, "boom")).severity == "critical"
    # Even if a malformed result says otherwise, a target that did not run is an error.
    quiet = TargetResult(A3, REGION, "unreachable", severity="info", error="AccessDenied")
    assert _digest(clean, quiet).severity == "error" and _digest(clean, quiet).failed
    assert _digest().severity == "warning" and "No targets" in _digest().render_text()


def test_a_failed_action_or_an_error_fails_the_digest() -> None:
    failed = _decision("ami-2", Action.DISABLE, outcome=Outcome.FAILED, error="UnauthorizedOperation")
    result = TargetResult.from_report(
        _report(A1, {REGION: [failed]}, mode=Mode.ENFORCE), account=A1, region=REGION
    )
    assert result.failed_actions == 1 and result.is_problem
    assert _digest(result).failed and not _digest(_clean(A2)).failed
    assert "1 failed action" in _digest(result).render_text()


def test_the_text_links_each_targets_report_by_one_pattern() -> None:
    text = _digest(_clean(A1), _clean(A2, OTHER_REGION)).render_text()
    assert f"Each target's full report: {LINK}<account>-<region>.json" in text
    odd = TargetResult(A3, REGION, "completed", {"images": 0}, report="s3://elsewhere/a.json")
    text = _digest(_clean(A1), odd).render_text()
    assert "s3://elsewhere/a.json" in text and f"{LINK}{A1}-{REGION}.json" in text


# -- one SNS message ---------------------------------------------------------------------------


def _fleet(accounts: int, regions: tuple[str, ...] = (REGION, OTHER_REGION)) -> tuple[TargetResult, ...]:
    """`accounts` x `regions` targets, every 50th account unreachable; the others retire an image."""
    template = _clean(A1, REGION, gib=8)
    out = []
    for n in range(accounts):
        account = f"{100000000000 + n}"
        for region in regions:
            if n % 50 == 7:
                why = f"account {account}: could not assume arn:aws:iam::{account}:role/AmiHygieneMember"
                out.append(TargetResult.unreachable(account, region, f"{why} (AccessDenied: {'m' * 200})"))
            else:
                link = f"{LINK}{account}-{region}.json"
                out.append(replace(template, account=account, region=region, report=link))
    return tuple(out)


def test_the_message_for_2000_targets_fits_sns_with_the_failures_first() -> None:
    digest = _digest(*_fleet(1000))
    location = "s3://reports/organization/rotate/run-7/digest.json"

    message = digest.message(location=location)

    assert not is_over(message) and message.size() < SNS_MESSAGE_LIMIT
    assert message.attributes == {
        "job": "rotate",
        "severity": "error",
        "mode": "report",
        "account": "organization",
    }
    assert message.subject.startswith("[ami-hygiene] rotate (report mode) across 1000 accounts x 2 regions")
    # Every failure is in the text (40 of them), and the table says how many rows it left out.
    unreachable = [r for r in digest.results if r.status == "unreachable"]
    assert len(unreachable) == 40
    assert all(f"! {r.account}  {r.region}" in message.text for r in unreachable)
    assert "more targets: see " + location in message.text
    doc = message.document
    assert doc["totals"]["targets"] == 2000 and doc["totals"]["unreachable"] == 40
    assert doc["full_digest"] == location
    assert [t["status"] for t in doc["targets"][:2]] == ["unreachable", "unreachable"]
    assert doc["targets_omitted"] == 2000 - len(doc["targets"]) > 0
    json.dumps(doc)  # JSON as it is


def test_a_small_digest_is_sent_whole() -> None:
    digest = _digest(_clean(A1, gib=3), TargetResult.failed(A2, REGION, "boom"))
    message = digest.message()
    assert message.document == digest.to_dict()
    assert message.text == digest.render_text()
    assert message.subject == digest.subject()


def test_even_enormous_errors_and_headlines_fit() -> None:
    huge = "\U0001f600" * 50_000
    results = [TargetResult.failed(f"{100000000000 + n}", REGION, huge) for n in range(300)]
    message = _digest(*results).message()
    assert not is_over(message)
