"""Settings of a run: each declared once, as a typed field that says where it comes from.

A setting is a field of a settings model (`@settings_model`: a frozen pydantic dataclass).
Its type and constraints (`Field(...)`, `whole_number(low, high)`, ...) are the rule a value
must keep; its `Setting` metadata names the environment variable it is read from, the CLI
flag that overrides it (RETENTION_DAYS <-> --retention-days), the flag's help and, through
`Parameter`, the stack parameter it is deployed from. From that one declaration come:

- `Settings.load(env, overrides)`: the environment parsed, the flags applied, a bad
  value refused with a one-line SettingsError naming its variable;
- the job's CLI flags (ami_hygiene.cli) and the stack's parameters and each function's
  environment (infra/parameters.py).

This module holds the machinery and the settings every job shares (`Settings`: mode,
regions, max_actions) or several jobs read (`AllowedSharingSettings`,
`RequiredTagsSettings`). A job's own settings extend them in jobs/<job>/settings.py; a
job says there how it offers a shared setting (`variants`: its own mode parameter,
`mode_variant`; its own flag or help; or not offered at all).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from enum import Enum, StrEnum
from typing import Annotated, Any, ClassVar, Self, TypeVar, cast, dataclass_transform

import annotated_types
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, InstanceOf, StringConstraints
from pydantic import ValidationError as _ValidationError
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from ami_hygiene.core.errors import SettingsError
from ami_hygiene.core.events import REGION_NAME
from ami_hygiene.core.tag_rules import TagRule, parse_required_tags

__all__ = [
    "CONFIG",
    "NOT_OFFERED",
    "REGION_PATTERN",
    "AllowedSharingSettings",
    "Mode",
    "Option",
    "Parameter",
    "RequiredTagsSettings",
    "Setting",
    "Settings",
    "SettingsError",
    "Variant",
    "mode_variant",
    "settings_model",
    "whole_number",
]

# Patterns are Python regexes (some use look-ahead or flags), checked with re.search: anchor them.
CONFIG = ConfigDict(regex_engine="python-re")

_Model = TypeVar("_Model")


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, Field))
def settings_model(cls: type[_Model]) -> type[_Model]:
    """Declares a settings model (the core's and each job's): a frozen pydantic dataclass with CONFIG."""
    return cast(type[_Model], dataclass(frozen=True, config=CONFIG)(cls))


# -- the declaration ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Parameter:
    """The stack parameter a setting is deployed from; infra/parameters.py makes the CfnParameter.

    Its type, default, MinValue/MaxValue and AllowedValues come from the field; a
    number's or a choice's ConstraintDescription is written from them when not given.
    """

    name: str
    label: str  # the console's label
    description: str
    constraint: str = ""  # ConstraintDescription
    pattern: str | None = None  # AllowedPattern (CloudFormation checks it before anything runs)
    max_length: int | None = None
    default: str | None = None  # the template's default, where it is not the setting's own


@dataclasses.dataclass(frozen=True)
class Setting:
    """Where a setting comes from: field metadata, `Annotated[type, ..., Setting(...)]`."""

    env: str  # the environment variable (the CLI's and the function's)
    help: str  # the CLI help; the parser adds [ENV, default]
    what: str = ""  # what a good value (or item) is, for the error: "a region name like eu-west-1"
    flag: str = ""  # default: --the-field-name
    repeat: bool = False  # the flag names one item, and is repeated for more
    parameter: Parameter | None = None  # None: no stack parameter (the CLI or the stack sets it)
    # Variables read instead while the setting's own is unset or blank (REGIONS: AWS_REGION);
    # found nowhere, the blank value is validated (and may be refused: the setting is required).
    fallback: tuple[str, ...] = ()
    blank_is_default: bool = False  # an empty value means the default (not an error)


@dataclasses.dataclass(frozen=True)
class Variant:
    """How one job offers a setting it shares with others (a job model's `variants`)."""

    flag: str | None = None
    help: str | None = None
    parameter: Parameter | None = None
    # False: the job reads the setting from its environment when it is there, but has no
    # flag for it and its function is not given it.
    offered: bool = True


NOT_OFFERED = Variant(offered=False)


@dataclasses.dataclass(frozen=True)
class Option:
    """One setting as one job model has it: the field, its declaration and the job's variant."""

    name: str
    setting: Setting
    info: FieldInfo
    offered: bool = True

    @property
    def env(self) -> str:
        return self.setting.env

    @property
    def flag(self) -> str:
        return self.setting.flag or "--" + self.name.replace("_", "-")

    @property
    def help(self) -> str:
        return self.setting.help

    @property
    def parameter(self) -> Parameter | None:
        return self.setting.parameter

    @property
    def default(self) -> Any:
        return self.info.get_default(call_default_factory=True)

    @property
    def default_text(self) -> str:
        """The default as an environment value ("" for none)."""
        return env_text(self.default)

    @property
    def kind(self) -> type:
        """int, float, an Enum, or str for everything written as text (lists, maps)."""
        annotation = self.info.annotation
        if isinstance(annotation, type) and issubclass(annotation, int | float | Enum):
            return annotation
        return str

    @property
    def choices(self) -> tuple[str, ...]:
        kind = self.kind
        return tuple(str(m.value) for m in kind) if issubclass(kind, Enum) else ()

    @property
    def bounds(self) -> tuple[int, int] | None:
        low = next((m.ge for m in self.info.metadata if isinstance(m, annotated_types.Ge)), None)
        high = next((m.le for m in self.info.metadata if isinstance(m, annotated_types.Le)), None)
        return None if low is None or high is None else (cast(int, low), cast(int, high))


def env_text(value: Any) -> str:
    """A value written as its environment variable would hold it."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, TagRule):
        return value.spec
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, frozenset):
        return ",".join(sorted(env_text(v) for v in value))
    if isinstance(value, tuple | list):
        return ",".join(env_text(v) for v in value)
    return str(value)


# -- validators used next to the fields --------------------------------------------------------


def split(value: Any) -> Any:
    """A comma- (or space-) separated text as its items; other values as they are."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.replace(" ", ",").split(",") if item.strip())
    return value


def split_commas(value: Any) -> Any:
    """A comma-separated text as its items (items may hold spaces); other values as they are."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def unique(items: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))


def stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def lowered(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def whole_number(low: int, high: int) -> FieldInfo:
    """Constraints of a whole-number setting, from `low` to `high`: `Annotated[int, whole_number(1, 100),
    Setting(...)]`. The same bounds are the stack parameter's MinValue / MaxValue and its refusal's range."""
    return Field(ge=low, le=high)  # a FieldInfo (typed Any by pydantic)


def text_or_empty(pattern: re.Pattern[str], max_length: int | None = None) -> StringConstraints:
    """Constraints of a text setting: empty, or a value matching `pattern`."""
    return StringConstraints(
        pattern=re.compile(rf"^$|{pattern.pattern}", pattern.flags), max_length=max_length
    )


def _regions(value: Any) -> Any:
    if isinstance(value, str) and not split(value):  # set, but blank, and no fallback either
        raise ValueError("is empty and no AWS_REGION is set: name at least one region")
    return split(value)


# -- the settings every job shares ---------------------------------------------------------


class Mode(StrEnum):
    REPORT = "report"
    ENFORCE = "enforce"


def mode_variant(name: str, label: str, *, report: str, enforce: str, default: Mode | None = None) -> Variant:
    """How a job offers `mode`: its own stack parameter `name` (every function reads it as MODE),
    described by what `report` and `enforce` do in that job; `default`: the template's, where it
    is not report."""
    description = f"report: {report} enforce: {enforce}"
    template_default = None if default is None else default.value
    return Variant(parameter=Parameter(name, label, description, default=template_default))


# One region-name rule for settings, flags and events (core/events.py: botocore's partitions' patterns).
REGION_PATTERN = re.compile(rf"^{REGION_NAME.pattern}\Z", re.ASCII)
ACCOUNT_PATTERN = re.compile(r"^\d{12}$")
ORG_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:organizations::\d{12}:(organization|ou)/o-[a-z0-9]+(/ou-[a-z0-9-]+)?$"
)
# The same rules as CloudFormation checks them, in its dialect, on the whole comma-separated value.
CFN_REGION = r"[a-z]{2}(-[a-z]+)+-\d"
CFN_ACCOUNT_OR_ORG = (
    r"(\d{12}|arn:aws[a-z-]*:organizations::\d{12}:(organization|ou)/o-[a-z0-9]+(/ou-[a-z0-9-]+)?)"
)


def cfn_list(item: str, most: int | None = None) -> str:
    """AllowedPattern of an empty value or `item`s separated by commas (at most `most`)."""
    repeat = "*" if most is None else f"{{0,{most - 1}}}"
    return rf"^$|^{item}(,{item}){repeat}$"


RegionName = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
Principal = Annotated[
    str, StringConstraints(pattern=re.compile(f"{ACCOUNT_PATTERN.pattern}|{ORG_ARN_PATTERN.pattern}"))
]


@settings_model
class Settings:
    """The settings every job has, and the machinery: `load`, `options`, `as_dict`.

    A job's model extends it (jobs/<job>/settings.py); `variants` says how that job
    offers a setting declared here: {field: Variant}.
    """

    variants: ClassVar[Mapping[str, Variant]] = {}

    mode: Annotated[
        Mode,
        BeforeValidator(lowered),
        Setting("MODE", "report changes nothing"),  # each job's own stack parameter: its variants
    ] = Mode.REPORT
    regions: Annotated[
        tuple[RegionName, ...],
        BeforeValidator(_regions),
        AfterValidator(unique),
        Setting(
            "REGIONS",
            "region to scan; repeat for more",
            what="a region name like eu-west-1",
            flag="--region",
            repeat=True,
            fallback=("AWS_REGION", "AWS_DEFAULT_REGION"),
            parameter=Parameter(
                "Regions",
                "Regions",
                "Comma-separated regions every job works in, e.g. eu-west-1,us-east-1. "
                "Empty: the stack's region.",
                "Regions must be region names like eu-west-1, separated by commas, without spaces.",
                pattern=cfn_list(CFN_REGION),
            ),
        ),
    ] = ()
    max_actions: Annotated[
        int,
        whole_number(1, 10000),
        Setting(
            "MAX_ACTIONS",
            "most changes in one run",
            parameter=Parameter(
                "MaxActionsPerRun",
                "Max actions per run",
                "At most this many images are changed by one run; the rest are deferred to the next run.",
            ),
        ),
    ] = 100
    # EC2 throttles each action per account and region: reads refill 20 a second, writes 5
    # (core/pacing.py). A run keeps below both, so the account's own automation keeps its share.
    reads_per_second: Annotated[
        int,
        whole_number(1, 100),
        Setting(
            "READS_PER_SECOND",
            "EC2 reads a second, per action",
            parameter=Parameter(
                "ReadsPerSecond",
                "EC2 reads per second",
                "At most this many EC2 read requests a second per action (e.g. DescribeImageAttribute), "
                "after a burst of five seconds' worth (80 at most). EC2 refills 20 a second per action "
                "and account, from a bucket of 100.",
            ),
        ),
    ] = 18
    writes_per_second: Annotated[
        int,
        whole_number(1, 50),
        Setting(
            "WRITES_PER_SECOND",
            "EC2 writes a second, per action",
            parameter=Parameter(
                "WritesPerSecond",
                "EC2 writes per second",
                "At most this many EC2 write requests a second per action (e.g. DeregisterImage), never "
                "in a burst. EC2 refills 5 a second per action and account.",
            ),
        ),
    ] = 3

    @classmethod
    def options(cls) -> tuple[Option, ...]:
        """Every setting of this model, as this job has it."""
        return _options(cls)

    @classmethod
    def load(cls, env: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> Self:
        """Build from environment variables, then apply non-None overrides (CLI flags, by field name)."""
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        options = {option.name: option for option in cls.options()}
        unknown = set(given) - set(options)
        if unknown:
            raise TypeError(f"{cls.__name__} has no setting {', '.join(sorted(unknown))}")
        raw: dict[str, Any] = {}
        for name, option in options.items():
            value = given.get(name, env.get(option.env))
            blank = value is None or (isinstance(value, str) and not value.strip())
            if blank and option.setting.fallback:
                value = next((env[v] for v in option.setting.fallback if env.get(v, "").strip()), value or "")
            elif blank and (value is None or option.setting.blank_is_default):
                continue
            raw[name] = value
        try:
            return cls(**raw)
        except _ValidationError as err:
            raise SettingsError(_reason(options, err.errors(include_url=False)[0], raw)) from None

    def as_dict(self) -> dict[str, Any]:
        return {option.name: _plain(getattr(self, option.name)) for option in self.options()}


@settings_model
class AllowedSharingSettings(Settings):
    """Who an image may be shared with: rotation keeps images shared with anyone else, the public
    job revokes that sharing."""

    allowed_share_accounts: Annotated[
        frozenset[Principal],
        BeforeValidator(split),
        Setting(
            "ALLOWED_SHARE_ACCOUNTS",
            "accounts, organization or OU ARNs an image may be shared with",
            what="a 12-digit account id or an organization / OU ARN",
            parameter=Parameter(
                "AllowedShareAccounts",
                "Share allow-list",
                "Comma-separated account ids or organization / OU ARNs an image may be shared with. Rotation "
                "keeps images shared with anyone else; the public job reports (enforce: revokes) sharing "
                "with anyone else. Empty: any sharing keeps an image and counts as outside the allow-list.",
                "AllowedShareAccounts must be 12-digit account ids or organization / OU ARNs, "
                "separated by commas, without spaces.",
                pattern=cfn_list(CFN_ACCOUNT_OR_ORG),
            ),
        ),
    ] = frozenset()


def _required_tags(value: Any) -> Any:
    # The rule parser (core/tag_rules.py) raises SettingsError with its own one-line reason.
    return parse_required_tags(value) if isinstance(value, str) else value


@settings_model
class RequiredTagsSettings(Settings):
    """The tags every image must have: the tag job checks them, rotation and rebuild read them."""

    required_tags: Annotated[
        tuple[InstanceOf[TagRule], ...],
        BeforeValidator(_required_tags),
        Setting(
            "REQUIRED_TAGS",
            r"required keys, each Key or Key=regex, e.g. 'Owner,CostCenter=^\d{4}$'",
            parameter=Parameter(
                "RequiredTags",
                "Required tags",
                "Comma-separated tags every image must have: Key, or Key=regex for a value that must match, "
                "e.g. Owner,Environment=^(prod|staging|dev)$ (escape a comma inside a regex as \\,). "
                "Empty: none.",
                "RequiredTags must be empty or Key / Key=regex items separated by commas, on one line, "
                "starting with a tag key, at most 1024 characters.",
                pattern=r"^$|^[A-Za-z0-9_.:/+@ -][^\r\n]*$",
                max_length=1024,
            ),
        ),
    ] = ()


# -- how a model's declarations are read -------------------------------------------------------


_OPTIONS: dict[type[Settings], tuple[Option, ...]] = {}


def _options(cls: type[Settings]) -> tuple[Option, ...]:
    if cls not in _OPTIONS:
        _OPTIONS[cls] = _read_options(cls)
    return _OPTIONS[cls]


def _read_options(cls: type[Settings]) -> tuple[Option, ...]:
    fields: dict[str, FieldInfo] = getattr(cls, "__pydantic_fields__")  # noqa: B009 (pydantic's, untyped)
    unknown = set(cls.variants) - set(fields)
    if unknown:
        raise TypeError(f"{cls.__name__}.variants names no setting of it: {', '.join(sorted(unknown))}")
    options = []
    for name, info in fields.items():
        declared = [m for m in info.metadata if isinstance(m, Setting)]
        if len(declared) != 1:
            raise TypeError(f"{cls.__name__}.{name} needs one Setting(...) in its Annotated metadata")
        variant = cls.variants.get(name, Variant())
        changes = {k: v for k in ("flag", "help", "parameter") if (v := getattr(variant, k)) is not None}
        options.append(Option(name, dataclasses.replace(declared[0], **changes), info, variant.offered))
    return tuple(options)


_NUMBER_ERRORS = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "finite_number": "a number",
}
_RANGE_ERRORS = {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}


def _reason(options: Mapping[str, Option], error: ErrorDetails, raw: Mapping[str, Any]) -> str:
    """The one line that says which variable is wrong and why."""
    option = options[str(error["loc"][0])]
    env, kind, given = option.env, error["type"], raw.get(option.name)
    if kind == "value_error":
        cause = (error.get("ctx") or {}).get("error")
        return str(cause) if isinstance(cause, SettingsError) else f"{env} {cause}"
    if kind in _NUMBER_ERRORS:
        return f"{env} must be {_NUMBER_ERRORS[kind]}, not {given!r}"
    if kind in _RANGE_ERRORS and option.bounds:
        low, high = option.bounds
        return f"{env} must be between {low} and {high}, not {str(error['input']).strip()}"
    if kind == "enum":
        return f"{env} must be {' or '.join(option.choices)}, not {given!r}"
    what = option.setting.what or "valid"
    if len(error["loc"]) > 1:  # one item of a list
        return f"{env} has {error['input']!r}, which is not {what}"
    return f"{env} must be {what}, not {error['input']!r}"


def _plain(value: Any) -> Any:
    """A setting's value as JSON has it (reports, logs)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, TagRule):
        return value.spec
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
