"""Logger, Tracer and Metrics for the Lambda handlers: one place, one service name.

Powertools reads POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE,
POWERTOOLS_LOG_LEVEL and POWERTOOLS_TRACE_DISABLED from the environment; the
defaults here are what the stack sets. The metric names are the contract with
the CloudWatch dashboard the stack draws (infra/reporting.py imports them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "ami-hygiene"
NAMESPACE = "AmiHygiene"
# Every metric carries the service dimension (Powertools adds it) and this one.
JOB_DIMENSION = "job"

# Metric name -> (report summary key, unit). One data point per run and job. These are every
# job's; a job's own come from its view (View.metrics, jobs/<job>/view.py).
COMMON_RUN_METRICS: dict[str, tuple[str, MetricUnit]] = {
    "ImagesSeen": ("images", MetricUnit.Count),
    "ActionsDeferred": ("deferred", MetricUnit.Count),
    "ActionsFailed": ("failed", MetricUnit.Count),
}
# Emitted when a run could not start or read a region: bad event, bad settings, errors.
RUN_ERRORS_METRIC = "RunErrors"
# Emitted when an event needed nothing done (e.g. a share was removed, not added).
EVENTS_IGNORED_METRIC = "EventsIgnored"
# Emitted when a scheduled sweep found another sweep of its job holding the lease (lease.py).
SWEEPS_SKIPPED_METRIC = "SweepsSkipped"
# Emitted when something escaped a job (a bug, not bad input or AWS trouble): handlers/common.py.
UNHANDLED_ERRORS_METRIC = "UnhandledErrors"
METRIC_NAMES: tuple[str, ...] = (
    *COMMON_RUN_METRICS,
    RUN_ERRORS_METRIC,
    EVENTS_IGNORED_METRIC,
    SWEEPS_SKIPPED_METRIC,
    UNHANDLED_ERRORS_METRIC,
)


def run_metrics(job_metrics: Mapping[str, tuple[str, MetricUnit]]) -> dict[str, tuple[str, MetricUnit]]:
    """Every metric a job's run may emit: the common ones and the job's own."""
    return {**COMMON_RUN_METRICS, **job_metrics}


def metric_names_for(
    summary: Mapping[str, Any], job_metrics: Mapping[str, tuple[str, MetricUnit]]
) -> set[str]:
    """The metrics a run with this summary emits: those its job's summary has, and RunErrors."""
    found = {name for name, (key, _) in run_metrics(job_metrics).items() if key in summary}
    return found | {RUN_ERRORS_METRIC}


logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or NAMESPACE)


def record_run(
    job: str, summary: Mapping[str, Any], job_metrics: Mapping[str, tuple[str, MetricUnit]]
) -> None:
    """Adds one data point per run metric the job's summary has."""
    metrics.add_dimension(name=JOB_DIMENSION, value=job)
    emitted = metric_names_for(summary, job_metrics)
    for name, (key, unit) in run_metrics(job_metrics).items():
        if name in emitted:
            metrics.add_metric(name=name, unit=unit, value=float(summary[key] or 0))
    metrics.add_metric(name=RUN_ERRORS_METRIC, unit=MetricUnit.Count, value=float(summary.get("errors", 0)))


def record_ignored_event(job: str) -> None:
    """An event that parsed but asked for nothing (nothing read, nothing changed)."""
    metrics.add_dimension(name=JOB_DIMENSION, value=job)
    metrics.add_metric(name=EVENTS_IGNORED_METRIC, unit=MetricUnit.Count, value=1)


def record_skipped_sweep(job: str) -> None:
    """A sweep that did nothing because another sweep of the same job held the lease."""
    metrics.add_dimension(name=JOB_DIMENSION, value=job)
    metrics.add_metric(name=SWEEPS_SKIPPED_METRIC, unit=MetricUnit.Count, value=1)


def record_rejected_run(job: str) -> None:
    """A run that did nothing because its input (event or settings) was bad."""
    metrics.add_dimension(name=JOB_DIMENSION, value=job)
    metrics.add_metric(name=RUN_ERRORS_METRIC, unit=MetricUnit.Count, value=1)


def record_unhandled_error(job: str) -> None:
    """Something escaped the job; it was reported once and the invocation answered "failed"."""
    metrics.add_dimension(name=JOB_DIMENSION, value=job)
    metrics.add_metric(name=UNHANDLED_ERRORS_METRIC, unit=MetricUnit.Count, value=1)
