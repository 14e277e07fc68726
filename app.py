#!/usr/bin/env python3
"""The CDK app: `npx cdk synth` / `npx cdk deploy` (or `python app.py` with CDK_OUTDIR set)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "functions"))  # infra reads metric names and tags from the package

from aws_cdk import App  # noqa: E402

from infra.nag import add_checks  # noqa: E402
from infra.stack import AmiHygieneStack  # noqa: E402

STACK_NAME = "AmiHygiene"


def build(app: App) -> AmiHygieneStack:
    # Environment-agnostic: one template for every account and region; the CLI picks them at deploy.
    stack = AmiHygieneStack(app, STACK_NAME)
    add_checks(app)
    return stack


if __name__ == "__main__":
    application = App()
    build(application)
    application.synth()
