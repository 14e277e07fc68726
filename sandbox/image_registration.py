"""Images with the block device mappings they were registered or created with.

moto's `Ami` always makes one 15 GiB stand-in snapshot and reports a fixed
mapping. Here RegisterImage honours `BlockDeviceMappings` (so two images can
share a snapshot and sizes come from the snapshots), CreateImage snapshots each
volume of the instance, CopyImage copies the source's snapshots, and
DeleteSnapshot refuses a snapshot that a registered image still uses.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidSnapshotInUse, InvalidTaggableResourceType
from moto.ec2.models import EC2Backend
from moto.ec2.models.amis import AmiBackend
from moto.ec2.responses import EC2Response

from ._patching import original, override
from .errors import duplicate_image_name, invalid_block_device_mapping, invalid_parameter_value
from .image_model import extras_of, find_image
from .image_table import images_of

# Sizes EBS accepts per volume type, in GiB (EbsBlockDevice.VolumeSize in the API reference).
VOLUME_SIZE_LIMITS = {
    "gp2": (1, 16384),
    "gp3": (1, 65536),
    "io1": (4, 16384),
    "io2": (4, 65536),
    "st1": (125, 16384),
    "sc1": (125, 16384),
    "standard": (1, 1024),
}
DEFAULT_VOLUME_TYPE = "gp2"
# RegisterImage defaults for EBS-backed images, as the API reference gives them.
DEFAULT_ARCHITECTURE = "i386"
DEFAULT_VIRTUALIZATION = "paravirtual"
DEFAULT_ROOT_DEVICE = "/dev/sda1"


def resolve_mappings(backend: Any, requested: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The mappings an image reports, completed from the snapshots they name."""
    resolved = []
    for mapping in requested:
        device = mapping.get("DeviceName")
        if not device:
            raise invalid_block_device_mapping("A block device mapping must name its DeviceName.")
        if "Ebs" not in mapping:  # instance store (VirtualName) or suppressed (NoDevice)
            resolved.append(dict(mapping))
            continue
        resolved.append({"DeviceName": device, "Ebs": _resolve_ebs(backend, mapping["Ebs"])})
    return resolved


def _resolve_ebs(backend: Any, ebs: dict[str, Any]) -> dict[str, Any]:
    snapshot_id = ebs.get("SnapshotId")
    if snapshot_id:
        snapshot = backend.get_snapshot(snapshot_id)  # InvalidSnapshot.NotFound
        size = int(ebs.get("VolumeSize") or snapshot.volume_size)
        if size < snapshot.volume_size:
            raise invalid_block_device_mapping(
                f"Volume of size {size}GB is smaller than snapshot '{snapshot_id}', "
                f"expect size >= {snapshot.volume_size}GB"
            )
        encrypted = bool(snapshot.encrypted)  # the snapshot decides; the request may not
    elif ebs.get("VolumeSize"):
        size = int(ebs["VolumeSize"])
        encrypted = bool(ebs.get("Encrypted", False))
    else:
        raise invalid_block_device_mapping("You must specify either a snapshot ID or a volume size.")
    volume_type = ebs.get("VolumeType") or DEFAULT_VOLUME_TYPE
    if volume_type not in VOLUME_SIZE_LIMITS:
        raise invalid_parameter_value(f"Value ({volume_type}) for parameter volumeType is invalid.")
    low, high = VOLUME_SIZE_LIMITS[volume_type]
    if not low <= size <= high:
        raise invalid_block_device_mapping(f"Volume size {size} is not valid for volume type {volume_type}.")
    resolved: dict[str, Any] = {
        "DeleteOnTermination": bool(ebs.get("DeleteOnTermination", True)),
        "VolumeSize": size,
        "VolumeType": volume_type,
        "Encrypted": encrypted,
    }
    if snapshot_id:
        resolved["SnapshotId"] = snapshot_id
    for optional in ("Iops", "Throughput", "KmsKeyId"):
        if ebs.get(optional) is not None:
            resolved[optional] = ebs[optional]
    return resolved


def _refuse_taken_name(backend: Any, name: str | None) -> None:
    taken_by = images_of(backend).image_named(name) if name else None
    if name and taken_by:
        raise duplicate_image_name(name, taken_by)


def _drop_stand_in_snapshot(backend: Any, image: Any) -> None:
    """moto's Ami made a snapshot of an empty volume; an image with real mappings has none."""
    stand_in = getattr(image, "ebs_snapshot", None)
    if stand_in is not None:
        backend.snapshots.pop(stand_in.id, None)
        image.ebs_snapshot = None


def _set_mappings(backend: Any, image: Any, mappings: list[dict[str, Any]]) -> None:
    extras_of(image).mappings = mappings
    images_of(backend).reindex(image.id)


# -- backend ------------------------------------------------------------------------------


