"""One way to turn an AWS error into the sentence a report shows."""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

# Error codes AWS answers when the request may succeed if sent again: throttling
# (botocore's retry handler treats these as throttling: data/_retry.json) and
# service-side failures. Anything else is about the request or a bug in the code.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "Unavailable",
    }
)
TRANSIENT_TYPES = (ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError)


class SettingsError(ValueError):
    """A setting is missing or out of range; the message says which and why."""


def error_code(err: Exception) -> str:
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code", "Unknown"))
    return type(err).__name__


def describe_error(err: Exception) -> str:
    """'Code: message' for AWS errors, 'Type: text' for anything else."""
    if isinstance(err, ClientError):
        message = err.response.get("Error", {}).get("Message", "")
        return f"{error_code(err)}: {message}".rstrip(": ")
    return f"{type(err).__name__}: {err}"


def is_transient(err: BaseException) -> bool:
    """Whether trying the same invocation again may succeed: throttling, timeouts, AWS-side faults.

    A transient error is left to Lambda's retries (and, past them, the failed-
    invocation queue). Everything else (bad content, a bug, an AWS answer about
    the request itself) would fail the same way again, so it is reported instead.
    """
    if isinstance(err, (*TRANSIENT_TYPES, MemoryError)):
        return True
    if isinstance(err, ClientError):
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return error_code(err) in TRANSIENT_CODES or status >= 500
    return False
