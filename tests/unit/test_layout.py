"""The layout's rules (ARCHITECTURE.md), read from the code's own imports.

The core imports no job; no job imports another; a policy imports no AWS client,
clock or environment; each handler is a few lines around its job's JobSpec; the
organization hub's package imports the core and the registry only; the package's top
level stays small; no module imports itself back through others; and the registry
lists every job folder.
"""

from __future__ import annotations

import ast
import importlib
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "ami_hygiene"
JOB_NAMES = sorted(p.name for p in (PACKAGE / "jobs").iterdir() if (p / "__init__.py").exists())
# What a policy must not reach for: AWS, the clock, the environment, the process.
IMPURE_MODULES = ("boto3", "botocore", "os", "time", "random", "subprocess", "ami_hygiene.core.clients")
IMPURE_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time")}
HANDLER_MAX_LINES = 40
TOP_LEVEL_MAX_MODULES = 16


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


@cache
def imports_of(name: str) -> frozenset[str]:
    path = modules()[name]
    return imports_in(path.read_text(), name, is_package=path.name == "__init__.py", known=set(modules()))


def imports_in(source: str, name: str, *, is_package: bool, known: set[str]) -> frozenset[str]:
    """Every module the source imports, at any depth of its code (a deferred import counts too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            found.add(base)
            # `from pkg import module` imports the module.
            found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known)
    return frozenset(found)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_core_imports_no_job_and_nothing_above_it() -> None:
    above = (
        "ami_hygiene.jobs",
        "ami_hygiene.registry",
        "ami_hygiene.handlers",
        "ami_hygiene.cli",
        "ami_hygiene.doctor",
        "ami_hygiene.restore",
        "ami_hygiene.organization",
    )
    wrong = {
        (name, imported)
        for name in modules()
        if _inside(name, "ami_hygiene.core")
        for imported in imports_of(name)
        if any(_inside(imported, a) for a in above)
    }
    assert not wrong


@pytest.mark.parametrize("job", JOB_NAMES)
def test_a_job_imports_no_other_job_and_not_the_registry(job: str) -> None:
    own = f"ami_hygiene.jobs.{job}"
    wrong = {
        (name, imported)
        for name in modules()
        if _inside(name, own)
        for imported in imports_of(name)
        if (
            _inside(imported, "ami_hygiene.jobs")
            and not _inside(imported, own)
            and imported != "ami_hygiene.jobs"
        )
        or _inside(imported, "ami_hygiene.registry")
        or _inside(imported, "ami_hygiene.handlers")
    }
    assert not wrong


def test_the_organization_hub_imports_the_core_and_the_registry_only() -> None:
    """organization/ runs any job by its JobSpec (given by the handler) or names it (the registry)."""
    allowed = ("ami_hygiene.core", "ami_hygiene.registry", "ami_hygiene.organization")
    wrong = {
        (name, imported)
        for name in modules()
        if _inside(name, "ami_hygiene.organization")
        for imported in imports_of(name)
        if _inside(imported, "ami_hygiene") and imported != "ami_hygiene"
        if not any(_inside(imported, a) for a in allowed)
    }
    assert not wrong


def test_what_a_jobs_function_loads_of_the_hub_names_no_job() -> None:
    """handlers/common.py takes Target Sweeps with organization/ modules that never load the registry."""
    loaded = {m for m in imports_of("ami_hygiene.handlers.common") if _inside(m, "ami_hygiene.organization")}
    assert loaded
    seen: set[str] = set()
    todo = list(loaded)
    while todo:
        name = todo.pop()
        if name in seen or name not in modules():
            continue
        seen.add(name)
        todo += [m for m in imports_of(name) if _inside(m, "ami_hygiene.organization")]
        assert not any(_inside(m, "ami_hygiene.registry") for m in imports_of(name)), name


def test_the_hub_functions_handlers_are_a_few_lines() -> None:
    for name in ("organization_targets", "organization_digest"):
        path = PACKAGE / "handlers" / f"{name}.py"
        assert len(path.read_text().splitlines()) <= HANDLER_MAX_LINES, path
        assert callable(importlib.import_module(f"ami_hygiene.handlers.{name}").handler)


@pytest.mark.parametrize("job", JOB_NAMES)
def test_a_policy_is_pure(job: str) -> None:
    name = f"ami_hygiene.jobs.{job}.policy"
    impure = {m for m in imports_of(name) if any(_inside(m, bad) for bad in IMPURE_MODULES)}
    assert not impure, f"{name} imports {impure}"
    tree = ast.parse(modules()[name].read_text())
    calls = {
        (node.func.value.id, node.func.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
    }
    assert not calls & IMPURE_CALLS, f"{name} reads the clock: {calls & IMPURE_CALLS}"


@pytest.mark.parametrize("job", JOB_NAMES)
def test_every_job_folder_has_the_same_named_modules(job: str) -> None:
    folder = PACKAGE / "jobs" / job
    present = {p.stem for p in folder.glob("*.py")}
    assert {"__init__", "inventory", "policy", "actions", "view", "run"} <= present, present


def test_each_handler_is_a_few_lines_around_its_jobs_spec() -> None:
    from ami_hygiene.registry import JOBS

    for spec in JOBS:
        path = PACKAGE / "handlers" / f"{spec.name}.py"
        assert len(path.read_text().splitlines()) <= HANDLER_MAX_LINES, path
        handler_module = importlib.import_module(spec.handler.rpartition(".")[0])
        assert callable(handler_module.handler)
        assert f"ami_hygiene.jobs.{spec.name}" in imports_of(f"ami_hygiene.handlers.{spec.name}")


def test_the_registry_lists_every_job_folder_once() -> None:
    from ami_hygiene.registry import BY_NAME, JOBS

    assert sorted(spec.name for spec in JOBS) == JOB_NAMES
    assert len(BY_NAME) == len(JOBS)
    for spec in JOBS:
        assert importlib.import_module(f"ami_hygiene.jobs.{spec.name}").SPEC is spec


def test_the_package_top_level_stays_small() -> None:
    top = [p for p in PACKAGE.iterdir() if p.suffix == ".py"]
    assert len(top) <= TOP_LEVEL_MAX_MODULES, sorted(p.name for p in top)


def test_no_module_imports_itself_back() -> None:
    graph = {
        name: {
            m for m in imports_of(name) if m in modules() and m != name and not _is_ancestor_package(m, name)
        }
        for name in modules()
    }
    assert not find_cycles(graph)


def _is_ancestor_package(candidate: str, name: str) -> bool:
    """Importing `a.b.c` runs `a/__init__` and `a/b/__init__`: not a cycle of the code's own making."""
    return name.startswith(candidate + ".")


