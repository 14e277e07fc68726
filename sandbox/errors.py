"""The EC2 errors the extensions raise, each with the code AWS answers with.

Codes come from the EC2 API reference ("Error codes for the Amazon EC2 API")
where it names one; where it does not, the closest documented code is used and
the function says so.
"""

from __future__ import annotations

from moto.ec2.exceptions import EC2ClientError


def invalid_parameter_value(message: str) -> EC2ClientError:
    return EC2ClientError("InvalidParameterValue", message)


def invalid_parameter_combination(message: str) -> EC2ClientError:
    return EC2ClientError("InvalidParameterCombination", message)


def missing_parameter(message: str) -> EC2ClientError:
    return EC2ClientError("MissingParameter", message)


def invalid_pagination_token(token: str) -> EC2ClientError:
    return EC2ClientError("InvalidPaginationToken", f"Invalid pagination token: {token}")


def operation_not_permitted(message: str) -> EC2ClientError:
    # Documented for refusals of an otherwise valid request, e.g. terminating an
    # instance with termination protection; AWS uses it alike for the AMI guards.
    return EC2ClientError("OperationNotPermitted", message)


def not_authorized_for_image(image_id: str) -> EC2ClientError:
    # What EC2 answers when an account changes an AMI it does not own.
    return EC2ClientError("AuthFailure", f"Not authorized for image:{image_id}")


def duplicate_image_name(name: str, image_id: str) -> EC2ClientError:
    return EC2ClientError("InvalidAMIName.Duplicate", f"AMI name {name} is already in use by AMI {image_id}")


def invalid_block_device_mapping(message: str) -> EC2ClientError:
    return EC2ClientError("InvalidBlockDeviceMapping", message)


def check_range(name: str, value: int | None, low: int, high: int) -> int | None:
    """`value` unchanged when absent or within [low, high]; InvalidParameterValue otherwise."""
    if value is not None and not low <= int(value) <= high:
        raise invalid_parameter_value(
            f"Value ( {value} ) for parameter {name} is invalid. Expecting a value between {low} and {high}."
        )
    return None if value is None else int(value)
