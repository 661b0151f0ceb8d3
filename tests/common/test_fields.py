"""Request field types take what their OpenAPI schema says, and nothing else."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator

from services.common.fields import Day, Instant, Yuan, omit_null


@pytest.mark.parametrize("value", [0, 1.5, "0", "0.5", "1e9", True])
def test_a_number_is_not_a_day_or_an_instant(value: object) -> None:
    for kind in (Day, Instant):
        with pytest.raises(ValidationError):
            TypeAdapter(kind).validate_python(value)


def test_iso_text_is_a_day_or_an_instant() -> None:
    assert TypeAdapter(Day).validate_python("2018-07-02") == date(2018, 7, 2)
    assert TypeAdapter(Instant).validate_python("2018-07-02T08:00:00+08:00").hour == 8
    assert TypeAdapter(Day).json_schema() == {"type": "string", "format": "date"}


@pytest.mark.parametrize("value", [12, 12.5, "12.345", "-1", "1e3", "1,000.00", "１２", ""])
def test_money_is_a_decimal_string_with_two_places(value: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Yuan).validate_python(value)


def test_money_as_documented() -> None:
    assert TypeAdapter(Yuan).validate_python("1234.5") == Decimal("1234.50")
    schema = TypeAdapter(Yuan).json_schema()
    assert schema["type"] == "string"
    assert TypeAdapter(Yuan).validate_python(schema["examples"][0]) == Decimal("1234.50")


class Patch(BaseModel):
    name: str | None = Field(default=None, max_length=5, json_schema_extra=omit_null)
    note: str | None = None

    @field_validator("name")
    @classmethod
    def _not_null(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("cannot be null")
        return value


def test_a_field_that_may_be_left_out_but_not_nulled_is_documented_so() -> None:
    properties = Patch.model_json_schema()["properties"]
    assert properties["name"] == {"type": "string", "maxLength": 5, "title": "Name"}
    assert {"type": "null"} in properties["note"]["anyOf"]
    with pytest.raises(ValidationError):
        Patch(name=None)
    assert Patch().model_dump(exclude_unset=True) == {}
