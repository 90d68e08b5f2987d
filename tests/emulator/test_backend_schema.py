"""The JSON-schema instance generator behind json_schema answers, tool arguments and annotations."""

from __future__ import annotations

import datetime
import enum
import ipaddress
import json
import random
import re
import uuid
from typing import Any, Literal, Optional

import jsonschema
import pytest
from pydantic import BaseModel, Field

from mistral_gcp.emulator.backend_schema import instance

SEEDS = range(60)


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    street: str = Field(min_length=3, max_length=12)
    postcode: str = Field(pattern=r"^\d{5}(-\d{4})?$")
    country: Literal["FR", "DE", "IT"]


class Person(BaseModel):
    name: str
    age: int = Field(ge=18, lt=30)
    score: float = Field(gt=0, le=1)
    colour: Colour
    kind: Literal["customer"]
    home: Address
    previous: list[Address] = Field(min_length=2, max_length=4)
    work: Optional[Address] = None
    nickname: Optional[str] = None
    born: datetime.date
    seen: datetime.datetime
    wakes: datetime.time
    ident: uuid.UUID
    counts: dict[str, int]
    pair: tuple[int, str]
    lucky: set[int]
    pause: datetime.timedelta


class Node(BaseModel):
    label: str
    children: list[Node] = []
    next: Optional[Node] = None


@pytest.mark.parametrize("model", [Person, Node, Address])
def test_instances_of_pydantic_schemas_validate_both_ways(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    for seed in SEEDS:
        value = instance(schema, random.Random(seed))
        jsonschema.validate(value, schema)
        model.model_validate_json(json.dumps(value))


def test_the_same_seed_gives_the_same_instance() -> None:
    schema = Person.model_json_schema()
    assert instance(schema, random.Random(3)) == instance(schema, random.Random(3))
    assert instance(schema, random.Random(3)) != instance(schema, random.Random(4))


def test_every_property_is_generated_not_only_the_required_ones() -> None:
    value = instance(Person.model_json_schema(), random.Random(0))
    assert set(value) == set(Person.model_fields)
    assert value["work"] is not None and value["nickname"] is not None  # anyOf picks its first branch


def test_recursion_stops() -> None:
    value = instance(Node.model_json_schema(), random.Random(1))

    def depth(node: dict[str, Any]) -> int:
        below = [*node.get("children", []), *([node["next"]] if node.get("next") else [])]
        return 1 + max(map(depth, below), default=0)

    assert 2 <= depth(value) <= 8


def check(schema: dict[str, Any]) -> list[Any]:
    values = [instance(schema, random.Random(seed)) for seed in SEEDS]
    for value in values:
        jsonschema.validate(value, schema)
    return values


@pytest.mark.parametrize("schema", [
    {"type": "integer", "minimum": 5, "maximum": 5},
    {"type": "integer", "exclusiveMinimum": 5, "exclusiveMaximum": 8},
    {"type": "integer", "minimum": -50, "multipleOf": 7},
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.001},
    {"type": "number", "maximum": -1000},
    {"type": "string", "minLength": 30, "maxLength": 31},
    {"type": "string", "maxLength": 2},
    {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2,4}$"},
    {"type": "string", "pattern": "^(cat|dog)s?\\.[^a-z\\s]x*$"},
    {"type": "array", "items": {"type": "boolean"}, "minItems": 5, "maxItems": 5},
    {"type": "array", "items": {"enum": [1, 2, 3]}, "minItems": 3, "uniqueItems": True},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "null"}], "items": False},
    {"type": ["null", "integer"]},
    {"const": {"fixed": [1, 2]}},
    {"type": "object", "additionalProperties": {"type": "number"}, "minProperties": 3},
    {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
    {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
               {"properties": {"b": {"type": "string"}}, "required": ["b"]}]},
    {"oneOf": [{"type": "string", "enum": ["x"]}, {"type": "integer"}]},
    {"definitions": {"leaf": {"type": "string", "format": "email"}},
     "type": "object", "properties": {"leaf": {"$ref": "#/definitions/leaf"}}, "required": ["leaf"]},
    {"$defs": {"n": {"type": "integer", "minimum": 1}},
     "type": "array", "items": {"$ref": "#/$defs/n"}},
    {"$schema": "http://json-schema.org/draft-04/schema#",
     "type": "number", "minimum": 1, "exclusiveMinimum": True, "maximum": 2, "exclusiveMaximum": True},
])
def test_keywords_are_honoured(schema: dict[str, Any]) -> None:
    check(schema)


def test_draft4_exclusive_integer_bounds_are_exclusive() -> None:
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer",
              "minimum": 1, "exclusiveMinimum": True, "maximum": 3, "exclusiveMaximum": True}
    assert set(check(schema)) == {2}


@pytest.mark.parametrize(("fmt", "parse"), [
    ("date", datetime.date.fromisoformat),
    ("date-time", lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))),
    ("email", lambda s: re.fullmatch(r"[a-z.]+@example\.com", s).group()),
    ("uri", lambda s: re.fullmatch(r"https://[\w./-]+", s).group()),
    ("uuid", lambda s: uuid.UUID(s).version == 4 or 1 / 0),
    ("ipv4", ipaddress.IPv4Address),
    ("ipv6", ipaddress.IPv6Address),
])
def test_formats_produce_parseable_values(fmt: str, parse: Any) -> None:
    for value in check({"type": "string", "format": fmt}):
        parse(value)


def test_an_impossible_pattern_falls_back_to_plain_text() -> None:
    assert isinstance(instance({"type": "string", "pattern": "(?<=a)b"}, random.Random(0)), str)
