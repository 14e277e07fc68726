"""What a job is, as the rest of the tool sees it: one JobSpec per job (the registry, registry.py).

Handlers, the CLI, metrics and the infrastructure read these fields and nothing
else of a job, so a new job is a folder under jobs/ and one registry entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.executor import Writers
from ami_hygiene.core.regions import JobRun
from ami_hygiene.core.report import Report
from ami_hygiene.core.settings import Settings
from ami_hygiene.core.view import View

E = TypeVar("E")


@dataclass(frozen=True)
class EventRule:
    """One EventBridge rule that starts the job: the pattern's source, detail-type and detail.

    `own_writes_excluded`: the rule leaves out CloudTrail events the stack's own job
    roles made (their writes are CloudTrail events too).
    """

    name: str  # the rule's construct id
    description: str
    source: str
    detail_type: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    own_writes_excluded: bool = False


@dataclass(frozen=True)
class JobSpec(Generic[E]):
    """How one job is run, triggered, deployed and shown.

    `runner` is the job's JobRun (jobs/<job>/run.py): its name, view, writers and settings
    model come with it. `parse_event` turns a non-schedule event into the job's event
    record (or raises EventError); None means the job runs on its schedule only. `ignore`
    says why a parsed event needs nothing done (None: it does).
    """

    runner: JobRun[Any, Any]
    summary: str  # one line: the CLI's help and the function's description
    # The stack parameter holding the job's schedule expression.
    schedule_parameter: str
    parse_event: Callable[[Any, str], E] | None = None
    ignore: Callable[[E], str | None] = lambda _event: None
    log_keys: Callable[[E], dict[str, Any]] = lambda _event: {}
    events: tuple[EventRule, ...] = ()

    def run(
        self, settings: Any, clients: Clients, should_stop: Callable[[], bool], event: E | None
    ) -> Report:
        """Run the job; event is None for a sweep; settings are its own model's (`settings.load(env)`)."""
        return self.runner(settings, clients, should_stop=should_stop, event=event)

    @property
    def name(self) -> str:
        return self.runner.job

    @property
    def view(self) -> View:
        """Its part of the report, with its run metrics and dashboard row."""
        return self.runner.view

    @property
    def writers(self) -> Writers:
        """Its writes, each with the IAM actions it calls: the stack grants the job's role these."""
        return self.runner.writers

    @property
    def settings(self) -> type[Settings]:
        return self.runner.settings_model

    @property
    def construct_id(self) -> str:
        return self.name.capitalize()

    @property
    def handler(self) -> str:
        return f"ami_hygiene.handlers.{self.name}.handler"

    @property
    def realtime(self) -> bool:
        return self.parse_event is not None
