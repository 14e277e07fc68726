"""Publishes what a run found to the SNS topic: one message per job and region.

Each message uses MessageStructure=json: people (e-mail, default) get the
readable text, machines (SQS, Lambda, HTTP/S, e-mail-json, Firehose) get the
JSON report. Message attributes job, severity, region, account and mode let
subscribers filter. A region with nothing to say publishes nothing unless
NOTIFY_ALL_CLEAN asks for an "all clean" message.

SNS takes at most 256 KiB per message. A report that does not fit is stored
whole in the report bucket (its default encryption applies) and the message
carries the summary and a link to it. A report of more than INLINE_DECISIONS
decisions never fits: its message is made without them from the start, and the
whole report goes to the bucket piece by piece (`store_json`), so that 50,000
images are never one document or one string in memory.

Whatever a message holds (a quoted event field of any size, any characters),
`fit()` turns it into one SNS accepts before it is sent: a valid subject, valid
attributes, characters SNS and its subscribers take, and a size within the
budget. Publishing never fails on content.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.report import Report
from ami_hygiene.core.settings import SettingsError

if TYPE_CHECKING:
    from types_boto3_sns.type_defs import MessageAttributeValueTypeDef

# -- SNS's rules, as documented ------------------------------------------------------------
#
# SNS API reference, Publish (also botocore's sns service-2.json, PublishInput):
#   Message: "messages must be UTF-8 encoded strings"; by default "at most 256 KiB in size
#     (262,144 bytes, not 262,144 characters)"; "Amazon SNS validates the combined size of the
#     message body and message attributes ... and returns an InvalidParameter error if the
#     limit is exceeded."
#   MessageStructure=json: the protocol values "will be parsed (unescaped) before they are used";
#     "Failure to parse or validate any key or value in the message will cause the Publish call
#     to return an error (no partial delivery)."
#   Subject: "must be ASCII text that begins with a letter, number, or punctuation mark; must not
#     include line breaks or control characters; and must be less than 100 characters long"
#     (newer editions: "UTF-8 text with no line breaks or control characters, and less than 100
#     characters long"). We keep to the stricter, ASCII reading.
# SNS API reference, MessageAttributeValue: "Name, type, and value must not be empty or null";
#   "All parts of the message attribute, including name, type, and value, are included in the
#   message size restriction"; String values: "Strings are Unicode with UTF8 binary encoding.
#   For a list of code values, see ASCII Printable Characters."
# SNS Developer Guide, "Amazon SNS message attributes": a name holds A-Z, a-z, 0-9, "_", "-" and
#   "."; it must not start or end with a period nor hold two in a row; it is case-sensitive,
#   unique in the message, up to 256 characters, and must not start with "AWS." or "Amazon." (any
#   casing). "For SQS subscriptions, a maximum of 10 message attributes can be sent when Raw
#   Message Delivery is enabled" (more are "discarded as client side errors"). "When using message
#   attributes for filtering, the value must be a valid JSON string."
# aws/aws-sdk-java-v2#5828: a tab in a String attribute value is accepted by Publish, then the
#   message never reaches its SQS subscriber (NumberOfNotificationsFilteredOut-InvalidAttributes):
#   attribute values keep to printable ASCII.
# SQS API reference, SendMessage (what an SQS subscription receives): a message "can include
#   only" #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF (the W3C XML
#   character set). SNS names no narrower set for bodies; its query API is XML too. Every string
#   we send keeps to that set, so SNS never unescapes a character (a lone surrogate: not UTF-8 at
#   all) that it or a subscriber refuses.

# SNS counts the message body and the attributes (names, types and values).
SNS_MESSAGE_LIMIT = 262_144
# What a message may use: the limit less room for rounding and attribute overhead.
MESSAGE_BUDGET = SNS_MESSAGE_LIMIT - 8_192
# The readable text appears twice (default, email); keep a shortened one well inside the budget.
SHORT_TEXT_BYTES = 48_000
# A report with more decisions than this cannot fit one message (each takes 100 bytes at least,
# six times over: once per JSON protocol): its message leaves them out from the start.
INLINE_DECISIONS = 1_000
# S3 UploadPart: every part but the last is 5 MiB to 5 GiB (S3 User Guide, "Amazon S3 multipart
# upload limits"). A stored report is sent in parts of this size, one part in memory at a time.
PART_BYTES = 8 * 1024 * 1024
SUBJECT_MAX = 99  # SNS: "must be less than 100 characters"
ATTRIBUTES_MAX = 10  # SNS: at most 10 reach an SQS subscription with raw message delivery
ATTRIBUTE_NAME_MAX = 256  # SNS: "up to 256 characters"
ATTRIBUTE_VALUE_MAX = 256  # ours: a value to filter on, never a quoted input
ATTRIBUTE_TYPE = "String"
UNKNOWN = "unknown"  # SNS refuses an empty attribute value
# What a refusal quotes of its input (error_message); the rest is cut with a note.
PROBLEM_MAX = 300
DETAIL_MAX = 4_000
# Nesting kept in a document; deeper containers become a note (json.dumps recurses).
DEPTH_MAX = 32
INT_BITS_MAX = 1_024  # larger integers are sent as a note (about 300 digits)
# Protocols that receive the JSON document; every other one gets "default" (the text).
JSON_PROTOCOLS = ("sqs", "lambda", "http", "https", "email-json", "firehose")
REPORT_PREFIX = "reports"
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off", ""}

# Characters outside the XML 1.0 set (controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")
# Printable ASCII but for the two characters a JSON string would have to escape.
_NOT_ATTRIBUTE_VALUE = re.compile(r'[^\x20-\x7e]|["\\]')
_NOT_ATTRIBUTE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
_NOT_KEY_PART = re.compile(r"[^A-Za-z0-9._-]+")


class Severity(StrEnum):
    """Message severities, lowest first (core/view.py SEVERITY_ORDER)."""

    INFO = "info"  # actions planned or done, or an "all clean"
    WARNING = "warning"  # work left for the next run (deferred)
    MEDIUM = "medium"  # e.g. image block public access is off
    HIGH = "high"  # e.g. an image shared with a foreign account
    ERROR = "error"  # a failed action, an unreadable region, a rejected run
    CRITICAL = "critical"  # e.g. a public image or snapshot


@dataclass(frozen=True)
class Target:
    """Where reports go, from the handler's environment."""

    topic_arn: str
    bucket: str = ""
    notify_all_clean: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Target:
        flag = env.get("NOTIFY_ALL_CLEAN", "").strip().lower()
        if flag not in _TRUE | _FALSE:
            raise SettingsError(f"NOTIFY_ALL_CLEAN must be true or false, not {env['NOTIFY_ALL_CLEAN']!r}")
        return cls(
            topic_arn=env.get("TOPIC_ARN", "").strip(),
            bucket=env.get("REPORT_BUCKET", "").strip(),
            notify_all_clean=flag in _TRUE,
        )

    @property
    def region(self) -> str:
        # arn:partition:sns:region:account:name
        parts = self.topic_arn.split(":")
        return parts[3] if len(parts) > 5 else ""


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    document: dict[str, Any]
    attributes: dict[str, str]
    # The whole JSON report in pieces (Report.json_chunks), when `document` leaves its decisions
    # out (more than INLINE_DECISIONS): publish() stores it in the bucket and links to it.
    full: Callable[[], Iterable[str]] | None = field(default=None, compare=False, repr=False)

    def body(self) -> str:
        """The MessageStructure=json body: text for people, the document for machines.

        json.dumps escapes every non-ASCII character (ensure_ascii), so the body is
        ASCII and its length is its size in bytes; SNS unescapes the values.
        """
        doc = json.dumps(self.document, separators=(",", ":"), default=str)
        return json.dumps({"default": self.text, "email": self.text, **dict.fromkeys(JSON_PROTOCOLS, doc)})

    def sns_attributes(self) -> dict[str, MessageAttributeValueTypeDef]:
        return {k: {"DataType": ATTRIBUTE_TYPE, "StringValue": v} for k, v in self.attributes.items()}

    def size(self) -> int:
        """What SNS counts: the body and every attribute's name, type and value, in UTF-8 bytes."""
        return utf8_size(self.body()) + attributes_size(self.attributes)


