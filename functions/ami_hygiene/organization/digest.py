"""The hub's last state: one digest of a run over every target, to the topic and the report bucket.

It reads the run's targets.json and every result under ``<prefix>results/`` (ListObjectsV2
in pages of 1,000 keys, the most it returns: S3 API reference, ListObjectsV2 MaxKeys; the
GETs side by side on a few threads), and gives each target its result: none is "missing",
one that cannot be read is "failed" with why. core/fleet.py's Digest puts failures first;
it is published as ONE message (core/publisher.py; a digest too large for SNS is stored
whole and linked) and written to ``<prefix>digest.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.events import ACCOUNT_ID, REGION_NAME, EventError
from ami_hygiene.core.fleet import Digest, TargetResult
from ami_hygiene.core.observability import logger
from ami_hygiene.core.paging import pages
from ami_hygiene.core.publisher import Publisher, Target
from ami_hygiene.organization.events import DIGEST_FILE, RESULTS, DigestInput, parse, parse_targets

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

S3_PAGE = 1000  # ListObjectsV2 MaxKeys: at most 1,000 keys a page
READERS = 8  # GETs in flight at once
RESULT_NAME = re.compile(rf"({ACCOUNT_ID.pattern})-({REGION_NAME.pattern})\.json")


def digest(event: Any, env: Mapping[str, str], clients: Clients, *, jobs: Collection[str]) -> dict[str, Any]:
    """Read the run's targets and results, publish one digest, store it; answer where it is.

    Raises EventError (bad input) or SettingsError (bad settings) before any read.
    """
    request = parse(DigestInput, event, jobs)
    target = Target.from_env(env)
    if target.bucket and request.bucket != target.bucket:
        raise EventError(f"bucket {request.bucket!r} is not this hub's report bucket ({target.bucket})")
    region = env.get("AWS_REGION", "").strip() or target.region
    s3 = clients.client("s3", region)
    started = datetime.now(UTC)

    targets = parse_targets(_get_json(s3, request.bucket, request.key))
    found = read_results(s3, request.bucket, f"{request.prefix}{RESULTS}/")
    results = tuple(
        found.get((t.account, t.region)) or TargetResult.missing(t.account, t.region) for t in targets
    )
    unlisted = sorted(set(found) - {(t.account, t.region) for t in targets})
    if unlisted:
        logger.warning(
            "results for targets the run did not list were left out",
            extra={"targets": [f"{a} {r}" for a, r in unlisted]},
        )
    report = Digest(request.job, mode_of(results), results, started, datetime.now(UTC), run=request.run)

    key = request.prefix + DIGEST_FILE
    s3.put_object(
        Bucket=request.bucket,
        Key=key,
        Body=json.dumps(report.to_dict(), indent=1, default=str).encode(),
        ContentType="application/json",
    )
    location = f"s3://{request.bucket}/{key}"
    message_id = ""
    if target.topic_arn:
        message_id = Publisher(clients, target).publish(report.message(location=location)).message_id
    else:
        logger.warning("TOPIC_ARN is not set: the digest is only stored", extra={"digest": location})
    failed = sum(1 for r in results if r.is_problem)
    logger.info(
        f"{request.job} digest: {len(results)} targets, {failed} failed",
        extra={"run": request.run, "digest": location, "message_id": message_id},
    )
    return {
        "job": request.job,
        "run": request.run,
        "targets": len(results),
        "failed": failed,
        "message_id": message_id,
        "digest": location,
    }


def mode_of(results: Iterable[TargetResult]) -> str:
    """The run's mode, from its targets' summaries (`would_change`: report mode).

    The digest function serves every job, whose modes differ; the targets that completed say
    which their run had. "unknown" when none completed; "mixed" if they differ (a deploy between).
    """
    modes = {
        "report" if r.summary["would_change"] else "enforce"
        for r in results
        if isinstance(r.summary.get("would_change"), bool)
    }
    return modes.pop() if len(modes) == 1 else ("mixed" if modes else "unknown")


def read_results(s3: S3Client, bucket: str, prefix: str) -> dict[tuple[str, str], TargetResult]:
    """Every result under `prefix`, by (account, region); a result that cannot be read is "failed"."""
    keys = [o["Key"] for o in pages(s3, "list_objects_v2", "Contents", S3_PAGE, Bucket=bucket, Prefix=prefix)]
    named = [(key, RESULT_NAME.fullmatch(key[len(prefix) :])) for key in keys]
    wanted = [(key, m.group(1), m.group(2)) for key, m in named if m]
    for key, m in named:
        if not m:
            logger.warning(f"not a result's name, left out: {key[:200]}")
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        read = list(pool.map(lambda item: _read_result(s3, bucket, *item), wanted))
    return {(r.account, r.region): r for r in read}


def _read_result(s3: S3Client, bucket: str, key: str, account: str, region: str) -> TargetResult:
    where = f"s3://{bucket}/{key}"
    try:
        result = TargetResult.from_dict(_get_json(s3, bucket, key))
    except (ValueError, TypeError) as err:  # json.JSONDecodeError is a ValueError
        return TargetResult.failed(
            account, region, f"its result at {where} cannot be read: {describe_error(err)}"
        )
    if (result.account, result.region) != (account, region):
        why = f"its result at {where} names {result.account} {result.region} instead"
        return TargetResult.failed(account, region, why)
    return result


def _get_json(s3: S3Client, bucket: str, key: str) -> Any:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)
