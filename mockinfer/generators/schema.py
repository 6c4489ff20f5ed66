"""Deterministic values that satisfy a JSON Schema, for synthesized tool-call arguments.

Supported: ``type`` (single or list; the first non-null type wins), ``const``, ``enum``,
``properties``/``required`` (all required plus a seeded subset of optional properties, in schema
order), ``additionalProperties``, ``minProperties``/``maxProperties``, ``items`` (schema or
draft-4 tuple), ``prefixItems``, ``minItems``/``maxItems``, ``uniqueItems``, ``minimum``/
``maximum``/``exclusiveMinimum``/``exclusiveMaximum`` (draft-4 booleans too), ``multipleOf``,
``minLength``/``maxLength``, ``format`` (date, date-time, time, email, uri, uuid, hostname,
ipv4), ``anyOf``/``oneOf`` (the first branch that is not obviously unsatisfiable), ``allOf``
(merged), and ``$ref`` to JSON pointers in the same document (``#/$defs/...``,
``#/definitions/...``). Not supported: ``pattern``, ``not``, ``if``/``then``, remote refs.

Strings are readable: a property named like ``city`` gets a city, ``email`` an address, and so
on, from a Faker instance seeded with ``seed``.
"""

from __future__ import annotations

import copy
import math
import random
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from faker import Faker

from mockinfer.generators.seeds import canonical_json
from mockinfer.generators.text import identifier_words

_MAX_DEPTH = 40  # deeper means a schema that recurses without end
_TRIM_DEPTH = 4  # below this depth only required properties and minItems, so recursion ends
_MAX_SIZE = 10_000  # larger minLength/minItems would stall the server for one reply
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
_SPAN_SECONDS = 30 * 365 * 24 * 3600  # dates between 2000 and ~2030, never "now"

_NAME_HINTS: dict[str, Callable[[Any], Any]] = {
    "city": lambda f: f.city(),
    "location": lambda f: f"{f.city()}, {f.state_abbr()}",
    "country": lambda f: f.country(),
    "name": lambda f: f.name(),
    "email": lambda f: f.email(),
    "phone": lambda f: f.phone_number(),
    "address": lambda f: f.street_address(),
    "company": lambda f: f.company(),
    "url": lambda f: f.url(),
    "title": lambda f: f.sentence(nb_words=4).rstrip("."),
    "description": lambda f: f.sentence(),
    "query": lambda f: " ".join(f.words(3)),
    "color": lambda f: f.color_name(),
    "currency": lambda f: f.currency_code(),
    "language": lambda f: f.language_name(),
}


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if key == "properties" and "properties" in merged:
            merged[key] = {**merged[key], **value}
        elif key == "required" and "required" in merged:
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        else:
            merged[key] = value
    return merged


def _as_mapping(schema: Any) -> Mapping[str, Any]:
    """Boolean schemas as mappings: true admits anything, false nothing."""
    if isinstance(schema, bool):
        return {} if schema else {"enum": []}
    if not isinstance(schema, Mapping):
        raise ValueError(f"not a schema: {schema!r}")
    return schema


def _bounds(schema: Mapping[str, Any]) -> tuple[float, float, bool, bool]:
    """(low, high, low exclusive, high exclusive) from both draft-4 and draft-6 spellings."""
    low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
    low_x, high_x = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    low_excl = low_x is True
    high_excl = high_x is True
    if isinstance(low_x, (int, float)) and not isinstance(low_x, bool) and low_x >= low:
        low, low_excl = low_x, True
    if isinstance(high_x, (int, float)) and not isinstance(high_x, bool) and high_x <= high:
        high, high_excl = high_x, True
    return float(low), float(high), low_excl, high_excl


def _satisfiable(schema: Any) -> bool:
    """Cheap check for branches that obviously admit no value."""
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, Mapping):
        return False
    if schema.get("enum") == [] or schema.get("type") == []:
        return False
    low, high, low_excl, high_excl = _bounds(schema)
    if low > high or (low == high and (low_excl or high_excl)):
        return False
    lengths = schema.get("minLength", 0) <= schema.get("maxLength", math.inf)
    sizes = schema.get("minItems", 0) <= schema.get("maxItems", math.inf)
    return bool(lengths and sizes)


