"""Inventory against the embedded AWS: every source of usage, and failures kept visible."""

from __future__ import annotations

from datetime import datetime

import pytest

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.estate import UsageKind
from ami_hygiene.jobs.rotate.inventory import read_checks, read_region
from sandbox.demo import ACCOUNT_ID, ALLOWED_ACCOUNT, FOREIGN_ACCOUNT, Seeder
from tests.helpers.constants import NOW, REGION
from tests.helpers.faults import deny


@pytest.fixture
def seeder(aws: None) -> Seeder:
    return Seeder(REGION, NOW)  # the clock is not travelled: nothing here needs it


def _subnet(s: Seeder) -> str:
    vpc = s.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return str(s.ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"])


def _usages(estate, image_id: str) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return {(u.kind.value, u.resource, u.detail) for u in estate.usages_of(image_id)}


def test_images_with_snapshots_sizes_and_states(seeder: Seeder) -> None:
    shared = seeder.snapshot(16)
    a = seeder.image("a-1", 100, snapshot_id=shared)
    b = seeder.image("b-1", 50, data_snapshot=True, size_gib=10)
    c = seeder.image("c-1", 10, snapshot_id=shared)
    seeder.ec2.disable_image(ImageId=c)
    estate = read_region(Clients(), REGION, ACCOUNT_ID)
    by_id = {i.image_id: i for i in estate.images}
    assert set(by_id) == {a, b, c}  # disabled images are listed too
    assert by_id[c].state == "disabled"
    assert [s.size_gib for s in by_id[b].snapshots] == [10, 20]
    assert by_id[a].creation_date.date() == datetime(2026, 8, 19).date()
    assert estate.snapshot_users()[shared] == {a, c}
    assert estate.unread_sources == {}


def test_instances_in_every_state_but_terminated(seeder: Seeder) -> None:
    subnet = _subnet(seeder)
    ids = [seeder.image(f"i-{k}", 200) for k in range(3)]
    ec2 = seeder.ec2
    run = [
        ec2.run_instances(ImageId=i, MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]["InstanceId"]
        for i in ids
    ]
    ec2.stop_instances(InstanceIds=[run[1]])
    ec2.terminate_instances(InstanceIds=[run[2]])
    estate = read_region(Clients(), REGION, ACCOUNT_ID)
    assert _usages(estate, ids[0]) == {("instance", run[0], "running")}
    assert _usages(estate, ids[1]) == {("instance", run[1], "stopped")}
    assert _usages(estate, ids[2]) == set()


def test_launch_templates_default_latest_and_versions_groups_pin(seeder: Seeder) -> None:
    subnet = _subnet(seeder)
    img = [seeder.image(f"lt-{k}", 200) for k in range(6)]
    ec2, asg = seeder.ec2, seeder.autoscaling
    lt = ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": img[0]})
    lt_id = lt["LaunchTemplate"]["LaunchTemplateId"]
    for k in (1, 2, 3, 4):  # versions 2..5; $Latest is version 5 (img[4])
        ec2.create_launch_template_version(LaunchTemplateId=lt_id, LaunchTemplateData={"ImageId": img[k]})
    asg.create_auto_scaling_group(
        AutoScalingGroupName="pinned",
        LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "2"},
        MinSize=0,
        MaxSize=0,
        DesiredCapacity=0,
        VPCZoneIdentifier=subnet,
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="mixed",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": "web", "Version": "$Default"},
                "Overrides": [
                    {
                        "InstanceType": "t3.small",
                        "LaunchTemplateSpecification": {"LaunchTemplateId": lt_id, "Version": "3"},
                    }
                ],
            }
        },
        MinSize=0,
        MaxSize=0,
        DesiredCapacity=0,
        VPCZoneIdentifier=subnet,
    )
    asg.create_auto_scaling_group(  # pins the $Default version by number: known without a call
        AutoScalingGroupName="by-number",
        LaunchTemplate={"LaunchTemplateName": "web", "Version": "1"},
        MinSize=0,
        MaxSize=0,
        DesiredCapacity=0,
        VPCZoneIdentifier=subnet,
    )
    clients = Clients()
    estate = read_region(clients, REGION, ACCOUNT_ID)
    # One account-wide listing, one call for the pinned versions 2 and 3 together.
    assert clients.counter.calls["ec2.DescribeLaunchTemplateVersions"] == 2
    assert _usages(estate, img[0]) == {
        ("launch-template", lt_id, "version 1, $Default"),
        ("launch-template", lt_id, "version 1, pinned by Auto Scaling group by-number"),
    }
    assert _usages(estate, img[4]) == {("launch-template", lt_id, "version 5, $Latest")}
    assert _usages(estate, img[1]) == {
        ("launch-template", lt_id, "version 2, pinned by Auto Scaling group pinned")
    }
    assert _usages(estate, img[2]) == {
        ("launch-template", lt_id, "version 3, pinned by Auto Scaling group mixed")
    }
    assert _usages(estate, img[3]) == set()  # an unpinned middle version protects nothing
    assert _usages(estate, img[5]) == set()


