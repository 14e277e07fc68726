"""Which family an image belongs to.

Rotation keeps the newest images of every family, so the family decides what
"superseded" means. In order of precedence:

1. the control tag ``ami-hygiene:family`` (validated: a bad value is an error,
   never silently replaced by a guess);
2. the Image Builder tag ``Ec2ImageBuilderArn``: the image name in the ARN
   (``arn:aws:imagebuilder:REGION:ACCOUNT:image/NAME/1.0.0/1`` -> ``NAME``);
3. the image name with its trailing version or timestamp removed
   (``web-2024-05-01T10-00-00Z`` -> ``web``, ``base-al2023-1.4.2`` -> ``base-al2023``,
   ``app-v42`` -> ``app``). A name that is all version is its own family.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ami_hygiene.core.estate import TAG_FAMILY, TAG_IMAGE_BUILDER_ARN, Image

# Names repeat run after run (and, in a forecast, plan after plan): each is parsed once.
FAMILY_CACHE = 65536
FAMILY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")

# A name is split into words and the separators between them. "x86_64" is one
# word, so an architecture suffix is not mistaken for a version.
_TOKENS = re.compile(r"x86_64|[^-_. /:]+|[-_. /:]+")
_SEPARATOR = re.compile(r"^[-_. /:]+$")
# One word of a version or timestamp: 42, v42, 20240501, 01T10, 00Z, 20240501T1000Z.
_VERSION_WORD = re.compile(r"^[vV]?\d+(?:[Tt]\d+)?[Zz]?$")
_ARN = re.compile(r"^arn:aws[a-z-]*:imagebuilder:[^:]*:[^:]*:image/([^/]+)(?:/.*)?$")


class FamilyTagError(ValueError):
    """The ``ami-hygiene:family`` tag of an image is not a valid family name."""

    def __init__(self, image_id: str, value: str) -> None:
        self.image_id = image_id
        self.value = value
        super().__init__(
            f"{image_id}: tag {TAG_FAMILY}={value!r} is not a family name "
            "(1 to 128 letters, digits, '.', '_', '/' or '-', starting with a letter or digit)"
        )


def family_of(image: Image) -> str:
    """The image's family; raises FamilyTagError when its family tag is bad."""
    tagged = image.tags.get(TAG_FAMILY)
    if tagged is not None:
        if not FAMILY_PATTERN.match(tagged):
            raise FamilyTagError(image.image_id, tagged)
        return tagged
    return derived_family(image)


def derived_family(image: Image) -> str:
    """The family without the control tag: from Image Builder, else from the name."""
    from_arn = family_from_image_builder_arn(image.tags.get(TAG_IMAGE_BUILDER_ARN, ""))
    if from_arn:
        return from_arn
    return family_from_name(image.name) or image.image_id


@lru_cache(maxsize=FAMILY_CACHE)
def family_from_image_builder_arn(arn: str) -> str | None:
    """``arn:aws:imagebuilder:eu-west-1:123456789012:image/web/1.0.0/1`` -> ``web``."""
    match = _ARN.match(arn.strip())
    return match.group(1) if match else None


@lru_cache(maxsize=FAMILY_CACHE)
def family_from_name(name: str) -> str:
    """The name without its trailing version or timestamp words.

    ``ubuntu-22.04-amd64-20240501`` -> ``ubuntu-22.04-amd64``; ``1.2.3`` -> ``1.2.3``.
    """
    tokens = _TOKENS.findall(name)
    end = len(tokens)
    while end > 0 and (_SEPARATOR.match(tokens[end - 1]) or _VERSION_WORD.match(tokens[end - 1])):
        end -= 1
    stem = "".join(tokens[:end])
    return stem if stem else name
