"""Lambda GetAccountSettings, which moto does not serve.

The Lambda API reference (AccountLimit, AccountUsage) and the Lambda quotas page:
- AccountLimit.ConcurrentExecutions: the region's concurrency quota, 1,000 by default
  ("New AWS accounts have reduced concurrency and memory quotas"; seed one with
  `set_concurrency_quota`). moto's own MOTO_LAMBDA_CONCURRENCY_QUOTA, when set, is it.
- UnreservedConcurrentExecutions: that quota minus what PutFunctionConcurrency reserved
  for the region's functions (never below 0).
- TotalCodeSize 75 GB, CodeSizeZipped 50 MB, CodeSizeUnzipped 250 MB: the default quotas.
- AccountUsage: the region's function count and the bytes of their code.
"""

from __future__ import annotations

import json
import os
from typing import Any

from moto.awslambda import urls as lambda_urls
from moto.awslambda.responses import LambdaResponse

from ._patching import override

DEFAULT_CONCURRENCY = 1000
TOTAL_CODE_SIZE = 75 * 1024**3
CODE_SIZE_ZIPPED = 50 * 1024**2
CODE_SIZE_UNZIPPED = 250 * 1024**2
ACCOUNT_SETTINGS_PATH = r"{0}/(?P<api_version>[^/]+)/account-settings/?$"

_QUOTA_ATTR = "_sandbox_concurrency_quota"


def concurrency_quota(backend: Any) -> int:
    seeded = backend.__dict__.get(_QUOTA_ATTR)
    if seeded is not None:
        return int(seeded)
    return int(os.environ.get("MOTO_LAMBDA_CONCURRENCY_QUOTA", DEFAULT_CONCURRENCY))


def set_concurrency_quota(backend: Any, quota: int) -> None:
    """Seeds the region's concurrency quota, e.g. 10 for a new account."""
    backend.__dict__[_QUOTA_ATTR] = int(quota)


def account_settings(backend: Any) -> dict[str, Any]:
    functions = list(backend.list_functions())
    quota = concurrency_quota(backend)
    reserved = sum(int(f.reserved_concurrency or 0) for f in functions)
    return {
        "AccountLimit": {
            "TotalCodeSize": TOTAL_CODE_SIZE,
            "CodeSizeUnzipped": CODE_SIZE_UNZIPPED,
            "CodeSizeZipped": CODE_SIZE_ZIPPED,
            "ConcurrentExecutions": quota,
            "UnreservedConcurrentExecutions": max(quota - reserved, 0),
        },
        "AccountUsage": {
            "TotalCodeSize": sum(int(getattr(f, "code_size", 0) or 0) for f in functions),
            "FunctionCount": len(functions),
        },
    }


def _get_account_settings(self: Any) -> tuple[int, dict[str, str], str]:
    return 200, {}, json.dumps(account_settings(self.backend))


def install() -> None:
    override(LambdaResponse, "get_account_settings", _get_account_settings)
    # moto builds its routes from this module's url_paths on each lookup.
    lambda_urls.url_paths.setdefault(ACCOUNT_SETTINGS_PATH, LambdaResponse.dispatch)
