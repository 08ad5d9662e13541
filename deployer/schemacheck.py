"""Checking a resource's properties against its CloudFormation resource schema, before any call.

``check_properties`` walks a type's provider schema (from ``deployer.registry``) beside the
properties a manifest sets, in CloudFormation spelling, and returns every way they break it as
``deployer.apimodel.Violation`` values, the same values the AppFlow API model check gives, so
``validate`` can turn both into located diagnostics the same way. Paths are tuples of
CloudFormation property names and list indexes: ``("VersioningConfiguration", "Status")``.

The rules, and where they differ from a plain JSON Schema validator:

* Types follow stack's rendering rule: where the schema wants a boolean or an integer,
  ``"true"``/``"false"`` and ``"443"`` are accepted (they are converted); a number is accepted
  where text is wanted; anything else is an error, not a guess. A single item where a list is
  wanted is checked as a one-item list, as ``convert`` does for AppFlow.
* ``null`` is "not set": it is never checked, and a required property set to null is missing.
* Values known only after apply (``render.Unknown``) are not checked; their names are.
* ``pattern`` has JSON Schema's meaning (a match anywhere) when it has an anchor, and the API model's
  (the whole value, as ``apimodel``) when it has none (``.{3,7}``, AppFlow's ``[\\w/!@#+=.-]+``); compiled
  by ``registry.compiled_schema_pattern``; a pattern that does not compile is skipped and counted
  (``skipped_patterns``). ``format``, ``const``, ``not``, ``if``/``then`` and cfn-lint's own
  keywords are not checked.
* ``oneOf``/``anyOf`` report the problems of the closest branch, or, when every branch only
  lists required properties, one message naming them. ``allOf`` reports every branch.
* An object with ``properties`` and no ``additionalProperties`` is closed (names are checked), as
  CloudFormation's registry requires of new schemas; ``patternProperties`` or a true/schema value opens it.
* Read-only properties (``readOnlyProperties``, at any depth) are refused: AWS sets them.
* Values under a write-only property whose name looks like a secret, and registered secrets, are
  shown as ``(sensitive)``.

The work is bounded: values nested deeper than ``MAX_DEPTH`` are not checked below it, and at most
``MAX_REPORTED`` violations are returned per resource, then one that counts the rest.

jsonschema is not used: its messages are in the wrong spelling, and its ``oneOf`` errors are a dump
of every branch; the keywords the provider schemas use are few and simple.

``typed_properties`` gives the properties with those conversions made, as they are sent to AWS.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from deployer.apimodel import Violation, suggest, type_name
from deployer.errors import StackError
from deployer.paths import KeyPath, format_path
from deployer.registry import TypeSchema, compiled_schema_pattern
from deployer.render import Unknown
from deployer.secrets import SECRETS, SENSITIVE, looks_secret

MAX_DEPTH = 32  # nesting levels of a value; no provider schema nests this deep
MAX_REPORTED = 50  # violations per resource, then "... and N more problems"
_MAX_REF_CHAIN = 16  # $ref to $ref to ... without reaching a schema: a cycle, or near enough

_TYPE_WORDS = {
    "string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
    "object": "a mapping", "array": "a list", "null": "null",
}
_TYPE_FIXES = {
    "string": "quote it to make it text", "integer": "use a whole number", "number": "use a number",
    "boolean": "use true or false", "object": "use a mapping of property names to values",
    "array": "use a list",
}
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_NOT_A_VALUE = object()
_SKIPPED_PATTERNS: set[str] = set()


def check_properties(schema: TypeSchema, props: Mapping[str, Any]) -> list[Violation]:
    """Every way ``props`` (CloudFormation names, as rendered) break ``schema``, depth first."""
    checker = _Checker(schema)
    value = dict(props)
    found = checker.check_object(schema.schema, value, (), 0, top=True)
    found += checker.check_combined(schema.schema, value, (), 0)
    if len(found) > MAX_REPORTED:
        rest = len(found) - MAX_REPORTED
        found = [*found[:MAX_REPORTED], Violation((), f"... and {rest} more problem{'s' if rest != 1 else ''}")]
    return found


def typed_properties(schema: TypeSchema, props: Mapping[str, Any]) -> dict[str, Any]:
    """``props`` with the conversions ``check_properties`` accepts made (``"true"`` to true where the schema
    wants a boolean, a single item to a list), as AWS is sent them; what does not convert is left as it is."""
    checker = _Checker(schema)
    return {name: checker.typed(checker.property_node(schema.schema, name), value, 0)
            for name, value in props.items()}


def describe(violation: Violation) -> str:
    """One violation as one line, the way ``validate`` words diagnostics (without file and line)."""
    message = violation.problem
    if violation.has_value:
        shown = SENSITIVE if violation.sensitive else json.dumps(violation.value, default=str)
        message = f"{shown} {message}" if message.startswith(("is ", "does ", "has ")) else f"{message}: {shown}"
    text = f"{format_path(violation.path)}: {message}" if violation.path else message
    return f"{text}; {violation.fix}" if violation.fix else text


def skipped_patterns() -> frozenset[str]:
    """The schema patterns met so far that do not compile, and so were not checked."""
    return frozenset(_SKIPPED_PATTERNS)


def _pointer_parts(pointer: str) -> tuple[str, ...] | None:
    parts = pointer.split("/")
    if len(parts) < 3 or parts[:2] != ["", "properties"]:
        return None
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in parts[2:] if p != "properties")


def _generic(path: KeyPath) -> tuple[str, ...]:
    """A value path as a schema pointer reads it: list indexes are ``*``."""
    return tuple("*" if isinstance(p, int) else p for p in path)


class _Checker:
    def __init__(self, schema: TypeSchema) -> None:
        self.root = schema.schema
        self.read_only = {p for p in map(_pointer_parts, schema.read_only) if p}
        self.write_only = [p for p in map(_pointer_parts, schema.write_only) if p]

    # -- values --------------------------------------------------------------------------------

    def check(self, node: Mapping[str, Any], value: Any, path: KeyPath, depth: int) -> list[Violation]:
        node = self.resolve(node)
        if value is None or isinstance(value, Unknown):
            return []
        if depth > MAX_DEPTH:
            return [Violation(path, f"is nested more than {MAX_DEPTH} levels deep", "stack checks no deeper")]
        found = self.check_combined(node, value, path, depth)
        kinds = node.get("type")
        kinds = [kinds] if isinstance(kinds, str) else list(kinds or ())
        if kinds == ["array"] and not isinstance(value, list):
            # a single item where a list is wanted is unambiguous (convert's rule), if it is a fitting item
            as_item = self.check_array(node, [value], path, depth, single=True)
            if any(v.path == path and v.problem.startswith("expected ") for v in as_item):
                return found + [self.violation(path, value, f"expected a list, got {type_name(value)}", "use a list")]
            return found + as_item
        if kinds:
            coerced = _coerce(value, kinds)
            if coerced is _NOT_A_VALUE:
                wanted = " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
                return found + [self.violation(path, value, f"expected {wanted}, got {type_name(value)}",
                                               _TYPE_FIXES.get(kinds[0], ""))]
            value = coerced
        kind = _kind(value)
        if "enum" in node and not _in_enum(value, node["enum"]):
            return found + [self.violation(path, value, "is not an allowed value",
                                           "allowed: " + ", ".join(str(e) for e in node["enum"]))]
        if kind == "object":
            found += self.check_object(node, value, path, depth)
        elif kind == "array":
            found += self.check_array(node, value, path, depth)
        elif kind == "string":
            found += self.check_string(node, value, path)
        elif kind in ("integer", "number"):
            found += self.check_range(node, value, path)
        return found

    def check_combined(self, node: Mapping[str, Any], value: Any, path: KeyPath, depth: int) -> list[Violation]:
        found: list[Violation] = []
        for branch in node.get("allOf", ()):
            found += self.check(branch, value, path, depth)
        for keyword in ("oneOf", "anyOf"):
            if node.get(keyword):
                found += self.check_choice(keyword, node[keyword], value, path, depth)
        return found

    def check_object(self, node: Mapping[str, Any], value: dict[str, Any], path: KeyPath, depth: int, *,
                     top: bool = False) -> list[Violation]:
        node = self.resolve(node)
        properties: Mapping[str, Any] = node.get("properties", {})
        patterns: Mapping[str, Any] = node.get("patternProperties", {})
        # Closed unless the schema opens it: CloudFormation's registry requires additionalProperties false on
        # every object with properties, and older schemas (AppFlow's) leave it out; README: typos are errors.
        extra = node.get("additionalProperties", not properties or bool(patterns))
        found: list[Violation] = []
        for name in node.get("required", ()):
            if value.get(name) is None and _generic((*path, name)) not in self.read_only:
                found.append(Violation((*path, name), "required property is missing", f"add {name}"))
        for name, item in value.items():
            where = (*path, name)
            if _generic(where) in self.read_only:
                found.append(Violation(where, "read-only: AWS sets it", "remove it"))
                continue
            if name in properties:
                found += self.check(properties[name], item, where, depth + 1)
                continue
            matched = [p for p in patterns if self.matches(p, str(name))]
            for pattern in matched:
                found += self.check(patterns[pattern], item, where, depth + 1)
            if matched:
                continue
            if extra is False:
                if properties:
                    fix = suggest(str(name), list(properties))
                else:
                    fix = "names must match " + " or ".join(patterns) if patterns else "remove it"
                found.append(Violation(where, "unknown property", fix))
            elif isinstance(extra, Mapping):
                found += self.check(extra, item, where, depth + 1)
        if not top:
            found += self.check_size(node, len(value), path, "properties", "Properties")
        return found

    def check_array(self, node: Mapping[str, Any], value: list[Any], path: KeyPath, depth: int, *,
                    single: bool = False) -> list[Violation]:
        found = self.check_size(node, len(value), path, "items", "Items")
        items = node.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                found += self.check(items, item, path if single else (*path, index), depth + 1)
        if node.get("uniqueItems"):
            seen: dict[str, int] = {}
            for index, item in enumerate(value):
                if isinstance(item, Unknown) or item is None:
                    continue
                key = json.dumps(item, sort_keys=True, default=str)
                if key in seen:
                    found.append(Violation((*path, index), f"repeats item [{seen[key]}]",
                                           "remove it; the items must be unique"))
                seen.setdefault(key, index)
        return found

    def check_string(self, node: Mapping[str, Any], value: str, path: KeyPath) -> list[Violation]:
        low, high = node.get("minLength"), node.get("maxLength")
        if low is not None and len(value) < low:
            return [self.violation(path, value, f"is {len(value)} characters long, shorter than the minimum of {low}")]
        if high is not None and len(value) > high:
            return [self.violation(path, value, f"is {len(value)} characters long, longer than the maximum of {high}")]
        pattern = node.get("pattern")
        if isinstance(pattern, str) and not self.matches(pattern, value):
            whole = "the whole value " if _unanchored(pattern) else "it "
            return [self.violation(path, value, "does not match the required pattern", f"{whole}must match {pattern}")]
        return []

    def check_range(self, node: Mapping[str, Any], value: float, path: KeyPath) -> list[Violation]:
        low, high = node.get("minimum"), node.get("maximum")
        if low is not None and value < low:
            return [self.violation(path, value, f"is below the minimum of {low}")]
        if high is not None and value > high:
            return [self.violation(path, value, f"is above the maximum of {high}")]
        low, high = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
        if isinstance(low, (int, float)) and not isinstance(low, bool) and value <= low:
            return [self.violation(path, value, f"is not above {low}")]
        if isinstance(high, (int, float)) and not isinstance(high, bool) and value >= high:
            return [self.violation(path, value, f"is not below {high}")]
        return []

    def check_size(self, node: Mapping[str, Any], size: int, path: KeyPath, unit: str, key: str) -> list[Violation]:
        low, high = node.get(f"min{key}"), node.get(f"max{key}")
        if low is not None and size < low:
            return [Violation(path, f"has {size} {unit}, fewer than the minimum of {low}")]
        if high is not None and size > high:
            return [Violation(path, f"has {size} {unit}, more than the maximum of {high}")]
        return []

    def check_choice(self, keyword: str, branches: list[Any], value: Any, path: KeyPath,
                     depth: int) -> list[Violation]:
        """oneOf/anyOf: nothing when a branch fits (a oneOf of bare required lists: exactly one), else the
        closest branch's problems, the fewest of them."""
        results = [self.check(branch, value, path, depth) for branch in branches]
        fitting = [i for i, r in enumerate(results) if not r]
        groups = _required_only(self.resolve(b) for b in branches)
        if keyword == "oneOf" and len(fitting) > 1 and groups and isinstance(value, dict):
            names = [n for g in groups for n in g]
            both = [n for n in dict.fromkeys(names) if value.get(n) is not None]
            return [Violation(path, f"sets {_joined(both, 'and')}, which cannot be set together",
                              f"keep only {_choice(groups)}")]
        if fitting:
            return []
        if groups:
            return [Violation(path, f"needs {_choice(groups)}", "add " + _choice(groups).removeprefix("one of "))]
        return min(results, key=len)  # ties: the first branch, the schema's own order

    def typed(self, node: Mapping[str, Any], value: Any, depth: int) -> Any:
        node = self.resolve(node)
        if value is None or isinstance(value, Unknown) or depth > MAX_DEPTH or not node:
            return value
        kinds = node.get("type")
        kinds = [kinds] if isinstance(kinds, str) else list(kinds or ())
        if kinds == ["array"] and not isinstance(value, list):
            value = [value]
        elif kinds:
            coerced = _coerce(value, kinds)
            value = value if coerced is _NOT_A_VALUE else coerced
        if isinstance(value, dict):
            return {k: self.typed(self.property_node(node, k), v, depth + 1) for k, v in value.items()}
        if isinstance(value, list) and isinstance(node.get("items"), Mapping):
            return [self.typed(node["items"], item, depth + 1) for item in value]
        return value

    def property_node(self, node: Mapping[str, Any], name: str) -> Mapping[str, Any]:
        """The schema of member ``name`` of an object node: its property, a matching pattern, or nothing."""
        node = self.resolve(node)
        found = node.get("properties", {}).get(name)
        if found is None:
            found = next((item for pattern, item in node.get("patternProperties", {}).items()
                          if self.matches(pattern, str(name))), None)
        return self.resolve(found) if found is not None else {}

    # -- helpers -------------------------------------------------------------------------------

    def resolve(self, node: Any) -> Mapping[str, Any]:
        """``node`` with its ``$ref`` chain followed (in this schema's definitions only); cycles stop."""
        seen: set[str] = set()
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen or len(seen) >= _MAX_REF_CHAIN or not ref.startswith("#/"):
                return {}
            seen.add(ref)
            target: Any = self.root
            for part in ref[2:].split("/"):
                key = part.replace("~1", "/").replace("~0", "~")
                target = target.get(key, {}) if isinstance(target, Mapping) else {}
            node = target
        return node if isinstance(node, Mapping) else {}

    def matches(self, pattern: str, value: str) -> bool:
        if pattern in _SKIPPED_PATTERNS:
            return True
        try:
            compiled = compiled_schema_pattern(pattern)
            return (compiled.fullmatch if _unanchored(pattern) else compiled.search)(value) is not None
        except StackError:
            _SKIPPED_PATTERNS.add(pattern)
            return True

    def violation(self, path: KeyPath, value: Any, problem: str, fix: str = "") -> Violation:
        hidden = self.is_sensitive(path, value)
        return Violation(path, problem, fix, value=SENSITIVE if hidden else value, has_value=True, sensitive=hidden)

    def is_sensitive(self, path: KeyPath, value: Any) -> bool:
        if isinstance(value, str) and value in SECRETS:
            return True
        generic = _generic(path)
        names = [str(p) for p in path if isinstance(p, str)]
        secret_like = bool(names) and looks_secret(names[-1]) or any("credential" in n.lower() for n in names)
        return secret_like and any(generic[: len(pointer)] == pointer for pointer in self.write_only)


