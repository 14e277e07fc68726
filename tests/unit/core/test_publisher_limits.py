"""Whatever a message holds, what the publisher sends keeps every SNS Publish rule.

Each rule is checked here in its own words, not with the publisher's helpers:
the size SNS counts (UTF-8 body + attribute names, types and values), the
subject, the attributes, and the characters of every string a subscriber gets.
AMI_HYGIENE_FUZZ=1 (or HYPOTHESIS_PROFILE=fuzz) runs many more examples (`make fuzz`).
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ami_hygiene.core.publisher import (
    DETAIL_MAX,
    MESSAGE_BUDGET,
    Message,
    Publisher,
    Target,
    error_message,
    fit,
    sns_subject,
)
from tests.helpers.constants import SNS_LIMIT

FUZZ = os.environ.get("AMI_HYGIENE_FUZZ") == "1" or os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"


def limits(examples: int) -> hypothesis_settings:
    return hypothesis_settings(
        max_examples=examples * 50 if FUZZ else examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# -- inputs: any character, any size, any shape ---------------------------------------------

ODD = ["\x00", "\x0b", "\x1f", "\x7f", "\x85", "\u2028", "\ufffe", "\uffff", "…", '"', "\\", "\n", "\t"]
chars = st.one_of(
    st.characters(exclude_categories=()),  # any code point, surrogates included
    st.characters(categories=["Cs"]),  # lone surrogates, which str.encode() refuses
    st.characters(max_codepoint=0x1F),  # control characters
    st.characters(min_codepoint=0x10000),  # astral: 4 bytes in UTF-8, 12 escaped in JSON
    st.sampled_from(ODD),
)
small_text = st.text(chars, max_size=40)
huge_text = st.builds(
    lambda unit, times: unit * times, st.text(chars, min_size=1, max_size=8), st.integers(1, 130_000)
)
any_text = st.one_of(small_text, st.text(chars, max_size=600), huge_text)

# Leaves of nested values stay small: a huge string repeated 20,000 times by reference is
# no input a report or an event can make. Huge strings sit at the top and in short lists.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.integers(min_value=10**400), small_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(small_text, inner, max_size=6),
        st.builds(lambda item, times: [item] * times, scalars, st.integers(0, 20_000)),
    ),
    max_leaves=12,
)
document_values = st.one_of(json_values, any_text, st.lists(any_text, max_size=3))
KNOWN_KEYS = ["job", "account", "regions", "error", "detail", "summary", "decisions", "full_report"]
documents = st.dictionaries(
    st.one_of(st.sampled_from(KNOWN_KEYS), small_text, huge_text), document_values, max_size=8
)
attribute_names = st.one_of(
    st.sampled_from(["job", "severity", "region", "account", "mode", "AWS.x", "amazon.y", "a..b", ".x."]),
    st.text(chars, max_size=300),
)
attribute_values = st.one_of(st.just(""), st.just("   "), any_text)
attributes = st.dictionaries(attribute_names, attribute_values, max_size=14)
messages = st.builds(Message, subject=any_text, text=any_text, document=documents, attributes=attributes)


# -- the rules, in the test's own words ---------------------------------------------------


def sns_size(body: str, attributes: dict[str, dict[str, str]]) -> int:
    size = len(body.encode("utf-8"))  # strict: a lone surrogate would raise here
    for name, value in attributes.items():
        size += (
            len(name.encode("utf-8")) + len(value["DataType"].encode()) + len(value["StringValue"].encode())
        )
    return size


def is_xml_char(c: str) -> bool:
    # SQS SendMessage's allowed set, the W3C XML 1.0 Char production.
    n = ord(c)
    return n in (0x9, 0xA, 0xD) or 0x20 <= n <= 0xD7FF or 0xE000 <= n <= 0xFFFD or 0x10000 <= n <= 0x10FFFF


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def assert_subject_valid(subject: str) -> None:
    # "ASCII text that begins with a letter, number, or punctuation mark; must not include line
    # breaks or control characters; and must be less than 100 characters long"
    assert 0 < len(subject) < 100, subject
    assert all(0x20 <= ord(c) <= 0x7E for c in subject), subject
    assert subject[0].isalnum() or unicodedata.category(subject[0]).startswith("P"), subject


def assert_attributes_valid(attributes: dict[str, dict[str, str]]) -> None:
    assert len(attributes) <= 10
    for name, value in attributes.items():
        assert re.fullmatch(r"[A-Za-z0-9_.-]{1,256}", name), name
        assert not name.startswith(".") and not name.endswith(".") and ".." not in name, name
        assert not name.lower().startswith(("aws.", "amazon.")), name
        assert value["DataType"] == "String"
        string = value["StringValue"]
        assert 0 < len(string) <= 256 and string.strip() == string, string
        assert all(0x20 <= ord(c) <= 0x7E for c in string) and '"' not in string and "\\" not in string


def assert_sendable(subject: str, body: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """Every Publish rule holds for what is sent; returns the JSON document machines get."""
    assert_subject_valid(subject)
    assert_attributes_valid(attributes)
    size = sns_size(body, attributes)
    assert size <= MESSAGE_BUDGET <= SNS_LIMIT, size
    parsed = json.loads(body)
    assert isinstance(parsed, dict) and isinstance(parsed["default"], str)
    assert set(parsed) == {"default", "email", "sqs", "lambda", "http", "https", "email-json", "firehose"}
    assert all(isinstance(v, str) for v in parsed.values())
    document = json.loads(parsed["sqs"])
    assert isinstance(document, dict) and all(parsed[p] == parsed["sqs"] for p in ("lambda", "firehose"))
    for text in [parsed["default"], *strings_in(document)]:
        assert all(is_xml_char(c) for c in text), ascii(text[:200])
        text.encode("utf-8")  # strict
    return document


def assert_fits(message: Message) -> dict[str, Any]:
    body, attributes = message.body(), message.sns_attributes()
    assert message.size() == sns_size(body, attributes)
    return assert_sendable(message.subject, body, attributes)


# -- properties ---------------------------------------------------------------------------


@limits(60)
@given(messages)
def test_any_message_fits_every_sns_rule(message: Message) -> None:
    fitted = fit(message)
    assert_fits(fitted)
    assert fit(fitted) == fitted  # fitting is done once and for all


@limits(40)
@given(problem=any_text, detail=any_text, job=any_text, region=any_text, account=any_text)
def test_any_refusal_fits_and_bounds_what_it_quotes(
    problem: str, detail: str, job: str, region: str, account: str
) -> None:
    message = error_message(job=job, account=account, region=region, problem=problem, detail=detail)
    assert len(message.document["detail"]) <= DETAIL_MAX + 80
    if len(detail) > DETAIL_MAX:
        assert f"{len(detail) - DETAIL_MAX:,} more characters not shown" in message.document["detail"]
    document = assert_fits(fit(message))
    assert document["changed"] is False


class Recorder:
    """SNS and S3 as the publisher sees them: records what it is given."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.stored: list[dict[str, Any]] = []

    def sns(self, region: str) -> Recorder:
        return self

    def client(self, service: str, region: str) -> Recorder:
        return self

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.published.append(kwargs)
        return {"MessageId": "m-1"}

    def put_object(self, **kwargs: Any) -> dict[str, str]:
        assert len(kwargs["Key"].encode()) <= 1024  # S3's key limit
        json.loads(kwargs["Body"])
        self.stored.append(kwargs)
        return {}

    # A report over the publisher's part size goes up in parts (core/publisher.py store_json).
    def create_multipart_upload(self, **kwargs: Any) -> dict[str, str]:
        self._parts: dict[int, bytes] = {}
        return {"UploadId": "u-1"}

    def upload_part(self, **kwargs: Any) -> dict[str, str]:
        self._parts[kwargs["PartNumber"]] = bytes(kwargs["Body"])
        return {"ETag": f"e-{kwargs['PartNumber']}"}

    def complete_multipart_upload(self, **kwargs: Any) -> dict[str, str]:
        numbers = [p["PartNumber"] for p in kwargs["MultipartUpload"]["Parts"]]
        assert numbers == sorted(self._parts)  # every part, in order
        return self.put_object(Key=kwargs["Key"], Body=b"".join(self._parts[n] for n in numbers))


