"""One declaration per setting: the template's parameters, each function's environment and each
job's CLI flags are what the settings declarations (core/settings.py, jobs/<job>/settings.py) say."""

from __future__ import annotations

import argparse
import re
from typing import Any

import pytest

from ami_hygiene.cli import build_parser
from ami_hygiene.core.job import JobSpec
from ami_hygiene.core.settings import Option
from ami_hygiene.registry import BY_NAME, JOBS
from infra.parameters import SPECS, STACK_SPECS
from tests.helpers.cfn import parameter_values
from tests.helpers.constants import REGION
from tests.helpers.synthesized import Synthesized

NAMES = [job.name for job in JOBS]
# Not settings: how the report is written.
# Flags that are not settings: the output, and where to run (cli.py's "across accounts" group).
OUTPUT_FLAGS = {"-h", "--help", "--format", "--output", "--accounts", "--role-name", "-q", "--quiet"}


def _offered(job: JobSpec[Any]) -> list[Option]:
    return [option for option in job.settings.options() if option.offered]


def _deployed(job: JobSpec[Any]) -> list[Option]:
    return [option for option in _offered(job) if option.parameter is not None]


def _function_environment(synth: Synthesized, job: str) -> dict[str, Any]:
    [function] = [
        f
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == BY_NAME[job].handler
    ]
    return dict(function["Properties"]["Environment"]["Variables"])


def _subcommand(job: str) -> argparse.ArgumentParser:
    [sub] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    parser: argparse.ArgumentParser = sub.choices[job]
    return parser


# -- the template -------------------------------------------------------------------------------


@pytest.mark.parametrize("job", NAMES)
def test_each_deployed_setting_is_its_declared_parameter(synth: Synthesized, job: str) -> None:
    params = synth.template["Parameters"]
    for option in _deployed(BY_NAME[job]):
        assert option.parameter is not None
        declared, param = option.parameter, params[option.parameter.name]
        assert param["Description"] == declared.description, declared.name
        assert param["ConstraintDescription"].startswith(declared.name), declared.name
        labels = synth.template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterLabels"]
        assert labels[declared.name] == {"default": declared.label}
        if option.kind is int:
            assert param["Type"] == "Number"
            assert (param["MinValue"], param["MaxValue"]) == option.bounds, declared.name
            assert param["Default"] == (int(declared.default) if declared.default else option.default)
        else:
            assert param["Type"] == "String"
            assert param["Default"] == (
                declared.default if declared.default is not None else option.default_text
            )
        assert param.get("AllowedValues") == (list(option.choices) or None), declared.name
        assert param.get("AllowedPattern") == declared.pattern, declared.name
        assert param.get("MaxLength") == declared.max_length, declared.name


@pytest.mark.parametrize("job", NAMES)
def test_the_template_default_of_each_setting_is_what_the_job_loads(synth: Synthesized, job: str) -> None:
    """A default the template gives means what the job's own default means (or is the declared other)."""
    defaults = parameter_values(synth.template, {})
    settings = BY_NAME[job].settings
    deployed = [o for o in _deployed(BY_NAME[job]) if o.parameter is not None]
    loaded = settings.load({"AWS_REGION": REGION, **{o.env: defaults[o.parameter.name] for o in deployed}})
    unset = settings.load({"AWS_REGION": REGION})
    for option in deployed:
        if option.parameter.default is None:
            assert getattr(loaded, option.name) == getattr(unset, option.name), option.name
        else:  # e.g. TagPolicyMode: enforce when deployed, report when run by hand
            assert str(getattr(loaded, option.name)) == option.parameter.default, option.name


def test_every_parameter_is_a_declared_setting_or_the_stacks_own(synth: Synthesized) -> None:
    declared = {o.parameter.name for job in JOBS for o in _deployed(job) if o.parameter is not None}
    own = {spec.name for spec in STACK_SPECS}
    assert declared.isdisjoint(own)
    assert set(synth.template["Parameters"]) - {"BootstrapVersion"} == declared | own
    assert {spec.name for spec in SPECS} == declared | own


@pytest.mark.parametrize("job", NAMES)
def test_each_function_gets_exactly_the_settings_its_job_offers(synth: Synthesized, job: str) -> None:
    env = _function_environment(synth, job)
    params = set(synth.template["Parameters"])
    from_parameters = {k: v for k, v in env.items() if isinstance(v, dict) and v.get("Ref") in params}
    expected = {o.env: {"Ref": o.parameter.name} for o in _deployed(BY_NAME[job]) if o.parameter is not None}
    stack_own = {s.env_var: {"Ref": s.name} for s in STACK_SPECS if s.env_var and job in s.jobs}
    assert from_parameters == {**expected, **stack_own}
    # A setting the job reads but does not offer (another job's, e.g. REQUIRED_TAGS for rotate) is not given.
    for option in BY_NAME[job].settings.options():
        if not option.offered:
            assert option.env not in env, option.env


def test_each_job_has_its_own_mode_parameter(synth: Synthesized) -> None:
    modes = {job.name: next(o for o in _deployed(job) if o.name == "mode") for job in JOBS}
    names = {job: option.parameter.name for job, option in modes.items() if option.parameter is not None}
    assert len(set(names.values())) == len(JOBS)
    for job, name in names.items():
        assert _function_environment(synth, job)["MODE"] == {"Ref": name}


# -- the CLI ------------------------------------------------------------------------------------


@pytest.mark.parametrize("job", NAMES)
def test_each_job_subcommand_has_a_flag_per_offered_setting(job: str) -> None:
    parser = _subcommand(job)
    actions = {s: a for a in parser._actions for s in a.option_strings if s not in OUTPUT_FLAGS}
    offered = _offered(BY_NAME[job])
    assert set(actions) == {o.flag for o in offered}
    for option in offered:
        action = actions[option.flag]
        assert action.dest == option.name
        assert action.help is not None and f"[{option.env}" in action.help
        assert list(action.choices or ()) == list(option.choices)
        if option.kind in (int, float):
            assert action.type is option.kind
        default = re.escape(option.default_text)
        assert re.search(rf"\[{option.env}(, {default})?\]$", action.help.replace("%%", "%"))


def test_the_flags_users_know_are_kept() -> None:
    flags = {
        job: {s for a in _subcommand(job)._actions for s in a.option_strings} - OUTPUT_FLAGS for job in NAMES
    }
    common = {"--region", "--mode", "--max-actions", "--reads-per-second", "--writes-per-second"}
    assert flags["rotate"] == common | {
        "--retention-days",
        "--keep-latest",
        "--disable-grace-days",
        "--allowed-share-accounts",
        "--price-per-gib-month",
        "--consumer-role-name",
        "--consumer-usage-unknown",
        "--schedule",
        "--coming-up-days",
    }
    assert flags["tags"] == common | {
        "--required-tags",
        "--tag-grace-hours",
        "--tag-escalation-days",
        "--propagate-tags",
    }
    assert flags["public"] == common | {"--allowed-accounts", "--sharing-checks-per-run"}
    assert flags["rebuild"] == common | {
        "--max-image-age-days",
        "--family-pipelines",
        "--automation-role-arn",
        "--automation-instance-profile",
        "--automation-security-group-ids",
        "--automation-subnet-id",
        "--automation-instance-types",
        "--base-parameter-paths",
    }
