"""Settings: env names, CLI overrides, and a one-line reason for every bad value."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ami_hygiene.core.estate import ARCHITECTURES
from ami_hygiene.jobs.rebuild.settings import INSTANCE_TYPE
from ami_hygiene.jobs.settings import ConsumerUsageUnknown, Mode, Settings, SettingsError

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
        (
            {"AUTOMATION_INSTANCE_TYPES": "arm64"},
            "AUTOMATION_INSTANCE_TYPES has 'arm64': write architecture=",
        ),
        (
            {"AUTOMATION_INSTANCE_TYPES": "aarch64=t4g.medium"},
            "AUTOMATION_INSTANCE_TYPES has architecture 'aarch64': use one of i386, x86_64, arm64, "
            "x86_64_mac, arm64_mac",
        ),
        (
            {"AUTOMATION_INSTANCE_TYPES": "arm64=T4G.medium"},
            "has 'T4G.medium' for arm64, which is not an instance",
        ),
        ({"AUTOMATION_INSTANCE_TYPES": "arm64=t4g"}, "has 't4g' for arm64"),
        ({"AUTOMATION_INSTANCE_TYPES": "arm64=t4g.medium,arm64=m7g.large"}, "names arm64 twice"),
        (
            {"BASE_PARAMETER_PATHS": "golden"},
            "BASE_PARAMETER_PATHS has 'golden', which is not a parameter path like /golden",
        ),
        ({"BASE_PARAMETER_PATHS": "/golden/"}, "BASE_PARAMETER_PATHS has '/golden/'"),
        ({"BASE_PARAMETER_PATHS": "/golden/*"}, "BASE_PARAMETER_PATHS has '/golden/*'"),
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


def test_runbook_instance_types_default_per_architecture_and_can_be_replaced() -> None:
    assert dict(Settings.load(ENV).automation_instance_types) == {
        "arm64": "t4g.medium",
        "x86_64": "t3.medium",
    }
    # Empty is the default too (an unset stack parameter, an empty flag).
    assert dict(Settings.load({**ENV, "AUTOMATION_INSTANCE_TYPES": ""}).automation_instance_types) == {
        "arm64": "t4g.medium",
        "x86_64": "t3.medium",
    }
    env = {**ENV, "AUTOMATION_INSTANCE_TYPES": "x86_64=m7i.large, i386=t2.medium"}
    assert dict(Settings.load(env).automation_instance_types) == {"x86_64": "m7i.large", "i386": "t2.medium"}
    flag = Settings.load(env, overrides={"automation_instance_types": "arm64=c7g.xlarge"})
    assert dict(flag.automation_instance_types) == {"arm64": "c7g.xlarge"}
    assert flag.as_dict()["automation_instance_types"] == {"arm64": "c7g.xlarge"}


def test_base_parameter_paths_are_ssm_paths() -> None:
    assert Settings.load(ENV).base_parameter_paths == ()
    s = Settings.load({**ENV, "BASE_PARAMETER_PATHS": "/golden,/team-a/images.v2,/golden"})
    assert s.base_parameter_paths == ("/golden", "/team-a/images.v2")
    assert s.as_dict()["base_parameter_paths"] == ["/golden", "/team-a/images.v2"]
    flag = Settings.load(ENV, overrides={"base_parameter_paths": "/a/b"})
    assert flag.base_parameter_paths == ("/a/b",)
    with pytest.raises(SettingsError, match="at most 14 levels"):
        Settings.load({**ENV, "BASE_PARAMETER_PATHS": "/l" * 15})


def test_the_architectures_are_ec2s() -> None:
    """The names AUTOMATION_INSTANCE_TYPES accepts are DescribeImages' (botocore's EC2 model)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("ec2")
    assert model.shape_for("ArchitectureValues").enum == list(ARCHITECTURES)
    assert model.shape_for("ArchitectureType").enum == list(ARCHITECTURES)  # DescribeInstanceTypes'
    # Every instance type botocore knows is one AUTOMATION_INSTANCE_TYPES accepts.
    assert all(INSTANCE_TYPE.match(name) for name in model.shape_for("InstanceType").enum)


def test_consumer_settings_default_to_no_role_and_keep() -> None:
    s = Settings.load(ENV)
    assert (s.consumer_role_name, s.consumer_usage_unknown) == ("", ConsumerUsageUnknown.KEEP)
    assert s.as_dict()["consumer_usage_unknown"] == "keep"


@pytest.mark.parametrize(
    ("raw", "role"),
    [
        ("ami-hygiene-consumer", "ami-hygiene-consumer"),
        ("/team/images/reader", "team/images/reader"),  # a path; its leading "/" dropped
        (" reader+=,.@_- ", "reader+=,.@_-"),
    ],
)
def test_the_consumer_role_is_a_role_name_after_an_optional_path(raw: str, role: str) -> None:
    assert Settings.load({**ENV, "CONSUMER_ROLE_NAME": raw}).consumer_role_name == role
    assert Settings.load(ENV, overrides={"consumer_role_name": raw}).consumer_role_name == role


@pytest.mark.parametrize("raw", ["two words", "x" * 65, "team//reader", "reader/", "arn:aws:iam::1:role/x"])
def test_a_consumer_role_that_is_no_role_name_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match="CONSUMER_ROLE_NAME must be an IAM role name"):
        Settings.load({**ENV, "CONSUMER_ROLE_NAME": raw})


def test_unknown_consumer_use_is_keep_or_retire() -> None:
    assert Settings.load({**ENV, "CONSUMER_USAGE_UNKNOWN": "RETIRE"}).consumer_usage_unknown is (
        ConsumerUsageUnknown.RETIRE
    )
    flag = Settings.load(
        {**ENV, "CONSUMER_USAGE_UNKNOWN": "retire"}, overrides={"consumer_usage_unknown": "keep"}
    )
    assert flag.consumer_usage_unknown is ConsumerUsageUnknown.KEEP
    with pytest.raises(SettingsError, match="CONSUMER_USAGE_UNKNOWN must be keep or retire"):
        Settings.load({**ENV, "CONSUMER_USAGE_UNKNOWN": "maybe"})


def test_region_names_follow_the_same_rule_as_events() -> None:
    # One rule (core/events.py REGION_NAME, from botocore's partitions) for settings, flags and events.
    from ami_hygiene.core.settings import REGION_PATTERN

    assert REGION_PATTERN.match("eusc-de-east-1") and REGION_PATTERN.match("us-gov-west-1")
    assert not REGION_PATTERN.match("eu-west-1\n") and not REGION_PATTERN.match("eu-west-1; DROP")
