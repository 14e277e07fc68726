"""A small, strict model of what CloudFormation does with parameters, conditions
and the intrinsic functions this template uses, so tests can ask "what would
CloudFormation do with these parameter values?" without an AWS account.

Parameter rules follow the CloudFormation parameter reference: a String must
match AllowedPattern as a whole and be one of AllowedValues; a Number must be a
number within MinValue..MaxValue. A value that breaks a rule is refused with
the parameter's ConstraintDescription, before any resource is created.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None}


class ParameterError(ValueError):
    """CloudFormation would refuse the stack operation before creating anything."""


def parameter_values(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """The effective parameter values, or ParameterError listing every refused value."""
    params = template.get("Parameters", {})
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise ParameterError(f"Parameters: {unknown} do not exist in the template")
    values: dict[str, str] = {}
    problems = []
    for name, spec in params.items():
        if spec["Type"].startswith("AWS::SSM::Parameter"):
            continue  # resolved from SSM at deploy time (the bootstrap version)
        if name in given:
            value = str(given[name])
        elif "Default" in spec:
            value = str(spec["Default"])
        else:
            problems.append(f"Parameter {name} must have a value")
            continue
        problem = check_parameter(name, spec, value)
        if problem:
            problems.append(problem)
        values[name] = value
    if problems:
        raise ParameterError("; ".join(problems))
    return values


def check_parameter(name: str, spec: Mapping[str, Any], value: str) -> str | None:
    refusal = (
        f"Parameter '{name}' failed to satisfy constraint: {spec.get('ConstraintDescription', '')}".rstrip()
    )
    kind = spec["Type"]
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            return f"Parameter '{name}' must be a number not {value!r}"
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return refusal
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return refusal
    elif kind == "String":
        pattern = spec.get("AllowedPattern")
        if pattern is not None and re.fullmatch(pattern, value) is None:
            return refusal
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            return refusal
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            return refusal
    else:
        raise NotImplementedError(f"parameter type {kind}")
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        return refusal
    return None


class Evaluator:
    """Conditions and intrinsic functions with given parameters and resource values."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        *,
        region: str,
        account: str,
        resources: Mapping[str, Any] | None = None,
    ) -> None:
        self.template = template
        self.refs: dict[str, Any] = {
            **PSEUDO,
            "AWS::Region": region,
            "AWS::AccountId": account,
            **parameters,
            **(resources or {}),
        }
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self._conditions[name]

    def created(self, logical_id: str) -> bool:
        name = self.template["Resources"][logical_id].get("Condition")
        return name is None or self.condition(name)

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(n) for n in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {k: self.value(v) for k, v in node.items()}
        ((fn, arg),) = node.items()
        if fn == "Ref":
            if arg not in self.refs:
                raise KeyError(f"Ref {arg}: no value given for it")
            return self.refs[arg]
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Equals":
            left, right = self.value(arg)
            return str(left) == str(right)
        if fn == "Fn::Not":
            return not self.value(arg[0])
        if fn == "Fn::And":
            return all(self.value(a) for a in arg)
        if fn == "Fn::Or":
            return any(self.value(a) for a in arg)
        if fn == "Fn::If":
            name, when_true, when_false = arg
            return self.value(when_true if self.condition(name) else when_false)
        if fn == "Fn::Join":
            separator, parts = arg
            return separator.join(str(p) for p in self.value(parts))
        if fn == "Fn::Split":
            separator, text = arg
            return str(self.value(text)).split(separator)
        if fn == "Fn::Select":
            index, items = arg
            return self.value(items)[int(self.value(index))]
        if fn == "Fn::GetAtt":
            key = ".".join(arg) if isinstance(arg, list) else arg
            if key not in self.refs:
                raise KeyError(f"Fn::GetAtt {key}: no value given for it")
            return self.refs[key]
        if fn.startswith("Fn::"):
            raise NotImplementedError(fn)
        return {fn: self.value(arg)}
