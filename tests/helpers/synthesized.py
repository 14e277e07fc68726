"""The app synthesized once per test process, with the cdk-nag packs the app uses.

jsii starts a node process and a synth takes seconds, so every template test and the
end-to-end test share this one: `synthesize()` is the AmiHygiene stack of it,
`synthesize_organization()` the AmiHygieneOrganization stack of the same synth (with the
member template its StackSet deploys). Bundling is skipped with the standard context key
(no pip download in tests); the asset is the source folder.
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
ORGANIZATION_STACK_NAME = "AmiHygieneOrganization"


@dataclass(frozen=True)
class Synthesized:
    template: dict[str, Any]
    outdir: Path
    stack: Any  # the stack construct, for checks that walk the construct tree

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def validation_report(self) -> dict[str, Any]:
        """cdk-nag's report of the whole app (both stacks)."""
        return dict(json.loads((self.outdir / "validation-report.json").read_text()))


@dataclass(frozen=True)
class SynthesizedApp:
    account: Synthesized
    organization: Synthesized


@functools.cache
def _synthesize_app() -> SynthesizedApp:
    from aws_cdk import App

    import app as cdk_app

    outdir = Path(tempfile.mkdtemp(prefix="ami-hygiene-cdk-"))
    application = App(outdir=outdir.as_posix(), context={"aws:cdk:bundling-stacks": []})
    stacks = cdk_app.build(application)
    assembly = application.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    return SynthesizedApp(
        account=Synthesized(
            template=assembly.get_stack_by_name(STACK_NAME).template, outdir=outdir, stack=stacks.account
        ),
        organization=Synthesized(
            template=assembly.get_stack_by_name(ORGANIZATION_STACK_NAME).template,
            outdir=outdir,
            stack=stacks.organization,
        ),
    )


def synthesize() -> Synthesized:
    """The AmiHygiene stack, synthesized once per test process."""
    return _synthesize_app().account


def synthesize_organization() -> Synthesized:
    """The AmiHygieneOrganization stack, from the same synth as synthesize()."""
    return _synthesize_app().organization


def member_template() -> dict[str, Any]:
    """The member template as the hub's member StackSet deploys it (its TemplateBody)."""
    return stack_set_template(synthesize_organization(), "MemberStackSet")


def stack_set_template(synth: Synthesized, logical_id: str) -> dict[str, Any]:
    """The template a StackSet of `synth` deploys, parsed from its TemplateBody."""
    resource = synth.template["Resources"][logical_id]
    assert resource["Type"] == "AWS::CloudFormation::StackSet", logical_id
    return dict(json.loads(resource["Properties"]["TemplateBody"]))
