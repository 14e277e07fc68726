"""In the organization hub, AUTOMATION_ROLE_ARN names "{account}": each member's own automation role.

The member template creates the automation role with one fixed name in every account; the
hub's rebuild function passes the role of the account it acts in to SSM Automation.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ami_hygiene.core.errors import SettingsError
from ami_hygiene.core.executor import RunContext
from ami_hygiene.core.plan import Action, Outcome
from ami_hygiene.jobs.rebuild.actions import automation_parameters, start
from ami_hygiene.jobs.rebuild.model import RUNBOOK_LINUX, BuildKind, RebuildDecision
from ami_hygiene.jobs.rebuild.settings import RebuildJobSettings
from tests.helpers.constants import NOW, REGION

MEMBER = "444455556666"
HUB_ROLE = "arn:aws:iam::{account}:role/AmiHygieneRebuildAutomation"


def _settings(role: str) -> RebuildJobSettings:
    env = {
        "REGIONS": REGION,
        "AUTOMATION_ROLE_ARN": role,
        "AUTOMATION_SECURITY_GROUP_IDS": "sg-0123456789abcdef0",
    }
    return RebuildJobSettings.load(env, overrides={"mode": "enforce"})


def _decision() -> RebuildDecision:
    return RebuildDecision(
        image_id="ami-0123456789abcdef0",
        region=REGION,
        family="web",
        name="web-1",
        action=Action.REBUILD,
        reasons=("stale",),
        created=NOW - timedelta(days=45),
        method=BuildKind.SSM_AUTOMATION,
        runbook=RUNBOOK_LINUX,
        source_image_id="ami-0123456789abcdef0",
        client_token="token",
    )


class _Ssm:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def start_automation_execution(self, **request: Any) -> dict[str, str]:
        self.calls.append(request)
        return {"AutomationExecutionId": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}


class _Clients:
    def __init__(self) -> None:
        self.ssm_client = _Ssm()

    def ssm(self, _region: str) -> _Ssm:
        return self.ssm_client


def test_the_placeholder_is_the_account_the_run_acts_in() -> None:
    settings = _settings(HUB_ROLE)
    assert settings.automation_role_arn == HUB_ROLE
    parameters = automation_parameters(_decision(), settings, MEMBER)
    assert parameters["AutomationAssumeRole"] == [f"arn:aws:iam::{MEMBER}:role/AmiHygieneRebuildAutomation"]


def test_the_writer_passes_the_member_accounts_role() -> None:
    clients = _Clients()
    run = RunContext(clients, "rebuild", NOW, MEMBER, _settings(HUB_ROLE))  # type: ignore[arg-type]
    done = start.apply(None, _decision(), run)  # type: ignore[arg-type]
    assert done.outcome is Outcome.DONE
    (call,) = clients.ssm_client.calls
    assert call["Parameters"]["AutomationAssumeRole"] == [
        f"arn:aws:iam::{MEMBER}:role/AmiHygieneRebuildAutomation"
    ]


def test_a_role_of_one_account_is_passed_as_it_is() -> None:
    role = "arn:aws:iam::123456789012:role/AmiRebuild"
    assert automation_parameters(_decision(), _settings(role), MEMBER)["AutomationAssumeRole"] == [role]


@pytest.mark.parametrize("role", ["arn:aws:iam::{acount}:role/R", "arn:aws:iam::{account}{account}:role/R"])
def test_any_other_text_for_the_account_is_refused(role: str) -> None:
    with pytest.raises(SettingsError, match="AUTOMATION_ROLE_ARN"):
        _settings(role)
