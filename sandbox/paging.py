"""Real pages for moto's listings: MaxResults honoured, NextToken opaque and checked.

A token names the key of the last item returned, not an offset, so deleting
items between two calls neither skips nor repeats the others. Keys follow the
collection's insertion order (see `sequence_of`), so a page stops reading as
soon as it is full: a page costs one pass up to its end, never a sort.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .errors import invalid_pagination_token

T = TypeVar("T")
Key = tuple[int, ...]

_SEQUENCE = itertools.count(1)
_SEQUENCE_ATTR = "_sandbox_sequence"


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_token: str | None


def sequence_of(obj: Any) -> int:
    """A number that grows with the order in which a collection first yields its objects.

    Numbers are handed out lazily, so they follow insertion order only if every
    object is numbered while walking its collection in order: `page` does that
    for every item it passes, kept or not.
    """
    number = obj.__dict__.get(_SEQUENCE_ATTR)
    if number is None:
        number = obj.__dict__.setdefault(_SEQUENCE_ATTR, next(_SEQUENCE))
    return int(number)


def page(
    items: Iterable[T],
    *,
    key: Callable[[T], Key],
    limit: int | None,
    token: str | None,
    scope: str,
    keep: Callable[[T], bool] = lambda _: True,
) -> Page[T]:
    """The next page of `items` (which must come in increasing `key` order) that `keep` accepts."""
    after = decode_token(token, scope) if token else None
    found: list[tuple[Key, T]] = []
    for item in items:
        item_key = key(item)  # taken for every item, kept or not: see sequence_of
        if after is not None and item_key <= after:
            continue
        if not keep(item):
            continue
        if limit is not None and len(found) == limit:
            return Page([i for _, i in found], encode_token(scope, found[-1][0]))
        found.append((item_key, item))
    return Page([i for _, i in found], None)


def encode_token(scope: str, key: Key) -> str:
    raw = json.dumps({"scope": scope, "after": list(key)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str, scope: str) -> Key:
    """The key a token continues after; InvalidPaginationToken for anything not issued for `scope`."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        after = data["after"]
        if data["scope"] != scope or not all(isinstance(k, int) for k in after):
            raise ValueError(token)
    except (ValueError, KeyError, TypeError, binascii.Error) as err:
        raise invalid_pagination_token(token) from err
    return tuple(after)
