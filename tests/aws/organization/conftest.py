"""An organization in the embedded AWS (tests/helpers/organization.py), seen from its hub.

The hub is this process's account (ACCOUNT), the management account. moto maps AssumeRole's
credentials to the role's account, and the sandbox makes AssumeRole need the role and its trust
(sandbox/accounts.py), so each member account acts as itself:

    root
    ├── OUTSIDE                      (not under the target OU)
    └── workloads (the target OU)
        ├── M1, EXCLUDED, NO_ROLE    (NO_ROLE has no member role: unreachable)
        ├── SUSPENDED                (closed: SUSPENDED)
        └── prod (a child OU)
            └── M2

Every account but NO_ROLE has the member role, trusting the hub's account. The hub's report
bucket, topic (read through an SQS subscription, as tests/helpers/deployed.py does) and lease
table are made in REGION.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.helpers.constants import OTHER_REGION, REGION
from tests.helpers.deployed import Wiring, make_wiring
from tests.helpers.lambda_context import LambdaContext
from tests.helpers.organization import MEMBER_ROLE, account_session, add_account, create_organization, suspend
from tests.helpers.sandbox import lease_table, register, snapshot

LEASE_TABLE = "ami-hygiene-leases"
RUN = "6f1c2a9e-0b7d-4c53-9a1e-2f4b8c7d9e10"


@dataclass(frozen=True)
class Org:
    """The organization's ids, the hub's wiring and its functions' environment."""

    root: str
    workloads: str
    prod: str
    m1: str
    m2: str
    excluded: str
    no_role: str
    suspended: str
    outside: str
    wiring: Wiring

    @property
    def bucket(self) -> str:
        return self.wiring.bucket

    def env(self, **changes: str) -> dict[str, str]:
        """A hub job function's environment (and the targets and digest functions')."""
        env = {
            "AWS_REGION": REGION,
            "REGIONS": f"{REGION},{OTHER_REGION}",
            "MODE": "enforce",
            "TOPIC_ARN": self.wiring.topic_arn,
            "REPORT_BUCKET": self.wiring.bucket,
            "LEASE_TABLE": LEASE_TABLE,
            "MEMBER_ROLE_NAME": MEMBER_ROLE,
            "EXCLUDED_ACCOUNTS": self.excluded,
            "ORGANIZATIONAL_UNIT_IDS": self.workloads,
        }
        env.update(changes)
        return {k: v for k, v in env.items() if v is not None}

    def messages(self) -> list[dict[str, Any]]:
        """What the topic delivered to its SQS subscriber since the last call: the SNS envelopes."""
        sqs = boto3.client("sqs", region_name=REGION)
        out: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.wiring.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not got:
                return out
            for message in got:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.wiring.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def keys(self, prefix: str = "") -> list[str]:
        """Every key in the report bucket under `prefix`."""
        s3 = boto3.client("s3", region_name=REGION)
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def read(self, key: str) -> Any:
        body = boto3.client("s3", region_name=REGION).get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return json.loads(body)


def member_session(account: str) -> boto3.Session:
    """A session of `account`, through its member role (as the hub gets one)."""
    return account_session(account, MEMBER_ROLE)


def image_in(ec2: Any, name: str) -> str:
    """A new image of the account `ec2` acts as: its id."""
    return register(ec2, name, snapshot(ec2))


def context() -> LambdaContext:
    return LambdaContext(function_name="AmiHygieneOrganization-job")


@pytest.fixture
def org(aws: None) -> Iterator[Org]:
    organization = create_organization(())
    ids = {
        "m1": add_account(organization, "m1", "workloads"),
        "m2": add_account(organization, "m2", "workloads/prod"),
        "excluded": add_account(organization, "excluded", "workloads"),
        "no_role": add_account(organization, "no-role", "workloads", role_name=None),
        "suspended": add_account(organization, "suspended", "workloads"),
        "outside": add_account(organization, "outside", ""),
    }
    suspend(ids["suspended"])
    lease_table(LEASE_TABLE)
    yield Org(
        root=organization.root,
        workloads=organization.unit("workloads"),
        prod=organization.unit("workloads/prod"),
        wiring=make_wiring(),
        **ids,
    )
