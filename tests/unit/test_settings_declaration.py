"""One declaration per setting: every value a declaration refuses is refused the same way from the
environment (a one-line SettingsError naming the variable) and from the CLI (exit 2, one line)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from ami_hygiene import cli, flags
from ami_hygiene.core.job import JobSpec
from ami_hygiene.core.settings import Option, Settings, SettingsError
from ami_hygiene.registry import JOBS

ENV = {"AWS_REGION": "eu-west-1"}
# Fails every pattern a text setting declares (a space and a "!": no region, id, ARN, key or path has them).
NO_PATTERN_FITS = "bad value!"


def _cases(select: Any) -> list[Any]:
    return [
        pytest.param(job, option, id=f"{job.name}-{option.name}")
        for job in JOBS
        for option in job.settings.options()
        if option.offered and select(option)
    ]


def _is_number(option: Option) -> bool:
    return option.bounds is not None


def _has_pattern(option: Option) -> bool:
    return option.kind is str and bool(option.setting.what)


def _cli(job: JobSpec[Any], flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main([job.name, flag, value], env=dict(ENV), stdout=out)
    assert out.getvalue() == ""  # nothing ran, no report
    return code, capsys.readouterr().err


def _refused(settings: type[Settings], env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as err:
        settings.load({**ENV, **env})
    reason = str(err.value)
    assert "\n" not in reason
    return reason


def test_every_setting_is_declared_once_per_job() -> None:
    for job in JOBS:
        options = job.settings.options()
        offered = [o for o in options if o.offered]
        assert len({o.env for o in options}) == len(options), job.name
        assert len({o.flag for o in offered}) == len(offered), job.name
        for option in options:
            assert option.env.isupper() and option.flag.startswith("--"), option.name
            assert option.help, option.name


@pytest.mark.parametrize(("job", "option"), _cases(_is_number))
def test_a_number_out_of_its_range_is_refused_naming_its_variable(
    job: JobSpec[Any], option: Option, capsys: pytest.CaptureFixture[str]
) -> None:
    assert option.bounds is not None
    low, high = option.bounds
    for value in (low, high):
        assert getattr(job.settings.load({**ENV, option.env: str(value)}), option.name) == value
    for value in (low - 1, high + 1):
        reason = _refused(job.settings, {option.env: str(value)})
        assert reason == f"{option.env} must be between {low} and {high}, not {value}"
        code, err = _cli(job, option.flag, str(value), capsys)
        assert code == 2
        # The flag's value arrives as a number (argparse's type): 11 from the environment, 11.0 for a price.
        assert err.startswith(f"ami-hygiene: error: {reason}") and err.count("\n") == 1
    assert _refused(job.settings, {option.env: "many"}).startswith(f"{option.env} must be ")


@pytest.mark.parametrize(("job", "option"), _cases(_has_pattern))
def test_a_text_failing_its_pattern_is_refused_naming_its_variable(
    job: JobSpec[Any], option: Option, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = _refused(job.settings, {option.env: NO_PATTERN_FITS})
    assert reason.startswith(f"{option.env} ") and option.setting.what in reason
    code, err = _cli(job, option.flag, NO_PATTERN_FITS, capsys)
    assert code == 2
    assert err.startswith(f"ami-hygiene: error: {option.env} ") and err.count("\n") == 1


@pytest.mark.parametrize(("job", "option"), _cases(lambda o: bool(o.choices)))
def test_a_choice_outside_its_values_is_refused_naming_its_variable(
    job: JobSpec[Any], option: Option, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = _refused(job.settings, {option.env: "sometimes"})
    assert reason == f"{option.env} must be {' or '.join(option.choices)}, not 'sometimes'"
    # The flag offers the choices: argparse refuses the rest (exit 2) before any setting is read.
    with pytest.raises(SystemExit) as exit_:
        _cli(job, option.flag, "sometimes", capsys)
    assert exit_.value.code == 2
    assert "invalid choice: 'sometimes'" in capsys.readouterr().err


@pytest.mark.parametrize(("job", "option"), _cases(lambda o: o.default_text != ""))
def test_each_default_written_as_its_variable_loads_as_the_default(job: JobSpec[Any], option: Option) -> None:
    loaded = job.settings.load({**ENV, option.env: option.default_text})
    assert getattr(loaded, option.name) == option.default


def test_a_flag_overrides_its_variable() -> None:
    job = next(j for j in JOBS if j.name == "rotate")
    parser = cli.build_parser()
    args = parser.parse_args(["rotate", "--keep-latest", "7", "--region", "us-east-1"])
    settings = job.settings.load({**ENV, "KEEP_LATEST": "5"}, overrides=flags.overrides(job, args))
    assert (settings.keep_latest, settings.regions) == (7, ("us-east-1",))
