"""Every job's settings at once, for what runs or checks any job (tests, the demo).

Each job loads only its own model (its JobSpec's `settings`: the handler, the CLI's
subcommand); this one extends them all, so what it loads can be given to any job.
"""

from __future__ import annotations

from ami_hygiene.core.settings import Mode, SettingsError, settings_model
from ami_hygiene.jobs.public.settings import PublicJobSettings
from ami_hygiene.jobs.rebuild.settings import RebuildJobSettings
from ami_hygiene.jobs.rotate.settings import ConsumerUsageUnknown, RotateJobSettings
from ami_hygiene.jobs.tags.settings import TagsJobSettings

__all__ = ["ConsumerUsageUnknown", "Mode", "Settings", "SettingsError"]


@settings_model
class Settings(RotateJobSettings, TagsJobSettings, PublicJobSettings, RebuildJobSettings):
    variants = {}  # as each job offers its settings: see the job's own model
