"""Bounds that settings give, added to a contract model's fields (``create_model``), so that the
bounds are checked and stated (in the OpenAPI document) by one declaration."""

from copy import copy
from typing import Annotated, Any

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo


def tightened(
    model: type[BaseModel], name: str, annotation: Any = None, default: Any = None, **bounds: Any
) -> tuple[Any, FieldInfo]:
    """``model``'s field ``name`` (its default, description and rules), its type or default
    replaced when given, with ``bounds`` added: a field definition for ``create_model``."""
    field = copy(model.model_fields[name])
    if default is not None:
        field.default = default
    return Annotated[annotation or field.annotation, Field(**bounds)], field
