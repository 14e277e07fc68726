"""The context the Lambda runtime passes a handler, as far as the handlers and Powertools read it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from tests.helpers.constants import ACCOUNT, REGION


@dataclass
class LambdaContext:
    """A Lambda context for `function_name` in ACCOUNT and REGION.

    The remaining time is the whole `timeout_ms` unless `counting` is set; then it counts
    down from when the context was made, as the runtime's does (on the monotonic clock,
    which a travelled clock leaves alone).
    """

    function_name: str = "ami-hygiene"
    timeout_ms: int = 300_000
    memory_limit_in_mb: int = 1024
    counting: bool = False
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        if not self.counting:
            return self.timeout_ms
        return int(self.timeout_ms - (time.monotonic() - self.started) * 1000)
