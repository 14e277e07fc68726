"""The CLI's flags for a job's settings and its output, and writing that output, shared by the job
subcommands and `forecast`."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ami_hygiene.core.job import JobSpec
from ami_hygiene.core.settings import Option


def add_setting_flags(
    parser: argparse.ArgumentParser, job: JobSpec[Any], *, leave_out: tuple[str, ...] = ()
) -> None:
    """A flag per setting `job` offers (its settings model), but those named in `leave_out`."""
    for option in offered(job):
        if option.name in leave_out:
            continue
        kinds: dict[str, Any] = {"dest": option.name}
        if option.setting.repeat:
            kinds["action"] = "append"
        elif option.choices:
            kinds["choices"] = list(option.choices)
        elif option.kind in (int, float):
            kinds["type"] = option.kind
        default = f", {option.default_text}" if option.default_text else ""
        parser.add_argument(
            option.flag, help=f"{option.help} [{option.env}{default}]".replace("%", "%%"), **kinds
        )


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--output", help="write the report to this file instead of standard output")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress line (pages read, image checks, actions) on standard error; "
        "it is shown only when standard error is a terminal",
    )


def offered(job: JobSpec[Any]) -> tuple[Option, ...]:
    return tuple(option for option in job.settings.options() if option.offered)


def overrides(job: JobSpec[Any], args: argparse.Namespace) -> dict[str, Any]:
    """The flags given, by setting name (None: not given, the environment's value stands)."""
    return {option.name: getattr(args, option.name, None) for option in offered(job)}


def write_text(text: str, path: str | None, out: TextIO, what: str = "report") -> None:
    """`text` to `path` (--output), saying so on `out`; to `out` itself without a path."""
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"{what} written to {path}", file=out)
    else:
        out.write(text)