# apimodel's words for a value's type -> JSON Schema's "type" words
_JSON_SCHEMA_KINDS = {"boolean": "boolean", "integer": "integer", "number": "number", "string": "string",
                      "mapping": "object", "list": "array"}


def _kind(value: Any) -> str:
    """The JSON Schema type of ``value`` ("other" for what JSON has no type for)."""
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return "object"
    return _JSON_SCHEMA_KINDS.get(type_name(value), "other")


def _coerce(value: Any, kinds: list[str]) -> Any:
    """``value`` as the first of ``kinds`` it can be under stack's rule, or ``_NOT_A_VALUE``."""
    kind = _kind(value)
    if kind in kinds or (kind == "integer" and "number" in kinds):
        return value
    for wanted in kinds:
        if wanted == "boolean" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if wanted == "integer" and isinstance(value, str) and _INTEGER.match(value.strip()):
            return int(value.strip())
        if wanted == "number" and isinstance(value, str) and _NUMBER.match(value.strip()):
            number = float(value.strip())
            return number if math.isfinite(number) else _NOT_A_VALUE
        if wanted == "string" and kind in ("integer", "number"):
            return str(value)  # a YAML number where text is wanted, such as Port: 443 for a string
    return _NOT_A_VALUE


def _unanchored(pattern: str) -> bool:
    """A pattern with neither ``^`` nor ``$`` comes from an API model, where AWS matches the whole value (as
    ``apimodel`` does); one with an anchor is read as JSON Schema reads it, a match anywhere."""
    return not pattern.startswith("^") and not pattern.endswith("$")


def _in_enum(value: Any, allowed: list[Any]) -> bool:
    if isinstance(value, bool):
        return any(a is value or (isinstance(a, str) and a.lower() == str(value).lower()) for a in allowed)
    return any(a == value and not isinstance(a, bool) or (isinstance(a, str) and a == str(value)) for a in allowed)


def _required_only(branches: Any) -> list[list[str]]:
    """The ``required`` list of each branch, when every branch is a bare ``required`` list; else []."""
    groups: list[list[str]] = []
    for branch in branches:
        if set(branch) != {"required"}:
            return []
        groups.append(list(branch["required"]))
    return groups


def _choice(groups: list[list[str]]) -> str:
    """``one of A or B``; ``A, or B and C`` when a branch needs several names."""
    if all(len(g) == 1 for g in groups):
        return "one of " + _joined([g[0] for g in groups], "or")
    return ", or ".join(_joined(g, "and") for g in groups)


def _joined(words: list[str], conjunction: str) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" {conjunction} " + words[-1]
