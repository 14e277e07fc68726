"""The job registry: one JobSpec per job, read by the CLI, metrics and the infrastructure.

A new job is a folder under jobs/ (events, inventory, policy, actions, view, run and
its SPEC in __init__.py) plus one entry below. Each Lambda handler imports only its
own job's SPEC (handlers/<job>.py), so a function loads no other job's code.
"""

from __future__ import annotations

from typing import Any

from ami_hygiene.core.job import JobSpec
from ami_hygiene.jobs.public import SPEC as PUBLIC
from ami_hygiene.jobs.rebuild import SPEC as REBUILD
from ami_hygiene.jobs.rotate import SPEC as ROTATE
from ami_hygiene.jobs.tags import SPEC as TAGS

JOBS: tuple[JobSpec[Any], ...] = (ROTATE, TAGS, PUBLIC, REBUILD)
BY_NAME: dict[str, JobSpec[Any]] = {job.name: job for job in JOBS}

__all__ = ["BY_NAME", "JOBS", "PUBLIC", "REBUILD", "ROTATE", "TAGS"]
