"""The hub's own functions as Step Functions tasks: refusals and failures are told once and raised.

An answer the state machine cannot use is never returned: the execution stops at that
state with the reason as its cause. Transient AWS trouble is raised as it is, for the
state's retries, and told to nobody.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.handlers.organization_targets import run as list_targets
from ami_hygiene.organization.service import RunFailed, serve
from tests.aws.organization.conftest import RUN, Org, context
from tests.helpers.faults import deny
from tests.helpers.sandbox import client_error


def test_an_aws_refusal_is_told_once_and_raised_as_run_failed(org: Org) -> None:
    clients = Clients()
    deny(clients.session, "organizations", "ListAccountsForParent", "AccessDeniedException")
    with pytest.raises(RunFailed, match="targets failed: AccessDeniedException"):
        serve("targets", list_targets, {"job": "public", "run": RUN}, context(), org.env(), clients)
    assert org.keys() == []
    (message,) = org.messages()
    assert message["MessageAttributes"]["severity"]["Value"] == "error"
    assert "AccessDeniedException" in message["Message"]


def test_transient_trouble_is_raised_as_it_is_and_told_to_nobody(org: Org) -> None:
    def throttled(*_: Any) -> Any:
        raise client_error("TooManyRequestsException", 400, "ListAccounts")

    with pytest.raises(ClientError, match="TooManyRequestsException"):
        serve("targets", throttled, {"job": "public", "run": RUN}, context(), org.env(), Clients())
    assert org.messages() == []


def test_a_refusal_without_a_topic_is_still_raised(org: Org) -> None:
    from ami_hygiene.organization.service import RunRefused

    with pytest.raises(RunRefused):
        serve(
            "targets", list_targets, {"job": "nope", "run": RUN}, context(), org.env(TOPIC_ARN=""), Clients()
        )
    assert org.messages() == []
