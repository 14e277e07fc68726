"""Settings: env names, CLI overrides, and a one-line reason for every bad value."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ami_hygiene.settings import Mode, Settings, SettingsError

ENV = {"AWS_REGION": "eu-west-1"}


def test_defaults_are_safe() -> None:
    s = Settings.load(ENV)
    assert s.mode is Mode.REPORT
    assert (s.retention_days, s.keep_latest, s.disable_grace_days, s.max_actions) == (90, 3, 14, 100)
    assert s.regions == ("eu-west-1",)


def test_environment_then_overrides() -> None:
    env = {
        **ENV,
        "RETENTION_DAYS": "30",
        "KEEP_LATEST": "5",
        "MODE": "enforce",
        "REGIONS": "us-east-1, eu-west-1",
    }
    s = Settings.load(env, overrides={"keep_latest": 2, "retention_days": None})
    assert s.retention_days == 30  # None override leaves the environment's value
    assert s.keep_latest == 2
    assert s.mode is Mode.ENFORCE
    assert s.regions == ("us-east-1", "eu-west-1")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RETENTION_DAYS": "0"}, "RETENTION_DAYS must be between 1 and 3650, not 0"),
        ({"RETENTION_DAYS": "ninety"}, "RETENTION_DAYS must be a whole number, not 'ninety'"),
        ({"KEEP_LATEST": "0"}, "KEEP_LATEST must be between 1 and 100, not 0"),
        ({"DISABLE_GRACE_DAYS": "-1"}, "DISABLE_GRACE_DAYS must be between 0 and 365, not -1"),
        ({"MAX_ACTIONS": "0"}, "MAX_ACTIONS must be between 1 and 10000, not 0"),
        ({"MODE": "delete-all"}, "MODE must be report or enforce, not 'delete-all'"),
        ({"REGIONS": "mars-north-1x"}, "REGIONS has 'mars-north-1x'"),
        ({"PRICE_PER_GIB_MONTH": "cheap"}, "PRICE_PER_GIB_MONTH must be a number"),
        ({"ALLOWED_SHARE_ACCOUNTS": "12345"}, "ALLOWED_SHARE_ACCOUNTS has '12345'"),
    ],
)
def test_bad_values_are_refused_with_a_reason(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as err:
        Settings.load({**ENV, **env})
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_no_region_anywhere_is_an_error() -> None:
    with pytest.raises(SettingsError, match="REGIONS is empty"):
        Settings.load({})


def test_allowed_principals_accept_accounts_and_organization_arns() -> None:
    org = "arn:aws:organizations::123456789012:organization/o-abc123def4"
    ou = "arn:aws:organizations::123456789012:ou/o-abc123def4/ou-ab12-cd34ef56"
    s = Settings.load({**ENV, "ALLOWED_SHARE_ACCOUNTS": f"111122223333,{org},{ou}"})
    assert s.allowed_share_accounts == frozenset({"111122223333", org, ou})


@given(st.integers(min_value=-10_000, max_value=10_000))
def test_retention_outside_its_range_never_loads(days: int) -> None:
    if 1 <= days <= 3650:
        assert Settings.load({**ENV, "RETENTION_DAYS": str(days)}).retention_days == days
    else:
        with pytest.raises(SettingsError):
            Settings.load({**ENV, "RETENTION_DAYS": str(days)})
