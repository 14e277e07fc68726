"""The CLI's progress line: on standard error when it is a terminal, off with --quiet, never on
standard output; its counts are the run's requests (ami_hygiene/progress.py)."""

from __future__ import annotations

import io
import json
import re
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from ami_hygiene import cli, progress
from ami_hygiene.core.clients import Clients
from ami_hygiene.progress import ACTIONS, CHECKS, PAGES, kind_of
from sandbox.demo import Seeder
from tests.helpers.cli import run_cli
from tests.helpers.constants import REGION
from tests.helpers.faults import deny
from tests.helpers.organization import create_organization, seed_images

ENFORCE = ["rotate", "--mode", "enforce", "--format", "json"]
LINE = re.compile(r"ami-hygiene rotate: (\d+) pages read, (\d+) image checks, (\d+) actions")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def old_images(aws: None) -> list[str]:
    s = Seeder(REGION, datetime.now(UTC))
    return [s.image(f"svc-v{k}", 30 * k + 1) for k in range(6)]


@pytest.fixture
def every_request_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The line from the first request and redrawn at each: a test run is short and fast."""
    monkeypatch.setattr(progress, "SHOW_AFTER_SECONDS", 0)
    monkeypatch.setattr(progress, "REDRAW_SECONDS", 0)


def on_terminal(monkeypatch: pytest.MonkeyPatch) -> FakeTerminal:
    """Standard error a terminal. Set in the test itself: pytest's capture puts its own stream
    back on sys.stderr between a fixture's set-up and the test."""
    stream = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", stream)
    return stream


@pytest.fixture
def made_clients(monkeypatch: pytest.MonkeyPatch) -> list[Clients]:
    """Every Clients the CLI makes for a one-account run."""
    made: list[Clients] = []

    def recording(*args: Any, **kwargs: Any) -> Clients:
        made.append(Clients(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(cli, "Clients", recording)
    return made


def last_drawn(text: str) -> dict[str, int]:
    lines = [found for part in text.split("\r") if (found := LINE.match(part))]
    assert lines, text
    return dict(zip((PAGES, CHECKS, ACTIONS), map(int, lines[-1].groups()), strict=True))


def by_kind(calls: dict[str, int]) -> dict[str, int]:
    counted: Counter[str] = Counter()
    for operation, n in calls.items():
        counted[kind_of(operation)] += n
    return {kind: counted[kind] for kind in (PAGES, CHECKS, ACTIONS)}


def test_on_a_terminal_the_line_counts_the_runs_requests_and_stdout_has_only_the_report(
    old_images: list[str], every_request_drawn: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = on_terminal(monkeypatch)
    code, out = run_cli(ENFORCE)

    assert code == 0
    report = json.loads(out)  # nothing but the report on standard output
    drawn = last_drawn(terminal.getvalue())
    assert drawn == by_kind(report["api_calls"])
    assert drawn[PAGES] > 0 and drawn[CHECKS] > 0
    calls = report["api_calls"]
    assert report["summary"]["disabled"] == 3
    assert drawn[ACTIONS] == calls["ec2.DisableImage"] + calls["ec2.CreateTags"] == 6  # each tagged too
    # Cleared before the report: the last thing on standard error blanks the line.
    assert terminal.getvalue().endswith("\r") and terminal.getvalue().split("\r")[-2].strip() == ""


@pytest.mark.parametrize("flag", ["--quiet", "-q"])
def test_quiet_turns_it_off_even_on_a_terminal(
    old_images: list[str],
    every_request_drawn: None,
    made_clients: list[Clients],
    monkeypatch: pytest.MonkeyPatch,
    flag: str,
) -> None:
    terminal = on_terminal(monkeypatch)
    code, out = run_cli([*ENFORCE, flag])

    assert code == 0 and json.loads(out)["summary"]["disabled"] == 3
    assert terminal.getvalue() == ""
    assert [c.counter.listeners for c in made_clients] == [[]]


def test_off_when_standard_error_is_not_a_terminal(
    old_images: list[str],
    every_request_drawn: None,
    made_clients: list[Clients],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run_cli(ENFORCE)

    assert code == 0 and json.loads(out)["summary"]["disabled"] == 3
    assert capsys.readouterr().err == ""
    assert [c.counter.listeners for c in made_clients] == [[]]


def test_an_error_clears_the_line_before_its_message(
    old_images: list[str], every_request_drawn: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unknown_caller(*args: Any, **kwargs: Any) -> Clients:
        clients = Clients(*args, **kwargs)
        deny(clients.session, "sts", "GetCallerIdentity", code="InvalidClientTokenId")
        return clients

    monkeypatch.setattr(cli, "Clients", unknown_caller)
    terminal = on_terminal(monkeypatch)
    code, out = run_cli(ENFORCE)

    assert code == 1 and out == ""
    # What was drawn is blanked, then the one-line error starts at the line's beginning.
    text = terminal.getvalue()
    assert "pages read" in text
    before, message = text.rsplit("\r", 1)
    assert message.startswith("ami-hygiene: error: ") and message.count("\n") == 1
    assert before.split("\r")[-1].strip() == ""


def test_across_accounts_it_counts_every_accounts_requests(
    aws: None, every_request_drawn: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = create_organization(["", ""])
    one, two = org.accounts
    family = [("web-v5", 1), ("web-v4", 31), ("web-v3", 61), ("web-v2", 100), ("web-v1", 130)]
    for account in org.accounts:
        seed_images(org.session(account, REGION), REGION, family)
    seed_images(boto3.Session(), REGION, family)

    terminal = on_terminal(monkeypatch)
    code, out = run_cli([*ENFORCE, "--accounts", f"{one},{two}"])

    assert code == 0
    doc = json.loads(out)  # nothing but the document on standard output
    drawn = last_drawn(terminal.getvalue())
    members = [by_kind(report["api_calls"]) for report in doc["reports"]]
    assert len(members) == 2
    # The members' changes are the actions; the caller only reads and assumes the roles.
    assert drawn[ACTIONS] == sum(m[ACTIONS] for m in members) == 8  # 2 disabled and tagged in each
    assert drawn[CHECKS] == sum(m[CHECKS] for m in members)
    assert drawn[PAGES] >= sum(m[PAGES] for m in members) + 2  # and an AssumeRole per account
