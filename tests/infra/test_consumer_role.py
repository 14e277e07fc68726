"""The consumer role template users deploy by StackSet: lint-clean, read-only, exactly what rotation reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from infra.permissions import CONSUMER_ROLE_ACTIONS

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "consumer-role.yaml"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Sub, !Ref) as plain values."""


def _tag(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tag)


def _role() -> dict[str, Any]:
    template = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)
    return dict(template["Resources"]["ConsumerRole"]["Properties"])


def test_the_template_lints_clean() -> None:
    from cfnlint.api import ManualArgs, lint

    matches = lint(TEMPLATE.read_text(), config=ManualArgs(regions=["eu-west-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_it_grants_exactly_the_reads_rotation_makes_in_a_consumer_account() -> None:
    [policy] = _role()["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == sorted(CONSUMER_ROLE_ACTIONS)
    assert all(action.split(":")[1].startswith(("Describe", "Get", "List")) for action in statement["Action"])


def test_it_trusts_only_the_image_accounts_rotate_role() -> None:
    [trust] = _role()["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": "RotateRoleArn"}}
