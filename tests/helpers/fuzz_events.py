"""Hypothesis strategies for fuzzing the handlers: realistic events of every kind, then broken ones.

Every event starts from a fixture in tests/fixtures/events/ (or, for a schedule, the
shape tests/helpers/events.py `scheduled_event()` gives), for this account and
region, naming resources by *placeholders* (`IMAGES`, `SNAPSHOT`, `BUILD_ARN`,
`EXECUTION_ID`) that the test binds to what it seeded in the sandbox (`bind`).

    realistic(job)   an event the job must not refuse (it acts, or has nothing to do)
    mutated(job)     1-3 random mutations at any depth: a key dropped, a value
                     replaced by a wrong type, None, a huge string, unicode and
                     control characters, a lone surrogate, a huge number or time,
                     a list where an object was, odd but allowed text, a string
                     grown to the limits; `Case.broken` says whether a
                     mutation hit what decides whether and where the job acts
                     (account, region, source, call, ids, ...)
    broken(job)      0-2 random mutations, then one that makes the event one no
                     job may act on: another account, a malformed id / region /
                     time, a failed call, another service or call, a detail that
                     is not an object, an event of another job, or no object at all
    cases(job)       any of the three

Each takes `kinds` too (default: every kind of the job). The organization hub's inputs (Target
Sweeps, the targets and digest functions' inputs, member accounts' events) have strategies of
their own at the end of this module (`sweep_cases`, `targets_cases`, `digest_cases`,
`member_cases`), built from the same mutations.

A `Case` keeps the unmutated event (`base`), what is sent (`event`), what was
done to it (`mutations`), and prints itself short (long strings clipped), so a
failing example reads as a minimal reproducing event.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from tests.helpers.constants import ACCOUNT, FOREIGN, REAL_NOW, REGION, STRANGER
from tests.helpers.events import load_event, scheduled_event

# Placeholders, bound to the seeded sandbox by `bind`.
IMAGES = ("ami-0123456789abcdef0", "ami-0123456789abcdef1", "ami-0123456789abcdef2")
SOURCE_IMAGE = "ami-0fedcba9876543210"  # CopyImage's source
SNAPSHOT = "snap-0123456789abcdef0"  # the root snapshot of IMAGES[0]
BUILD_ARN = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image/web/1.0.0/7"
EXECUTION_ID = "333ba70b-2333-48db-b17e-a5e69c6f4d1c"

TAG_KINDS = ("CreateImage", "CopyImage", "RegisterImage", "CreateTags", "DeleteTags", "StateChange")
PUBLIC_KINDS = ("ModifyImageAttribute", "ModifySnapshotAttribute", "DisableImageBlockPublicAccess")
REBUILD_KINDS = ("ImageBuilder", "Automation")
SCHEDULED = "Scheduled"
JOB_KINDS: dict[str, tuple[str, ...]] = {
    "tags": (*TAG_KINDS, SCHEDULED),
    "public": (*PUBLIC_KINDS, SCHEDULED),
    "rebuild": (*REBUILD_KINDS, SCHEDULED),
    "rotate": (SCHEDULED,),
}
CLOUDTRAIL_KINDS = frozenset({*TAG_KINDS, *PUBLIC_KINDS} - {"StateChange"})

Path_ = tuple[str | int, ...]
MISSING: Any = type("Missing", (), {"__repr__": lambda _self: "<missing>"})()


# -- the case ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    job: str
    kind: str
    base: dict[str, Any]  # the realistic event, placeholders unbound
    event: Any  # what the handler gets (placeholders unbound)
    mutations: tuple[str, ...] = ()
    broken: bool = False  # a mutation made it an event the job must not act on
    account: str = ACCOUNT  # whose resources the placeholders stand for (a member's: `in_account`)

    def __repr__(self) -> str:
        whose = "" if self.account == ACCOUNT else f"account={self.account!r}, "
        return (
            f"Case(job={self.job!r}, kind={self.kind!r}, {whose}broken={self.broken}, "
            f"mutations={list(self.mutations)!r}, event={short(self.event)})"
        )

    def _repr_pretty_(
        self, printer: Any, cycle: bool
    ) -> None:  # hypothesis prints dataclasses field by field
        printer.text(repr(self))


def short(value: Any, limit: int = 120) -> str:
    """JSON-ish text of `value` with every long string clipped: fit for a failure message."""

    def clip(node: Any) -> Any:
        if isinstance(node, str) and len(node) > limit:
            return f"{node[:40]}...<{len(node)} chars>"
        if isinstance(node, dict):
            return {clip(k): clip(v) for k, v in node.items()}
        if isinstance(node, list):
            return [clip(v) for v in node]
        return node

    return repr(clip(value))


# -- paths in a JSON tree ----------------------------------------------------------------------


def paths(node: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every path below the root, parents before children."""
    children: Any = (
        node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    )
    for key, child in children:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def get(node: Any, path: Path_) -> Any:
    for key in path:
        in_dict = isinstance(node, dict) and isinstance(key, str) and key in node
        in_list = isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
        if in_dict or in_list:
            node = node[key]
        else:
            return MISSING
    return node


def with_value(root: Any, path: Path_, value: Any) -> Any:
    """A copy of `root` with `path` set to `value` (MISSING: removed); unchanged if the parent is gone."""
    root = copy.deepcopy(root)
    parent = get(root, path[:-1])
    key = path[-1]
    if isinstance(parent, dict) and isinstance(key, str):
        if value is MISSING:
            parent.pop(key, None)
        else:
            parent[key] = value
    elif isinstance(parent, list) and isinstance(key, int) and 0 <= key < len(parent):
        if value is MISSING:
            del parent[key]
        else:
            parent[key] = value
    return root


