"""The README names every parameter of both stacks (the parameter tables are written by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.synthesized import Synthesized, synthesize, synthesize_organization

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("build", [synthesize, synthesize_organization], ids=["AmiHygiene", "Organization"])
def test_the_readme_names_every_parameter(build: object) -> None:
    synth: Synthesized = build()  # type: ignore[operator]
    text = README.read_text()
    missing = sorted(name for name in synth.template["Parameters"] if f"`{name}`" not in text)
    # CDK's own (the bootstrap version) is not ours to explain.
    assert [m for m in missing if m != "BootstrapVersion"] == []
