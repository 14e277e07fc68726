"""The daily slice of a large estate whose permissions a sweep reads: bounded, and covering all."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ami_hygiene.core.estate import Image
from ami_hygiene.jobs.public.inventory import rotating_slice
from tests.helpers.builders import image


def _images(n: int) -> list[Image]:
    return [image(k, name=f"i{k}") for k in range(n)]


@given(st.integers(0, 60), st.integers(1, 20), st.integers(0, 10_000))
def test_each_day_reads_at_most_the_limit_and_consecutive_days_cover_everything(
    n: int, limit: int, first_day: int
) -> None:
    images = _images(n)
    days = max(1, -(-n // limit))
    seen: set[str] = set()
    for day in range(first_day, first_day + days):
        chosen = rotating_slice(images, limit, day)
        assert len(chosen) == min(limit, n)
        assert len({i.image_id for i in chosen}) == len(chosen)
        seen |= {i.image_id for i in chosen}
    assert seen == {i.image_id for i in images}


def test_no_limit_or_a_small_estate_reads_everything() -> None:
    images = _images(3)
    assert rotating_slice(images, None, 7) == images
    assert rotating_slice(images, 3, 7) == images