TOPIC = "arn:aws:sns:eu-west-1:123456789012:ami-hygiene-reports"


@limits(40)
@given(messages, st.booleans())
def test_publish_sends_only_what_sns_accepts_and_links_a_stored_report(
    message: Message, bucket: bool
) -> None:
    clients = Recorder()
    published = Publisher(clients, Target(TOPIC, bucket="reports-bucket" if bucket else "")).publish(message)
    [sent] = clients.published
    assert sent["MessageStructure"] == "json" and sent["TopicArn"] == TOPIC
    document = assert_sendable(sent["Subject"], sent["Message"], sent["MessageAttributes"])
    body = json.loads(sent["Message"])
    if clients.stored:
        [stored] = clients.stored
        assert published.stored_at == f"s3://reports-bucket/{stored['Key']}"
        assert document["full_report"]["s3_uri"] == published.stored_at
        assert f"Full report: {published.stored_at}" in body["email"]


# -- examples -----------------------------------------------------------------------------


def test_a_refusal_quoting_100_kb_keeps_its_story_within_the_limit() -> None:
    junk = "A" * 100_000
    message = fit(
        error_message(
            job="tags", account="123456789012", region="eu-west-1", problem="event not acted on", detail=junk
        )
    )
    document = assert_fits(message)
    assert document["error"] == "event not acted on" and document["changed"] is False
    assert (
        document["detail"].startswith("A" * 4_000)
        and "96,000 more characters not shown" in document["detail"]
    )
    assert message.subject == "[ami-hygiene] eu-west-1 tags: ERROR event not acted on"


