"""A job's spec with its run swapped for a test's function (the handler around it unchanged)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.executor import never_stop
from ami_hygiene.core.job import JobSpec
from ami_hygiene.core.regions import JobRun
from ami_hygiene.core.report import Report

Run = Callable[[Any, Clients, Callable[[], bool], Any], Report]


class _Substitute(JobRun[Any, Any]):
    def __init__(self, real: JobRun[Any, Any], run: Run) -> None:
        self.job, self.view, self.writers = real.job, real.view, real.writers
        self.settings_model = real.settings_model
        self._run = run

    def __call__(
        self,
        settings: Any,
        clients: Clients,
        now: datetime | None = None,
        should_stop: Callable[[], bool] = never_stop,
        event: Any = None,
    ) -> Report:
        return self._run(settings, clients, should_stop, event)


def with_run(spec: JobSpec[Any], run: Run) -> JobSpec[Any]:
    """`spec` whose run is `run(settings, clients, should_stop, event)`."""
    return replace(spec, runner=_Substitute(spec.runner, run))
