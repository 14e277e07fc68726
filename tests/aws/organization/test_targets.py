"""The hub's first state: the organization's active accounts under the OUs, less the excluded, x Regions.

The targets go to organization/<job>/<run>/targets.json for the Distributed Map's
ItemReader; the answer says where, and what was counted and left out. Bad input or
settings are refused (reported once) and raised, so the execution stops there.
"""

from __future__ import annotations

import pytest

from ami_hygiene.core.clients import Clients
from ami_hygiene.handlers.organization_targets import run as list_targets
from ami_hygiene.organization.service import RunRefused, serve
from tests.aws.organization.conftest import RUN, Org, context
from tests.helpers.constants import ACCOUNT, OTHER_REGION, REGION
from tests.helpers.organization import add_account, create_organization


def _targets(org: Org, event: object, **env: str) -> dict[str, object]:
    return serve("targets", list_targets, event, context(), org.env(**env), Clients())


def test_the_targets_are_the_active_accounts_under_the_ous_nested_ones_too_less_the_excluded(
    org: Org,
) -> None:
    answer = _targets(org, {"job": "public", "run": RUN})

    members = sorted([org.m1, org.m2, org.no_role])  # not: suspended, excluded, outside the OU
    prefix = f"organization/public/{RUN}/"
    assert answer == {
        "job": "public",
        "run": RUN,
        "bucket": org.bucket,
        "key": f"{prefix}targets.json",
        "prefix": prefix,
        "count": 6,
        "accounts": members,
        "regions": [REGION, OTHER_REGION],
        "excluded": [org.excluded],
        "skipped": [org.excluded],
    }
    assert org.read(f"{prefix}targets.json") == [
        {"account": a, "region": r} for a in members for r in (REGION, OTHER_REGION)
    ]
    assert org.messages() == []


def test_several_ous_and_the_root_are_walked_once_each(org: Org) -> None:
    answer = _targets(
        org, {"job": "rotate", "run": RUN}, ORGANIZATIONAL_UNIT_IDS=f"{org.prod},{org.workloads}"
    )
    assert answer["accounts"] == sorted([org.m1, org.m2, org.no_role])

    # The root: every active account, the one outside the OU too, but not the management account
    # (the hub's here): StackSets give it no member role, so it would be unreachable every run.
    answer = _targets(org, {"job": "rotate", "run": RUN}, ORGANIZATIONAL_UNIT_IDS=org.root, REGIONS=REGION)
    assert answer["accounts"] == sorted([org.m1, org.m2, org.no_role, org.outside])
    assert answer["count"] == 4
    assert answer["skipped"] == sorted([ACCOUNT, org.excluded])

    # No OU named: the whole organization (ListAccounts), the management account left out.
    answer = _targets(org, {"job": "rotate", "run": RUN}, ORGANIZATIONAL_UNIT_IDS="", EXCLUDED_ACCOUNTS="")
    assert answer["accounts"] == sorted([org.m1, org.m2, org.excluded, org.no_role, org.outside])
    assert answer["skipped"] == [ACCOUNT] and answer["excluded"] == []


def test_the_reads_grow_with_pages_not_accounts(aws: None) -> None:
    """Organizations lists at most 20 accounts a page: 45 accounts in one OU are 3 pages."""
    from tests.helpers.deployed import make_wiring

    organization = create_organization(())
    for k in range(45):
        add_account(organization, f"m{k}", "big", role_name=None)
    wiring = make_wiring()
    env = {
        "AWS_REGION": REGION,
        "REGIONS": REGION,
        "REPORT_BUCKET": wiring.bucket,
        "ORGANIZATIONAL_UNIT_IDS": organization.unit("big"),
    }
    clients = Clients()
    answer = serve("targets", list_targets, {"job": "tags", "run": RUN}, context(), env, clients)
    assert answer["count"] == 45
    calls = {k: v for k, v in clients.counter.calls.items() if k.startswith("organizations.")}
    assert calls == {
        "organizations.DescribeOrganization": 1,
        "organizations.ListAccountsForParent": 3,
        "organizations.ListOrganizationalUnitsForParent": 1,
    }


BAD_INPUT = {
    "an unknown job": {"job": "nope", "run": RUN},
    "no run": {"job": "public"},
    "a run with a slash": {"job": "public", "run": "a/b"},
    "an extra key": {"job": "public", "run": RUN, "prefix": "x"},
    "a number for the run": {"job": "public", "run": 7},
    "not an object": ["public"],
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_refused_before_anything_is_read_or_written(org: Org, case: str) -> None:
    clients = Clients()
    with pytest.raises(RunRefused, match="targets: input not acted on"):
        serve("targets", list_targets, BAD_INPUT[case], context(), org.env(), clients)
    assert not any(k.startswith("organizations.") for k in clients.counter.calls)
    assert org.keys() == []
    (message,) = org.messages()
    assert message["MessageAttributes"]["severity"]["Value"] == "error"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ORGANIZATIONAL_UNIT_IDS", "ou-nope"),
        ("EXCLUDED_ACCOUNTS", "1234"),
        ("REGIONS", "Mars-1"),
        ("REPORT_BUCKET", ""),
    ],
)
def test_bad_settings_are_refused_before_anything_is_read(org: Org, variable: str, value: str) -> None:
    clients = Clients()
    with pytest.raises(RunRefused, match=f"targets: bad settings: {variable}"):
        serve(
            "targets",
            list_targets,
            {"job": "public", "run": RUN},
            context(),
            org.env(**{variable: value}),
            clients,
        )
    assert not any(k.startswith("organizations.") for k in clients.counter.calls)
    assert org.keys() == []
