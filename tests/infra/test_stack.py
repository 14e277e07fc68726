"""The stack as a whole: what its template says it is."""

from __future__ import annotations

from tests.helpers.synthesized import Synthesized
from tests.helpers.template import HANDLERS


def test_template_description_names_every_job(synth: Synthesized) -> None:
    description = synth.template["Description"]
    assert all(job in description for job in HANDLERS)
