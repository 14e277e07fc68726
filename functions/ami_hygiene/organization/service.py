"""What the hub's own functions (targets, digest) do the same way: log, measure, refuse, answer.

They are Step Functions tasks, not event handlers: an answer the state machine cannot use
must not be returned as if it were one. Bad input or settings are refused (logged, counted,
reported to the topic once, nothing changed) and then raised as `RunRefused`, so the
execution stops at that state with the reason as its error cause. Anything else that is not
transient is reported the same way and raised as `RunFailed`. Transient AWS trouble
(errors.is_transient) is raised as it is, for the state's retries.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import SettingsError, describe_error, is_transient
from ami_hygiene.core.events import EventError
from ami_hygiene.core.observability import (
    logger,
    metrics,
    record_rejected_run,
    record_unhandled_error,
    tracer,
)
from ami_hygiene.core.publisher import Publisher, Target, error_message

# The metrics' job dimension for the hub's own functions.
JOB = "organization"

Run = Callable[[Any, Mapping[str, str], Clients], dict[str, Any]]


class RunRefused(Exception):
    """The input or settings were refused; nothing was changed. Lambda reports the class name as the error."""


class RunFailed(Exception):
    """Something not transient went wrong; what was done before it is in the log."""


def entry_point(name: str, run: Run) -> Callable[[Any, LambdaContext], dict[str, Any]]:
    """A hub function's Lambda handler: Powertools' context logging, tracing and metrics around `serve`."""

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
        return serve(name, run, event, context, os.environ)

    return handler


def serve(
    name: str, run: Run, event: Any, context: Any, env: Mapping[str, str], clients: Clients | None = None
) -> dict[str, Any]:
    """`run(event, env, clients)`, its refusals and failures reported once and raised."""
    clients = clients or Clients()
    try:
        return run(event, env, clients)
    except (EventError, SettingsError) as err:
        problem = "bad settings" if isinstance(err, SettingsError) else "input not acted on"
        logger.error(f"{name} refused: {problem}", extra={"detail": str(err)})
        record_rejected_run(JOB)
        _tell(name, problem, str(err), context, env, clients)
        raise RunRefused(f"{name}: {problem}: {err}") from None
    except Exception as err:
        if is_transient(err):
            raise
        logger.exception(f"{name} failed")
        record_unhandled_error(JOB)
        _tell(name, "failed", describe_error(err), context, env, clients)
        raise RunFailed(f"{name} failed: {describe_error(err)}") from err


def _tell(
    name: str, problem: str, detail: str, context: Any, env: Mapping[str, str], clients: Clients
) -> None:
    """One error message to the topic, if there is one; a failure to publish is only logged."""
    try:
        target = Target.from_env(env)
    except SettingsError:
        target = Target(env.get("TOPIC_ARN", "").strip())
    if not target.topic_arn:
        return
    message = error_message(
        job=f"{JOB} {name}",
        account=account_of(context),
        region=env.get("AWS_REGION", ""),
        problem=problem,
        detail=detail,
    )
    try:
        Publisher(clients, target).publish(message)
    except (ClientError, BotoCoreError):
        logger.exception(f"{name}: the report of the refusal could not be published")


def account_of(context: Any) -> str:
    # arn:aws:lambda:region:account:function:name
    parts = str(getattr(context, "invoked_function_arn", "")).split(":")
    return parts[4] if len(parts) > 4 else ""
