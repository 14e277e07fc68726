"""The sweep lease against the embedded AWS's DynamoDB: the table alone, then through the handler.

The handler tests run the public-sharing guard: a sweep that finds another sweep
holding the lease changes nothing and tells nobody, while a sharing event is still
handled at once; a lease table that cannot be used refuses the sweep.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.lease import (
    EXPIRES_AT,
    EXPIRY_MARGIN,
    HOLDER,
    KEY,
    LEASE_TABLE_ENV,
    Held,
    Lease,
    LeaseError,
    Leases,
    expiry,
    holding,
)
from ami_hygiene.handlers.common import handle
from ami_hygiene.handlers.public import PUBLIC, public
from sandbox.demo import Seeder
from tests.helpers.constants import NOW, REGION
from tests.helpers.events import cloudtrail_event, scheduled_event
from tests.helpers.jobs import with_run
from tests.helpers.lambda_context import LambdaContext
from tests.helpers.sandbox import is_public, lease_table, make_public, notifications, report_topic

TABLE = "ami-hygiene-sweep-leases"
FUNCTION = "ami-hygiene-public"
SCHEDULED = scheduled_event("ami-hygiene-public")


def _items(name: str = TABLE) -> dict[str, dict[str, str]]:
    found = boto3.client("dynamodb", region_name=REGION).scan(TableName=name, ConsistentRead=True)["Items"]
    return {i[KEY]["S"]: {k: next(iter(v.values())) for k, v in i.items()} for i in found}


@pytest.fixture
def leases(aws: None) -> Leases:
    return Leases(Clients(), lease_table(TABLE), REGION)


# -- the table ----------------------------------------------------------------------------


def test_a_free_lease_is_taken_with_its_holder_and_expiry(leases: Leases) -> None:
    until = NOW + timedelta(minutes=6)
    got = leases.acquire("public", "request-1", NOW, until)
    assert got == Lease("public", "request-1", until)
    assert _items() == {
        "public": {
            KEY: "public",
            HOLDER: "request-1",
            EXPIRES_AT: str(int(until.timestamp())),
            "acquired_at": "2026-11-27T06:00:00Z",
        }
    }


def test_a_held_lease_is_refused_naming_its_holder_and_stays_as_it_was(leases: Leases) -> None:
    until = NOW + timedelta(minutes=6)
    leases.acquire("public", "request-1", NOW, until)
    before = _items()
    got = leases.acquire("public", "request-2", NOW + timedelta(minutes=1), NOW + timedelta(minutes=7))
    assert got == Held("public", "request-1", until)
    assert _items() == before
    # Another job's lease is another item: it is free.
    assert isinstance(leases.acquire("tags", "request-3", NOW, until), Lease)


def test_an_expired_lease_is_taken_over(leases: Leases) -> None:
    leases.acquire("public", "crashed-run", NOW, NOW + timedelta(minutes=6))
    # At the expiry second itself the lease still holds; one second later it is free.
    at_expiry = NOW + timedelta(minutes=6)
    assert isinstance(leases.acquire("public", "next-run", at_expiry, at_expiry + timedelta(minutes=6)), Held)
    later = at_expiry + timedelta(seconds=1)
    got = leases.acquire("public", "next-run", later, later + timedelta(minutes=6))
    assert got == Lease("public", "next-run", later + timedelta(minutes=6))
    assert _items()["public"][HOLDER] == "next-run"


def test_only_the_holder_releases_the_lease(leases: Leases) -> None:
    mine = leases.acquire("public", "request-1", NOW, NOW + timedelta(minutes=6))
    assert isinstance(mine, Lease)
    assert leases.release(replace(mine, holder="request-2")) is False
    assert _items()["public"][HOLDER] == "request-1"
    assert leases.release(mine) is True
    assert _items() == {}
    assert leases.release(mine) is False  # already gone


def test_a_lease_taken_over_after_expiry_is_not_released_by_its_old_holder(leases: Leases) -> None:
    old = leases.acquire("public", "slow-run", NOW, NOW + timedelta(minutes=6))
    assert isinstance(old, Lease)
    later = NOW + timedelta(minutes=7)
    assert isinstance(leases.acquire("public", "next-run", later, later + timedelta(minutes=6)), Lease)
    assert leases.release(old) is False
    assert _items()["public"][HOLDER] == "next-run"


def test_a_table_that_cannot_be_used_raises_lease_error(aws: None) -> None:
    missing = Leases(Clients(), "no-such-table", REGION)
    with pytest.raises(LeaseError, match="no-such-table"):
        missing.acquire("public", "request-1", NOW, NOW + timedelta(minutes=6))
    with pytest.raises(LeaseError, match="release"):
        missing.release(Lease("public", "request-1", NOW))


def test_the_lease_lasts_the_invocations_remaining_time_and_a_margin() -> None:
    assert expiry(NOW, 300_000) == NOW + timedelta(minutes=5) + EXPIRY_MARGIN
    assert expiry(NOW, -5) == NOW + EXPIRY_MARGIN


def test_holding_releases_the_lease_however_the_block_ends(leases: Leases) -> None:
    with pytest.raises(RuntimeError), holding(leases, "rotate", "r-1", NOW, NOW + timedelta(minutes=6)):
        assert _items()["rotate"][HOLDER] == "r-1"
        raise RuntimeError("the run failed")
    assert _items() == {}
    with holding(None, "rotate", "r-2", NOW, NOW) as nothing:
        assert nothing is None and _items() == {}


def test_a_release_that_fails_leaves_the_lease_to_expire_and_does_not_fail_the_run(
    leases: Leases,
) -> None:
    with holding(leases, "rotate", "r-1", NOW, NOW + timedelta(minutes=6)) as lease:
        assert isinstance(lease, Lease)
        boto3.client("dynamodb", region_name=REGION).delete_table(TableName=TABLE)
    # No exception: the release failed, was logged, and the lease would have expired.


# -- through the handler ------------------------------------------------------------------


def _env(table: str | None = TABLE) -> dict[str, str]:
    env = {"REGIONS": REGION, "MODE": "enforce", "TOPIC_ARN": report_topic(), "AWS_REGION": REGION}
    return {**env, LEASE_TABLE_ENV: table} if table else env


def _subjects(env: dict[str, str]) -> list[str]:
    return [n.subject for n in notifications(env["TOPIC_ARN"])]


def _sharing_event(image: str) -> dict[str, Any]:
    event = cloudtrail_event("public/image_public.json")
    event["detail"]["requestParameters"]["imageId"] = image
    return event


def test_a_second_sweep_is_skipped_while_an_event_is_still_handled(seeder: Seeder) -> None:
    lease_table(TABLE)
    env = _env()
    swept_first = make_public(seeder.image("web-1", 1))
    # The first sweep holds the lease and is paused before it reads anything.
    started, go_on = threading.Event(), threading.Event()

    def paused_run(*args: Any) -> Any:
        started.set()
        assert go_on.wait(30)
        return PUBLIC.run(*args)

    first_context = LambdaContext(FUNCTION)
    first: dict[str, Any] = {}
    sweep = threading.Thread(
        target=lambda: first.update(
            handle(with_run(PUBLIC, paused_run), SCHEDULED, first_context, env, Clients())
        )
    )
    sweep.start()
    try:
        assert started.wait(30)
        assert _items()["public"][HOLDER] == first_context.aws_request_id

        second = public(SCHEDULED, LambdaContext(FUNCTION), env, Clients())
        assert second["status"] == "skipped" and second["messages"] == []
        assert second["holder"] == first_context.aws_request_id
        assert first_context.aws_request_id in second["detail"] and second["expires_at"] in second["detail"]
        assert is_public(swept_first) and _subjects(env) == []  # changed nothing, told nobody

        # An image made public now is made private again at once: events take no lease.
        shared_now = make_public(seeder.image("web-2", 1))
        handled = public(_sharing_event(shared_now), LambdaContext(FUNCTION), env, Clients())
        assert handled["status"] == "completed" and len(handled["messages"]) == 1
        assert not is_public(shared_now)
        assert _items()["public"][HOLDER] == first_context.aws_request_id
    finally:
        go_on.set()
        sweep.join(30)

    assert first["status"] == "completed" and not is_public(swept_first)
    assert _items() == {}  # released at the end


def test_a_sweep_takes_and_releases_the_lease_and_without_a_table_takes_none(seeder: Seeder) -> None:
    lease_table(TABLE)
    make_public(seeder.image("web-1", 1))
    taken: list[dict[str, dict[str, str]]] = []

    def watched_run(*args: Any) -> Any:
        taken.append(_items())
        return PUBLIC.run(*args)

    watching = with_run(PUBLIC, watched_run)
    result = handle(watching, SCHEDULED, LambdaContext(FUNCTION), _env(), Clients())
    assert result["status"] == "completed"
    assert list(taken[0]) == ["public"] and _items() == {}

    result = handle(watching, SCHEDULED, LambdaContext(FUNCTION), _env(table=None), Clients())
    assert result["status"] == "completed" and taken[1] == {}


def test_a_lease_table_that_cannot_be_reached_refuses_the_sweep(seeder: Seeder) -> None:
    image = make_public(seeder.image("web-1", 1))
    env = _env(table="no-such-table")
    answer = public(SCHEDULED, LambdaContext(FUNCTION), env, Clients())
    assert answer["status"] == "rejected" and answer["error"] == "sweep lease unavailable"
    assert "no-such-table" in answer["detail"] and "did not run" in answer["detail"]
    assert _subjects(env) == [f"[ami-hygiene] {REGION} public: ERROR sweep lease unavailable"]
    assert is_public(image)  # nothing was changed