@dataclass(frozen=True)
class Published:
    region: str
    severity: str
    message_id: str
    stored_at: str = ""  # s3:// URI of the whole report when it was too large to send
    attributes: dict[str, str] = field(default_factory=dict)


# -- what to say (pure) -------------------------------------------------------------------


def severity_of(report: Report) -> Severity:
    return Severity(report.severity)


def messages_for(report: Report, *, notify_all_clean: bool = False) -> list[Message]:
    """One message per region that has something to say.

    A region of more than INLINE_DECISIONS decisions gets the head of its text (what a shortened
    message keeps), its document without the decisions, and `full`: the whole report, to store.
    """
    out = []
    for region in report.regions:
        regional = report.for_region(region)
        if not regional.has_findings and not notify_all_clean:
            continue
        attributes = {
            "job": report.job,
            "severity": severity_of(regional).value,
            "region": region,
            "account": report.account,
            "mode": report.mode.value,
        }
        subject = sns_subject(regional.subject())
        decisions = len(regional.decisions)
        if decisions <= INLINE_DECISIONS:
            out.append(Message(subject, regional.render_text(), regional.to_dict(), attributes))
            continue
        head = "\n".join(_head_lines(regional.text_lines(), SHORT_TEXT_BYTES)) + "\n"
        document = {**regional.head_dict(), "decisions_omitted": decisions}
        out.append(Message(subject, head, document, attributes, full=partial(regional.json_chunks, indent=1)))
    return out


