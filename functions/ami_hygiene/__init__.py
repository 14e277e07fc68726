"""AMI hygiene: keep AWS machine images healthy."""

__version__ = "0.1.0"
