"""RequiredTags parsing: the comma split, the checks, and one-line errors for bad specs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ami_hygiene.core.settings import SettingsError
from ami_hygiene.core.tag_rules import TagRule, parse_required_tags, problems, split_items

EXAMPLE = r"Owner,Environment=^(prod|staging|dev)$,CostCenter=^\d{4}$"


def test_example_spec() -> None:
    rules = parse_required_tags(EXAMPLE)
    assert [r.key for r in rules] == ["Owner", "Environment", "CostCenter"]
    assert rules[0].pattern is None
    assert [r.spec for r in rules] == EXAMPLE.split(",")


@pytest.mark.parametrize(
    ("spec", "items"),
    [
        (r"CostCenter=^\d{1,4}$", [r"CostCenter=^\d{1,4}$"]),
        (r"CostCenter=^\d{1,4}$,Owner", [r"CostCenter=^\d{1,4}$", "Owner"]),
        (r"Team=^(a,b)$,Owner", [r"Team=^(a,b)$", "Owner"]),
        (r"Env=^a$, Owner , Team=x", [r"Env=^a$", " Owner ", " Team=x"]),
        (r"Team=a\,b,Owner", [r"Team=a\,b", "Owner"]),
        ("Env=a,b", ["Env=a", "b"]),  # the documented ambiguous case
        ("aws-cost:center=^x$,k:v/1", ["aws-cost:center=^x$", "k:v/1"]),
    ],
)
def test_split(spec: str, items: list[str]) -> None:
    assert split_items(spec) == items


def test_comma_inside_regex_is_kept_and_matches() -> None:
    (rule,) = parse_required_tags(r"CostCenter=^\d{1,4}$")
    assert rule.problem({"CostCenter": "123"}) is None
    assert rule.problem({"CostCenter": "12345"}) == "CostCenter='12345' does not match ^\\d{1,4}$"
    (escaped,) = parse_required_tags(r"Team=a\,b")
    assert escaped.problem({"Team": "a,b"}) is None


def test_problems_say_missing_and_mismatch() -> None:
    rules = parse_required_tags(EXAMPLE)
    found = problems(rules, {"Environment": "production", "CostCenter": "1234"})
    assert found == ("missing Owner", "Environment='production' does not match ^(prod|staging|dev)$")
    assert problems(rules, {"Owner": "a", "Environment": "dev", "CostCenter": "0001"}) == ()


def test_value_must_match_whole() -> None:
    (rule,) = parse_required_tags(r"CostCenter=\d{4}")
    assert rule.problem({"CostCenter": "12345"}) is not None
    assert rule.problem({"CostCenter": "1234"}) is None


@pytest.mark.parametrize("spec", ["", "   "])
def test_blank_requires_nothing(spec: str) -> None:
    assert parse_required_tags(spec) == ()


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("Owner,,Team", "empty item after 'Owner'"),
        ("Owner,", "empty item after 'Owner'"),
        (" ,Owner", "item 1 ('') has an empty key"),
        ("=^x$", "empty key"),
        ("Owner,Owner=^a$", "names 'Owner' twice"),
        ("Env=^(prod$", "not a valid regex"),
        ("Env=", "empty pattern"),
        ("aws:createdBy", "reserved"),
        ("Own#er", "characters a tag key cannot have"),
        ("K" * 129, "longer than 128"),
    ],
)
def test_bad_specs(spec: str, why: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_required_tags(spec)
    assert why in str(caught.value)
    assert "\n" not in str(caught.value)


KEYS = st.text(alphabet="abcXYZ019_.:/+-@", min_size=1, max_size=8).filter(lambda k: not k.startswith("aws:"))
SIMPLE_REGEX = st.sampled_from([r"^\d{1,4}$", r"^(a,b)$", "^(prod|dev)$", r"[a-z]+", r"x\,y", ".*"])


@given(st.lists(st.tuples(KEYS, st.none() | SIMPLE_REGEX), min_size=1, max_size=5, unique_by=lambda t: t[0]))
def test_round_trip(items: list[tuple[str, str | None]]) -> None:
    spec = ",".join(k if r is None else f"{k}={r}" for k, r in items)
    rules = parse_required_tags(spec)
    assert rules == tuple(TagRule(k, None if r is None else re.compile(r)) for k, r in items)
