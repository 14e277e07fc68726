"""A sweep says which regions no real-time rule covers (EventBridge rules see their own region only)."""

from __future__ import annotations

from ami_hygiene.core.coverage import REALTIME_REGIONS, realtime_warnings


def test_every_region_outside_the_rules_region_is_named() -> None:
    env = {REALTIME_REGIONS: "eu-west-1"}
    warnings = realtime_warnings("public", ("eu-west-1", "us-east-1", "ap-south-1"), env)
    assert [w.split(":")[0] for w in warnings] == ["us-east-1", "ap-south-1"]
    assert "covered by this sweep only" in warnings[0] and "rules are in eu-west-1" in warnings[0]


def test_the_rules_region_alone_gives_no_warning() -> None:
    assert realtime_warnings("tags", ("eu-west-1",), {REALTIME_REGIONS: "eu-west-1"}) == ()


def test_a_run_that_claims_no_real_time_warns_of_nothing() -> None:
    # The CLI and the rotate job have no rules: nothing promises real time there.
    assert realtime_warnings("tags", ("eu-west-1", "us-east-1"), {}) == ()
