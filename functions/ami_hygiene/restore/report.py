"""What `ami-hygiene restore` did, or would do, per image: for people and for machines.

`RestoreReport.to_dict()` is the JSON contract: job "restore", region, dry_run,
at, and images, each with image_id, outcome, steps (action, target, status,
detail, error) and error. `exit_code` is the CLI's: 0 every image restored (or,
in a dry run, would be), 1 any image failed or is not restorable.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

JOB = "restore"
EXIT_OK, EXIT_FAILED = 0, 1


class StepStatus(StrEnum):
    DONE = "done"
    PLANNED = "planned"  # dry run: what would be called
    FAILED = "failed"


class RestoreOutcome(StrEnum):
    RESTORED = "restored"
    PLANNED = "planned"  # dry run: every step would be taken
    FAILED = "failed"  # a step failed, or the image's tags forbid starting
    NOT_RESTORABLE = "not-restorable"  # nothing to restore, or not ours to restore


@dataclass(frozen=True)
class Step:
    action: str  # tag-retain, restore-snapshot, restore-image, enable-image, share, untag
    target: str  # the image or snapshot id the call acts on
    status: StepStatus
    detail: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "target": self.target,
            "status": self.status.value,
            "detail": self.detail,
            "error": self.error,
        }


@dataclass(frozen=True)
class ImageRestore:
    image_id: str
    outcome: RestoreOutcome
    steps: tuple[Step, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "outcome": self.outcome.value,
            "steps": [s.to_dict() for s in self.steps],
            "error": self.error,
        }


@dataclass(frozen=True)
class RestoreReport:
    region: str
    dry_run: bool
    at: datetime
    images: tuple[ImageRestore, ...]

    @property
    def exit_code(self) -> int:
        ok = (RestoreOutcome.RESTORED, RestoreOutcome.PLANNED)
        return EXIT_OK if all(i.outcome in ok for i in self.images) else EXIT_FAILED

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": JOB,
            "region": self.region,
            "dry_run": self.dry_run,
            "at": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "images": [i.to_dict() for i in self.images],
        }

    def render_text(self) -> str:
        counts = Counter(i.outcome.value for i in self.images)
        lines = [f"ami-hygiene restore · {self.region} · {self.at:%Y-%m-%dT%H:%M:%SZ}"]
        if self.dry_run:
            lines.append("DRY RUN: nothing was changed. Below is what restore would do.")
        lines.append("Summary: " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())))
        for image in self.images:
            lines += ["", f"{image.image_id}: {image.outcome.value}"]
            if image.error:
                lines.append(f"  ! {image.error}")
            for step in image.steps:
                detail = f"  {step.detail}" if step.detail else ""
                lines.append(f"  {step.status.value:<8} {step.action:<17} {step.target}{detail}")
                if step.error:
                    lines.append(f"           ! {step.error}")
        return "\n".join(lines) + "\n"
