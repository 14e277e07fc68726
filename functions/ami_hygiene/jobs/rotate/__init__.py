"""The rotate job: retires old, unused AMIs in stages, keeping the newest of every family."""

from __future__ import annotations

from ami_hygiene.core.job import JobSpec
from ami_hygiene.jobs.rotate.policy import JOB
from ami_hygiene.jobs.rotate.run import run_rotation

SPEC: JobSpec[None] = JobSpec(
    JOB,
    summary="deprecate, disable, deregister superseded unused AMIs",
    run=lambda settings, clients, stop, _event: run_rotation(settings, clients, should_stop=stop),
    schedule_parameter="RotationSchedule",
)