def register_image(
    self: Any,
    name: str | None = None,
    description: str | None = None,
    *,
    block_device_mappings: list[dict[str, Any]] | None = None,
    root_device_name: str | None = None,
    architecture: str | None = None,
    virtualization_type: str | None = None,
    boot_mode: str | None = None,
    tags: dict[str, str] | None = None,
) -> Any:
    _refuse_taken_name(self, name)
    mappings = resolve_mappings(self, block_device_mappings or [])
    image = original(EC2Backend, "register_image")(self, name, description)
    image.architecture = architecture or DEFAULT_ARCHITECTURE
    image.virtualization_type = virtualization_type or DEFAULT_VIRTUALIZATION
    image.root_device_name = root_device_name or DEFAULT_ROOT_DEVICE
    image.root_device_type = "ebs"
    image.boot_mode = boot_mode
    image.image_location = f"{self.account_id}/{name}"
    if tags:
        image.add_tags(tags)
    if mappings:
        _drop_stand_in_snapshot(self, image)
        _set_mappings(self, image, mappings)
    return image


def create_image(
    self: Any, instance_id: str, name: str, description: str, tag_specifications: list[dict[str, Any]]
) -> Any:
    _refuse_taken_name(self, name)
    snapshot_tags = {
        tag["Key"]: tag["Value"]
        for spec in tag_specifications
        if spec.get("ResourceType") == "snapshot"
        for tag in spec.get("Tags", [])
    }
    image_specs = [spec for spec in tag_specifications if spec.get("ResourceType") != "snapshot"]
    image = original(EC2Backend, "create_image")(self, instance_id, name, description, image_specs)
    _drop_stand_in_snapshot(self, image)
    mappings = []
    # One snapshot per EBS volume of the instance, of that volume's size, as EC2 does.
    for device, block in image.instance.get_block_device_mapping:
        volume = self.get_volume(block.volume_id)
        snapshot = self.create_snapshot(
            volume.id, f"Created by CreateImage({instance_id}) for {image.id}", from_ami=image.id
        )
        if snapshot_tags:
            snapshot.add_tags(snapshot_tags)
        mappings.append(
            {
                "DeviceName": device,
                "Ebs": {
                    "DeleteOnTermination": bool(block.delete_on_termination),
                    "SnapshotId": snapshot.id,
                    "VolumeSize": volume.size,
                    "VolumeType": volume.volume_type,
                    "Encrypted": bool(volume.encrypted),
                },
            }
        )
    image.root_device_type = "ebs"
    _set_mappings(self, image, mappings)
    return image


def copy_image(
    self: Any,
    source_image_id: str,
    source_region: str,
    name: str | None = None,
    description: str | None = None,
) -> Any:
    from moto.ec2.models import ec2_backends

    image = original(EC2Backend, "copy_image")(self, source_image_id, source_region, name, description)
    source = find_image(ec2_backends[self.account_id][source_region], source_image_id)
    _drop_stand_in_snapshot(self, image)
    mappings = []
    # The copy gets its own copies of the source's snapshots, as CopyImage does.
    for mapping in source.block_device_mappings:
        copied = {**mapping}
        ebs = dict(mapping.get("Ebs") or {})
        if ebs.get("SnapshotId"):
            snapshot = self.copy_snapshot(
                ebs["SnapshotId"],
                source_region,
                f"Copied for DestinationAmi {image.id} from SourceAmi {source.id} "
                f"for SourceSnapshot {ebs['SnapshotId']}",
                None,
            )
            snapshot.from_ami = image.id
            ebs["SnapshotId"] = snapshot.id
            copied["Ebs"] = ebs
        mappings.append(copied)
    image.root_device_name = source.root_device_name
    image.root_device_type = source.root_device_type
    image.boot_mode = source.boot_mode
    _set_mappings(self, image, mappings)
    return image


def delete_snapshot(self: Any, snapshot_id: str) -> Any:
    users = images_of(self).users_of(snapshot_id)
    if users:
        raise InvalidSnapshotInUse(snapshot_id, sorted(users)[0])
    return original(EC2Backend, "delete_snapshot")(self, snapshot_id)


def _ami_backend_init(self: Any) -> None:
    original(AmiBackend, "__init__")(self)
    images_of(self)


# -- responses ----------------------------------------------------------------------------


def register_image_response(self: Any) -> ActionResult:
    tags: dict[str, str] = {}
    for spec in self._get_param("TagSpecifications", []):
        # RegisterImage tags only the image: any other ResourceType fails the request.
        if spec.get("ResourceType") != "image":
            raise InvalidTaggableResourceType(spec.get("ResourceType"))
        tags.update({tag["Key"]: tag["Value"] for tag in spec.get("Tags", [])})
    self.error_on_dryrun()
    image = self.ec2_backend.register_image(
        self._get_param("Name"),
        self._get_param("Description", ""),
        block_device_mappings=self._get_param("BlockDeviceMappings", []),
        root_device_name=self._get_param("RootDeviceName"),
        architecture=self._get_param("Architecture"),
        virtualization_type=self._get_param("VirtualizationType"),
        boot_mode=self._get_param("BootMode"),
        tags=tags,
    )
    return ActionResult({"ImageId": image.id})


def install() -> None:
    override(AmiBackend, "__init__", _ami_backend_init)
    override(EC2Backend, "register_image", register_image)
    override(EC2Backend, "create_image", create_image)
    override(EC2Backend, "copy_image", copy_image)
    override(EC2Backend, "delete_snapshot", delete_snapshot)
    override(EC2Response, "register_image", register_image_response)