def error_message(*, job: str, account: str, region: str, problem: str, detail: str = "") -> Message:
    """A run that was refused (bad event, bad settings): nothing was changed.

    `problem` and `detail` may quote the refused input: each is bounded here
    (PROBLEM_MAX, DETAIL_MAX), with a note saying how much was left out.
    """
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    problem = bounded(problem, PROBLEM_MAX)
    detail = bounded(detail, DETAIL_MAX)
    lines = [
        f"[ami-hygiene] {region} {job}: ERROR, nothing was changed",
        "",
        problem,
    ]
    if detail:
        lines += ["", detail]
    lines += [
        "",
        f"Account {account or 'unknown'} · {region} · {now}",
        "The run stopped before reading or changing any image. Fix the input above;",
        "the next scheduled run will try again.",
    ]
    return Message(
        subject=sns_subject(f"[ami-hygiene] {region} {job}: ERROR {problem}"),
        text="\n".join(lines) + "\n",
        document={
            "schema_version": 1,
            "job": job,
            "account": account,
            "regions": [region],
            "time": now,
            "error": problem,
            "detail": detail,
            "changed": False,
        },
        attributes={"job": job, "severity": Severity.ERROR.value, "region": region, "account": account},
    )


def bounded(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how many were left out."""
    text = _as_text(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f" ... [shortened: {len(text) - limit:,} more characters not shown]"


def sns_subject(text: str) -> str:
    """Printable ASCII, one line, under 100 characters, starting with a letter, digit or punctuation."""
    line = _as_text(text)[: SUBJECT_MAX * 4].replace("…", "...")
    line = _CONTROLS.sub(" ", line)
    line = _NOT_PRINTABLE_ASCII.sub("?", line).strip()
    if line and not (line[0].isalnum() or unicodedata.category(line[0]).startswith("P")):
        line = f"[ami-hygiene] {line}"  # e.g. "$", "+", "<", "|" are symbols, not punctuation
    if len(line) > SUBJECT_MAX:
        line = line[: SUBJECT_MAX - 3].rstrip() + "..."
    return line or "[ami-hygiene]"


def shortened(message: Message, *, location: Mapping[str, str] | None, why: str) -> Message:
    """The message without the decision list, pointing at the stored whole report."""
    lines = _head_lines([message.text], SHORT_TEXT_BYTES)
    if location:
        lines += [
            "",
            why,
            f"Full report: {location['s3_uri']}",
            f"Open it in the console: {location['console_url']}",
        ]
    else:
        lines += ["", why, "The full report was not stored: no REPORT_BUCKET is configured."]
    document = _without_decisions(message.document)
    document.setdefault("decisions_omitted", 0)
    if location:
        document["full_report"] = dict(location)
    return replace(message, text="\n".join(lines) + "\n", document=document)


def _head_lines(text: Iterable[str], limit: int) -> list[str]:
    """The lines of `text` (pieces of one or more lines each) within `limit` UTF-8 bytes, and
    "... (cut here)" where they were cut. Reads no further than it keeps: a text given line
    by line (Report.text_lines) is never made whole."""
    lines: list[str] = []
    size = 0
    for piece in text:
        for line in piece.splitlines() or [""]:  # "" is a blank line of its own
            size += utf8_size(line) + 1
            if size > limit:
                lines.append("  ... (cut here)")
                return lines
            lines.append(line)
    return lines


# -- fitting a message to SNS (pure) ------------------------------------------------------
#
# The body holds the text twice and the document six times (once per JSON protocol), the
# document's strings escaped twice: a character costs up to 12 bytes in the text (an astral
# character is a \ud83d\ude00 pair) and 14 in the document. fit() therefore measures what it
# builds (Message.size) instead of predicting it, and shrinks step by step until it fits.

# The text's share of the body (JSON-escaped bytes, per copy) at each step, and what of its
# end is kept when it is cut in the middle (the link to a stored report is there).
TEXT_ROOM = SHORT_TEXT_BYTES
TEXT_TAIL = 2_000
# Longest string kept in the document at each step.
STRING_CAPS = (4_000, 500)
MINIMAL_CAPS = (200, 40)
# A minimal document keeps the summary only while it is this small (escaped once).
MINIMAL_SUMMARY_BYTES = 4_000


def fit(message: Message, budget: int = MESSAGE_BUDGET) -> Message:
    """The message as SNS accepts it, whatever it held; never raises on content.

    Subject, attributes and characters are made valid (tidy). Then, while the message is
    over `budget` bytes: long strings anywhere in the document are cut (with a note of how
    much), the decision list becomes a count, the text is cut in the middle, and at last
    the document becomes a minimal one ({job, regions, error or summary, truncated}). A
    link to a stored report (document["full_report"]) is kept at every step.
    """
    text = xml_safe(_as_text(message.text))
    candidate = Message(sns_subject(message.subject), text, {}, sns_attributes(message.attributes))
    document = _as_document(message.document)
    if _least_size(text, document, budget) <= budget:  # else a whole copy is not worth making
        whole = replace(candidate, document=_plain(document, cap=None, items=None, depth=DEPTH_MAX))
        if whole.size() <= budget:
            return whole
    for text_room, smaller in _smaller_documents(document):
        candidate = replace(candidate, text=_clipped(text, text_room), document=smaller)
        if candidate.size() <= budget:
            return candidate
    return candidate  # _smaller_documents ends with a message of a few KiB


def tidy(message: Message) -> Message:
    """The message with a valid subject, valid attributes and only characters SNS takes; not shortened."""
    return Message(
        subject=sns_subject(message.subject),
        text=xml_safe(_as_text(message.text)),
        document=_plain(_as_document(message.document), cap=None, items=None, depth=DEPTH_MAX),
        attributes=sns_attributes(message.attributes),
        full=message.full,
    )


def is_over(message: Message, budget: int = MESSAGE_BUDGET) -> bool:
    """Whether the message takes more than `budget` bytes; cheap for a huge one (no copy of it is made)."""
    return _least_size(message.text, message.document, budget) > budget or message.size() > budget


def sns_attributes(attributes: Mapping[Any, Any]) -> dict[str, str]:
    """At most ATTRIBUTES_MAX attributes with valid, unique names and printable, non-empty values."""
    out: dict[str, str] = {}
    for name, value in attributes.items():
        if len(out) == ATTRIBUTES_MAX:
            break
        valid = sns_attribute_name(name)
        if valid and valid not in out:
            out[valid] = sns_attribute_value(value)
    return out


def sns_attribute_name(name: Any) -> str:
    """The name with SNS's characters only, or "" where none is left (or a reserved prefix)."""
    valid = _NOT_ATTRIBUTE_NAME.sub("_", _as_text(name)[: ATTRIBUTE_NAME_MAX * 2])
    valid = re.sub(r"\.{2,}", ".", valid)[:ATTRIBUTE_NAME_MAX].strip(".")
    return "" if valid.lower().startswith(("aws.", "amazon.")) else valid


def sns_attribute_value(value: Any) -> str:
    """Printable ASCII without quotes or backslashes, at most ATTRIBUTE_VALUE_MAX, never empty."""
    text = _as_text(value)
    cut = len(text) > ATTRIBUTE_VALUE_MAX
    text = _NOT_ATTRIBUTE_VALUE.sub("?", text[:ATTRIBUTE_VALUE_MAX].replace("…", "...")).strip()
    if cut or len(text) > ATTRIBUTE_VALUE_MAX:
        text = text[: ATTRIBUTE_VALUE_MAX - 3].rstrip() + "..."
    return text or UNKNOWN


def xml_safe(text: str) -> str:
    """`text` with every character outside the XML 1.0 set replaced by U+FFFD (as SQS would)."""
    return _NOT_XML.sub("\ufffd", text)


def utf8_size(text: str) -> int:
    """Bytes of `text` in UTF-8; a lone surrogate counts its 3 bytes instead of raising."""
    return len(text.encode("utf-8", "surrogatepass"))


def attributes_size(attributes: Mapping[str, str]) -> int:
    return sum(utf8_size(k) + len(ATTRIBUTE_TYPE) + utf8_size(v) for k, v in attributes.items())


def _as_document(document: Any) -> Mapping[Any, Any]:
    return document if isinstance(document, Mapping) else {"document": document}


def _least_size(text: str, document: Any, stop: int) -> int:
    """At most the body's size, found without copying: each character of the text (sent twice)
    and of the document's strings and keys (sent six times) takes a byte at least. Counting ends
    once past `stop`; what _plain would not keep (past DEPTH_MAX) is not counted."""
    total = 2 * len(text)
    stack: list[tuple[Any, int]] = [(document, DEPTH_MAX)]
    while stack and total <= stop:
        value, depth = stack.pop()
        if isinstance(value, str):
            total += 6 * len(value)
        elif isinstance(value, Mapping) and depth > 0:
            for k, v in value.items():
                total += 6 * len(k) if isinstance(k, str) else 0
                stack.append((v, depth - 1))
        elif isinstance(value, list | tuple | set | frozenset) and depth > 0:
            stack.extend((v, depth - 1) for v in value)
    return total


def _smaller_documents(document: Mapping[Any, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(text room, document) pairs, each smaller than the one before; the last fits any budget."""
    link = _link(document)
    steps = [document, _without_decisions(document)] if "decisions" in document else [document]
    for step in steps:
        for cap in STRING_CAPS:
            yield TEXT_ROOM, _with_link(_plain(step, cap=cap, items=None, depth=DEPTH_MAX), link)
    yield TEXT_ROOM // 2, _minimal(document, MINIMAL_CAPS[0], link)
    yield TEXT_ROOM // 8, _minimal(document, MINIMAL_CAPS[1], link)
    # Last resort, a few KiB whatever came in: the job, that it was cut, and where the whole is.
    job = sns_attribute_value(document.get("job", UNKNOWN))
    last: dict[str, Any] = {"job": job, "truncated": True}
    if link:
        last["full_report"] = {"s3_uri": sns_attribute_value(link.get("s3_uri", ""))[:ATTRIBUTE_VALUE_MAX]}
    yield 1_000, last


def _minimal(document: Mapping[Any, Any], cap: int, link: dict[str, str]) -> dict[str, Any]:
    """What a reader needs most, each value short: who, where, what went wrong or the counts."""
    out: dict[str, Any] = {}
    for key in ("schema_version", "job", "mode", "account", "regions", "time", "started", "finished"):
        if key in document:
            out[key] = _plain(document[key], cap=cap, items=3, depth=1)
    for key in ("error", "detail", "changed"):
        if key in document:
            out[key] = _plain(document[key], cap=cap, items=3, depth=1)
    if "summary" in document:
        summary = _plain(document["summary"], cap=cap, items=32, depth=2)
        small = len(json.dumps(summary)) <= MINIMAL_SUMMARY_BYTES
        out["summary"] = summary if small else "too large to send; see full_report or the function's log"
    if isinstance(document.get("decisions"), list):
        out["decisions_omitted"] = len(document["decisions"])
    elif isinstance(document.get("decisions_omitted"), int):
        out["decisions_omitted"] = document["decisions_omitted"]
    out["truncated"] = True
    return _with_link(out, link)


def _without_decisions(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document with its decision list replaced by their count."""
    out = {k: v for k, v in document.items() if k != "decisions"}
    if "decisions" in document:
        decisions = document["decisions"]
        out["decisions_omitted"] = len(decisions) if isinstance(decisions, list | tuple) else 0
    return out


def _link(document: Mapping[str, Any]) -> dict[str, str]:
    """The stored report's location (shortened()), short enough to keep in every step."""
    found = document.get("full_report")
    if not isinstance(found, Mapping):
        return {}
    keys = ("bucket", "key", "s3_uri", "console_url")
    return {k: _plain(found[k], cap=2_048, items=0, depth=0) for k in keys if isinstance(found.get(k), str)}


def _with_link(document: dict[str, Any], link: dict[str, str]) -> dict[str, Any]:
    if link:
        document["full_report"] = dict(link)
    return document


def _plain(value: Any, *, cap: int | None, items: int | None, depth: int) -> Any:
    """A JSON-safe copy of `value`: strings XML-safe and (cap) cut with a note, containers at most
    `items` long and `depth` deep, keys strings, non-finite floats and other objects as text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        # json.dumps refuses ints past sys.get_int_max_str_digits() (4,300 digits by default).
        bits = value.bit_length()
        return int(value) if bits <= INT_BITS_MAX else f"[integer of {bits:,} bits]"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _cut(value, cap)
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        if depth <= 0:
            return f"[{type(value).__name__} of {len(value):,} items, nested too deep to send]"
        pairs = list(value.items()) if isinstance(value, Mapping) else list(enumerate(value))
        kept = pairs if items is None else pairs[:items]
        left_out = len(pairs) - len(kept)
        if not isinstance(value, Mapping):
            out_list = [_plain(v, cap=cap, items=items, depth=depth - 1) for _, v in kept]
            return [*out_list, f"... [{left_out:,} more items cut]"] if left_out else out_list
        out: dict[str, Any] = {}
        clashes: dict[str, int] = {}
        for k, v in kept:
            key = base = _cut(_as_text(k), cap)
            while key in out:  # keys that are the same text once cut (or once str() of them)
                clashes[base] = clashes.get(base, 1) + 1
                key = f"{base} ({clashes[base]})"
            out[key] = _plain(v, cap=cap, items=items, depth=depth - 1)
        if left_out:
            out["..."] = f"[{left_out:,} more keys cut]"
        return out
    return _cut(_as_text(value), cap)


def _cut(text: str, cap: int | None) -> str:
    """`text` XML-safe and, past `cap` characters, cut with a note (cut first: xml_safe keeps lengths)."""
    if cap is None or len(text) <= cap:
        return xml_safe(text)
    return xml_safe(text[:cap]) + f"... [{len(text) - cap:,} characters cut]"


def _as_text(value: Any) -> str:
    """str(value); an object str() refuses gives its type's name instead."""
    if isinstance(value, str):
        return str.__str__(value)
    try:
        return str(value)
    except (TypeError, ValueError):  # e.g. an int past the digits str() may convert
        return f"<{type(value).__name__}>"


def _escaped_size(text: str) -> int:
    """Bytes `text` takes as a JSON string value in the body (ASCII, quotes not counted)."""
    return len(json.dumps(text)) - 2


def _clipped(text: str, room: int) -> str:
    """`text` within `room` escaped bytes: its head, a note of what was cut, and its tail."""
    if _escaped_size(text) <= room:
        return text
    tail = _fitting(text, room // 4 if room < 4 * TEXT_TAIL else TEXT_TAIL, from_end=True)
    if "\n" in tail[:-1]:
        tail = tail[tail.index("\n") + 1 :]  # start at a whole line
    note_room = 80  # the note below, ASCII
    head = _fitting(text[: len(text) - len(tail)], max(room - _escaped_size(tail) - note_room, 0))
    cut = len(text) - len(head) - len(tail)
    return f"{head}\n... [{cut:,} characters cut here] ...\n{tail}"


def _fitting(text: str, room: int, *, from_end: bool = False) -> str:
    """The longest head (or tail) of `text` whose escaped size is within `room`.

    A binary search (the escaped size grows with the length): a step proportional to the size
    could stop well short when the part ends in costly characters and begins in cheap ones,
    and so cut off the link lines at the end of a text.
    """
    if _escaped_size(text) <= room:
        return text

    def part(n: int) -> str:
        return text[len(text) - n :] if from_end else text[:n]

    fits, over = 0, min(len(text), room) + 1  # a character takes one escaped byte at least
    while over - fits > 1:
        middle = (fits + over) // 2
        if _escaped_size(part(middle)) <= room:
            fits = middle
        else:
            over = middle
    return part(fits)


# -- sending ------------------------------------------------------------------------------


class Publisher:
    """Sends messages to the topic; stores a report too large for SNS in the bucket."""

    def __init__(self, clients: Clients, target: Target) -> None:
        self.clients = clients
        self.target = target

    def publish_report(self, report: Report) -> list[Published]:
        return [self.publish(m) for m in messages_for(report, notify_all_clean=self.target.notify_all_clean)]

    def publish(self, message: Message) -> Published:
        stored = ""
        message = tidy(message)
        if message.full is not None or is_over(message):
            location = self._store(message) if self.target.bucket else None
            stored = location["s3_uri"] if location else ""
            why = f"This report is larger than one SNS message holds ({SNS_MESSAGE_LIMIT:,} bytes)."
            message = shortened(message, location=location, why=why)
        message = fit(message)
        response = self.clients.sns(self.target.region).publish(
            TopicArn=self.target.topic_arn,
            Subject=message.subject,
            Message=message.body(),
            MessageStructure="json",
            MessageAttributes=message.sns_attributes(),
        )
        return Published(
            region=message.attributes.get("region", ""),
            severity=message.attributes.get("severity", ""),
            message_id=str(response.get("MessageId", "")),
            stored_at=stored,
            attributes=dict(message.attributes),
        )

    def _store(self, message: Message) -> dict[str, str]:
        attrs = message.attributes
        now = datetime.now(UTC)
        job, where = _key_part(attrs.get("job"), "job"), _key_part(attrs.get("region"), "region")
        key = f"{REPORT_PREFIX}/{job}/{where}/{now:%Y/%m/%d/%H%M%SZ}-{uuid.uuid4().hex[:8]}.json"
        region = self.target.region
        whole = message.full() if message.full else [json.dumps(message.document, indent=1, default=str)]
        store_json(self.clients.client("s3", region), self.target.bucket, key, whole)
        return {
            "bucket": self.target.bucket,
            "key": key,
            "s3_uri": f"s3://{self.target.bucket}/{key}",
            "console_url": f"https://{region}.console.aws.amazon.com/s3/object/{self.target.bucket}"
            f"?region={region}&prefix={key}",
        }


def store_json(s3: Any, bucket: str, key: str, chunks: Iterable[str]) -> int:
    """Writes the JSON text `chunks` make to s3://bucket/key, holding one part of it at a time.

    Under PART_BYTES in all: one PutObject. Else a multipart upload (CreateMultipartUpload,
    UploadPart per PART_BYTES, CompleteMultipartUpload; all three are s3:PutObject in IAM). An
    upload left incomplete by a failure is removed by the bucket's lifecycle rule
    (infra/reporting.py, AbortIncompleteMultipartUpload after a day). Returns the bytes written.
    """
    buffer = bytearray()
    upload_id = ""
    parts: list[dict[str, Any]] = []
    written = 0

    def send_part() -> None:
        nonlocal buffer
        number = len(parts) + 1
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=buffer)
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        buffer = bytearray()  # a new one: the part sent is not copied, nor changed after

    for chunk in chunks:
        data = chunk.encode()
        buffer += data
        written += len(data)
        if len(buffer) >= PART_BYTES:
            if not upload_id:
                started = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/json")
                upload_id = started["UploadId"]
            send_part()
    if not upload_id:
        s3.put_object(Bucket=bucket, Key=key, Body=bytes(buffer), ContentType="application/json")
        return written
    if buffer:
        send_part()
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    return written


def _key_part(value: str | None, default: str) -> str:
    """A safe, short S3 key segment from an attribute (a junk region must not make a junk key)."""
    part = _NOT_KEY_PART.sub("-", value or "").strip("-.")[:64]
    return part or default
