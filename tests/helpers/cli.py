"""The command line in-process, as a user runs it."""

from __future__ import annotations

import io

from ami_hygiene import cli
from tests.helpers.constants import REGION


def run_cli(
    argv: list[str], env: dict[str, str] | None = None, *, region: str | None = REGION
) -> tuple[int, str]:
    """`ami-hygiene argv` with environment `env` (AWS_REGION=`region` unless None): exit code and stdout."""
    out = io.StringIO()
    base = {"AWS_REGION": region} if region is not None else {}
    code = cli.main(argv, env={**base, **(env or {})}, stdout=out)
    return code, out.getvalue()