def bind(event: Any, mapping: dict[str, str]) -> Any:
    """`event` with every placeholder (in any string, at any depth) replaced by what it stands for."""
    if isinstance(event, str):
        for placeholder, real in mapping.items():
            if placeholder in event:
                event = event.replace(placeholder, real)
        return event
    if isinstance(event, dict):
        return {k: bind(v, mapping) for k, v in event.items()}
    if isinstance(event, list):
        return [bind(v, mapping) for v in event]
    return event


# -- values ------------------------------------------------------------------------------------

LONE_SURROGATES = ("\ud800", "\udbff", "\udc00", "\udfff")
CONTROL = "".join(map(chr, range(32))) + "\x7f\x85\u2028\u2029\ufeff\u200b\u202e"


def _huge(seed: str, size: int) -> str:
    return (seed * (size // len(seed) + 1))[:size]


huge_strings = st.builds(
    _huge,
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=6) | st.sampled_from(LONE_SURROGATES),
    st.integers(1_000, 100_000),
)
odd_text = st.text(
    st.sampled_from(CONTROL) | st.characters(codec="utf-8") | st.sampled_from(LONE_SURROGATES), max_size=40
)
TIME_STRINGS = (
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "Dec 31, 9999 11:59:59 PM",
    "Jan 1, 0001 12:00:00 AM",
    "Feb 30, 2024 1:00:00 PM",
    "1e308",
)
# Printable text of any script, none of the characters AWS refuses in free text (surrogates, controls).
allowed_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=200
)
SPECIAL_STRINGS = (
    *TIME_STRINGS,
    "",
    " ",
    "null",
    "None",
    "0",
    "-1",
    "true",
    "eu-west-1; DROP",
    "EU-WEST-1",
    "x" * 5000,
    "ami-0123456789abcdef0\n",
    "ami-0123456789abcdef0; DROP",
    "../../../etc/passwd",
    "${jndi:ldap://x/a}",
    "%s%s%s%n",
    "{{global:ACCOUNT_ID}}",
    "NaN",
)
HUGE_NUMBERS = (10**30, -(10**30), 2**63, 2**64 + 1, 1e30, 1e308, -1e308, 253_402_300_800_000, -1, 0)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE_NUMBERS),
    st.floats(),  # JSON as Python reads it: NaN and Infinity too
    st.sampled_from(SPECIAL_STRINGS),
    odd_text,
    huge_strings,
)
junk = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3),
    max_leaves=6,
)


# -- realistic events --------------------------------------------------------------------------


PRINCIPALS: tuple[dict[str, Any], ...] = (
    {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE:alice",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/alice",
        "accountId": ACCOUNT,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCOUNT}:role/Builder"},
            "attributes": {"creationDate": "2024-06-01T11:00:00Z", "mfaAuthenticated": "false"},
        },
    },
    {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEBOB",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/bob",
        "accountId": ACCOUNT,
        "userName": "bob",
    },
    {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT},
)
SOURCE_IPS = ("203.0.113.7", "2001:db8::7", "AWS Internal", "198.51.100.23")
RULES = {
    "rotate": "AmiHygiene-RotateScheduleRule6E1ACA0B-1X2Y3Z",
    "tags": "AmiHygiene-TagsSweepRule1A2B3C4D-9Q8W7E",
    "public": "AmiHygiene-PublicScanRuleA1B2C3D4-5T6Y7U",
    "rebuild": "AmiHygiene-RebuildScheduleRuleF00D-3E4R5T",
}