def test_the_worst_characters_everywhere_still_fit() -> None:
    astral = "\U0001f600" * 400_000  # 12 bytes each in the text, 14 in the document
    junk = "\ud800\x00\ufffe" * 100_000
    message = Message(
        subject=junk,
        text=astral,
        document={
            "job": astral,
            "regions": [astral] * 50,
            "error": junk,
            "summary": {junk: astral},
            "decisions": [{"reasons": [astral]}] * 100,
            "full_report": {"s3_uri": "s3://bucket/reports/tags/x.json", "console_url": "https://console"},
        },
        attributes={"region": astral, "job": "", "account": junk, **{f"extra{i}": "v" for i in range(20)}},
    )
    fitted = fit(message)
    document = assert_fits(fitted)
    assert document["full_report"]["s3_uri"] == "s3://bucket/reports/tags/x.json"
    assert fitted.attributes["job"] == "unknown" and len(fitted.attributes) == 10


def test_a_message_within_the_rules_is_sent_as_it_is() -> None:
    message = Message(
        subject="[ami-hygiene] eu-west-1 rotate: 1 to disable",
        text="[ami-hygiene] eu-west-1 rotate: 1 to disable\n\nDétails · ok\n",
        document={"job": "rotate", "summary": {"images": 1}, "decisions": [{"image_id": "ami-1"}]},
        attributes={"job": "rotate", "severity": "info", "region": "eu-west-1"},
    )
    assert fit(message) == message


def test_long_strings_are_cut_with_a_note_before_decisions_are_dropped() -> None:
    decisions = [{"image_id": f"ami-{i:05d}", "reasons": ["r" * 100]} for i in range(200)]
    message = Message(
        "s", "t", {"job": "tags", "detail": "x" * 400_000, "decisions": decisions}, {"job": "tags"}
    )
    document = assert_fits(fit(message))
    assert document["detail"] == "x" * 4_000 + "... [396,000 characters cut]"
    assert document["decisions"] == decisions


def test_too_many_decisions_become_a_count_then_a_minimal_document() -> None:
    decisions = [{"image_id": f"ami-{i:05d}", "reasons": ["r" * 100]} for i in range(5_000)]
    report = {"job": "rotate", "regions": ["eu-west-1"], "summary": {"images": 5_000}, "decisions": decisions}
    document = assert_fits(fit(Message("s", "t", report, {})))
    assert "decisions" not in document and document["decisions_omitted"] == 5_000
    assert document["summary"] == {"images": 5_000}

    crowded = {**report, "errors": ["e" * 400] * 5_000}
    document = assert_fits(fit(Message("s", "t", crowded, {})))
    assert document["truncated"] is True and document["job"] == "rotate"
    assert document["regions"] == ["eu-west-1"] and document["decisions_omitted"] == 5_000


def test_a_cut_text_keeps_its_head_and_the_link_at_its_end() -> None:
    text = "headline\n" + "\U0001f600" * 200_000 + "\nFull report: s3://bucket/key.json\n"
    fitted = fit(Message("s", text, {"job": "rotate"}, {}))
    assert_fits(fitted)
    assert fitted.text.startswith("headline\n") and fitted.text.endswith(
        "Full report: s3://bucket/key.json\n"
    )
    assert "characters cut here" in fitted.text


def test_attributes_keep_to_the_names_values_and_count_sns_takes() -> None:
    fitted = fit(
        Message(
            "s",
            "t",
            {},
            {
                "job": "rotate",
                "region": "",
                "account": "  ",
                "mode": "report\tmode",
                "AWS.reserved": "x",
                "a..b.": 'say "hi" \\ é',
                **{f"n{i}": "v" for i in range(12)},
            },
        )
    )
    assert_fits(fitted)
    assert list(fitted.attributes)[:5] == ["job", "region", "account", "mode", "a.b"]
    assert fitted.attributes["region"] == fitted.attributes["account"] == "unknown"
    assert fitted.attributes["mode"] == "report?mode"
    assert fitted.attributes["a.b"] == "say ?hi? ? ?"
    assert len(fitted.attributes) == 10


def test_a_subject_starting_with_a_symbol_or_space_is_prefixed() -> None:
    assert sns_subject("  $5 saved") == "[ami-hygiene] $5 saved"
    assert sns_subject("\n\t") == "[ami-hygiene]"
    assert sns_subject("é-ami") == "?-ami"  # "?" is punctuation
    assert sns_subject("|~ x") == "[ami-hygiene] |~ x"


def test_the_last_resort_is_a_few_kib_whatever_came_in() -> None:
    astral = "\U0001f600" * 100_000
    link = dict.fromkeys(("bucket", "key", "s3_uri", "console_url"), astral)
    fitted = fit(Message("s", astral, {"job": "rotate", "summary": astral, "full_report": link}, {}))
    document = assert_fits(fitted)
    assert document["truncated"] is True and document["job"] == "rotate"
    assert fitted.size() < 16_000


def test_keys_that_are_the_same_once_cut_are_all_kept() -> None:
    document = {"k" * 10_000 + str(i % 10): "v" for i in range(10)} | {1: "one", "1": "uno"}
    fitted = fit(Message("s", "t", {"huge": "x" * 300_000, "keys": document}, {}))
    keys = assert_fits(fitted)["keys"]
    assert len(keys) == 12 and sorted(keys.values()) == ["one", "uno", *["v"] * 10]
