"""Scenario tables that are the real settings objects: ``Annotated[EngineSettings, table()]``.

A settings dataclass (``EngineSettings``, ``RoutingParams``) checks its own
values; a scenario file only has to reach it. ``table()`` marks a pydantic
field whose TOML table holds any of the dataclass's fields: the keys and
their types come from the dataclass (strictly, unknown keys are errors with
their path), missing keys take the dataclass's own defaults, and the
dataclass's ``__post_init__`` judges the values. The field's value is the
dataclass itself, and it dumps back to a plain table.
"""

from __future__ import annotations

import dataclasses
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, create_model
from pydantic_core import core_schema


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def table_model(cls: type[Any]) -> type[BaseModel]:
    """A strict pydantic model with the dataclass's fields, types and defaults."""
    hints = get_type_hints(cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = ...
        fields[f.name] = (hints[f.name], default)
    model: type[BaseModel] = create_model(f"{cls.__name__}Table", __base__=_Table, **fields)
    return model


@dataclasses.dataclass(frozen=True)
class table:  # noqa: N801 - used as a marker inside Annotated, like pydantic's Field
    """Validate a TOML table into the annotated settings dataclass."""

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        model = table_model(source)

        def build(values: BaseModel) -> Any:
            return source(**dict(values))  # the dataclass checks its values (ValueError)

        def as_table(value: Any) -> Any:
            return dataclasses.asdict(value) if isinstance(value, source) else value

        return core_schema.no_info_before_validator_function(
            as_table,
            core_schema.no_info_after_validator_function(build, handler.generate_schema(model)),
            serialization=core_schema.plain_serializer_function_ser_schema(
                dataclasses.asdict, when_used="always"
            ),
        )
