"""Hostile values for event fields, and what a refusal of them must look like.

Shared by the parser tests (tests/unit/jobs/<job>/test_events.py, tests/unit/core/test_events.py): each
puts these values into every field its parser reads and asserts the event is refused
with a message that names the field and never carries the whole value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from ami_hygiene.core.events import SHOWN, EventError

HUGE = "x" * 10_000
CONTROL = "ok\x00\x1b[31m\u202e"
NEWLINE = "first\nsecond"
MALFORMED_REGIONS = ("", "eu-west-1; DROP", HUGE, "EU-WEST-1", "eu-west-1\n", " eu-west-1", "aws-global")
BAD_TIMES = ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2005-12-31T23:59:59Z", "2101-01-01T00:00:00Z")
PathPart = str | int


def mutated(event: dict[str, Any], path: Sequence[PathPart], value: Any) -> dict[str, Any]:
    """A deep copy of `event` with the value at `path` (keys and list indexes) replaced."""
    out = copy.deepcopy(event)
    target: Any = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


def refusal(parse: Callable[[Any], Any], event: Any) -> str:
    with pytest.raises(EventError) as caught:
        parse(event)
    return str(caught.value)


def assert_refused_naming(parse: Callable[[Any], Any], event: Any, field: str, value: Any) -> str:
    """`event` is refused; the message names `field`, is one line and never carries all of a long value."""
    why = refusal(parse, event)
    assert field in why, why
    assert "\n" not in why and "\x00" not in why and "\x1b" not in why and "\u202e" not in why
    if isinstance(value, str) and len(value) > SHOWN:
        assert value[: SHOWN + 1] not in why
        assert len(why) < 2_000
    return why
