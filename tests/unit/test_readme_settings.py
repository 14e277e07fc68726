"""The README's table of flags and environment variables is the settings' declaration, word for word.

Each setting is declared once (core/settings.py, jobs/<job>/settings.py); the CLI, the
functions' environment and the stack parameters are generated from it. The README is written
by hand, so this holds it to the declaration: every declared flag and variable is in the
table, and the table names nothing that is not declared.
"""

from __future__ import annotations

import re
from pathlib import Path

from ami_hygiene.registry import JOBS

README = Path(__file__).resolve().parents[2] / "README.md"


def _table() -> list[str]:
    text = README.read_text()
    start = text.index("Every flag overrides the environment variable of the same name:")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows[2:]  # past the header and its rule


def _declared() -> tuple[set[str], set[str]]:
    flags: set[str] = set()
    envs: set[str] = set()
    for job in JOBS:
        for option in job.settings.options():
            if option.offered:
                flags.add(option.flag)
                envs.add(option.env)
    return flags, envs


def test_the_readme_table_lists_every_declared_flag_and_variable() -> None:
    rows = "\n".join(_table())
    flags, envs = _declared()
    assert not {f for f in flags if f"`{f}`" not in rows}
    # "AUTOMATION_ROLE_ARN, ..." stands for the automation settings that share a row.
    shared_row = {e for e in envs if e.startswith("AUTOMATION_") and e != "AUTOMATION_INSTANCE_TYPES"}
    assert not {e for e in envs - shared_row if f"`{e}`" not in rows}


def test_the_readme_table_names_nothing_undeclared() -> None:
    flags, envs = _declared()
    cells = [row.split("|")[1:3] for row in _table()]
    named_flags = {f for flag_cell, _ in cells for f in re.findall(r"`(--[a-z-]+)`", flag_cell)}
    named_envs = {e for _, env_cell in cells for e in re.findall(r"`([A-Z_]+)`", env_cell)}
    assert named_flags <= flags, named_flags - flags
    assert named_envs <= envs, named_envs - envs
