"""JSON-schema-driven values, checked with the jsonschema validator."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockinfer.generators import value_for_schema

SCHEMAS: list[dict[str, Any]] = [
    {"type": "string"},
    {"type": "string", "minLength": 30, "maxLength": 32},
    {"type": "string", "maxLength": 0},
    {"type": ["null", "integer"], "minimum": -3, "maximum": -1},
    {"type": "integer", "exclusiveMinimum": 3, "exclusiveMaximum": 5},
    {"type": "integer", "minimum": 10, "multipleOf": 7},
    {"type": "number", "minimum": 0.5, "maximum": 0.51},
    {"type": "number", "exclusiveMaximum": -1000},
    {"enum": ["red", 2, None]},
    {"const": {"a": [1]}},
    {"type": "boolean"},
    {"type": "null"},
    {},
    {"format": "date"},
    {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "email": {"type": "string", "format": "email"},
            "site": {"type": "string", "format": "uri"},
            "at": {"type": "string", "format": "date-time"},
            "city": {"type": "string"},
            "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "uniqueItems": True},
        },
        "required": ["id", "email", "site", "at"],
        "additionalProperties": False,
    },
    {"type": "object", "required": ["a", "b"], "additionalProperties": {"type": "integer"}},
    {
        "type": "object",
        "properties": {f"p{i}": {"type": "integer"} for i in range(6)},
        "minProperties": 4,
        "maxProperties": 4,
    },
    {"type": "object", "minProperties": 2},
    {"type": "array", "items": {"type": "number"}, "minItems": 5, "maxItems": 5},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
    {"anyOf": [{"type": "string", "minLength": 5, "maxLength": 2}, {"type": "integer"}]},
    {"oneOf": [{"enum": []}, {"type": "boolean"}]},
    {"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"required": ["b"]}]},
    {
        "$defs": {
            "point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
        },
        "type": "array",
        "items": {"$ref": "#/$defs/point"},
        "minItems": 1,
    },
    {
        "definitions": {
            "node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/definitions/node"}},
                },
                "required": ["name"],
            }
        },
        "$ref": "#/definitions/node",
    },
]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**64))
@pytest.mark.parametrize("schema", SCHEMAS, ids=[str(i) for i in range(len(SCHEMAS))])
def test_values_validate(schema: dict[str, Any], seed: int) -> None:
    value = value_for_schema(schema, seed=seed)
    jsonschema.validate(
        value, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert value == value_for_schema(schema, seed=seed)


def test_draft4_exclusive_booleans() -> None:
    schema = {
        "type": "integer",
        "minimum": 1,
        "maximum": 3,
        "exclusiveMinimum": True,
        "exclusiveMaximum": True,
    }
    for seed in range(20):
        value = value_for_schema(schema, seed=seed)
        jsonschema.Draft4Validator(schema).validate(value)
        assert value == 2


def test_golden() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "when": {"type": "string", "format": "date"},
            "count": {"type": "integer", "minimum": 1, "maximum": 9},
        },
        "required": ["city", "when", "count"],
    }
    assert value_for_schema(schema, seed=0) == {
        "city": "Changchester",
        "when": "2001-05-18",
        "count": 5,
    }
    assert value_for_schema(schema, seed=42) == {
        "city": "North Judithbury",
        "when": "2007-08-05",
        "count": 3,
    }


def test_optional_properties_are_a_seeded_subset() -> None:
    schema = {"type": "object", "properties": {f"p{i}": {"type": "boolean"} for i in range(8)}}
    shapes = {tuple(value_for_schema(schema, seed=seed)) for seed in range(10)}
    assert len(shapes) > 1


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer", "minimum": 5, "maximum": 4},
        {"enum": []},
        {"anyOf": [{"enum": []}, False]},
        {"$ref": "https://example.com/schema.json"},
        {"$defs": {"loop": {"$ref": "#/$defs/loop"}}, "$ref": "#/$defs/loop"},
        {
            "$defs": {
                "deep": {
                    "type": "object",
                    "properties": {"d": {"$ref": "#/$defs/deep"}},
                    "required": ["d"],
                }
            },
            "$ref": "#/$defs/deep",
        },
    ],
)
def test_impossible_schemas_raise(schema: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        value_for_schema(schema, seed=0)


def test_boolean_parts_and_pointer_errors() -> None:
    assert value_for_schema({"allOf": [True, {"const": 1}]}, seed=0) == 1
    assert value_for_schema({"anyOf": [False, {"type": "null"}]}, seed=0) is None
    with pytest.raises(ValueError):
        value_for_schema({"$ref": "#/$defs/missing"}, seed=0)
    with pytest.raises(ValueError):
        value_for_schema({"allOf": [False]}, seed=0)


def test_property_names_steer_strings() -> None:
    schema = {
        "type": "object",
        "properties": {"userEmail": {"type": "string"}, "city_name": {"type": "string"}},
        "required": ["userEmail", "city_name"],
    }
    assert value_for_schema(schema, seed=3) == {
        "userEmail": "brittanyanderson@example.net",
        "city_name": "Garrettland",
    }
