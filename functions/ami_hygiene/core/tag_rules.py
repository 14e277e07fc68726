r"""Required tags: the RequiredTags setting parsed into rules, and the check of one tag set.

RequiredTags is a comma-separated list of items, each ``Key`` (the tag must be
present) or ``Key=regex`` (present, and the *whole* value must match the
regex, as if it were anchored)::

    Owner,Environment=^(prod|staging|dev)$,CostCenter=^\d{4}$

A regex may itself contain commas (``^\d{1,4}$``, ``^(a,b)$``). The split is
therefore not on every comma but only on a comma that

* is not escaped with a backslash (``\,`` never splits; in a regex it still
  means a literal comma), and
* is followed by what reads as the next item: optional spaces, then a key
  (tag-key characters: letters, digits, space and ``_ . : / + - @``), then
  ``=``, ``,`` or the end of the spec.

So ``CostCenter=^\d{1,4}$`` stays whole (``4}$`` is not a key), while in
``Env=^a$,Owner`` the comma starts the item ``Owner``. The one ambiguous case
is a regex comma followed by key-like text and then ``=``, ``,`` or the end
(``Env=a,b`` reads as two keys); escape that comma as ``\,``.

A bad spec raises SettingsError with a one-line reason: an empty item or key,
a key with characters tags cannot have, a reserved ``aws:`` key, a key given
twice, an empty or invalid regex.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ami_hygiene.core.errors import SettingsError

# The characters EC2 allows in a tag key, minus "=" (our separator).
_KEY_CHARS = r"A-Za-z0-9_.:/+\-@ "
ITEM_SPLIT = re.compile(rf"(?<!\\),(?=\s*[{_KEY_CHARS}]+(?:=|,|$))")
_KEY = re.compile(rf"^[{_KEY_CHARS}]+$")
MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class TagRule:
    """One required tag: its key and, optionally, the pattern its whole value must match."""

    key: str
    pattern: re.Pattern[str] | None = None

    @property
    def spec(self) -> str:
        return self.key if self.pattern is None else f"{self.key}={self.pattern.pattern}"

    def problem(self, tags: Mapping[str, str]) -> str | None:
        """The sentence saying why `tags` break this rule, or None when they keep it."""
        if self.key not in tags:
            return f"missing {self.key}"
        value = tags[self.key]
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            return f"{self.key}={value!r} does not match {self.pattern.pattern}"
        return None


def split_items(spec: str) -> list[str]:
    """The items of a RequiredTags spec, split as the module docstring says."""
    return ITEM_SPLIT.split(spec)


def parse_required_tags(spec: str) -> tuple[TagRule, ...]:
    """Rules of a RequiredTags spec, in order; an empty or blank spec requires nothing."""
    if not spec.strip():
        return ()
    rules: list[TagRule] = []
    seen: set[str] = set()
    for position, item in enumerate(split_items(spec), start=1):
        rule = _parse_item(item, position)
        if rule.key in seen:
            raise SettingsError(f"REQUIRED_TAGS names {rule.key!r} twice")
        seen.add(rule.key)
        rules.append(rule)
    return tuple(rules)


def problems(rules: tuple[TagRule, ...], tags: Mapping[str, str]) -> tuple[str, ...]:
    """Every rule `tags` break, as sentences; empty when compliant."""
    return tuple(p for p in (rule.problem(tags) for rule in rules) if p is not None)


def _parse_item(item: str, position: int) -> TagRule:
    key, sep, regex = item.partition("=")
    key = key.strip()
    if not key:
        raise SettingsError(f"REQUIRED_TAGS item {position} ({item.strip()!r}) has an empty key")
    if "," in key:
        raise SettingsError(
            f"REQUIRED_TAGS has an empty item after {key.split(',')[0].strip()!r} "
            "(two commas in a row, or a trailing comma)"
        )
    if len(key) > MAX_KEY_LENGTH:
        raise SettingsError(f"REQUIRED_TAGS key {key[:20]!r}... is longer than {MAX_KEY_LENGTH} characters")
    if not _KEY.match(key):
        raise SettingsError(
            f"REQUIRED_TAGS key {key!r} has characters a tag key cannot have "
            "(allowed: letters, digits, spaces and _ . : / + - @)"
        )
    if key.lower().startswith("aws:"):
        raise SettingsError(f"REQUIRED_TAGS key {key!r} is reserved: keys starting with aws: belong to AWS")
    if not sep:
        return TagRule(key)
    if not regex:
        raise SettingsError(f"REQUIRED_TAGS item {key}= has an empty pattern: write {key} alone")
    try:
        pattern = re.compile(regex)
    except re.error as err:
        raise SettingsError(
            f"REQUIRED_TAGS pattern for {key} is not a valid regex ({err}): {regex}"
        ) from None
    return TagRule(key, pattern)
