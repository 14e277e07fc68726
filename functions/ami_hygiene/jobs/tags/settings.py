"""The tags job's settings, each declared once (core/settings.py says how a declaration is read)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints

from ami_hygiene.core.settings import (
    Mode,
    Parameter,
    RequiredTagsSettings,
    Setting,
    cfn_list,
    mode_variant,
    settings_model,
    split_commas,
    unique,
    whole_number,
)

# The characters EC2 allows in a tag key (ami_hygiene.core.tag_rules), at most 128, and not aws:.
TAG_KEY_PATTERN = re.compile(r"^(?![aA][wW][sS]:)[A-Za-z0-9_.:/+\-@ ]{1,128}$")
# CloudFormation's rule on each key: the same characters, minus "=" and ",".
CFN_TAG_KEY = r"[A-Za-z0-9_.:/+@ -]{1,128}"

TagKey = Annotated[str, StringConstraints(pattern=TAG_KEY_PATTERN)]


def _keys(value: Any) -> Any:
    return split_commas(value) or None  # none given: the required keys


@settings_model
class TagsJobSettings(RequiredTagsSettings):
    variants = {
        "mode": mode_variant(
            "TagPolicyMode",
            "Tag policy mode",
            report="check and report only.",
            enforce="also add the auto-tags, copy tags to snapshots and escalate (deprecate) images that "
            "stay non-compliant; the tag job never removes a user's tag.",
            default=Mode.ENFORCE,
        ),
    }

    # The hours before a sweep reports a non-compliant image.
    tag_grace_hours: Annotated[
        int,
        whole_number(0, 8760),
        Setting(
            "TAG_GRACE_HOURS",
            "hours before a sweep reports an image",
            parameter=Parameter(
                "TagGraceHours",
                "Grace before reporting (hours)",
                "A sweep reports a non-compliant image only once it is this many hours old (an event about a "
                "new image reports it at once).",
            ),
        ),
    ] = 24
    # The days before a non-compliant image is escalated (0: never).
    tag_escalation_days: Annotated[
        int,
        whole_number(0, 3650),
        Setting(
            "TAG_ESCALATION_DAYS",
            "days non-compliant before deprecation; 0 never",
            parameter=Parameter(
                "TagEscalationDays",
                "Escalate after (days)",
                "An image still non-compliant this many days after its creation is deprecated and tagged for "
                "early retirement by rotation. 0: never escalate.",
            ),
        ),
    ] = 0
    # The keys copied to snapshots (None: the required keys).
    propagate_tags: Annotated[
        tuple[TagKey, ...] | None,
        BeforeValidator(_keys),
        AfterValidator(lambda keys: unique(keys) if keys else None),
        Setting(
            "PROPAGATE_TAGS",
            "keys copied to snapshots; default the required keys",
            what="a tag key (letters, digits, spaces, _ . : / + - @; at most 128; not aws:)",
            parameter=Parameter(
                "PropagateTags",
                "Tags copied to snapshots",
                "Comma-separated tag keys copied from an image to its snapshots. Empty: the "
                "RequiredTags keys.",
                "PropagateTags must be empty or tag keys (letters, digits, spaces and _ . : / + - @, at most "
                "128 each) separated by commas.",
                pattern=cfn_list(CFN_TAG_KEY),
            ),
        ),
    ] = None
