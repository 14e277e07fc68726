"""Faster response serialization in the embedded AWS: the same bytes, less CPU.

moto 5.2 serializes every response through a generic picker
(`moto.core.serialize.XFormedAttributePicker`): for each member of each object it
asks six alias providers which attribute names to try, then tests every
response transformer path against the value's key path. At 10,000 images that
is over a million picks a listing, and most of the embedded AWS's CPU: a
1,000-image DescribeImages page cost about 0.35 s to serve, so the benches
measured moto, not the tool, once requests ran side by side.

The answers to both questions depend only on the object's class and the
member's place in the service model, never on the value, so they are computed
once by moto's own code and remembered:

* the names to try, by (service, object class, parent shape, shape, key). A
  member shape's alias depends on its own name and type, its parent structure's
  name, type and members, and the serialization name of the reference, all
  fixed by those names within one service model (shape names are unique per
  service); the object's class fixes its `Meta` aliases and class-name prefix;
* the transformer's path, by (transformer table and its size, key path). Key paths
  hold shape and member names, never list indexes, so there are as many as the
  model has paths.

What an object yields is still read from the object every time.

The XML itself was written by `xmltodict.unparse` through a SAX generator, one
method call per element and attribute: a third of what was left. `unparse`
here writes the same text straight into a list, for the calls moto makes (not
pretty, no namespaces, no preprocessor); any other call goes to xmltodict.

Tests compare the bytes with and without this module: the served responses of
an estate, and `unparse` against xmltodict's on generated documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import xmltodict
from moto.core import responses as moto_responses
from moto.core import serialize as moto_serialize
from moto.core.serialize import AttributePickerContext, XFormedAttributePicker
from moto.core.utils import MISSING, get_value

_NO_TRANSFORM = object()
_KEYS: dict[tuple[Any, ...], tuple[str, ...]] = {}
_PATHS: dict[tuple[int, int, str], Any] = {}
# Transformer tables are class attributes of moto's response classes; holding them keeps
# their id() from being reused by another table.
_TABLES: dict[int, dict[str, Callable[[Any], Any]]] = {}


def _shape_signature(shape: Any) -> tuple[Any, ...]:
    if shape is None:
        return (None,)
    parent = getattr(shape, "parent", None)
    return (
        shape.name,
        shape.type_name,
        getattr(parent, "name", None),
        getattr(parent, "type_name", None),
    )


class CachedAttributePicker(XFormedAttributePicker):
    """moto's picker, remembering per class and model place which names to try and which transform."""

    def _possible_keys(self, context: AttributePickerContext) -> Iterable[str]:
        obj = context.obj
        signature = (
            context.service_model.service_name if context.service_model is not None else None,
            type(obj),
            # An instance may carry its own Meta; then nothing is remembered for it.
            "Meta" in getattr(obj, "__dict__", ()),
            context.key,
            *_shape_signature(context.shape),
        )
        if signature[2]:
            return tuple(self.get_possible_keys(context))
        keys = _KEYS.get(signature)
        if keys is None:
            keys = _KEYS[signature] = tuple(self.get_possible_keys(context))
        return keys

    def _transform(self, key_path: str) -> Any:
        table = self.response_transformers
        if not table:
            return _NO_TRANSFORM
        # moto adds entries at run time (CreateVpcPeeringConnection sets a fresh lambda on
        # each call), so the matching path is remembered, per table size, and its transform
        # read from the table each time.
        cache_key = (id(table), len(table), key_path)
        path = _PATHS.get(cache_key, _NO_TRANSFORM)
        if path is _NO_TRANSFORM:
            _TABLES[id(table)] = table
            path = _PATHS[cache_key] = next((p for p in table if key_path.endswith(p)), None)
        return _NO_TRANSFORM if path is None else table[path]

    def __call__(self, context: AttributePickerContext) -> Any:
        obj = context.obj
        for possible_key in self._possible_keys(context):
            value = get_value(obj, possible_key, MISSING)
            if value is not MISSING:
                break
        else:
            value = None
        transform = self._transform(f"{context.key_path}.{context.key}")
        return value if transform is _NO_TRANSFORM else transform(value)


# -- XML ----------------------------------------------------------------------------------------

_COMMENT, _TEXT, _ATTR = "#comment", "#text", "@"
_ONE = (str, bytes, bytearray, memoryview, dict)
_VALID: set[tuple[str, str]] = set()  # (kind, name) xmltodict accepted: names repeat endlessly


