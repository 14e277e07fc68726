"""The rotate job: retires old, unused AMIs in stages, keeping the newest of every family."""

from __future__ import annotations

from ami_hygiene.core.job import JobSpec
from ami_hygiene.jobs.rotate.actions import WRITERS
from ami_hygiene.jobs.rotate.policy import JOB
from ami_hygiene.jobs.rotate.run import run_rotation
from ami_hygiene.jobs.rotate.settings import RotateJobSettings
from ami_hygiene.jobs.rotate.view import VIEW

SPEC: JobSpec[None] = JobSpec(
    JOB,
    summary="deprecate, disable, deregister superseded unused AMIs",
    run=lambda settings, clients, stop, _event: run_rotation(settings, clients, should_stop=stop),
    settings=RotateJobSettings,
    writers=WRITERS,
    view=VIEW,
    schedule_parameter="RotationSchedule",
)
