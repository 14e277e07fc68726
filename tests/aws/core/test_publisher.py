"""A refusal quoting a huge, hostile value is accepted by SNS and read whole from SQS.

moto checks the message's length in characters only, so the size SNS counts
(UTF-8 body + attribute names, types and values) is asserted here on the very
parameters the publisher passed to Publish.
"""

from __future__ import annotations

import json

import boto3

from ami_hygiene.core.publisher import DETAIL_MAX, Publisher, Target, error_message
from tests.helpers.constants import REGION, SNS_LIMIT
from tests.helpers.sandbox import Capturing


def _topic_read_by_a_queue() -> tuple[str, str]:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="ami-hygiene-reports")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="reader")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url


def test_sns_accepts_a_refusal_that_quotes_100_kb_of_junk(aws: None) -> None:
    topic_arn, queue_url = _topic_read_by_a_queue()
    junk = "\ud800\x00ß\U0001f600\ufffe" * 20_000  # 100,000 characters no JSON or XML parser likes
    message = error_message(
        job="public",
        account="",  # a context without an ARN: SNS refuses an empty attribute value
        region=REGION,
        problem="event not acted on",
        detail=f"detail.requestParameters.imageId: {junk}",
    )
    clients = Capturing()

    published = Publisher(clients, Target(topic_arn)).publish(message)

    assert published.message_id
    [sent] = clients.published
    attributes = sent["MessageAttributes"]
    size = len(sent["Message"].encode("utf-8")) + sum(
        len(k.encode()) + len(v["DataType"].encode()) + len(v["StringValue"].encode())
        for k, v in attributes.items()
    )
    assert size <= SNS_LIMIT
    assert attributes["account"] == {"DataType": "String", "StringValue": "unknown"}
    assert sent["Subject"] == f"[ami-hygiene] {REGION} public: ERROR event not acted on"

    [delivered] = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=queue_url)["Messages"]
    envelope = json.loads(delivered["Body"])
    document = json.loads(envelope["Message"])
    assert document["error"] == "event not acted on" and document["changed"] is False
    assert document["detail"].startswith("detail.requestParameters.imageId: \ufffd\ufffdß\U0001f600\ufffd")
    # error_message keeps DETAIL_MAX characters; fit() cut the document's copy further (each of these
    # characters takes 7 to 14 bytes there, six times over), the e-mail keeps all it was given.
    assert len(document["detail"]) <= DETAIL_MAX and document["detail"].endswith(" characters cut]")
    email = json.loads(sent["Message"])["email"]
    assert "[shortened: 96,034 more characters not shown]" in email
    assert envelope["MessageAttributes"]["job"] == {"Type": "String", "Value": "public"}
