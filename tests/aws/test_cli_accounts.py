"""The command line across accounts: `--accounts LIST | organization` with `--role-name`.

Several accounts in the embedded AWS: the tests run as ACCOUNT, the organization's management
account; credentials from AssumeRole act as the role's account (sandbox/accounts.py).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.helpers.cli import run_cli
from tests.helpers.constants import ACCOUNT, OTHER_REGION, REGION
from tests.helpers.organization import (
    MEMBER_ROLE,
    Organization,
    create_organization,
    images_of,
    member_role,
    seed_images,
    suspend,
)

NOBODY = "210987654321"  # no role there: unreachable
# The newest 3 of a family are kept; past 90 days the others are disabled.
FAMILY = [("web-v5", 1), ("web-v4", 31), ("web-v3", 61), ("web-v2", 100), ("web-v1", 130)]


def _seed(org: Organization, regions: tuple[str, ...] = (REGION,)) -> dict[tuple[str, str], list[str]]:
    """FAMILY in each member account and region, and in the caller's own account: (account, region) -> ids."""
    seeded = {}
    for region in regions:
        for account in org.accounts:
            seeded[(account, region)] = seed_images(org.session(account, region), region, FAMILY)
        seeded[(ACCOUNT, region)] = seed_images(boto3.Session(), region, FAMILY)
    return seeded


def _json(argv: list[str]) -> tuple[int, dict[str, Any]]:
    code, out = run_cli([*argv, "--format", "json"])
    return code, json.loads(out)


def _by_account(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["account"]: item for item in items}


def test_two_accounts_complete_one_unreachable_is_an_error_and_the_callers_account_is_untouched(
    aws: None,
) -> None:
    org = create_organization(["workloads", ""])
    one, two = org.accounts
    seeded = _seed(org)

    code, doc = _json(["rotate", "--mode", "enforce", "--accounts", f"{one},{NOBODY},{two}"])

    assert code == 1
    assert (doc["job"], doc["mode"], doc["role_name"], doc["caller_account"]) == (
        "rotate",
        "enforce",
        MEMBER_ROLE,
        ACCOUNT,
    )
    assert doc["regions"] == [REGION]
    accounts = doc["accounts"]
    assert [a["account"] for a in accounts] == [one, NOBODY, two]  # the order given
    assert [a["status"] for a in accounts] == ["completed", "unreachable", "completed"]
    arn = f"arn:aws:iam::{NOBODY}:role/{MEMBER_ROLE}"
    assert accounts[1]["error"].startswith(f"account {NOBODY}: could not assume {arn} (AccessDenied: ")
    assert accounts[0]["error"] == accounts[2]["error"] == ""
    # Each completed account's report, and every decision naming its account.
    reports = _by_account(doc["reports"])
    assert set(reports) == {one, two} and all(r["regions"] == [REGION] for r in reports.values())
    assert "decisions" not in reports[one]  # listed once, below
    decided = {(d["account"], d["image_id"]): d for d in doc["decisions"]}
    for account in (one, two):
        ids = seeded[(account, REGION)]
        assert {decided[(account, i)]["action"] for i in ids[:3]} == {"keep"}
        assert {(decided[(account, i)]["action"], decided[(account, i)]["outcome"]) for i in ids[3:]} == {
            ("disable", "done")
        }
        assert images_of(org.session(account), REGION) == {
            **dict.fromkeys(ids[:3], "available"),
            **dict.fromkeys(ids[3:], "disabled"),
        }
    assert {d["account"] for d in doc["decisions"]} == {one, two}
    # The caller's own images: not read, not changed.
    assert images_of(boto3.Session(), REGION) == dict.fromkeys(seeded[(ACCOUNT, REGION)], "available")
    # The digest: one target per account and region, the unreachable one first.
    digest = doc["digest"]
    assert digest["totals"]["targets"] == 3 and digest["totals"]["unreachable"] == 1
    assert digest["totals"]["summary"]["disabled"] == 4
    assert (digest["targets"][0]["account"], digest["targets"][0]["status"]) == (NOBODY, "unreachable")
    assert digest["severity"] == "error" and digest["failed"] is True


def test_every_region_of_every_account_is_a_target_and_the_text_has_the_digest_then_each_report(
    aws: None,
) -> None:
    org = create_organization(["", ""])
    one, two = org.accounts
    seeded = _seed(org, (REGION, OTHER_REGION))

    code, out = run_cli(
        ["rotate", "--region", REGION, "--region", OTHER_REGION, "--accounts", f"{one},{two}"]
    )

    assert code == 0
    digest, *reports = out.split("=" * 78)
    assert digest.startswith(
        "[ami-hygiene] rotate (report mode) across 2 accounts \u00d7 2 regions: 8 to change\n"
    )
    assert "4 targets (account \u00d7 region): 4 completed" in digest
    for account in (one, two):
        for region in (REGION, OTHER_REGION):
            assert f"  {account}  {region:<15}       5        2" in digest
    assert [r.count(f"Account {one}") for r in reports] == [1, 0]
    assert f"Account {two} · {REGION}, {OTHER_REGION}" in reports[1]
    # Report mode: nothing changed anywhere.
    for (account, region), ids in seeded.items():
        session = boto3.Session() if account == ACCOUNT else org.session(account, region)
        assert images_of(session, region) == dict.fromkeys(ids, "available")