def _name(value: Any, kind: str) -> None:
    if isinstance(value, str) and (kind, value) in _VALID:
        return
    xmltodict._validate_name(value, kind)  # raises ValueError as xmltodict does
    _VALID.add((kind, value))


class _Writer:
    """xmltodict's _emit and the SAX XMLGenerator it drives, for moto's calls, into a list."""

    def __init__(self, short_empty_elements: bool) -> None:
        self.parts: list[str] = []
        self.short = short_empty_elements
        self.pending = False  # a start tag not closed yet: '/>' if nothing comes before its end

    def _open(self) -> None:
        if self.pending:
            self.parts.append(">")
            self.pending = False

    def emit(self, key: Any, value: Any, depth: int, full_document: bool) -> None:
        write = self.parts.append
        text_of = xmltodict._convert_value_to_string
        if isinstance(key, str) and key == _COMMENT:
            for comment in value if isinstance(value, list) else [value]:
                if comment is None:
                    continue
                text = text_of(comment)
                if text:  # written as is, even inside an open start tag, as xmltodict's generator does
                    write(f"<!--{escape(xmltodict._validate_comment(text))}-->")
            return
        _name(key, "element")
        if not hasattr(value, "__iter__") or isinstance(value, _ONE):
            value = [value]
        for index, item in enumerate(value):
            if full_document and depth == 0 and index > 0:
                raise ValueError("document with multiple roots")
            if item is None:
                item = {}
            elif not isinstance(item, dict | str):
                item = text_of(item)
            if isinstance(item, str):
                item = {_TEXT: item}
            cdata = None
            attrs: list[tuple[str, str]] = []
            children = []
            for child_key, child in item.items():
                if child_key == _TEXT:
                    cdata = None if child is None else text_of(child)
                    continue
                if isinstance(child_key, str) and child_key.startswith(_ATTR):
                    if child_key == "@xmlns" and isinstance(child, dict):
                        raise _Unsupported
                    child = "" if child is None else child if isinstance(child, str) else text_of(child)
                    name = child_key[1:]
                    _name(name, "attribute")
                    attrs.append((name, child))
                    continue
                if isinstance(child, list) and not child:
                    continue  # xmltodict leaves empty lists out
                children.append((child_key, child))
            self._open()
            write("<" + key)
            for name, text in dict(attrs).items():
                write(f" {name}={quoteattr(text)}")
            if self.short:
                self.pending = True
            else:
                write(">")
            for child_key, child in children:
                self.emit(child_key, child, depth + 1, full_document)
            if cdata:
                self._open()
                write(escape(cdata))
            if self.pending:
                write("/>")
                self.pending = False
            else:
                write(f"</{key}>")


class _Unsupported(Exception):
    """A document this writer does not cover (xmlns maps): xmltodict writes it."""


def unparse(input_dict: Any, output: Any = None, **kwargs: Any) -> Any:
    """xmltodict.unparse, the same text; quicker for moto's calls, xmltodict's own for the rest."""
    full_document = kwargs.pop("full_document", True)
    short = kwargs.pop("short_empty_elements", False)
    pretty = kwargs.pop("pretty", False)
    if output is not None or pretty or kwargs:
        return xmltodict.unparse(
            input_dict,
            output,
            full_document=full_document,
            short_empty_elements=short,
            pretty=pretty,
            **kwargs,
        )
    writer = _Writer(short)
    if full_document:
        writer.parts.append('<?xml version="1.0" encoding="utf-8"?>\n')
    seen_root = False
    try:
        for key, value in input_dict.items():
            if key != _COMMENT and full_document and seen_root:
                raise ValueError("Document must have exactly one root.")
            writer.emit(key, value, 0, full_document)
            if key != _COMMENT:
                seen_root = True
    except _Unsupported:
        return xmltodict.unparse(input_dict, full_document=full_document, short_empty_elements=short)
    if full_document and not seen_root:
        raise ValueError("Document must have exactly one root.")
    return "".join(writer.parts)


def install() -> None:
    # ActionResult.execute_result looks the picker class up in moto.core.responses at call time.
    moto_responses.XFormedAttributePicker = CachedAttributePicker  # type: ignore[misc]
    # moto.core.serialize calls xmltodict.unparse through its module attribute.
    moto_serialize.xmltodict = SimpleNamespace(unparse=unparse, parse=xmltodict.parse)
