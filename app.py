#!/usr/bin/env python3
"""The CDK app: `npx cdk synth` / `npx cdk deploy AmiHygiene` (or `python app.py` with CDK_OUTDIR set).

Two stacks, deployed one at a time by name: AmiHygiene (one account, every region of
Regions) and AmiHygieneOrganization (the organization hub: README, "Organization").
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "functions"))  # infra reads metric names and tags from the package

from aws_cdk import App  # noqa: E402

from infra.nag import add_checks  # noqa: E402
from infra.organization import ORGANIZATION_STACK_NAME, AmiHygieneOrganizationStack  # noqa: E402
from infra.stack import AmiHygieneStack  # noqa: E402

STACK_NAME = "AmiHygiene"


class Stacks(NamedTuple):
    account: AmiHygieneStack
    organization: AmiHygieneOrganizationStack


def build(app: App) -> Stacks:
    # Environment-agnostic: one template for every account and region; the CLI picks them at deploy.
    stacks = Stacks(
        AmiHygieneStack(app, STACK_NAME),
        AmiHygieneOrganizationStack(app, ORGANIZATION_STACK_NAME),
    )
    add_checks(app)
    return stacks


if __name__ == "__main__":
    application = App()
    build(application)
    application.synth()
