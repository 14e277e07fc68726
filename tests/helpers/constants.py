"""The account, region and clocks every kind of test shares: declared here once.

A test that deliberately runs somewhere or somewhen else keeps its own value under
its own name (for example `OTHER_REGION`, or the policy examples' `POLICY_NOW`).
"""

from __future__ import annotations

from datetime import UTC, datetime

ACCOUNT = "123456789012"  # moto's default account: the account the jobs run in
REGION = "eu-west-1"
OTHER_REGION = "us-east-1"  # a second region, for runs over several

# The moment of a run, for tests that need one fixed clock (the sandbox is travelled to it).
NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
# The pure policy examples' clock: their reason sentences spell out dates relative to it.
POLICY_NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
# The real time the tests started, in whole seconds: for tests that run against the wall clock
# (a deployed function checks event times against it; EC2 refuses deprecation in the past).
REAL_NOW = datetime.now(UTC).replace(microsecond=0)

# Other accounts, by the part they play.
FOREIGN = "999988887777"  # owns images this account can see, never acts on
ALLOWED = "111122223333"  # on the sharing allow-list
STRANGER = "444455556666"  # shared with, but not on the allow-list

SNS_LIMIT = 262_144  # SNS Publish: 256 KiB, body and attributes together
