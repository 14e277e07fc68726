"""Hub mode from the environment: the member role, the excluded accounts, the hub's own writes."""

from __future__ import annotations

import pytest

from ami_hygiene.core.errors import SettingsError
from ami_hygiene.core.events import EventError
from ami_hygiene.organization.hub import Hub, excluded_accounts

ENV = {"AWS_REGION": "eu-west-1", "MEMBER_ROLE_NAME": "AmiHygieneMember"}


def test_without_a_member_role_name_there_is_no_hub() -> None:
    assert Hub.from_env({"AWS_REGION": "eu-west-1"}) is None
    assert Hub.from_env({"AWS_REGION": "eu-west-1", "MEMBER_ROLE_NAME": "  "}) is None


def test_the_hub_reads_its_role_name_excluded_accounts_and_region() -> None:
    hub = Hub.from_env({**ENV, "EXCLUDED_ACCOUNTS": "111122223333, 444455556666,"})
    assert hub == Hub("AmiHygieneMember", frozenset({"111122223333", "444455556666"}), "eu-west-1")
    assert excluded_accounts({"EXCLUDED_ACCOUNTS": " , "}) == frozenset()


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({**ENV, "MEMBER_ROLE_NAME": "has space"}, "MEMBER_ROLE_NAME: role name 'has space' is not valid"),
        (
            {**ENV, "EXCLUDED_ACCOUNTS": "1111,2222"},
            "EXCLUDED_ACCOUNTS: not 12-digit account ids: '1111', '2222'",
        ),
        ({"MEMBER_ROLE_NAME": "AmiHygieneMember"}, "AWS_REGION is not set"),
    ],
)
def test_bad_hub_settings_are_refused_naming_the_variable(env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Hub.from_env(env)
    assert str(caught.value).startswith(says)


def test_the_hub_acts_in_any_account_but_the_excluded() -> None:
    hub = Hub("AmiHygieneMember", frozenset({"111122223333"}), "eu-west-1")
    assert hub.event_account({"account": "444455556666"}) == "444455556666"
    with pytest.raises(EventError, match="111122223333 is in EXCLUDED_ACCOUNTS"):
        hub.event_account({"account": "111122223333"})
    for bad in ({"account": "4444"}, {"account": 444455556666}, {}, "text"):
        with pytest.raises(EventError, match="is not a 12-digit account id"):
            hub.event_account(bad)


def test_the_member_role_of_the_events_account_is_the_hubs_own_writer_in_any_partition() -> None:
    hub = Hub("AmiHygieneMember", frozenset(), "eu-west-1")
    assert hub.is_member_role("arn:aws:iam::444455556666:role/AmiHygieneMember", "444455556666")
    assert hub.is_member_role("arn:aws-us-gov:iam::444455556666:role/AmiHygieneMember", "444455556666")
    assert not hub.is_member_role("arn:aws:iam::111122223333:role/AmiHygieneMember", "444455556666")
    assert not hub.is_member_role("arn:aws:iam::444455556666:role/AmiHygieneMemberX", "444455556666")
    assert not hub.is_member_role("arn:aws:iam::444455556666:role/team/AmiHygieneMember", "444455556666")
    with_path = Hub("team/AmiHygieneMember", frozenset(), "eu-west-1")
    assert with_path.is_member_role("arn:aws:iam::444455556666:role/team/AmiHygieneMember", "444455556666")
