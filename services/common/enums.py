"""Enums with an English code for machines and a Chinese label for people.

The labels travel in the OpenAPI schema (`x-enum-labels`) so every client can show them,
and `labels()` feeds the enum catalogue endpoints.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema


class LabeledEnum(StrEnum):
    label: str

    def __new__(cls, value: str, label: str) -> LabeledEnum:
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label
        return obj

    @classmethod
    def of(cls, value: str) -> Self:
        """The member with this code (ValueError if none); typed, unlike `cls(value)` here."""
        for member in cls:
            if member.value == value:
                return member
        raise ValueError(f"{value!r} is not a valid {cls.__name__}")

    @classmethod
    def labels(cls) -> dict[str, str]:
        return {m.value: m.label for m in cls}

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out: dict[str, Any] = handler(schema)
        out = handler.resolve_ref_schema(out)
        out["x-enum-labels"] = cls.labels()
        out["description"] = "；".join(f"{k} {v}" for k, v in cls.labels().items())
        return out