@st.composite
def _envelope(draw: st.DrawFn, event: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    sent = REAL_NOW - timedelta(seconds=draw(st.integers(0, 3600)))
    event.update(
        id=str(draw(st.uuids())), account=ACCOUNT, region=REGION, time=sent.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    detail = event.get("detail")
    if isinstance(detail, dict) and "eventName" in detail:  # CloudTrail
        detail.update(
            awsRegion=REGION,
            recipientAccountId=ACCOUNT,
            userIdentity=copy.deepcopy(draw(st.sampled_from(PRINCIPALS))),
            sourceIPAddress=draw(st.sampled_from(SOURCE_IPS)),
            eventTime=(sent - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            eventID=str(draw(st.uuids())),
        )
    return event


@st.composite
def realistic_event(draw: st.DrawFn, kind: str, job: str = "rotate") -> dict[str, Any]:
    """A realistic event of `kind`, for this account and region, naming the placeholders."""
    image = draw(st.sampled_from(IMAGES))
    if kind in ("CreateImage", "CopyImage", "RegisterImage"):
        event = load_event(
            {"CreateImage": "tags/create_image.json", "CopyImage": "tags/copy_image.json"}.get(
                kind, "tags/register_image.json"
            )
        )
        event["detail"]["responseElements"]["imageId"] = image
        if kind == "CopyImage":
            event["detail"]["requestParameters"].update(sourceImageId=SOURCE_IMAGE, sourceRegion=REGION)
    elif kind in ("CreateTags", "DeleteTags"):
        event = load_event("tags/create_tags.json" if kind == "CreateTags" else "tags/delete_tags.json")
        images = draw(st.lists(st.sampled_from(IMAGES), min_size=1, max_size=3, unique=True))
        others = draw(st.lists(st.sampled_from([SNAPSHOT, "i-0abc1234def567890"]), max_size=2, unique=True))
        ids = draw(st.permutations(images + others))
        event["detail"]["requestParameters"]["resourcesSet"]["items"] = [{"resourceId": i} for i in ids]
        keys = draw(
            st.lists(st.sampled_from(["Owner", "Environment", "CostCenter"]), min_size=1, unique=True)
        )
        items = [{"key": k, "value": "alice"} if kind == "CreateTags" else {"key": k} for k in keys]
        event["detail"]["requestParameters"]["tagSet"]["items"] = items
    elif kind == "StateChange":
        event = load_event("tags/state_change_available.json")
        event["detail"]["ImageId"] = image
        event["resources"] = [f"arn:aws:ec2:{REGION}::image/{image}"]
    elif kind == "ModifyImageAttribute":
        event = load_event("public/image_public.json")
        params = event["detail"]["requestParameters"]
        params["imageId"] = image
        sharable = [
            {"group": "all"},
            {"userId": STRANGER},
            {"organizationArn": "arn:aws:organizations::111122223333:organization/o-abcdef1234"},
        ]
        remove_only = draw(st.booleans())  # removes a share: the guard has nothing to do
        added = (
            [] if remove_only else draw(st.lists(st.sampled_from(sharable), min_size=1, unique_by=json.dumps))
        )
        removed = draw(st.lists(st.just({"userId": "111122223333"}), min_size=int(remove_only), max_size=1))
        params["launchPermission"] = {
            **({"add": {"items": added}} if added else {}),
            **({"remove": {"items": removed}} if removed else {}),
        }
    elif kind == "ModifySnapshotAttribute":
        event = load_event("public/snapshot_public.json")
        params = event["detail"]["requestParameters"]
        params["snapshotId"] = SNAPSHOT
        added = draw(
            st.lists(
                st.sampled_from([{"group": "all"}, {"userId": STRANGER}]),
                min_size=1,
                max_size=2,
                unique_by=json.dumps,
            )
        )
        params["createVolumePermission"] = {"add": {"items": added}}
    elif kind == "DisableImageBlockPublicAccess":
        event = load_event("public/disable_block_public_access.json")
    elif kind == "ImageBuilder":
        name = draw(
            st.sampled_from(["imagebuilder_available", "imagebuilder_failed", "imagebuilder_testing"])
        )
        event = load_event(f"rebuild/{name}.json")
        event["resources"] = [BUILD_ARN]
    elif kind == "Automation":
        name = draw(st.sampled_from(["ssm_success", "ssm_failed", "ssm_in_progress", "ssm_windows_success"]))
        event = load_event(f"rebuild/{name}.json")
        event["detail"]["ExecutionId"] = EXECUTION_ID
    elif kind == SCHEDULED:
        event = scheduled_event(RULES.get(job, RULES["rotate"]))
    else:
        raise ValueError(f"no such event kind: {kind}")
    return draw(_envelope(event))


@st.composite
def realistic(draw: st.DrawFn, job: str, kinds: tuple[str, ...] = ()) -> Case:
    """A realistic event of one of `kinds` (default: every kind of the job)."""
    kind = draw(st.sampled_from(kinds or JOB_KINDS[job]))
    event = draw(realistic_event(kind, job))
    return Case(job, kind, event, copy.deepcopy(event))


# -- what decides whether and where a job acts ------------------------------------------------

ENVELOPE = (("account",), ("region",), ("source",), ("detail-type",))
CLOUDTRAIL = (("detail", "eventSource"), ("detail", "eventName"), ("detail", "awsRegion"))
CRITICAL: dict[str, tuple[Path_, ...]] = {
    "CreateImage": (*CLOUDTRAIL, ("detail", "responseElements", "imageId")),
    "CopyImage": (*CLOUDTRAIL, ("detail", "responseElements", "imageId")),
    "RegisterImage": (*CLOUDTRAIL, ("detail", "responseElements", "imageId")),
    # Which ids a CreateTags names is not critical: dropping one still names the others.
    "CreateTags": CLOUDTRAIL,
    "DeleteTags": CLOUDTRAIL,
    "StateChange": (("detail", "ImageId"), ("detail", "State")),
    "ModifyImageAttribute": (*CLOUDTRAIL, ("detail", "requestParameters", "imageId")),
    "ModifySnapshotAttribute": (*CLOUDTRAIL, ("detail", "requestParameters", "snapshotId")),
    "DisableImageBlockPublicAccess": CLOUDTRAIL,
    "ImageBuilder": (("resources",), ("detail", "state", "status")),
    "Automation": (("detail", "ExecutionId"), ("detail", "Definition")),
    SCHEDULED: (),
}


def hits_what_decides(case_kind: str, base: dict[str, Any], event: Any) -> bool:
    """Whether `event` differs from `base` where it decides whether and where the job acts."""
    if not isinstance(event, dict):
        return True
    for path in (*ENVELOPE, *CRITICAL[case_kind]):
        if get(event, path) != get(base, path):
            return True
    if case_kind in CLOUDTRAIL_KINDS:
        # Absent (or null) it is the event's own account; present it must be this one.
        recipient = get(event, ("detail", "recipientAccountId"))
        if recipient not in (MISSING, None, "", get(base, ("detail", "recipientAccountId"))):
            return True
        if get(event, ("detail", "errorCode")) not in (MISSING, None, ""):
            return True
    return case_kind == SCHEDULED and not isinstance(event.get("detail"), dict)


# -- mutations ---------------------------------------------------------------------------------


TIME_PATHS: tuple[Path_, ...] = (
    ("time",),
    ("detail", "eventTime"),
    ("detail", "StartTime"),
    ("detail", "EndTime"),
    ("detail", "Time"),
)


@st.composite
def _generic(draw: st.DrawFn, event: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """One random mutation somewhere below the root."""
    where = list(paths(event))
    if not where:
        return event, "nothing to mutate"
    how = draw(st.sampled_from(["drop", "junk", "junk", "wrap", "huge", "time", "text", "text", "long"]))
    times = [p for p in TIME_PATHS if p in where]
    texts = [p for p in where if isinstance(get(event, p), str)]
    if how == "time" and times:
        where = times
    elif how in ("text", "long") and texts:
        where = texts
    path = draw(st.sampled_from(where))
    old = get(event, path)
    value: Any
    if how == "text":  # odd, yet what AWS allows in free text: the event often stays valid
        value = draw(allowed_text)
    elif how == "long" and isinstance(old, str) and old:
        value = _huge(old, draw(st.integers(len(old) + 1, max(len(old) + 1, 2100))))
    elif how == "drop":
        value = MISSING
    elif how == "wrap":
        value = [old]
    elif how == "huge":
        value = draw(huge_strings)
    elif how == "time":
        value = draw(st.sampled_from([*HUGE_NUMBERS, *TIME_STRINGS]))
    else:
        value = draw(junk)
    return with_value(event, path, value), f"{how} {'.'.join(map(str, path))} -> {short(value, 60)}"


OTHER_ACCOUNTS = (FOREIGN, STRANGER, "000000000000", "123456789013")


def account_paths(kind: str) -> tuple[Path_, ...]:
    """Where an event of `kind` names the account it is for."""
    if kind in CLOUDTRAIL_KINDS:
        return (("account",), ("detail", "recipientAccountId"))
    if kind == "ImageBuilder":
        return (("account",), ("resources", 0))
    return (("account",),)


def for_account(value: Any, account: str) -> Any:
    """`value` (an account id, or an ARN naming this account) naming `account` instead."""
    return value.replace(ACCOUNT, account) if isinstance(value, str) else account


def for_another_account(event: dict[str, Any], path: Path_, account: str = FOREIGN) -> dict[str, Any]:
    """`event` for `account` where `path` names its account (see `account_paths`)."""
    changed: dict[str, Any] = with_value(event, path, for_account(get(event, path), account))
    return changed


FOREIGN_ACCOUNTS: tuple[Any, ...] = (
    FOREIGN,
    "000000000000",
    "12345678901",
    "1234567890123",
    " 123456789012",
    "123456789012 ",
    "123456789012\n",
    "".join(chr(0xFF10 + int(d)) for d in ACCOUNT),  # fullwidth digits: \d matches them
    "x" * 5000,
    123456789012,
    [ACCOUNT],
)
BAD_REGIONS: tuple[Any, ...] = (
    "",
    "eu-west-1; DROP",
    "x" * 5000,
    "EU-WEST-1",
    "eu-west-1\n",
    " eu-west-1",
    "eu_west_1",
    "eu-wést-1",
    "eu-west-1/../us-east-1",
    "eu-west-1\ud800",
    None,
    42,
    [REGION],
)
BAD_IMAGE_IDS: tuple[Any, ...] = (
    "",
    "ami-",
    "ami-XYZ",
    "ami-0123456789abcdef0; DROP",
    "AMI-0123456789ABCDEF0",
    "ami-" + "0" * 5000,
    "x" * 5000,
    " ami-0123456789abcdef0",
    "ami-0123456789abcdef0\x00",
    "ami-" + "".join(chr(0xFF10 + d) for d in range(10)),  # fullwidth digits
    "ami-0123456789abcdef0\ud800",
    None,
    42,
    ["ami-0123456789abcdef0"],
)
BAD_SNAPSHOT_IDS: tuple[Any, ...] = tuple(
    v.replace("ami-", "snap-").replace("AMI-", "SNAP-") if isinstance(v, str) else v for v in BAD_IMAGE_IDS
)
BAD_TIMES: tuple[Any, ...] = (
    "",
    "yesterday",
    "2024-13-01T00:00:00Z",
    "x" * 5000,
    10**30,
    "10000-01-01T00:00:00Z",
)
BAD_BUILD_ARNS: tuple[Any, ...] = (
    f"arn:aws:imagebuilder:{REGION}:{FOREIGN}:image/web/1.0.0/7",
    f"arn:aws:imagebuilder:EU-WEST-1:{ACCOUNT}:image/web/1.0.0/7",
    f"arn:aws:imagebuilder:eu-west-1; DROP:{ACCOUNT}:image/web/1.0.0/7",
    f"arn:aws:imagebuilder::{ACCOUNT}:image/web/1.0.0/7",
    f"arn:aws:imagebuilder:{'x' * 5000}:{ACCOUNT}:image/web/1.0.0/7",
    f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image/web/1.0.0/7\n",
    "",
    "x" * 5000,
)
BAD_EXECUTION_IDS: tuple[Any, ...] = (
    "",
    "x" * 5000,
    EXECUTION_ID + "; DROP",
    EXECUTION_ID.upper(),
    EXECUTION_ID + "\n",
    EXECUTION_ID[:-1],
    None,
    42,
)
OTHER_CALLS = (
    "DeleteSnapshot",
    "RunInstances",
    "DescribeImages",
    "createImage",
    "CreateImage ",
    "ImportImage",
)


def _set(path: Path_, values: tuple[Any, ...] | st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    chosen = values if isinstance(values, st.SearchStrategy) else st.sampled_from(values)
    return chosen.map(lambda v: (path, v))


def _other_than(original: str) -> st.SearchStrategy[str]:
    return (st.sampled_from(SPECIAL_STRINGS) | odd_text | huge_strings).filter(lambda v: v != original)


def _breaking(kind: str, event: dict[str, Any]) -> st.SearchStrategy[tuple[Path_, Any]]:
    """(path, value) settings each of which makes the event one the job must not act on."""
    options = [
        _set(("account",), FOREIGN_ACCOUNTS),
        _set(("region",), BAD_REGIONS),
        _set(("time",), BAD_TIMES),
        _set(("source",), _other_than(str(event.get("source")))),
        _set(("detail-type",), _other_than(str(event.get("detail-type")))),
        _set(("detail",), st.sampled_from([[event.get("detail")], [], "detail", 42, None, True])),
    ]
    if kind in CLOUDTRAIL_KINDS:
        options += [
            _set(("detail", "recipientAccountId"), FOREIGN_ACCOUNTS),
            _set(("detail", "awsRegion"), BAD_REGIONS),
            _set(("detail", "eventName"), OTHER_CALLS),
            _set(
                ("detail", "eventSource"), ("s3.amazonaws.com", "EC2.amazonaws.com", "ec2.amazonaws.com.evil")
            ),
            _set(("detail", "errorCode"), ("Client.UnauthorizedOperation", "InvalidAMIID.NotFound")),
        ]
    if kind in ("CreateImage", "CopyImage", "RegisterImage"):
        options.append(_set(("detail", "responseElements", "imageId"), BAD_IMAGE_IDS))
    if kind == "StateChange":
        options += [
            _set(("detail", "ImageId"), BAD_IMAGE_IDS),
            _set(("detail", "State"), ("failed", "deregistered", "pending", "disabled", "")),
        ]
    if kind == "ModifyImageAttribute":
        options.append(_set(("detail", "requestParameters", "imageId"), BAD_IMAGE_IDS))
    if kind == "ModifySnapshotAttribute":
        options.append(_set(("detail", "requestParameters", "snapshotId"), BAD_SNAPSHOT_IDS))
    if kind == "ImageBuilder":
        options += [
            _set(("resources",), st.sampled_from(BAD_BUILD_ARNS).map(lambda arn: [arn])),
            _set(("resources",), st.just([BUILD_ARN, BUILD_ARN.replace("/7", "/8")])),
            _set(("detail", "state", "status"), ("DEPRECATED", "DELETED", "DISABLED", "")),
        ]
    if kind == "Automation":
        options += [
            _set(("detail", "ExecutionId"), BAD_EXECUTION_IDS),
            _set(("detail", "Definition"), ("AWS-RunShellScript", "Custom-UpdateLinuxAmi", "")),
        ]
    return st.one_of(options)


def _each_image_id(event: dict[str, Any], values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A CreateTags/DeleteTags event whose every image id is malformed (the others stay)."""
    items = get(event, ("detail", "requestParameters", "resourcesSet", "items"))

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out = copy.deepcopy(event)
        for n, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and str(item.get("resourceId", "")).startswith("ami-"):
                out = with_value(
                    out,
                    ("detail", "requestParameters", "resourcesSet", "items", n, "resourceId"),
                    draw(values),
                )
        return out

    return build()


@st.composite
def mutated(draw: st.DrawFn, job: str, kinds: tuple[str, ...] = ()) -> Case:
    case = draw(realistic(job, kinds))
    event, done = case.event, []
    for _ in range(draw(st.integers(1, 3))):
        event, what = draw(_generic(event))
        done.append(what)
    return Case(job, case.kind, case.base, event, tuple(done), hits_what_decides(case.kind, case.base, event))


NOT_OBJECTS: tuple[Any, ...] = (None, [], "str", 42, 4.2, True, "", {}, [{}])


@st.composite
def broken(draw: st.DrawFn, job: str, kinds: tuple[str, ...] = ()) -> Case:
    case = draw(realistic(job, kinds))
    event, done = case.event, []
    for _ in range(draw(st.integers(0, 2))):
        event, what = draw(_generic(event))
        done.append(what)
    how = draw(
        st.sampled_from(["another account"] * 2 + ["field"] * 3 + ["not an object", "another job's event"])
    )
    sent: Any
    if how == "another account":  # well formed: only the account check can refuse it
        path, account = draw(st.sampled_from(account_paths(case.kind))), draw(st.sampled_from(OTHER_ACCOUNTS))
        sent = for_another_account(event, path, account)
        if get(sent, path) == get(event, path):  # a random mutation removed the parent
            path, sent = ("account",), with_value(event, ("account",), account)
        done.append(f"{'.'.join(map(str, path))} -> account {account}")
    elif how == "not an object":
        sent = draw(st.sampled_from([*NOT_OBJECTS, [case.base], json.dumps(case.base)]))
        done.append(f"event -> {short(sent, 60)}")
    elif how == "another job's event":
        others = sorted(
            {k for other, kinds in JOB_KINDS.items() if other != job for k in kinds} - set(JOB_KINDS[job])
        )
        kind = draw(st.sampled_from(others))
        sent = draw(realistic_event(kind))
        done.append(f"event -> a {kind} event")
    elif case.kind in ("CreateTags", "DeleteTags") and draw(st.booleans()):
        sent = draw(_each_image_id(event, st.sampled_from(BAD_IMAGE_IDS[:-3])))
        done.append("every image id -> malformed")
        if sent == event:  # the random mutations left no image id to break
            sent = with_value(event, ("account",), FOREIGN)
            done.append(f"account -> {FOREIGN}")
    else:
        path, value = draw(_breaking(case.kind, case.base))
        sent = with_value(event, path, value)
        if get(sent, path) != value:  # a random mutation removed the parent: break the account instead
            path, value = ("account",), FOREIGN
            sent = with_value(event, path, value)
        done.append(f"{'.'.join(map(str, path))} -> {short(value, 60)}")
    return Case(job, case.kind, case.base, sent, tuple(done), broken=True)


def cases(job: str, kinds: tuple[str, ...] = ()) -> st.SearchStrategy[Case]:
    """Any of realistic, mutated and broken events of `kinds` (default: every kind of the job)."""
    # Realistic events each get their own test too (tests/aws/handlers/test_fuzz.py); weight the mutants.
    mutants = (mutated(job, kinds), broken(job, kinds))
    return st.one_of(realistic(job, kinds), *mutants, *mutants)


# -- the organization hub ----------------------------------------------------------------------
#
# The hub's state machine gives its functions three inputs (organization/events.py): a Target
# Sweep to a job's function (one account x region of a run), {"job", "run"} to the targets
# function, and the targets function's answer to the digest function. The hub's job functions
# also take the member accounts' own events, forwarded to the hub's bus. These name the sandbox
# organization's accounts, which moto numbers at random, so the strategies take them (a
# `HubScope`) where the events above use placeholders. Their cases are `Case`s too, `kind`
# naming the input:
#
#     sweep_cases(job, hub)         Target Sweeps: realistic (one of the run's targets: an account
#                                   of the organization not excluded, a region of Regions, the run's
#                                   bucket and prefix); mutated, each one `broken` if anything
#                                   changed (every field is the run's or a listed target's, and a
#                                   random change is neither); broken (excluded or malformed
#                                   account, region outside Regions, another job / run / bucket /
#                                   prefix, another source, a key too many or missing, no object)
#     targets_cases(job)            the targets function's {"job", "run"}: realistic; mutated (a
#                                   random change may leave it valid: not `broken`); broken
#     digest_cases(answer, hub)     the digest function's input, from a real answer of the targets
#                                   function: realistic (that answer), mutated, broken
#     member_cases(job, hub)        the job's own events (schedules aside) as a member account sends
#                                   them: `cases(job)` for a member (`in_account`); or from the
#                                   excluded account; or naming it (or another member) in one place
#                                   only; or with a malformed or unknown envelope `account`

HUB_SOURCE = "ami-hygiene.organization"
TARGET_SWEEP = "Target Sweep"
TARGETS_INPUT = "targets input"
DIGEST_INPUT = "digest input"
TARGETS_FILE = "targets.json"


def run_prefix(job: str, run: str) -> str:
    """Where the hub keeps a run's files (spelled out here, not imported: the fuzz checks the format)."""
    return f"organization/{job}/{run}/"


@dataclass(frozen=True)
class HubScope:
    """What the hub's inputs may name: the sandbox organization's accounts by the part they play."""

    members: tuple[str, ...]  # reachable by their member role, with images to act on
    others: tuple[str, ...]  # in the organization, not excluded: a target, never refused (maybe unreachable)
    excluded: str  # in EXCLUDED_ACCOUNTS: seeded like a member, never acted in
    bucket: str  # the hub's report bucket
    regions: tuple[str, ...]  # the hub's Regions
    jobs: tuple[str, ...]  # the registry's job names

    @property
    def targets(self) -> tuple[str, ...]:
        return (*self.members, *self.others)


def in_account(case: Case, account: str) -> Case:
    """`case` from `account`: where it named this account (envelope, CloudTrail record, ARNs), `account`."""
    mapping = {ACCOUNT: account}
    return replace(case, base=bind(case.base, mapping), event=bind(case.event, mapping), account=account)


def malformed_accounts(account: str) -> tuple[Any, ...]:
    """`account` (a 12-digit id) made malformed every way an input might: the hub must refuse each."""
    return (
        account[:-1],
        f"{account}0",
        f" {account}",
        f"{account} ",
        f"{account}\n",
        "".join(chr(0xFF10 + int(d)) for d in account),  # fullwidth digits: \d matches them
        f"{account[:6]}\u0663{account[7:]}",  # an Arabic-Indic digit
        f"arn:aws:iam::{account}:root",
        "x" * 5000,
        "",
        int(account),
        None,
        [account],
        {"id": account},
    )


OUTSIDE_REGIONS = ("ap-south-1", "us-west-2", "eu-central-2")  # well formed, not in the hub's Regions
BAD_RUNS: tuple[Any, ...] = (
    "",
    ".",
    "..",
    "../x",
    "a/b",
    "-run",
    "x" * 81,
    "run name",
    "run\n",
    " run",
    "run$",
    "r\u00fcn",
    "\uff52\uff55\uff4e",  # fullwidth letters
    "run\ud800",
    None,
    42,
    ["run"],
)
OTHER_BUCKET = "someone-elses-bucket"
BAD_BUCKETS: tuple[Any, ...] = (
    "",
    "ab",
    "Not_A_Bucket",
    "x" * 64,
    "192.168.1.1",
    "xn--bucket",
    "bucket..name",
    "bucket-s3alias",
    "-bucket",
    "bucket/",
    "s3://bucket",
    None,
    42,
    ["bucket"],
)
BAD_JOBS: tuple[Any, ...] = ("", "nope", "organization", "../public", "x" * 5000, None, 42, ["public"], {})
EXTRA_KEYS: tuple[tuple[str, Any], ...] = (
    ("detail", {}),
    ("id", "7f1c2a9e-0b7d-4c53-9a1e-2f4b8c7d9e10"),
    ("time", "2024-06-01T12:00:00Z"),
    ("Job", "public"),
    ("Prefix", "organization/"),
    ("account\nid", "1"),
)

Changes = tuple[tuple[Path_, Any], ...]


def _one(path: Path_, values: tuple[Any, ...] | st.SearchStrategy[Any]) -> st.SearchStrategy[Changes]:
    return _set(path, values).map(lambda change: (change,))


def _other_run(run: str) -> str:
    return ("1" if run[:1] == "0" else "0") + run[1:]


def _bad_prefixes(job: str, run: str) -> tuple[Any, ...]:
    prefix = run_prefix(job, run)
    return (
        run_prefix(job, _other_run(run)),
        prefix.rstrip("/"),
        f"/{prefix}",
        f"{prefix}../",
        f"{prefix}../../",
        f"organization/{job}/",
        "organization/",
        "",
        "/",
        prefix * 2,
        prefix.upper(),
        f"{prefix}\n",
        None,
        42,
        [prefix],
    )


def _extra_or_missing(base: dict[str, Any], required: tuple[str, ...]) -> st.SearchStrategy[Changes]:
    extra = st.sampled_from(EXTRA_KEYS).map(lambda kv: (((kv[0],), kv[1]),))
    missing = st.sampled_from(required).map(lambda key: (((key,), MISSING),))
    return extra | missing


def _run_and_its_files(job: str, *, key: bool) -> st.SearchStrategy[Changes]:
    """A malformed run with the prefix (and key) that would be its own: only the run's check refuses it."""

    def changes(run: str) -> Changes:
        prefix = run_prefix(job, run)
        return ((("run",), run), (("prefix",), prefix), *([(("key",), prefix + TARGETS_FILE)] if key else []))

    return st.sampled_from([r for r in BAD_RUNS if isinstance(r, str)]).map(changes)


def _another_job(job: str, run: str, jobs: tuple[str, ...]) -> st.SearchStrategy[Changes]:
    """Another job's run, consistently: a job's function takes its own name only."""
    others = [j for j in jobs if j != job]
    return st.sampled_from(others).map(
        lambda other: ((("job",), other), (("prefix",), run_prefix(other, run)))
    )


def _breaking_sweep(base: dict[str, Any], hub: HubScope) -> st.SearchStrategy[Changes]:
    job, run, account = base["job"], base["run"], base["account"]
    return st.one_of(
        _one(("account",), (hub.excluded, *malformed_accounts(account))),
        _one(("region",), (*BAD_REGIONS, *OUTSIDE_REGIONS)),
        _one(("job",), (*[j for j in hub.jobs if j != job], *BAD_JOBS, job.upper(), f"{job} ")),
        _another_job(job, run, hub.jobs),
        _one(("run",), BAD_RUNS),
        _run_and_its_files(job, key=False),
        _one(("bucket",), (OTHER_BUCKET, f"{hub.bucket}-x", hub.bucket.upper(), *BAD_BUCKETS)),
        _one(("prefix",), _bad_prefixes(job, run)),
        _one(
            ("source",),
            _other_than(HUB_SOURCE) | st.sampled_from(("aws.events", f"{HUB_SOURCE} ", HUB_SOURCE.upper())),
        ),
        _one(
            ("detail-type",),
            _other_than(TARGET_SWEEP) | st.sampled_from(("Scheduled Event", TARGET_SWEEP.lower())),
        ),
        _extra_or_missing(base, tuple(base)),
    )


def _breaking_targets(base: dict[str, Any]) -> st.SearchStrategy[Changes]:
    job = base["job"]
    return st.one_of(
        _one(("job",), (*BAD_JOBS, job.upper(), f"{job} ")),
        _one(("run",), BAD_RUNS),
        _extra_or_missing(base, ("job", "run")),
        st.just(((("prefix",), run_prefix(job, base["run"])),)),  # the answer's keys are not the input's
    )


def _breaking_digest(base: dict[str, Any], hub: HubScope) -> st.SearchStrategy[Changes]:
    job, run, prefix, key = base["job"], base["run"], base["prefix"], base["key"]
    account = (base.get("accounts") or hub.targets)[0]
    return st.one_of(
        _one(("job",), (*BAD_JOBS, job.upper(), f"{job} ")),
        _one(("run",), BAD_RUNS),
        _run_and_its_files(job, key=True),
        _one(("bucket",), (OTHER_BUCKET, f"{hub.bucket}-x", hub.bucket.upper(), *BAD_BUCKETS)),
        _one(("prefix",), _bad_prefixes(job, run)),
        _one(
            ("key",),
            (
                f"{prefix}digest.json",
                f"{prefix}results/{account}-{REGION}.json",
                f"{prefix}../{TARGETS_FILE}",
                run_prefix(job, _other_run(run)) + TARGETS_FILE,
                TARGETS_FILE,
                f"/{key}",
                f"s3://{hub.bucket}/{key}",
                f"{key}\n",
                key.upper(),
                "",
                None,
                42,
            ),
        ),
        _one(("count",), (-1, 100_001, 10**30, True, "6", 6.0, float("nan"), None, [6])),
        _one(("accounts",), (*([bad] for bad in malformed_accounts(account)), account, {}, None)),
        _one(("regions",), (["EU-WEST-1"], [f"{REGION}\n"], [""], REGION, [None], None)),
        _one(("excluded",), (["x"], [1], hub.excluded, None)),
        _one(("skipped",), (["x"], [1], hub.excluded, None)),
        _extra_or_missing(base, ("job", "run", "bucket", "prefix", "key")),
    )


@st.composite
def _mutated_input(draw: st.DrawFn, job: str, kind: str, base: dict[str, Any]) -> Case:
    event, done = base, []
    for _ in range(draw(st.integers(1, 3))):
        event, what = draw(_generic(event))
        done.append(what)
    return Case(job, kind, base, event, tuple(done))


@st.composite
def _broken_input(
    draw: st.DrawFn, job: str, kind: str, base: dict[str, Any], breaking: st.SearchStrategy[Changes]
) -> Case:
    """0-2 random mutations, then changes that make the input one the function must refuse."""
    event, done = base, []
    for _ in range(draw(st.integers(0, 2))):
        event, what = draw(_generic(event))
        done.append(what)
    sent: Any
    if draw(st.integers(0, 7)) == 0:
        sent = draw(st.sampled_from([*NOT_OBJECTS, [base], json.dumps(base)]))
        done.append(f"input -> {short(sent, 60)}")
    else:
        changes = draw(breaking)
        sent = event
        for path, value in changes:
            sent = with_value(sent, path, value)
        done.append(", ".join(f"{'.'.join(map(str, p))} -> {short(v, 60)}" for p, v in changes))
    return Case(job, kind, base, sent, tuple(done), broken=True)


@st.composite
def target_sweep(draw: st.DrawFn, job: str, hub: HubScope) -> dict[str, Any]:
    """What the hub's Distributed Map sends `job`'s function for one target (infra/sweep_machine.py)."""
    run = str(draw(st.uuids()))  # Step Functions names a scheduled execution with a UUID
    return {
        "source": HUB_SOURCE,
        "detail-type": TARGET_SWEEP,
        "job": job,
        "account": draw(st.sampled_from(hub.targets)),
        "region": draw(st.sampled_from(hub.regions)),
        "run": run,
        "bucket": hub.bucket,
        "prefix": run_prefix(job, run),
    }


@st.composite
def sweep_cases(draw: st.DrawFn, job: str, hub: HubScope) -> Case:
    base = draw(target_sweep(job, hub))
    how = draw(st.sampled_from(["realistic", "mutated", "mutated", "broken", "broken"]))
    if how == "realistic":
        return Case(job, TARGET_SWEEP, base, copy.deepcopy(base))
    if how == "mutated":
        case = draw(_mutated_input(job, TARGET_SWEEP, base))
        return replace(case, broken=case.event != base)
    return draw(_broken_input(job, TARGET_SWEEP, base, _breaking_sweep(base, hub)))


@st.composite
def targets_cases(draw: st.DrawFn, job: str) -> Case:
    base = {"job": job, "run": str(draw(st.uuids()))}
    how = draw(st.sampled_from(["realistic", "mutated", "mutated", "broken", "broken"]))
    if how == "realistic":
        return Case(job, TARGETS_INPUT, base, copy.deepcopy(base))
    if how == "mutated":
        return draw(_mutated_input(job, TARGETS_INPUT, base))
    return draw(_broken_input(job, TARGETS_INPUT, base, _breaking_targets(base)))


@st.composite
def digest_cases(draw: st.DrawFn, answer: dict[str, Any], hub: HubScope) -> Case:
    """Digest inputs from `answer`, a real answer of the targets function (its targets.json exists)."""
    job = str(answer["job"])
    how = draw(st.sampled_from(["realistic", "mutated", "mutated", "broken", "broken"]))
    if how == "realistic":
        return Case(job, DIGEST_INPUT, answer, copy.deepcopy(answer))
    if how == "mutated":
        return draw(_mutated_input(job, DIGEST_INPUT, answer))
    return draw(_broken_input(job, DIGEST_INPUT, answer, _breaking_digest(answer, hub)))


def realtime_kinds(job: str) -> tuple[str, ...]:
    """The job's own events a member account sends (the hub sweeps on its state machine, not a schedule)."""
    return tuple(kind for kind in JOB_KINDS[job] if kind != SCHEDULED)


@st.composite
def member_cases(draw: st.DrawFn, job: str, hub: HubScope) -> Case:
    """`cases(job)` from a member; or from the excluded account; or naming it, or another member, in
    one place only; or with a malformed or unknown envelope account."""
    raw = draw(cases(job, realtime_kinds(job)))
    how = draw(st.sampled_from(["member", "member", "member", "excluded", "one place", "malformed"]))
    if how == "excluded":  # every mention of the account names the excluded one: only that refuses it
        case = in_account(raw, hub.excluded)
        return replace(case, mutations=(*case.mutations, f"from {hub.excluded} (excluded)"), broken=True)
    member = draw(st.sampled_from(hub.members))
    if how == "one place" and isinstance(raw.event, dict):
        # The envelope names the excluded account, or the record (recipient, build ARN) names the
        # excluded account or another member: no account the event names may be acted in for it.
        path = draw(st.sampled_from(account_paths(raw.kind)))
        others = [a for a in (hub.excluded, *hub.members) if a != member]
        other = hub.excluded if path == ("account",) else draw(st.sampled_from(others))
        event = for_another_account(raw.event, path, other)
        if get(event, path) == get(raw.event, path):  # a random mutation removed its parent
            path, other = ("account",), hub.excluded
            event = with_value(raw.event, path, other)
        case = in_account(replace(raw, event=event), member)
        where = ".".join(map(str, path))
        return replace(case, mutations=(*case.mutations, f"{where} -> {other}"), broken=True)
    case = in_account(raw, member)
    if how == "malformed" and isinstance(case.event, dict):
        account = draw(
            st.sampled_from(malformed_accounts(case.account)) | st.sampled_from(OTHER_ACCOUNTS) | junk
        )
        event = with_value(case.event, ("account",), account)
        return replace(
            case, event=event, mutations=(*case.mutations, f"account -> {short(account, 60)}"), broken=True
        )
    return case
