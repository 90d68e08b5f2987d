"""Make up a JSON value that satisfies a JSON schema.

Theory of operation: the emulated model answers `response_format: json_schema`, tool calls and
OCR annotations with `instance(schema, rng)`.  The generator walks the schema once, resolving
`$ref` (`#/$defs/...`, `#/definitions/...` or any local JSON pointer) and merging `allOf`, and
picks each value from the seeded RNG, so the same schema and seed give the same value.

Choices that are not obvious:
- every property is generated, required or not, so answers look complete;
- `anyOf`/`oneOf` take their first branch, which for pydantic's `Optional[X]` is `X`;
- recursion is cut at `_DEEP`: from there on, arrays get their minimum length, objects their
  required properties only, and unions prefer a `null` branch, so recursive models terminate;
- `pattern` is honoured by walking the regular expression's parse tree; when the result does
  not match (look-arounds, back-references) a plain string is returned instead.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
import uuid
from typing import Any, Callable

from mistral_gcp.emulator.backend_text import NOUNS, words

try:  # the regex parser moved in Python 3.11; both expose the same parse tree
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]

Schema = dict[str, Any]
_DEEP = 5
_GIVE_UP = 40  # a schema that recurses through required fields has no finite instance


def instance(schema: Schema | bool, rng: random.Random) -> Any:
    """A value valid against `schema` (draft 4 to 2020-12 keywords, local `$ref` only)."""
    return _Walker(schema if isinstance(schema, dict) else {}, rng).value(schema, 0)


class _Walker:
    def __init__(self, root: Schema, rng: random.Random) -> None:
        self.root = root
        self.rng = rng

    def resolve(self, schema: Schema) -> Schema:
        """`schema` with its `$ref` followed and its `allOf` merged in."""
        while "$ref" in schema:
            target = self.pointer(schema["$ref"])
            schema = _merge({k: v for k, v in schema.items() if k != "$ref"}, target)
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                merged = _merge(merged, self.resolve(part) if isinstance(part, dict) else {})
            schema = merged
        return schema

    def pointer(self, ref: str) -> Schema:
        if not ref.startswith("#"):
            return {}  # remote references cannot be fetched; any value will do
        node: Any = self.root
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node.get(part, {})
        return node if isinstance(node, dict) else {}

    def value(self, schema: Schema | bool, depth: int) -> Any:
        if not isinstance(schema, dict) or depth > _GIVE_UP:
            return None if depth > _GIVE_UP else "value"
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                branches = [self.resolve(b) if isinstance(b, dict) else {} for b in schema[key]]
                rest = {k: v for k, v in schema.items() if k != key}
                return self.value(_merge(rest, self.branch(branches, depth)), depth)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = self.branch_type(kind, depth)
        return _BY_TYPE[kind or _infer_type(schema)](self, schema, depth)

    def branch(self, branches: list[Schema], depth: int) -> Schema:
        if depth >= _DEEP:
            for candidate in branches:
                if candidate.get("type") == "null":
                    return candidate
        return branches[0] if branches else {}

    def branch_type(self, kinds: list[str], depth: int) -> str:
        if depth >= _DEEP and "null" in kinds:
            return "null"
        return next((k for k in kinds if k != "null"), "null")

    def object(self, schema: Schema, depth: int) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties", {})
        required = schema.get("required", [])
        names = [n for n in properties if n in required] if depth >= _DEEP else list(properties)
        out = {name: self.value(properties[name], depth + 1) for name in names}
        for name in required:  # required names without a declared schema
            if name not in out:
                out[name] = self.value(schema.get("additionalProperties", {}), depth + 1)
        extra = schema.get("additionalProperties", True)
        wanted = max(schema.get("minProperties", 0), 0 if properties or depth >= _DEEP else 1)
        while len(out) < wanted and extra is not False:
            out[f"{self.rng.choice(NOUNS)}_{len(out)}"] = self.value(
                extra if isinstance(extra, dict) else {"type": "string"}, depth + 1
            )
        return out

    def array(self, schema: Schema, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems", [])
        if isinstance(schema.get("items"), list):  # draft-4 tuple form
            prefix = schema["items"]
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", max(low, 3, len(prefix)))
        if schema.get("items") is False:  # nothing may follow the prefix
            high = min(high, len(prefix))
        count = low if depth >= _DEEP else min(max(low, self.rng.randint(1, 3), len(prefix)), high)
        rest = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        out: list[Any] = []
        seen: set[str] = set()
        for attempt in range(count * 8 + len(prefix)):
            if len(out) >= count:
                break
            item = self.value(prefix[len(out)] if len(out) < len(prefix) else rest, depth + 1)
            key = json.dumps(item, sort_keys=True, default=str)
            if schema.get("uniqueItems") and key in seen and attempt < count * 8 - 1:
                continue
            seen.add(key)
            out.append(item)
        return out

    def string(self, schema: Schema, depth: int) -> str:
        rng = self.rng
        maker = _FORMATS.get(schema.get("format", ""))
        if maker is not None:
            return maker(rng)
        if "pattern" in schema:
            made = _from_pattern(schema["pattern"], rng)
            if made is not None:
                return made
        text = words(rng, rng.randint(1, 4))
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        while len(text) < low:
            text += " " + words(rng, 2)
        if high is not None:
            text = text[:high]
        return text

    def number(self, schema: Schema, depth: int) -> float | int:
        low, low_open, high, high_open = _bounds(schema)
        nudge = min(0.01, (high - low) / 4)
        low, high = low + nudge * low_open, high - nudge * high_open
        step = schema.get("multipleOf")
        if step:
            first, last = math.ceil(low / step), math.floor(high / step)
            return self.rng.randint(first, max(first, last)) * step
        value = round(self.rng.uniform(low, high), 2)
        return value if low <= value <= high else low

    def integer(self, schema: Schema, depth: int) -> int:
        low, low_open, high, high_open = _bounds(schema)
        first = math.floor(low) + 1 if low_open else math.ceil(low)
        last = math.ceil(high) - 1 if high_open else math.floor(high)
        step = int(schema.get("multipleOf") or 1)
        first, last = math.ceil(first / step), math.floor(last / step)
        return self.rng.randint(first, max(first, last)) * step

    def boolean(self, schema: Schema, depth: int) -> bool:
        return self.rng.random() < 0.5

    def null(self, schema: Schema, depth: int) -> None:
        return None


_BY_TYPE: dict[str, Callable[[_Walker, Schema, int], Any]] = {
    "object": _Walker.object,
    "array": _Walker.array,
    "string": _Walker.string,
    "number": _Walker.number,
    "integer": _Walker.integer,
    "boolean": _Walker.boolean,
    "null": _Walker.null,
}
_TYPE_HINTS = (
    ("object", ("properties", "additionalProperties", "required", "minProperties")),
    ("array", ("items", "prefixItems", "minItems", "maxItems")),
    ("number", ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")),
)


def _infer_type(schema: Schema) -> str:
    return next((kind for kind, keys in _TYPE_HINTS if any(k in schema for k in keys)), "string")


def _merge(base: Schema, extra: Schema) -> Schema:
    """Both schemas at once (enough for `allOf` and for a `$ref` with sibling keywords)."""
    merged = {**base, **extra}
    if "properties" in base and "properties" in extra:
        merged["properties"] = {**base["properties"], **extra["properties"]}
    if "required" in base and "required" in extra:
        merged["required"] = list(dict.fromkeys([*base["required"], *extra["required"]]))
    return merged


def _bounds(schema: Schema) -> tuple[float, bool, float, bool]:
    """(low, low is exclusive, high, high is exclusive) under draft-4 and later spellings."""
    low, high = schema.get("minimum"), schema.get("maximum")
    low_open = schema.get("exclusiveMinimum") is True
    high_open = schema.get("exclusiveMaximum") is True
    bound = schema.get("exclusiveMinimum")
    if _is_number(bound) and (low is None or bound >= low):
        low, low_open = bound, True
    bound = schema.get("exclusiveMaximum")
    if _is_number(bound) and (high is None or bound <= high):
        high, high_open = bound, True
    if low is None:
        low, low_open = (0 if high is None or high >= 100 else high - 100), False
    if high is None:
        high, high_open = low + 100, False
    return low, low_open, high, high_open


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _date(rng: random.Random) -> str:
    return f"{rng.randint(2020, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _time(rng: random.Random) -> str:
    return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"


_FORMATS: dict[str, Callable[[random.Random], str]] = {
    "date": _date,
    "time": _time,
    "date-time": lambda rng: f"{_date(rng)}T{_time(rng)}",
    "duration": lambda rng: f"PT{rng.randint(1, 59)}M",
    "email": lambda rng: f"{rng.choice(NOUNS)}.{rng.choice(NOUNS)}@example.com",
    "idn-email": lambda rng: f"{rng.choice(NOUNS)}@example.com",
    "uri": lambda rng: f"https://example.com/{rng.choice(NOUNS)}",
    "url": lambda rng: f"https://example.com/{rng.choice(NOUNS)}",
    "iri": lambda rng: f"https://example.com/{rng.choice(NOUNS)}",
    "uri-reference": lambda rng: f"/{rng.choice(NOUNS)}/{rng.choice(NOUNS)}",
    "hostname": lambda rng: f"{rng.choice(NOUNS)}.example.com",
    "ipv4": lambda rng: f"192.0.2.{rng.randint(1, 254)}",
    "ipv6": lambda rng: f"2001:db8::{rng.randint(1, 0xFFFF):x}",
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    "byte": lambda rng: base64.b64encode(words(rng, 2).encode()).decode(),
    "binary": lambda rng: words(rng, 2),
}


def _from_pattern(pattern: str, rng: random.Random) -> str | None:
    """A string that `re.search(pattern, ...)` accepts, or None when we cannot make one."""
    try:
        out: list[str] = []
        _emit(_sre_parse.parse(pattern), rng, out)
        made = "".join(out)
        return made if re.search(pattern, made) else None
    except Exception:  # unusual syntax; the caller falls back to plain words
        return None


_CATEGORY_CHARS = {
    "CATEGORY_DIGIT": "0123456789",
    "CATEGORY_NOT_DIGIT": "abcxyz",
    "CATEGORY_WORD": "abcdefghijklmnopqrstuvwxyz",
    "CATEGORY_NOT_WORD": "-.",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "abcxyz",
}


def _class_char(items: list[tuple[Any, Any]], rng: random.Random) -> str:
    if items and str(items[0][0]) == "NEGATE":
        pool = "abcdefghijklmnopqrstuvwxyz0123456789-_ "
        return next(c for c in pool if not re.fullmatch(_class_source(items[1:]), c))
    op, arg = rng.choice(items)
    name = str(op)
    if name == "RANGE":
        return chr(rng.randint(arg[0], arg[1]))
    if name == "CATEGORY":
        return rng.choice(_CATEGORY_CHARS[str(arg)])
    return chr(arg)


def _class_source(items: list[tuple[Any, Any]]) -> str:
    """A regex for a negated character class's members, to pick a character outside it."""
    parts = {"RANGE": lambda a: f"{re.escape(chr(a[0]))}-{re.escape(chr(a[1]))}",
             "LITERAL": lambda a: re.escape(chr(a)),
             "CATEGORY": lambda a: {"CATEGORY_DIGIT": r"\d", "CATEGORY_WORD": r"\w",
                                    "CATEGORY_SPACE": r"\s"}.get(str(a), "")}
    return "[" + "".join(parts[str(op)](arg) for op, arg in items) + "]" if items else "[^\\s\\S]"


def _emit(tree: Any, rng: random.Random, out: list[str]) -> None:
    for op, arg in tree:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if arg != ord("a") else "b")
        elif name == "ANY":
            out.append("x")
        elif name == "IN":
            out.append(_class_char(arg, rng))
        elif name == "CATEGORY":
            out.append(rng.choice(_CATEGORY_CHARS[str(arg)]))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            for _ in range(rng.randint(low, max(low, min(high, low + 3)))):
                _emit(sub, rng, out)
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            _emit(arg[-1], rng, out)
        elif name == "BRANCH":
            _emit(rng.choice(arg[1]), rng, out)
        elif name != "AT":  # anchors produce nothing; anything else we cannot build
            raise ValueError(name)