def test_launch_configurations_and_ssm_parameters(seeder: Seeder) -> None:
    img = [seeder.image(f"p-{k}", 200) for k in range(4)]
    seeder.autoscaling.create_launch_configuration(
        LaunchConfigurationName="legacy", ImageId=img[0], InstanceType="t3.micro"
    )
    seeder.ssm.put_parameter(Name="/golden/ami", Value=img[1], Type="String", DataType="aws:ec2:image")
    seeder.ssm.put_parameter(Name="notes", Value=f"use {img[2]} for builds", Type="String")
    seeder.ssm.put_parameter(Name="/secret", Value=img[3], Type="SecureString")
    estate = read_region(Clients(), REGION, ACCOUNT_ID)
    assert _usages(estate, img[0]) == {("launch-configuration", "legacy", "")}
    assert _usages(estate, img[1]) == {("ssm-parameter", "/golden/ami", "")}
    assert _usages(estate, img[2]) == {("ssm-parameter", "notes", "")}
    # SecureString values are never read (and need kms:Decrypt): not a usage source.
    assert _usages(estate, img[3]) == set()


def test_a_source_that_cannot_be_read_is_recorded(seeder: Seeder) -> None:
    seeder.image("x-1", 200)
    clients = Clients()
    deny(clients.session, "ssm", "DescribeParameters", "AccessDeniedException")
    estate = read_region(clients, REGION, ACCOUNT_ID)
    assert "AccessDeniedException" in estate.unread_sources["ssm-parameters"]


def test_checks_read_launch_permissions_and_references(seeder: Seeder) -> None:
    subnet = _subnet(seeder)
    img = [seeder.image(f"s-{k}", 200) for k in range(4)]
    ec2 = seeder.ec2
    ec2.modify_image_attribute(ImageId=img[0], LaunchPermission={"Add": [{"UserId": FOREIGN_ACCOUNT}]})
    ec2.modify_image_attribute(ImageId=img[1], LaunchPermission={"Add": [{"Group": "all"}]})
    ec2.modify_image_attribute(ImageId=img[2], LaunchPermission={"Add": [{"UserId": ALLOWED_ACCOUNT}]})
    instance = ec2.run_instances(ImageId=img[3], MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]
    clients = Clients()
    estate = read_region(clients, REGION, ACCOUNT_ID)
    before = clients.counter.calls["ec2.DescribeImageAttribute"]
    checked = read_checks(clients, estate, img)
    assert clients.counter.calls["ec2.DescribeImageAttribute"] - before == 4  # one per image asked for
    assert checked.sharing[img[0]].accounts == {FOREIGN_ACCOUNT}
    assert checked.sharing[img[1]].public
    assert checked.sharing[img[2]].foreign(frozenset({ALLOWED_ACCOUNT})) == ()
    assert checked.references_checked
    # The instance was already known; the reference does not add a duplicate.
    assert [u.kind for u in checked.usages_of(img[3])] == [UsageKind.INSTANCE]
    assert instance["InstanceId"] in {u.resource for u in checked.usages_of(img[3])}
    # A second read for the same images costs nothing.
    again = clients.counter.total
    read_checks(clients, checked, img)
    assert clients.counter.total == again


def test_unsupported_references_api_is_said_not_hidden(seeder: Seeder) -> None:
    img = seeder.image("r-1", 200)
    clients = Clients()
    deny(clients.session, "ec2", "DescribeImageReferences", "InvalidAction")
    checked = read_checks(clients, read_region(clients, REGION, ACCOUNT_ID), [img])
    assert not checked.references_checked
    assert "image-references" not in checked.unread_sources
    denied = Clients()
    deny(denied.session, "ec2", "DescribeImageReferences", "UnauthorizedOperation")
    checked = read_checks(denied, read_region(denied, REGION, ACCOUNT_ID), [img])
    assert "UnauthorizedOperation" in checked.unread_sources["image-references"]


def test_a_reference_is_keyed_by_its_whole_arn_and_listed_once(seeder: Seeder) -> None:
    # DescribeImageReferences names a parameter by ARN (arn:...:parameter/golden/web/ami); its last
    # segment ("ami") is not its name, so matching on it listed the same parameter twice.
    img = seeder.image("p-1", 200)
    seeder.ssm.put_parameter(Name="/golden/web/ami", Value=img, Type="String", DataType="aws:ec2:image")
    clients = Clients()
    checked = read_checks(clients, read_region(clients, REGION, ACCOUNT_ID), [img])
    assert checked.references_checked
    assert _usages(checked, img) == {("ssm-parameter", "/golden/web/ami", "")}


def test_a_reference_no_page_read_found_keeps_its_whole_arn() -> None:
    from ami_hygiene.core.estate import Usage
    from ami_hygiene.jobs.rotate.inventory import _arn_resource, _arn_resource_of

    recipe = "arn:aws:imagebuilder:eu-west-1:123456789012:image-recipe/web/1.0.2"
    assert _arn_resource(recipe) == "image-recipe/web/1.0.2"
    usage = Usage("ami-1", UsageKind.IMAGE_REFERENCE, recipe, "imagebuilder:ImageRecipe")
    assert usage.describe() == f"used by resource {recipe} (imagebuilder:ImageRecipe)"
    assert _arn_resource_of(Usage("ami-1", UsageKind.SSM_PARAMETER, "plain")) == "parameter/plain"