class _Synth:
    def __init__(self, root: Mapping[str, Any], seed: int) -> None:
        self.root = root
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.rng: random.Random = self.fake.random

    def resolve(self, schema: Any, depth: int) -> Any:
        """Follow $ref, merge allOf and pick the anyOf/oneOf branch, until none is left."""
        while isinstance(schema, Mapping) and depth < _MAX_DEPTH:
            depth += 1
            rest = {k: v for k, v in schema.items() if k not in ("$ref", "allOf", "anyOf", "oneOf")}
            if "$ref" in schema:
                schema = _merge(self.pointer(schema["$ref"]), rest)
            elif "allOf" in schema:
                for part in schema["allOf"]:
                    rest = _merge(rest, _as_mapping(self.resolve(part, depth)))
                schema = rest
            elif "anyOf" in schema or "oneOf" in schema:
                branches = schema.get("anyOf") or schema.get("oneOf") or []
                chosen = next((b for b in branches if _satisfiable(b)), None)
                if chosen is None:
                    raise ValueError("no satisfiable anyOf/oneOf branch")
                schema = _merge(rest, chosen) if isinstance(chosen, Mapping) else chosen
            else:
                return schema
        if depth >= _MAX_DEPTH:
            raise ValueError("schema nests or references itself too deeply")
        return schema

    def pointer(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#"):
            raise ValueError(f"only local $ref pointers are supported, got {ref!r}")
        node: Any = self.root
        try:
            for part in filter(None, ref[1:].split("/")):
                key = part.replace("~1", "/").replace("~0", "~")
                node = node[int(key)] if isinstance(node, list) else node[key]
        except (KeyError, IndexError, TypeError, ValueError):
            raise ValueError(f"$ref {ref!r} points nowhere") from None
        return _as_mapping(node)

    def value(self, schema: Any, name: str | None, depth: int) -> Any:
        if depth >= _MAX_DEPTH:
            raise ValueError("schema nests or references itself too deeply")
        schema = _as_mapping(self.resolve(schema, depth))
        if not _satisfiable(schema):
            raise ValueError(f"cannot satisfy schema {canonical_json(schema)[:200]}")
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        if "enum" in schema:
            return copy.deepcopy(self.rng.choice(list(schema["enum"])))
        kind = self.kind(schema)
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, depth)
        if kind in ("integer", "number"):
            return self.number(schema, integer=kind == "integer")
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self.string(schema, name)

    @staticmethod
    def kind(schema: Mapping[str, Any]) -> str:
        declared = schema.get("type")
        if isinstance(declared, str):
            return declared
        if isinstance(declared, list):
            return next((t for t in declared if t != "null"), "null")
        if {"properties", "required", "additionalProperties"} & schema.keys():
            return "object"
        if {"items", "prefixItems", "minItems", "maxItems"} & schema.keys():
            return "array"
        if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} & schema.keys():
            return "number"
        return "string"

    def object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = list(schema.get("required", []))
        extra = schema.get("additionalProperties", True)
        least = schema.get("minProperties", 0)
        optional = [p for p in properties if p not in required and properties[p] is not False]
        # A seeded half of the optional properties, none deep down so recursion ends; then
        # minProperties and maxProperties adjust the pick in schema order.
        chosen = [p for p in optional if depth < _TRIM_DEPTH and self.rng.random() < 0.5]
        chosen += [p for p in optional if p not in chosen][
            : max(0, least - len(required) - len(chosen))
        ]
        room = schema.get("maxProperties", len(required) + len(optional)) - len(required)
        keep = set(sorted(chosen, key=optional.index)[: max(0, room)])
        names = [p for p in properties if p in required or p in keep]
        names += [p for p in required if p not in properties]
        # minProperties beyond the declared ones, when extra properties are allowed at all.
        while extra is not False and len(names) < least:
            names.append(f"extra_{len(names)}")
        result: dict[str, Any] = {}
        for prop in names:
            sub = properties.get(prop, extra if isinstance(extra, Mapping) else {})
            result[prop] = self.value(sub, prop, depth + 1)
        return result

    def array(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        items = schema.get("items", {})
        prefix = schema.get("prefixItems", items if isinstance(items, list) else [])
        rest = schema.get("additionalItems", {}) if isinstance(items, list) else items
        if "prefixItems" in schema and isinstance(items, bool) and not items:
            rest = False
        low, high = schema.get("minItems", 0), schema.get("maxItems", math.inf)
        if low > _MAX_SIZE:
            raise ValueError(f"minItems {low} is larger than mockinfer generates ({_MAX_SIZE})")
        if rest is False:
            high = min(high, len(prefix))
        if depth >= _TRIM_DEPTH:
            count = low
        else:
            start = max(low, 1 if high >= 1 else 0)
            count = self.rng.randint(start, int(min(high, start + 2)))
        values: list[Any] = []
        seen: set[str] = set()
        attempts = 0
        while len(values) < count and attempts < count * 8:
            attempts += 1
            position = len(values)
            sub = prefix[position] if position < len(prefix) else rest
            value = self.value(sub, None, depth + 1)
            if schema.get("uniqueItems"):
                key = canonical_json(value)
                if key in seen:
                    continue
                seen.add(key)
            values.append(value)
        return values

    def number(self, schema: Mapping[str, Any], *, integer: bool) -> int | float:
        low, high, low_excl, high_excl = _bounds(schema)
        if math.isinf(low) and math.isinf(high):
            low, high = 0.0, 100.0
        elif math.isinf(low):
            low = high - 100.0
        elif math.isinf(high):
            high = low + 100.0
        step = schema.get("multipleOf")
        if integer or step:
            unit = step or 1
            first, last = math.ceil(low / unit), math.floor(high / unit)
            first += 1 if low_excl and first * unit <= low else 0
            last -= 1 if high_excl and last * unit >= high else 0
            if first > last:
                raise ValueError(f"no multiple of {unit} in [{low}, {high}]")
            multiple = self.rng.randint(first, last) * unit
            return int(multiple) if integer else multiple
        value = round(low + (high - low) * self.rng.random(), 2)
        above = low < value or (value == low and not low_excl)
        below = value < high or (value == high and not high_excl)
        # Rounding to cents can step outside a narrow range; the midpoint never does.
        return value if above and below else (low + high) / 2.0

    def string(self, schema: Mapping[str, Any], name: str | None) -> str:
        fmt = schema.get("format")
        if fmt in ("date", "date-time", "time"):
            moment = _EPOCH + timedelta(seconds=self.rng.randrange(_SPAN_SECONDS))
            stamp = moment.isoformat().replace("+00:00", "Z")
            return {"date": stamp[:10], "time": stamp[11:]}.get(fmt, stamp)
        if fmt == "uuid":
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        formats: dict[str, Callable[[], Any]] = {
            "email": self.fake.email,
            "uri": self.fake.url,
            "url": self.fake.url,
            "hostname": self.fake.hostname,
            "ipv4": self.fake.ipv4,
        }
        if fmt in formats:
            return str(formats[fmt]())
        named = identifier_words(name or "")
        hint = next((h for h in _NAME_HINTS if h in named), None)
        text = str(_NAME_HINTS[hint](self.fake)) if hint else " ".join(self.fake.words(2))
        low, high = schema.get("minLength", 0), schema.get("maxLength", math.inf)
        if low > _MAX_SIZE:
            raise ValueError(f"minLength {low} is larger than mockinfer generates ({_MAX_SIZE})")
        while len(text) < low:
            text += " " + str(self.fake.word())
        if len(text) > high:
            text = text[: int(high)].rstrip()
        return text.ljust(low, "x")


def value_for_schema(schema: Mapping[str, Any], *, seed: int) -> Any:
    """A deterministic value valid against ``schema`` (the subset in the module docstring).

    Raises ValueError for schemas that are unsatisfiable, recurse without end, or use remote
    ``$ref``.
    """
    return _Synth(schema, seed).value(schema, None, 0)
