"""The demo: seed a realistic estate in the embedded AWS, then rotate it twice.

The estate holds every case the safety rules name, so the report shows each
reason an image can be kept for, next to what is retired and why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

import boto3

if TYPE_CHECKING:
    from types_boto3_autoscaling import AutoScalingClient
    from types_boto3_ec2 import EC2Client
    from types_boto3_ssm import SSMClient

ACCOUNT_ID = "123456789012"
FOREIGN_ACCOUNT = "999988887777"
ALLOWED_ACCOUNT = "111122223333"
DEMO_REGIONS = ("eu-west-1", "us-east-1")
# The role rotation assumes in each account an image is shared with (CONSUMER_ROLE_NAME).
CONSUMER_ROLE = "ami-hygiene-consumer"
# Shared with ALLOWED_ACCOUNT, whose launch template names it: kept for that use.
DEMO_CONSUMED = "base-al2023-1.9.0"


@dataclass
class Seeder:
    """Creates images and what uses them through the EC2 API, then ages them."""

    region: str
    now: datetime
    ec2: EC2Client = field(init=False)
    autoscaling: AutoScalingClient = field(init=False)
    ssm: SSMClient = field(init=False)
    images: dict[str, str] = field(default_factory=dict)  # name -> image id

    def __post_init__(self) -> None:
        self.ec2 = boto3.client("ec2", region_name=self.region)
        self.autoscaling = boto3.client("autoscaling", region_name=self.region)
        self.ssm = boto3.client("ssm", region_name=self.region)

    def snapshot(self, size_gib: int) -> str:
        zone = f"{self.region}a"
        volume = self.ec2.create_volume(Size=size_gib, AvailabilityZone=zone)
        snap = self.ec2.create_snapshot(VolumeId=volume["VolumeId"], Description="demo root volume")
        self.ec2.delete_volume(VolumeId=volume["VolumeId"])
        return str(snap["SnapshotId"])

    def image(
        self,
        name: str,
        age_days: float,
        *,
        size_gib: int = 8,
        tags: dict[str, str] | None = None,
        snapshot_id: str | None = None,
        data_snapshot: bool = False,
        architecture: str = "x86_64",
    ) -> str:
        mappings = [
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id or self.snapshot(size_gib)}},
        ]
        if data_snapshot:
            mappings.append({"DeviceName": "/dev/xvdb", "Ebs": {"SnapshotId": self.snapshot(size_gib * 2)}})
        request: dict[str, Any] = {
            "Name": name,
            "RootDeviceName": "/dev/xvda",
            "BlockDeviceMappings": mappings,
            "Architecture": architecture,
            "VirtualizationType": "hvm",
        }
        if tags:
            request["TagSpecifications"] = [
                {"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ]
        image_id = str(self.ec2.register_image(**request)["ImageId"])
        _set_image_attr(self.region, image_id, "creation_date", self.now - timedelta(days=age_days))
        self.images[name] = image_id
        return image_id

    def family(self, names_and_ages: list[tuple[str, float]], **kwargs: Any) -> list[str]:
        return [self.image(name, age, **kwargs) for name, age in names_and_ages]


def _set_image_attr(region: str, image_id: str, attr: str, value: Any) -> None:
    from . import backend

    setattr(backend("ec2", region, ACCOUNT_ID).amis[image_id], attr, value)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_demo_estate(now: datetime) -> dict[str, dict[str, str]]:
    """Seeds both demo regions; returns region -> image name -> image id."""
    consumer = consumer_session(ALLOWED_ACCOUNT)
    estate = {}
    for i, region in enumerate(DEMO_REGIONS):
        estate[region] = _seed_region(Seeder(region, now), primary=i == 0)
        _seed_consumer(consumer, region, estate[region])
    return estate


def consumer_session(account: str, role: str = CONSUMER_ROLE, trusted: str = ACCOUNT_ID) -> boto3.Session:
    """Creates `role` in `account` (trusting `trusted`) and returns a session of that account.

    The session comes from STS AssumeRole, made with this process's credentials:
    the embedded AWS maps the credentials it returns to the role's account.
    """
    from .accounts import create_role

    path, _, name = role.rpartition("/")  # "team/reader": role reader under path /team/
    arn = create_role(account, name, (trusted,), path=f"/{path}/" if path else "/")
    answer = boto3.client("sts", region_name=DEMO_REGIONS[0]).assume_role(
        RoleArn=arn, RoleSessionName="ami-hygiene-demo-seed"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=answer["AccessKeyId"],
        aws_secret_access_key=answer["SecretAccessKey"],
        aws_session_token=answer["SessionToken"],
    )


def _seed_consumer(consumer: boto3.Session, region: str, images: dict[str, str]) -> None:
    """The allow-listed account launches from one image shared with it, and not from the other."""
    owner = boto3.client("ec2", region_name=region)
    owner.modify_image_attribute(
        ImageId=images[DEMO_CONSUMED], LaunchPermission={"Add": [{"UserId": ALLOWED_ACCOUNT}]}
    )
    # Its launch template's $Default names DEMO_CONSUMED; DEMO_RESTORED, shared with it too, is unused there.
    consumer.client("ec2", region_name=region).create_launch_template(
        LaunchTemplateName="golden-base",
        LaunchTemplateData={"ImageId": images[DEMO_CONSUMED], "InstanceType": "t3.micro"},
    )


def _seed_region(s: Seeder, primary: bool) -> dict[str, str]:
    ec2, now = s.ec2, s.now
    subnet = _subnet(ec2, s.region)

    # web: monthly builds named with timestamps; old ones used in every way a
    # launch template, an instance or an Auto Scaling group can use an image.
    web = s.family(
        [(f"web-{_iso(now - timedelta(days=30 * k)).replace(':', '-')}", 30 * k + 1) for k in range(14)]
    )
    ec2.run_instances(ImageId=web[5], MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]
    stopped = ec2.run_instances(ImageId=web[6], MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]
    ec2.stop_instances(InstanceIds=[stopped["InstanceId"]])
    gone = ec2.run_instances(ImageId=web[13], MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]
    ec2.terminate_instances(InstanceIds=[gone["InstanceId"]])
    # Launching stamps LastLaunchedTime; age those stamps so only usage protects.
    from . import set_last_launched

    for idx in (5, 6, 13):
        set_last_launched(web[idx], s.region, now - timedelta(days=200), account_id=ACCOUNT_ID)
    template = ec2.create_launch_template(
        LaunchTemplateName=f"web-{s.region}",
        LaunchTemplateData={"ImageId": web[7], "InstanceType": "t3.micro"},
    )["LaunchTemplate"]
    template_id = template["LaunchTemplateId"]
    ec2.create_launch_template_version(
        LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": web[8]}
    )  # v2
    ec2.create_launch_template_version(
        LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": web[9]}
    )  # v3
    ec2.create_launch_template_version(
        LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": web[10]}
    )  # v4
    # v1 is $Default (web[7]), v4 $Latest (web[10]); v2 pinned by a group, v3 by a mixed-instances override.
    mixed_template = ec2.create_launch_template(
        LaunchTemplateName=f"web-mixed-{s.region}", LaunchTemplateData={"ImageId": web[11]}
    )["LaunchTemplate"]
    s.autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-pinned",
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": "2"},
        MinSize=0,
        MaxSize=0,
        DesiredCapacity=0,
        VPCZoneIdentifier=subnet,
    )
    s.autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-mixed",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {
                    "LaunchTemplateId": mixed_template["LaunchTemplateId"],
                    "Version": "$Latest",
                },
                "Overrides": [
                    {
                        "InstanceType": "t3.small",
                        "LaunchTemplateSpecification": {"LaunchTemplateId": template_id, "Version": "3"},
                    }
                ],
            }
        },
        MinSize=0,
        MaxSize=0,
        DesiredCapacity=0,
        VPCZoneIdentifier=subnet,
    )

    # base-al2023: semantic versions; protections by tag, by the API, by SSM and by sharing.
    base = s.family([(f"base-al2023-1.{12 - k}.0", 20 + 25 * k) for k in range(12)], data_snapshot=True)
    ec2.create_tags(Resources=[base[4]], Tags=[{"Key": "ami-hygiene:retain", "Value": "true"}])
    ec2.create_tags(Resources=[base[5]], Tags=[{"Key": "ami-hygiene:retain", "Value": "yes please"}])
    ec2.enable_image_deregistration_protection(ImageId=base[6])
    s.ssm.put_parameter(
        Name="/golden/base-al2023/approved", Value=base[7], Type="String", DataType="aws:ec2:image"
    )
    s.ssm.put_parameter(Name="/app/config/ami", Value=f"image={base[8]}", Type="String")
    ec2.modify_image_attribute(ImageId=base[9], LaunchPermission={"Add": [{"UserId": FOREIGN_ACCOUNT}]})
    ec2.modify_image_attribute(ImageId=base[10], LaunchPermission={"Add": [{"UserId": ALLOWED_ACCOUNT}]})
    ec2.modify_image_attribute(ImageId=base[11], LaunchPermission={"Add": [{"Group": "all"}]})

    # app: the staged lifecycle, mid-flight.
    app = s.family([(f"app-v{60 - k}", 5 + 20 * k) for k in range(12)])
    set_last_launched(app[4], s.region, now - timedelta(days=3), account_id=ACCOUNT_ID)
    s.autoscaling.create_launch_configuration(
        LaunchConfigurationName="app-legacy", ImageId=app[5], InstanceType="t3.micro"
    )
    for idx, days_ago in ((6, 40), (7, 20), (8, 3)):
        ec2.create_tags(
            Resources=[app[idx]],
            Tags=[{"Key": "ami-hygiene:disabled-at", "Value": _iso(now - timedelta(days=days_ago))}],
        )
        ec2.disable_image(ImageId=app[idx])
    ec2.disable_image(ImageId=app[9])  # disabled by a person, not by the tool
    ec2.create_tags(Resources=[app[10]], Tags=[{"Key": "ami-hygiene:disabled-at", "Value": "last tuesday"}])
    ec2.disable_image(ImageId=app[10])

    # build: young superseded images get deprecated; two images share a snapshot.
    build = s.family([(f"build_{(now - timedelta(days=4 * k)):%Y%m%d_%H%M}", 1 + 4 * k) for k in range(8)])
    shared_snap = s.snapshot(16)
    s.image(f"build_{(now - timedelta(days=200)):%Y%m%d_%H%M}", 200, snapshot_id=shared_snap)
    s.image("build_legacy_copy_1", 2, snapshot_id=shared_snap, tags={"ami-hygiene:family": "build-legacy"})
    s.image(f"build_{(now - timedelta(days=150)):%Y%m%d_%H%M}", 150, size_gib=30)
    s.image(f"build_{(now - timedelta(days=120)):%Y%m%d_%H%M}", 120, size_gib=30)
    del build

    # golden: Image Builder output, family from the Ec2ImageBuilderArn tag.
    for k in range(8):
        arn = f"arn:aws:imagebuilder:{s.region}:{ACCOUNT_ID}:image/golden-linux/1.0.{8 - k}/1"
        s.image(
            f"golden-linux 2025-{12 - k:02d}-01 build {k}",
            15 + 35 * k,
            size_gib=20,
            tags={"Ec2ImageBuilderArn": arn, "Owner": "platform"},
        )

    # Patch-rebuild: "legacy-api" was last built 60 days ago (older than the 30-day
    # limit); "edge" is fresh but its base moved on: the parameter it names now
    # points to a newer base image than the one it was built from.
    s.image("legacy-api-v3", 60, tags={"Owner": "payments", "Environment": "prod"})
    old_base, new_base = s.images["base-al2023-1.11.0"], s.images["base-al2023-1.12.0"]
    s.ssm.put_parameter(Name="/golden/base/al2023", Type="String", Value=new_base, Overwrite=True)
    s.image(
        "edge-2026.11",
        5,
        tags={"ami-hygiene:base-parameter": "/golden/base/al2023", "ami-hygiene:base-image": old_base},
    )

    if primary:
        # One image mid-creation: never touched while pending.
        pending = s.image("web-pending-build", 400)
        _set_image_attr(s.region, pending, "state", "pending")
    return dict(s.images)


def _subnet(ec2: EC2Client, region: str) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{region}a")
    return str(subnet["Subnet"]["SubnetId"])


@contextmanager
def embedded_aws() -> Iterator[None]:
    """The sandbox in-process, with fake credentials and no endpoint override."""
    from moto import mock_aws

    from . import install

    saved = {k: os.environ.pop(k, None) for k in ("AWS_ENDPOINT_URL", "AWS_PROFILE")}
    install()
    try:
        with mock_aws():
            yield
    finally:
        os.environ.update({k: v for k, v in saved.items() if v is not None})


def count_estate(regions: tuple[str, ...]) -> dict[str, int]:
    images = snapshots = 0
    for region in regions:
        ec2 = boto3.client("ec2", region_name=region)
        images += len(ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"])
        snapshots += len(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"])
    return {"images": images, "snapshots": snapshots}


# After rotation (report, then enforce), the other jobs on the same estate:
# the sharing guard revokes what is public or foreign-shared, the tag job
# reports what breaks the tag policy, rebuild reports the stale families.
DEMO_JOBS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rotate", ("report", "enforce")),
    ("public", ("enforce",)),
    ("tags", ("report",)),
    ("rebuild", ("report",)),
)
DEMO_REQUIRED_TAGS = "Owner,Environment=^(prod|staging|dev)$"
DEMO_FORECAST_DAYS = 90
# Shared with ALLOWED_ACCOUNT only and unused there: rotation disables it (dropping that share),
# restore gives it back.
DEMO_RESTORED = "base-al2023-1.2.0"


def run_demo(out: TextIO, fmt: str = "text") -> int:
    from ami_hygiene.core.clients import Clients
    from ami_hygiene.doctor.checks import as_json
    from ami_hygiene.doctor.run import render_text, run_doctor
    from ami_hygiene.forecast.cli import forecast_account
    from ami_hygiene.forecast.text import render_text as render_forecast
    from ami_hygiene.jobs.public.run import run_public
    from ami_hygiene.jobs.rebuild.run import run_rebuild
    from ami_hygiene.jobs.rotate.forecast import NewImages
    from ami_hygiene.jobs.rotate.run import run_rotation
    from ami_hygiene.jobs.rotate.settings import RotateJobSettings
    from ami_hygiene.jobs.settings import Settings
    from ami_hygiene.jobs.tags.run import run_tags
    from ami_hygiene.restore.steps import restore_images

    runners: dict[str, Any] = {
        "rotate": run_rotation,
        "public": run_public,
        "tags": run_tags,
        "rebuild": run_rebuild,
    }
    now = datetime.now(UTC)
    with embedded_aws():
        images = seed_demo_estate(now)
        env = {
            "REGIONS": ",".join(DEMO_REGIONS),
            "ALLOWED_SHARE_ACCOUNTS": ALLOWED_ACCOUNT,
            "REQUIRED_TAGS": DEMO_REQUIRED_TAGS,
            # Rotation reads the allow-listed account's usage before retiring what is shared with it.
            "CONSUMER_ROLE_NAME": CONSUMER_ROLE,
        }
        # The pre-flight check a user runs first: against the embedded AWS it shows what is set up.
        checks, _ = run_doctor(
            Clients(),
            DEMO_REGIONS,
            endpoint="embedded (in-process)",
            consumer_role_name=CONSUMER_ROLE,
            consumer_accounts=[ALLOWED_ACCOUNT],
        )
        if fmt == "text":
            out.write(f"{'=' * 100}\n$ ami-hygiene doctor --region {' --region '.join(DEMO_REGIONS)}\n")
            out.write(render_text(checks))
        before = count_estate(DEMO_REGIONS)
        reports = []
        for job, modes in DEMO_JOBS:
            for mode in modes:
                settings = Settings.load(env, overrides={"mode": mode})
                report = runners[job](settings, Clients(), now=now)
                reports.append(report)
                if fmt == "text":
                    out.write(f"\n{'=' * 100}\n{report.render_text()}")
                if job == "rotate" and mode == "report":
                    # Before anyone enforces: what these settings do over the coming weeks.
                    forecast, account, unread = forecast_account(
                        RotateJobSettings.load(env),
                        Clients(),
                        days=DEMO_FORECAST_DAYS,
                        new_images=NewImages.CADENCE,
                        now=now,
                    )
                    if fmt == "text":
                        flags = f"--region {' --region '.join(DEMO_REGIONS)} --days {DEMO_FORECAST_DAYS}"
                        out.write(f"\n{'=' * 100}\n$ ami-hygiene forecast {flags}\n")
                        out.write(render_forecast(forecast, account=account, unread_regions=unread))
                if job == "rotate" and mode == "enforce":
                    after = count_estate(DEMO_REGIONS)
        # Rotation disabled an image shared with the allow-listed account; restore gives it back, shared.
        shared = images[DEMO_REGIONS[0]][DEMO_RESTORED]
        restored = restore_images(Clients(), DEMO_REGIONS[0], [shared], dry_run=False, now=now)
        if fmt == "text":
            out.write(f"\n{'=' * 100}\n$ ami-hygiene restore --region {DEMO_REGIONS[0]} {shared}\n")
            out.write(restored.render_text())
    if fmt == "json":
        out.write(
            json.dumps(
                {
                    "doctor": json.loads(as_json(checks)),
                    "before": before,
                    "after": after,
                    "reports": [r.to_dict() for r in reports],
                    "forecast": {**forecast.to_dict(), "account": account, "unread_regions": unread},
                    "restore": restored.to_dict(),
                },
                indent=2,
            )
            + "\n"
        )
    else:
        out.write(
            f"\n{'=' * 100}\nBefore: {before['images']} images, {before['snapshots']} snapshots. "
            f"After enforce: {after['images']} images, {after['snapshots']} snapshots.\n"
            "This ran against the embedded AWS: no account, no network.\n"
        )
    return 1 if any(r.failed for r in reports) else 0
