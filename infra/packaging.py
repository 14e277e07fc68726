"""The functions' code asset: functions/ami_hygiene plus its pinned dependencies, built without Docker.

Why bundle rather than the AWS-managed Powertools layer: the jobs call EC2 APIs
newer than many Lambda runtime SDK snapshots (DescribeImageReferences,
DeregisterImage with DeleteAssociatedSnapshots), and the Powertools layer ships
without boto3. Bundling puts the exact boto3, botocore, Powertools and pydantic
the tests ran against (the pins in requirements.txt) next to the code.

`pip install --platform manylinux2014_aarch64 --only-binary=:all:` on the build
machine fetches wheels for the Lambda platform, so no Docker is needed; a
Docker image is only the fallback CDK requires when local bundling says no.
The asset hash covers the source files and the pins, so an unchanged tree
reuses the bundle in cdk.out. Tests skip bundling with the standard context key
`aws:cdk:bundling-stacks=[]` and use the source folder as is.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "functions"
PACKAGE = "ami_hygiene"
REQUIREMENTS = ROOT / "requirements.txt"
# What the functions import at run time (the rest of requirements.txt is the CDK app).
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "aws-lambda-powertools", "pydantic", "aws-xray-sdk")
PYTHON_VERSION = "3.14"
PLATFORM = "manylinux2014_aarch64"
FALLBACK_IMAGE = f"public.ecr.aws/sam/build-python{PYTHON_VERSION}"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache")


def runtime_pins(requirements: Path = REQUIREMENTS) -> list[str]:
    """`name==version` for each runtime distribution, as pinned in requirements.txt."""
    pins: dict[str, str] = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*==\s*([^\s;#]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = line.split("#")[0].strip()
    missing = [d for d in RUNTIME_DISTRIBUTIONS if d not in pins]
    if missing:
        raise ValueError(f"requirements.txt must pin {', '.join(missing)} (the functions need them)")
    return [pins[d] for d in RUNTIME_DISTRIBUTIONS]


def pip_command(target: str, pins: Sequence[str], python: str = sys.executable) -> list[str]:
    return [
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        target,
        "--platform",
        PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        *pins,
    ]


def source_hash(pins: Sequence[str]) -> str:
    digest = hashlib.sha256()
    digest.update("\n".join([PLATFORM, PYTHON_VERSION, *pins]).encode())
    for path in sorted((SOURCE / PACKAGE).rglob("*.py")):
        digest.update(str(path.relative_to(SOURCE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class PipBundling:
    """Installs the pinned wheels for Lambda and copies the package, on this machine."""

    def __init__(self, pins: Sequence[str]) -> None:
        self.pins = list(pins)

    def try_bundle(self, output_dir: str, *_options: Any, **_keyword_options: Any) -> bool:
        # jsii passes the BundlingOptions positionally; nothing in them changes what pip does here.
        result = subprocess.run(
            pip_command(output_dir, self.pins), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                "bundling the functions failed: pip could not fetch the Lambda wheels "
                f"({PLATFORM}, Python {PYTHON_VERSION}) from the package index.\n{result.stderr.strip()}"
            )
        shutil.copytree(SOURCE / PACKAGE, Path(output_dir) / PACKAGE, ignore=IGNORED, dirs_exist_ok=True)
        return True


def function_code() -> lambda_.Code:
    pins = runtime_pins()
    container_pip = " ".join(pip_command("/asset-output", pins, python="python"))
    return lambda_.Code.from_asset(
        str(SOURCE),
        asset_hash=source_hash(pins),
        bundling=BundlingOptions(
            image=DockerImage.from_registry(FALLBACK_IMAGE),
            command=["bash", "-c", f"{container_pip} && cp -r /asset-input/{PACKAGE} /asset-output/"],
            local=PipBundling(pins),
        ),
        exclude=["**/__pycache__", "**/*.pyc", "*.egg-info"],
    )
