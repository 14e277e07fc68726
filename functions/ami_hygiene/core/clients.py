"""boto3 clients for a run: adaptive retries, one client per service and region.

boto3 itself honours the standard credential chain and AWS_ENDPOINT_URL, which
is how the CLI reaches the embedded AWS. `ApiCallCounter` counts the calls a
run makes, by operation, for reports and benchmarks; every EC2 client is paced
(core/pacing.py).

Reads run side by side (core/concurrency.py), so a `Clients` is shared by threads:
"Low-level clients are thread safe ... Resource instances and sessions are not"
(boto3 guide, Multithreading or multiprocessing with clients). Clients are therefore
made under a lock from the one session, and each is then used from any thread.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from ami_hygiene import __version__
from ami_hygiene.core.pacing import Pacer, is_read

if TYPE_CHECKING:
    # The boto3 type stubs (requirements-dev.txt), for mypy only: the Lambda package never imports them.
    from botocore.client import BaseClient
    from types_boto3_autoscaling import AutoScalingClient
    from types_boto3_cloudtrail import CloudTrailClient
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_ec2 import EC2Client
    from types_boto3_events import EventBridgeClient
    from types_boto3_imagebuilder import ImagebuilderClient
    from types_boto3_lambda import LambdaClient
    from types_boto3_organizations import OrganizationsClient
    from types_boto3_rbin import RecycleBinClient
    from types_boto3_s3 import S3Client
    from types_boto3_sns import SNSClient
    from types_boto3_ssm import SSMClient
    from types_boto3_sts import STSClient

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
        # Called with 'service.Operation' on every request sent (e.g. the CLI's progress line).
        self.listeners: list[Callable[[str], None]] = []
        self._lock = threading.Lock()

    def count(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1
        for listener in self.listeners:
            listener(operation)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reads(self) -> int:
        return sum(n for op, n in self.calls.items() if is_read(op.split(".", 1)[1]))

    def writes(self) -> int:
        return self.total - self.reads()


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

    def __init__(
        self,
        session: boto3.Session | None = None,
        counter: ApiCallCounter | None = None,
        pacer: Pacer | None = None,
    ):
        self.session = session or new_session()
        self.counter = counter or ApiCallCounter()
        # One account's buckets: EC2 throttles per account, region and action.
        self.pacer = pacer or Pacer()
        # Count every request sent (each retry too): that is what throttling sees.
        self.session.events.register("before-send.*.*", self._count_send)
        self._cache: dict[tuple[str, str], BaseClient] = {}
        self._lock = threading.Lock()
        self._account_id: str | None = None

    def _count_send(self, event_name: str = "", **_: Any) -> None:
        # event_name is "before-send.<service-id>.<Operation>".
        _event, service, operation = event_name.split(".", 2)
        self.counter.count(f"{service}.{operation}")

    # The services the jobs call, typed by the boto3 stubs; any other name is a plain BaseClient.
    @overload
    def client(self, service: Literal["autoscaling"], region: str) -> AutoScalingClient: ...
    @overload
    def client(self, service: Literal["cloudtrail"], region: str) -> CloudTrailClient: ...
    @overload
    def client(self, service: Literal["dynamodb"], region: str) -> DynamoDBClient: ...
    @overload
    def client(self, service: Literal["ec2"], region: str) -> EC2Client: ...
    @overload
    def client(self, service: Literal["events"], region: str) -> EventBridgeClient: ...
    @overload
    def client(self, service: Literal["imagebuilder"], region: str) -> ImagebuilderClient: ...
    @overload
    def client(self, service: Literal["lambda"], region: str) -> LambdaClient: ...
    @overload
    def client(self, service: Literal["organizations"], region: str) -> OrganizationsClient: ...
    @overload
    def client(self, service: Literal["rbin"], region: str) -> RecycleBinClient: ...
    @overload
    def client(self, service: Literal["s3"], region: str) -> S3Client: ...
    @overload
    def client(self, service: Literal["sns"], region: str) -> SNSClient: ...
    @overload
    def client(self, service: Literal["ssm"], region: str) -> SSMClient: ...
    @overload
    def client(self, service: Literal["sts"], region: str) -> STSClient: ...
    @overload
    def client(self, service: str, region: str) -> BaseClient: ...
    def client(self, service: str, region: str) -> BaseClient:
        key = (service, region)
        with self._lock:
            if key not in self._cache:
                # The stubs type Session.client per literal service name; `service` is any name here.
                made = cast(
                    "BaseClient",
                    self.session.client(cast(Any, service), region_name=region, config=RETRY_CONFIG),
                )
                if service == "ec2":
                    self.pacer.attach(made, region)
                self._cache[key] = made
            return self._cache[key]

    def ec2(self, region: str) -> EC2Client:
        return self.client("ec2", region)

    def autoscaling(self, region: str) -> AutoScalingClient:
        return self.client("autoscaling", region)

    def ssm(self, region: str) -> SSMClient:
        return self.client("ssm", region)

    def sns(self, region: str) -> SNSClient:
        return self.client("sns", region)

    def imagebuilder(self, region: str) -> ImagebuilderClient:
        return self.client("imagebuilder", region)

    def dynamodb(self, region: str) -> DynamoDBClient:
        return self.client("dynamodb", region)

    # For `ami-hygiene doctor`: the account's settings around the jobs.
    def sts(self, region: str) -> STSClient:
        return self.client("sts", region)

    def cloudtrail(self, region: str) -> CloudTrailClient:
        return self.client("cloudtrail", region)

    def events(self, region: str) -> EventBridgeClient:
        return self.client("events", region)

    def lambda_(self, region: str) -> LambdaClient:
        return self.client("lambda", region)

    def rbin(self, region: str) -> RecycleBinClient:
        return self.client("rbin", region)

    def account_id(self, region: str) -> str:
        if self._account_id is None:
            self._account_id = str(self.client("sts", region).get_caller_identity()["Account"])
        return self._account_id