def test_the_rules_see_deferred_relative_and_module_imports_and_cycles() -> None:
    """The readers the rules rest on find what a careless change would add."""
    source = (
        "from __future__ import annotations\n"
        "def f():\n"
        "    from ami_hygiene.jobs import tags\n"
        "    import boto3\n"
        "from ..plan import Plan\n"
        "from . import view\n"
    )
    known = {"ami_hygiene.jobs.tags", "ami_hygiene.core.view"}
    found = imports_in(source, "ami_hygiene.core.report", is_package=False, known=known)
    assert {"ami_hygiene.jobs.tags", "boto3", "ami_hygiene.plan", "ami_hygiene.core.view"} <= found
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_every_package_is_installed_with_the_command() -> None:
    """pyproject lists the packages `pip install .` puts beside the `ami-hygiene` command."""
    import tomllib

    pyproject = tomllib.loads((PACKAGE.parents[1] / "pyproject.toml").read_text())
    listed = set(pyproject["tool"]["setuptools"]["packages"])
    present = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert present <= listed, sorted(present - listed)
    assert {p for p in listed if p.startswith("ami_hygiene")} <= present


@pytest.mark.parametrize("job", JOB_NAMES)
def test_a_jobs_lambda_handler_loads_no_other_job(job: str) -> None:
    """A function's cold start imports its own job only (the handler takes its SPEC, not the registry)."""
    import subprocess
    import sys

    others = [f"ami_hygiene.jobs.{other}" for other in JOB_NAMES if other != job]
    probe = (
        f"import sys, ami_hygiene.handlers.{job}; print(','.join(m for m in {others!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(PACKAGE.parent), "AWS_DEFAULT_REGION": "eu-west-1", "PATH": ""},
    )
    assert done.stdout.strip() == "", f"handlers/{job}.py loads {done.stdout.strip()}"
