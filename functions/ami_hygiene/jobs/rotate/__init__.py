"""The rotate job: retires old, unused AMIs in stages, keeping the newest of every family."""

from __future__ import annotations

from ami_hygiene.core.job import JobSpec
from ami_hygiene.jobs.rotate.run import run_rotation

SPEC: JobSpec[None] = JobSpec(
    run_rotation,
    summary="deprecate, disable, deregister superseded unused AMIs",
    schedule_parameter="RotationSchedule",
)
