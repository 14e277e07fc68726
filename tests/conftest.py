"""Set-up shared by every kind of test: fake credentials, and the fixtures of tests/helpers."""

from __future__ import annotations

import os

from tests.helpers.constants import REGION

pytest_plugins = ["tests.helpers.fixtures"]

# Never reach a real account from a test, whatever the developer's shell has.
for _var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
        "POWERTOOLS_METRICS_NAMESPACE": "AmiHygieneTests",
        "POWERTOOLS_SERVICE_NAME": "ami-hygiene",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)
