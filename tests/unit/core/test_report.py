"""The report: JSON contract, counts, a subject under 100 characters, readable text."""

from __future__ import annotations

import json
from functools import partial

from ami_hygiene.core.estate import SnapshotRef
from ami_hygiene.core.plan import Action, Decision, Outcome, Plan, SnapshotResult
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.rotate.view import VIEW as ROTATE_VIEW
from ami_hygiene.jobs.settings import Mode, Settings
from ami_hygiene.jobs.tags.view import VIEW as TAGS_VIEW
from tests.helpers.builders import decision
from tests.helpers.constants import ACCOUNT, NOW, REGION

_decision = partial(decision, created=NOW)


def _report(mode: Mode, decisions: list[Decision], errors: tuple[str, ...] = ()) -> Report:
    settings = Settings.load({"AWS_REGION": REGION}, overrides={"mode": mode.value})
    plan = Plan(job="rotate", region=REGION, decisions=tuple(decisions))
    return Report(
        "rotate",
        mode,
        ACCOUNT,
        (REGION,),
        (plan,),
        settings,
        NOW,
        NOW,
        errors=errors,
        view=ROTATE_VIEW,
    )


SNAPS = (SnapshotRef("snap-1", "/dev/xvda", 8), SnapshotRef("snap-2", "/dev/xvdb", 100))


def test_report_mode_counts_what_would_happen() -> None:
    report = _report(
        Mode.REPORT,
        [
            _decision("ami-1", Action.KEEP),
            _decision("ami-2", Action.DEREGISTER, snapshots=SNAPS),
            _decision("ami-3", Action.DISABLE),
            _decision("ami-4", Action.DEPRECATE, deprecate_at=NOW),
            _decision("ami-5", Action.DISABLE, outcome=Outcome.DEFERRED),
        ],
    )
    s = report.summary()
    assert (s["images"], s["kept"], s["retired"], s["disabled"], s["deprecated"]) == (5, 1, 1, 1, 1)
    assert (s["snapshots_deleted"], s["gib_reclaimed"], s["deferred"]) == (2, 108, 1)
    assert s["monthly_saving_usd"] == 5.4
    assert s["would_change"] is True
    assert (
        report.subject()
        == "[ami-hygiene] eu-west-1 rotate (report mode): 1 would retire, 108 GiB reclaimable, 1 to disable"
    )


def test_enforce_mode_counts_only_what_was_deleted() -> None:
    results = (SnapshotResult("snap-1", True), SnapshotResult("snap-2", False, "skipped"))
    report = _report(
        Mode.ENFORCE,
        [
            _decision(
                "ami-2", Action.DEREGISTER, outcome=Outcome.FAILED, snapshots=SNAPS, snapshot_results=results
            ),
            _decision(
                "ami-3",
                Action.DEREGISTER,
                outcome=Outcome.DONE,
                snapshots=SNAPS[:1],
                snapshot_results=(SnapshotResult("snap-1", True),),
            ),
        ],
    )
    s = report.summary()
    assert (s["retired"], s["snapshots_deleted"], s["gib_reclaimed"], s["failed"]) == (1, 1, 8, 1)
    assert report.failed
    assert report.subject().startswith("[ami-hygiene] eu-west-1 rotate: 1 FAILED, 1 retired")


def test_json_has_the_contract_fields() -> None:
    report = _report(Mode.REPORT, [_decision("ami-2", Action.DEREGISTER, snapshots=SNAPS)])
    data = json.loads(json.dumps(report.to_dict()))
    assert {"job", "mode", "account", "regions", "summary", "decisions"} <= data.keys()
    decision = data["decisions"][0]
    assert {"image_id", "region", "family", "action", "outcome", "reasons"} <= decision.keys()
    assert decision["action"] == "deregister" and decision["outcome"] == "planned"
    assert decision["snapshots"] == [
        {"snapshot_id": "snap-1", "size_gib": 8},
        {"snapshot_id": "snap-2", "size_gib": 100},
    ]


def test_text_explains_every_image_and_errors() -> None:
    report = _report(
        Mode.REPORT,
        [_decision("ami-1", Action.KEEP), _decision("ami-2", Action.DISABLE)],
        errors=("eu-west-1: cannot list images: AccessDenied",),
    )
    text = report.render_text()
    assert "REPORT MODE: nothing was changed" in text
    assert "reason for ami-1" in text and "reason for ami-2" in text
    assert "AccessDenied" in text
    assert report.has_findings


def test_subject_never_exceeds_the_limit() -> None:
    many = [_decision(f"ami-{i}", Action.DEREGISTER, snapshots=SNAPS) for i in range(100_0)]
    report = _report(Mode.REPORT, many, errors=tuple(f"e{i}" for i in range(20)))
    assert len(report.subject()) < 100


def test_nothing_to_say_when_everything_is_kept() -> None:
    assert not _report(Mode.ENFORCE, [_decision("ami-1", Action.KEEP, outcome=Outcome.DONE)]).has_findings


def test_a_tag_report_counts_the_broken_rules_most_common_first() -> None:
    def notify(image_id: str, *findings: str) -> Decision:
        return _decision(image_id, Action.NOTIFY, findings=findings)

    decisions = [
        notify("ami-1", "missing Owner", "Env='production' does not match ^(prod|dev)$"),
        notify("ami-2", "missing Owner", "Env='qa' does not match ^(prod|dev)$"),
        notify("ami-3", "missing Owner"),
        _decision("ami-4", Action.KEEP),
    ]
    settings = Settings.load({"AWS_REGION": REGION})
    plan = Plan(job="tags", region=REGION, decisions=tuple(decisions))
    report = Report("tags", Mode.REPORT, ACCOUNT, (REGION,), (plan,), settings, NOW, NOW, view=TAGS_VIEW)
    s = report.summary()
    assert s["non_compliant"] == 3
    assert s["non_compliant_by_problem"] == {"missing Owner": 3, "Env does not match ^(prod|dev)$": 2}
    text = report.render_text()
    assert "         3  missing Owner\n              e.g. ami-1 (" in text
    assert "         2  Env does not match ^(prod|dev)$\n              e.g. ami-1 (" in text
    assert text.index("missing Owner") < text.index("Env does not match")
