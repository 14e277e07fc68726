"""The stack synthesized once per test process, with the cdk-nag packs the app uses.

jsii starts a node process and a synth takes ~10 s, so every template test and
the end-to-end test share this one. Bundling is skipped with the standard
context key (no pip download in tests); the asset is the source folder.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The machine's node may be past its end of life for jsii; that is not what these tests test.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

STACK_NAME = "AmiHygiene"


@dataclass(frozen=True)
class Synthesized:
    template: dict[str, Any]
    outdir: Path
    stack: Any  # the AmiHygieneStack construct, for checks that walk the construct tree

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def validation_report(self) -> dict[str, Any]:
        return dict(json.loads((self.outdir / "validation-report.json").read_text()))


@functools.cache
def synthesize() -> Synthesized:
    from aws_cdk import App

    import app as cdk_app

    outdir = Path(tempfile.mkdtemp(prefix="ami-hygiene-cdk-"))
    application = App(outdir=str(outdir), context={"aws:cdk:bundling-stacks": []})
    stack = cdk_app.build(application)
    assembly = application.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    return Synthesized(template=assembly.get_stack_by_name(STACK_NAME).template, outdir=outdir, stack=stack)
