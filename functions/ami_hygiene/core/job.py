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

    `run(settings, clients, should_stop, event)` runs it; event is None for a sweep; settings
    are its own model's (`settings`, jobs/<job>/settings.py), as `settings.load(env)` makes them.
    `parse_event` turns a non-schedule event into the job's event record (or raises
    EventError); None means the job runs on its schedule only. `ignore` says why a
    parsed event needs nothing done (None: it does).
    """

    name: str
    summary: str  # one line: the CLI's help and the function's description
    run: Callable[[Any, Clients, Callable[[], bool], E | None], Report]
    # Its settings: the model its handler and CLI subcommand load (each job extends Settings).
    settings: type[Settings] = Settings
    parse_event: Callable[[Any, str], E] | None = None
    ignore: Callable[[E], str | None] = lambda _event: None
    log_keys: Callable[[E], dict[str, Any]] = lambda _event: {}
    # Its part of the report, with its run metrics and dashboard row.
    view: View = field(kw_only=True)
    events: tuple[EventRule, ...] = ()
    # Its writes, each with the IAM actions it calls: the stack grants the job's role these.
    writers: Writers = field(default_factory=dict)
    # The stack parameter holding the job's schedule expression.
    schedule_parameter: str = ""

    @property
    def construct_id(self) -> str:
        return self.name.capitalize()

    @property
    def handler(self) -> str:
        return f"ami_hygiene.handlers.{self.name}.handler"

    @property
    def realtime(self) -> bool:
        return self.parse_event is not None
