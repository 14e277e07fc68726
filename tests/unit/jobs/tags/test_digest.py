"""The tag sweep's digest: non-compliant images grouped by problem, family and creator, bounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ami_hygiene.core.plan import Action, Decision, Outcome, Plan
from ami_hygiene.core.publisher import SHORT_TEXT_BYTES
from ami_hygiene.core.report import Report
from ami_hygiene.core.tag_rules import parse_required_tags
from ami_hygiene.jobs.settings import Mode, Settings
from ami_hygiene.jobs.tags.digest import EXAMPLES, TOP_GROUPS, UNKNOWN_CREATOR, group_non_compliant
from ami_hygiene.jobs.tags.policy import TAG_CREATED_BY, TagDecision, TagSettings, plan_tagging
from ami_hygiene.jobs.tags.view import ITEMIZED_UP_TO, VIEW
from tests.helpers import builders
from tests.helpers.constants import ACCOUNT, NOW, REGION

RULES = parse_required_tags(r"Owner,Environment=^(prod|staging|dev)$")
ALICE = f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/alice"
BOB = f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/bob"


def _non_compliant(n: int, family: str, creator: str = "", *findings: str) -> list[Decision]:
    """An image's decisions as a sweep makes them: a TAG (deferred) and a NOTIFY, the same findings."""
    common: dict[str, Any] = {
        "image_id": f"ami-{family}-{n:05d}",
        "region": REGION,
        "family": family,
        "name": f"{family}-v{n}",
        "reasons": ("missing Owner",),
        "findings": findings or ("missing Owner",),
        "creator": creator,
    }
    return [
        TagDecision(action=Action.TAG, outcome=Outcome.DEFERRED, **common),
        TagDecision(action=Action.NOTIFY, **common),
    ]


def _report(decisions: list[Decision], mode: Mode = Mode.REPORT) -> Report:
    settings = Settings.load({"AWS_REGION": REGION}, overrides={"mode": mode.value})
    plan = Plan(job="tags", region=REGION, decisions=tuple(decisions))
    return Report("tags", mode, ACCOUNT, (REGION,), (plan,), settings, NOW, NOW, view=VIEW)


def _group(groups: list[dict[str, object]], name: str) -> dict[str, object]:
    [found] = [g for g in groups if g["name"] == name]
    return found


def test_each_image_counts_once_in_every_group_it_belongs_to() -> None:
    bad_env = "Environment='qa' does not match ^(prod|staging|dev)$"
    decisions = [
        *(d for n in range(5) for d in _non_compliant(n, "web", ALICE, "missing Owner")),
        *(d for n in range(2) for d in _non_compliant(n, "api", BOB, "missing Owner", bad_env)),
        *_non_compliant(0, "db", "", bad_env),
        builders.decision("ami-compliant", Action.KEEP),  # no findings: in no group
    ]

    digest = group_non_compliant(decisions)

    problems = {g["name"]: g["images"] for g in digest["by_problem"]}
    assert problems == {"missing Owner": 7, "Environment does not match ^(prod|staging|dev)$": 3}
    assert [(g["name"], g["images"]) for g in digest["by_family"]] == [("web", 5), ("api", 2), ("db", 1)]
    creators = {g["name"]: g["images"] for g in digest["by_creator"]}
    assert creators == {ALICE: 5, BOB: 2, UNKNOWN_CREATOR: 1}
    assert (digest["families"], digest["creators"]) == (3, 3)
    web = _group(digest["by_family"], "web")
    assert web["examples"] == [{"image_id": f"ami-web-{n:05d}", "name": f"web-v{n}"} for n in range(EXAMPLES)]
    assert _group(digest["by_family"], "db")["examples"] == [{"image_id": "ami-db-00000", "name": "db-v0"}]


def test_the_digest_and_the_text_stay_small_however_many_images() -> None:
    decisions = [
        d
        for n in range(30_000)
        for d in _non_compliant(n, f"fam{n % 1_500}", f"arn:aws:iam::{ACCOUNT}:user/u{n % 400}")
    ]
    report = _report(decisions)

    summary = report.summary()
    digest = summary["non_compliant_digest"]
    assert summary["non_compliant"] == 30_000
    assert len(digest["by_family"]) == len(digest["by_creator"]) == TOP_GROUPS
    assert (digest["families"], digest["creators"]) == (1_500, 400)
    assert all(
        len(g["examples"]) == EXAMPLES
        for kind in ("by_problem", "by_family", "by_creator")
        for g in digest[kind]
    )
    assert len(json.dumps(summary)) < 12_000
    text = report.render_text()
    assert len(text.encode()) < SHORT_TEXT_BYTES  # the whole text fits an e-mail, uncut
    assert "ami-fam1499-29999" not in text  # past the examples, no image is named
    assert "... 60,000 not listed one by one" in text
    assert "by family (1,500 families; the 10 largest)" in text
    # The JSON report still has every decision.
    assert len(report.to_dict()["decisions"]) == 60_000


def test_an_events_few_images_are_still_named_one_by_one() -> None:
    decisions = [d for n in range(ITEMIZED_UP_TO // 2) for d in _non_compliant(n, "web", ALICE)]
    text = _report(decisions).render_text()
    assert all(f"ami-web-{n:05d}  web-v{n}" in text for n in range(ITEMIZED_UP_TO // 2))
    assert "not listed one by one" not in text


def test_changes_made_and_failures_are_named_even_in_a_large_sweep() -> None:
    many = [d for n in range(200) for d in _non_compliant(n, "web")]
    tagged = builders.decision("ami-tagged", Action.TAG, outcome=Outcome.DONE)
    failed = builders.decision("ami-failed", Action.NOTIFY, outcome=Outcome.FAILED, error="boom")
    text = _report([*many, tagged, failed], Mode.ENFORCE).render_text()
    assert "ami-tagged" in text and "ami-failed" in text and "! boom" in text
    assert "... 400 more not listed one by one" in text


def test_the_policy_says_who_made_each_image() -> None:
    now = datetime(2024, 6, 10, tzinfo=UTC)
    made_by_alice = builders.image("ami-1", 3, "web-1", now=now, tags={TAG_CREATED_BY: ALICE})
    unknown = builders.image("ami-2", 3, "web-2", now=now)
    estate = builders.estate(made_by_alice, unknown)

    plan = plan_tagging(estate, RULES, TagSettings(), now - timedelta(hours=1), {}, {})

    creators = {d.image_id: d.creator for d in plan.decisions if isinstance(d, TagDecision)}
    assert creators == {"ami-1": ALICE, "ami-2": ""}
    digest = group_non_compliant(plan.decisions)
    assert {g["name"]: g["images"] for g in digest["by_creator"]} == {ALICE: 1, UNKNOWN_CREATOR: 1}
