"""Image Builder's recipe reads, which DescribeImageReferences relies on.

EC2's DescribeImageReferences (with IncludeAllResourceTypes) asks Image Builder for
the caller's image and container recipes, so the rotate job's role holds
imagebuilder:ListImageRecipes, ListContainerRecipes and GetContainerRecipe, and
`ami-hygiene doctor` tries them. The sandbox's Image Builder (image_builder.py)
keeps no recipes, so these answer as an account without any does (Image Builder API
reference): empty lists (maxResults 1-25), and ResourceNotFoundException for a
well-formed container recipe ARN (InvalidRequestException for a malformed one).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from moto.core.responses import ActionResult

from . import image_builder
from ._patching import override
from .image_builder import ImageBuilderResponse, InvalidRequestException, ResourceNotFoundException

OPERATIONS = ("ListImageRecipes", "ListContainerRecipes", "GetContainerRecipe")
MAX_RESULTS = 25
_CONTAINER_RECIPE_ARN = re.compile(
    r"^arn:aws[^:]*:imagebuilder:[^:]+:(?:[0-9]{12}|aws):container-recipe/[a-z0-9-_]+/[0-9]+\.[0-9]+\.[0-9]+$"
)


def _empty_list(self: Any, member: str) -> ActionResult:
    limit = self._get_param("maxResults")
    if limit is not None and not 1 <= int(limit) <= MAX_RESULTS:
        raise InvalidRequestException(f"maxResults must be between 1 and {MAX_RESULTS}.")
    return ActionResult({"requestId": str(uuid.uuid4()), member: []})


def _list_image_recipes(self: Any) -> ActionResult:
    return _empty_list(self, "imageRecipeSummaryList")


def _list_container_recipes(self: Any) -> ActionResult:
    return _empty_list(self, "containerRecipeSummaryList")


def _get_container_recipe(self: Any) -> ActionResult:
    arn = self._get_param("containerRecipeArn") or ""
    if not _CONTAINER_RECIPE_ARN.match(arn):
        raise InvalidRequestException(
            f"The value supplied for parameter 'containerRecipeArn' is not valid: {arn}"
        )
    raise ResourceNotFoundException(f"The resource ARN '{arn}' does not exist.")


def install() -> None:
    override(ImageBuilderResponse, "list_image_recipes", _list_image_recipes)
    override(ImageBuilderResponse, "list_container_recipes", _list_container_recipes)
    override(ImageBuilderResponse, "get_container_recipe", _get_container_recipe)
    # moto builds the service's routes from image_builder's url_paths on each lookup.
    for operation in OPERATIONS:
        image_builder.url_paths.setdefault("{0}/" + operation + "$", ImageBuilderResponse.dispatch)
