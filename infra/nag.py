"""cdk-nag 3 at synth: the AwsSolutions and Serverless packs, and acknowledgements.

Findings fail the synth. An acknowledgement names one finding (a rule id, or
`Rule[Finding]` for rules with several findings per resource) and says why it
is acceptable here; there is no other way to silence a rule in this app.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct


def add_checks(app: App) -> None:
    # Acknowledgements are also written into the template (Metadata.cdk_nag) so reviewers see the reasons.
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True),
        ServerlessChecks(app, write_suppressions_to_cloud_formation=True),
    )


def acknowledge(construct: IConstruct, findings: Iterable[str], reason: str) -> None:
    if not reason.strip():
        raise ValueError("an acknowledgement needs a reason")
    Validations.of(construct).acknowledge(*(Acknowledgment(id=f, reason=reason) for f in findings))
