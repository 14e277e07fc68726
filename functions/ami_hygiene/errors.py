"""One way to turn an AWS error into the sentence a report shows."""

from __future__ import annotations

from botocore.exceptions import ClientError


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
