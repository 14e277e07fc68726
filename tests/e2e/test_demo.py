"""`make demo` is the first thing a new user runs: it must explain every image and change the estate."""

from __future__ import annotations

import io
import json
import re

from sandbox.demo import run_demo


def test_demo_reports_then_enforces() -> None:
    out = io.StringIO()
    assert run_demo(out) == 0
    text = out.getvalue()
    # rotate in report then enforce mode, the sharing guard enforcing, the tag job reporting
    assert text.count("REPORT MODE: nothing was changed") == 3
    assert "rebuild (report mode):" in text
    assert text.count("ENFORCE MODE: the actions below were applied") == 2
    assert "public: CRITICAL" in text and "REVOKE-PUBLIC" in text
    assert "tags (report mode):" in text and "missing Owner" in text
    for reason in (
        "used by instance",
        "$Default",
        "$Latest",
        "pinned by Auto Scaling group",
        "used by launch configuration",
        "used by SSM parameter",
        "ami-hygiene:retain=true",
        "deregistration protection",
        "launched",
        "not on the allow-list",
        "kept: public",
        "state is pending",
        "disabled by someone else",
        # the allow-listed account is read as a consumer: its launch template keeps one shared image ...
        "$Default) in account 111122223333",
        # ... and the other shared image, unused there, is disabled (and restored below)
        "consumers checked: 111122223333 (none uses it)",
    ):
        assert reason in text, reason
    # doctor first (a failing check, e.g. no CloudTrail trail, and the sandbox's own limits) ...
    assert "$ ami-hygiene doctor" in text and "✘ cloudtrail [eu-west-1]" in text and "! endpoint:" in text
    # ... and restore last: the allow-listed share rotation dropped comes back.
    restored = text[text.index("$ ami-hygiene restore") :]
    assert "Summary: 1 restored" in restored and "done     share" in restored and "111122223333" in restored
    counts = re.search(
        r"Before: (\d+) images, (\d+) snapshots. After enforce: (\d+) images, (\d+) snapshots", text
    )
    assert counts
    before_images, before_snaps, after_images, after_snaps = map(int, counts.groups())
    assert before_images >= 60 and after_images < before_images and after_snaps < before_snaps


def test_demo_json() -> None:
    out = io.StringIO()
    assert run_demo(out, fmt="json") == 0
    data = json.loads(out.getvalue())
    assert [(r["job"], r["mode"]) for r in data["reports"]] == [
        ("rotate", "report"),
        ("rotate", "enforce"),
        ("public", "enforce"),
        ("tags", "report"),
        ("rebuild", "report"),
    ]
    assert data["after"]["images"] < data["before"]["images"]
    assert {c["check"] for c in data["doctor"]} >= {"credentials", "cloudtrail", "recycle bin"}
    [image] = data["restore"]["images"]
    assert image["outcome"] == "restored"
    rotate = data["reports"][0]
    assert rotate["summary"]["consumers"]["accounts_checked"] == ["111122223333"]
    assert rotate["summary"]["consumers"]["images_kept_by_consumer_use"] == 2  # one in each region
    assert set(rotate["api_calls_by_account"]) == {"123456789012", "111122223333"}