def test_organization_means_its_active_accounts_and_the_caller_only_where_its_role_can_be_assumed(
    aws: None,
) -> None:
    org = create_organization(["workloads", "workloads/team", "", "sandbox"])
    in_ou, in_child, closed, in_root = org.accounts
    suspend(closed)
    _seed(org)

    code, doc = _json(["tags", "--accounts", "organization"])

    assert code == 0
    statuses = {a["account"]: a["status"] for a in doc["accounts"]}
    # The management account is in the organization but has no member role: skipped, not an error.
    assert statuses == {
        ACCOUNT: "skipped",
        in_ou: "completed",
        in_child: "completed",
        in_root: "completed",
    }
    skipped = _by_account(doc["accounts"])[ACCOUNT]["error"]
    assert "AccessDenied" in skipped and "acted in only when its role can be assumed" in skipped
    assert sorted(_by_account(doc["reports"])) == sorted((in_ou, in_child, in_root))
    assert {d["account"] for d in doc["decisions"]} == {in_ou, in_child, in_root}
    assert doc["digest"]["totals"]["targets"] == 3

    # With the role in the caller's own account too, it is acted in like any other.
    member_role(ACCOUNT, MEMBER_ROLE)
    code, doc = _json(["tags", "--accounts", "organization"])
    assert code == 0
    assert {a["account"]: a["status"] for a in doc["accounts"]}[ACCOUNT] == "completed"
    assert ACCOUNT in {d["account"] for d in doc["decisions"]}


def test_the_callers_own_account_named_in_a_list_without_its_role_is_an_error(aws: None) -> None:
    org = create_organization([""])
    (member,) = org.accounts

    code, doc = _json(["rotate", "--accounts", f"{ACCOUNT},{member}"])

    assert code == 1
    assert [a["status"] for a in doc["accounts"]] == ["unreachable", "completed"]


def test_another_role_name_is_assumed_in_each_account(aws: None) -> None:
    org = create_organization([""], role_name="team/ami-reader")
    (member,) = org.accounts

    code, doc = _json(["public", "--accounts", member, "--role-name", "team/ami-reader"])
    assert code == 0 and doc["accounts"] == [{"account": member, "status": "completed", "error": ""}]

    code, doc = _json(["public", "--accounts", member])  # the default, AmiHygieneMember: not there
    assert code == 1 and doc["accounts"][0]["status"] == "unreachable"
    assert f"role/{MEMBER_ROLE}" in doc["accounts"][0]["error"]


def test_organization_from_an_account_that_may_not_list_it_exits_1(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    org = create_organization([""])
    credentials = org.session(org.accounts[0]).get_credentials()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", str(credentials.token))

    code, out = run_cli(["rotate", "--accounts", "organization"])

    assert code == 1 and out == ""
    err = capsys.readouterr().err
    assert err == (
        "ami-hygiene: error: could not list the organization's accounts: AccessDeniedException: "
        "You don't have permissions to access this resource.\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--accounts", "111122223333,abc"], "argument --accounts: not 12-digit account ids: 'abc'"),
        (["--accounts", ""], "argument --accounts: no account ids"),
        (["--accounts", "1111-2222-3333"], "or organization)"),
        (["--accounts", "111122223333", "--role-name", "bad name"], "argument --role-name: role name"),
        (["--role-name", "AmiHygieneMember"], "--role-name applies only with --accounts"),
    ],
)
def test_bad_account_arguments_exit_2_with_one_clear_line(
    aws: None, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        run_cli(["rotate", *argv])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("ami-hygiene rotate: error: ") or captured.err.startswith(
        "ami-hygiene: error"
    )
    assert message in captured.err and captured.err.count("\n") == 1


def test_accounts_run_side_by_side_and_keep_their_order(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from ami_hygiene import across_accounts

    org = create_organization(["workloads", ""])
    one, two = org.accounts
    _seed(org)
    gate = threading.Barrier(2, timeout=10)
    real = across_accounts._run_account

    def meeting(*args: Any, **kwargs: Any) -> Any:
        gate.wait()  # passes only when both accounts' runs have started
        return real(*args, **kwargs)

    monkeypatch.setattr(across_accounts, "_run_account", meeting)
    code, doc = _json(["rotate", "--accounts", f"{two},{one}"])
    assert code == 0
    assert [a["account"] for a in doc["accounts"]] == [two, one]
