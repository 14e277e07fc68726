"""Member accounts without AWS: account lists, role and session names, an account's state."""

from __future__ import annotations

import pytest

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.members import (
    Account,
    AccountUnreachable,
    account_of,
    check_role_name,
    member_clients,
    parse_accounts,
)


def test_account_lists_keep_their_order_once_each() -> None:
    assert parse_accounts("111122223333,444455556666") == ("111122223333", "444455556666")
    assert parse_accounts(" 444455556666 , 111122223333,444455556666,") == ("444455556666", "111122223333")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no account ids"),
        (" , ", "no account ids"),
        ("11112222333", "not 12-digit account ids: '11112222333'"),
        ("111122223333,abc", "not 12-digit account ids: 'abc'"),
        ("1111-2222-3333", "not 12-digit"),
        ("\u0661" * 12, "not 12-digit"),  # digits, but not 0-9
        ("a,b,c,d,e", "'a', 'b', 'c' and 2 more"),
    ],
)
def test_a_bad_account_list_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_accounts(text)


@pytest.mark.parametrize(
    ("given", "kept"),
    [("AmiHygieneMember", "AmiHygieneMember"), ("/team/reader", "team/reader"), ("a+=,.@-_1", "a+=,.@-_1")],
)
def test_role_names_as_iam_takes_them(given: str, kept: str) -> None:
    assert check_role_name(given) == kept


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "role*", "team//reader", "ro\u00efe", "a\nb"])
def test_role_names_iam_would_refuse(bad: str) -> None:
    with pytest.raises(ValueError, match="not valid"):
        check_role_name(bad)


def test_an_accounts_state_is_read_before_its_retiring_status() -> None:
    # Organizations: Status "will be retired on September 9, 2026"; State is the field to read.
    assert account_of(
        {"Id": "111122223333", "Name": "a", "Status": "ACTIVE", "State": "SUSPENDED"}
    ) == Account("111122223333", "a", "SUSPENDED")
    assert account_of({"Id": "111122223333", "Status": "ACTIVE"}).status == "ACTIVE"
    assert account_of({"Id": "111122223333", "State": "PENDING_CLOSURE"}).status == "PENDING_CLOSURE"


@pytest.mark.parametrize(
    ("account", "session", "message"),
    [
        ("12345", "ami-hygiene", "12-digit"),
        ("111122223333", "x", "session name"),
        ("111122223333", "has space", "session name"),
        ("111122223333", "s" * 65, "session name"),
    ],
)
def test_what_sts_would_refuse_is_refused_before_asking(account: str, session: str, message: str) -> None:
    clients = Clients()
    with pytest.raises(ValueError, match=message):
        member_clients(clients, account, "r", "eu-west-1", session_name=session)
    assert clients.counter.total == 0


def test_an_unreachable_account_says_it_in_one_line() -> None:
    err = AccountUnreachable("111122223333", "arn:aws:iam::111122223333:role/r", "AccessDenied: no")
    assert (
        str(err)
        == "account 111122223333: could not assume arn:aws:iam::111122223333:role/r (AccessDenied: no)"
    )
    assert (err.account, err.role_arn, err.reason, err.transient) == (
        "111122223333",
        "arn:aws:iam::111122223333:role/r",
        "AccessDenied: no",
        False,
    )
