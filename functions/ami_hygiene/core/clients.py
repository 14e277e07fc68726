"""boto3 clients for a run: adaptive retries, one client per service and region.

boto3 itself honours the standard credential chain and AWS_ENDPOINT_URL, which
is how the CLI reaches the embedded AWS. `ApiCallCounter` counts the calls a
run makes, by operation, for reports and benchmarks.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from ami_hygiene import __version__

# Adaptive mode adds client-side rate limiting on top of retries: EC2 throttles
# per account and region, and a big estate must slow down, not fail.
RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    user_agent_extra=f"ami-hygiene/{__version__}",
    connect_timeout=10,
    read_timeout=60,
)


class ApiCallCounter:
    """Counts API calls (including retries) by 'service.Operation'."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reads(self) -> int:
        return sum(n for op, n in self.calls.items() if _is_read(op.split(".", 1)[1]))

    def writes(self) -> int:
        return self.total - self.reads()


def _is_read(operation: str) -> bool:
    return operation.startswith(("Describe", "Get", "List"))


# One botocore data loader for every session this process makes: a session of its own would load
# and keep its own copy of the service models (the EC2 one is large), on every warm invocation and
# for every consumer account (measured by `make bench`: about 27 MiB and 0.2 s a session).
SHARED_LOADER = botocore.loaders.create_loader()


def new_session(**credentials: Any) -> boto3.Session:
    """A boto3 Session (default credential chain, or the given keys) sharing the process's model loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", SHARED_LOADER)
    return boto3.Session(botocore_session=core, **credentials)


class Clients:
    """Creates and caches boto3 clients for one account across regions."""

    def __init__(self, session: boto3.Session | None = None, counter: ApiCallCounter | None = None):
        self.session = session or new_session()
        self.counter = counter or ApiCallCounter()
        # Count every request sent (each retry too): that is what throttling sees.
        self.session.events.register("before-send.*.*", self._count_send)
        self._cache: dict[tuple[str, str], Any] = {}
        self._account_id: str | None = None

    def _count_send(self, event_name: str = "", **_: Any) -> None:
        # event_name is "before-send.<service-id>.<Operation>".
        _event, service, operation = event_name.split(".", 2)
        self.counter.calls[f"{service}.{operation}"] += 1

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._cache:
            self._cache[key] = self.session.client(service, region_name=region, config=RETRY_CONFIG)
        return self._cache[key]

    def ec2(self, region: str) -> Any:
        return self.client("ec2", region)

    def autoscaling(self, region: str) -> Any:
        return self.client("autoscaling", region)

    def ssm(self, region: str) -> Any:
        return self.client("ssm", region)

    def sns(self, region: str) -> Any:
        return self.client("sns", region)

    def imagebuilder(self, region: str) -> Any:
        return self.client("imagebuilder", region)

    def dynamodb(self, region: str) -> Any:
        return self.client("dynamodb", region)

    # For `ami-hygiene doctor`: the account's settings around the jobs.
    def sts(self, region: str) -> Any:
        return self.client("sts", region)

    def cloudtrail(self, region: str) -> Any:
        return self.client("cloudtrail", region)

    def events(self, region: str) -> Any:
        return self.client("events", region)

    def lambda_(self, region: str) -> Any:
        return self.client("lambda", region)

    def rbin(self, region: str) -> Any:
        return self.client("rbin", region)

    def account_id(self, region: str) -> str:
        if self._account_id is None:
            self._account_id = str(self.client("sts", region).get_caller_identity()["Account"])
        return self._account_id
