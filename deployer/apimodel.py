"""The AppFlow API model, as botocore ships it, and validation of values against it.

botocore's service model is the single source of truth for API names, types,
required members, enums, lengths, patterns and ranges. Nothing here copies it:
``check_value`` walks a model shape beside a value and reports every way the value
breaks the shape. Both the emulator (on the wire) and the stack validator (on the
converted manifest) use it, so a request the emulator refuses is refused by
``stack validate`` for the same reason.

Paths are tuples of API member names and list indexes, in API spelling; callers
that speak CloudFormation map them back themselves.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from deployer.paths import KeyPath

ApiPath = KeyPath

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "long": "an integer",
    "boolean": "a boolean",
    "double": "a number",
    "float": "a number",
    "structure": "a mapping",
    "map": "a mapping",
    "list": "a list",
    "timestamp": "a timestamp",
    "blob": "binary data",
}


@dataclass(frozen=True)
class Violation:
    """One way a value breaks the API model. ``value`` is the offending value, if any."""

    path: ApiPath
    problem: str
    fix: str = ""
    value: Any = None
    has_value: bool = False
    sensitive: bool = False


@functools.lru_cache(maxsize=1)
def appflow_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("appflow")


def operation(name: str) -> OperationModel:
    return appflow_model().operation_model(name)


def input_shape(operation_name: str) -> StructureShape:
    shape = operation(operation_name).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def output_members(operation_name: str) -> list[str]:
    """The members of the operation's output; none means AWS answers with an empty body."""
    output = operation(operation_name).output_shape
    return list(output.members) if isinstance(output, StructureShape) else []


def shape(name: str) -> Shape:
    return appflow_model().shape_for(name)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def suggest(name: str, choices: list[str]) -> str:
    """'did you mean ...' for a misspelt name, else the list of allowed names."""
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{by_lower[close[0]]}'?"
    return "allowed: " + ", ".join(sorted(choices))


def check_value(model_shape: Shape, value: Any, path: ApiPath = ()) -> list[Violation]:
    """Every violation of ``model_shape`` by ``value``, depth first, in member order."""
    sensitive = bool(model_shape.metadata.get("sensitive"))
    kind = model_shape.type_name
    if not _has_type(kind, value):
        return [
            Violation(
                path,
                f"expected {_TYPE_NAMES.get(kind, kind)}, got {type_name(value)}",
                value=value,
                has_value=True,
                sensitive=sensitive,
            )
        ]
    if isinstance(model_shape, StructureShape):
        return _check_structure(model_shape, value, path)
    if isinstance(model_shape, ListShape):
        found = _check_size(model_shape, len(value), path, "items")
        for index, item in enumerate(value):
            found += check_value(model_shape.member, item, (*path, index))
        return found
    if isinstance(model_shape, MapShape):
        found = _check_size(model_shape, len(value), path, "entries")
        for key, item in value.items():
            found += [
                Violation((*path, key), f"map key {v.problem}", v.fix)
                for v in check_value(model_shape.key, key, path)
            ]
            found += check_value(model_shape.value, item, (*path, key))
        return found
    if kind == "string":
        return _check_string(model_shape, value, path, sensitive)
    if kind in ("integer", "long", "double", "float"):
        return _check_range(model_shape, value, path)
    return []


def _has_type(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("double", "float"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("structure", "map"):
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    return True


def _check_structure(model_shape: StructureShape, value: dict[str, Any], path: ApiPath) -> list[Violation]:
    members = model_shape.members
    found: list[Violation] = []
    for name in model_shape.required_members:
        if value.get(name) is None:  # JSON null is "absent", for required members too (AWS: "must not be null")
            found.append(Violation((*path, name), "required member is missing", f"add '{name}'"))
    for name, item in value.items():
        if name not in members:
            found.append(Violation((*path, name), "unknown member", suggest(str(name), list(members))))
            continue
        if item is not None:
            found += check_value(members[name], item, (*path, name))
    return found


def without_nulls(model_shape: Shape, value: Any) -> Any:
    """``value`` with every null structure member dropped, at any depth: in AWS's JSON protocols a null
    member is an absent one (AWS's own sample requests send ``"kmsArn": null``). Null list items and
    map values are kept; they are not members, and ``check_value`` refuses them. Unknown members are
    kept too, so that ``check_value`` still names them."""
    if isinstance(model_shape, StructureShape) and isinstance(value, dict):
        members = model_shape.members
        return {
            name: without_nulls(members[name], item) if name in members else item
            for name, item in value.items()
            if item is not None or name not in members
        }
    if isinstance(model_shape, ListShape) and isinstance(value, list):
        return [without_nulls(model_shape.member, item) for item in value]
    if isinstance(model_shape, MapShape) and isinstance(value, dict):
        return {key: without_nulls(model_shape.value, item) for key, item in value.items()}
    return value


def _check_size(model_shape: Shape, size: int, path: ApiPath, unit: str) -> list[Violation]:
    low, high = model_shape.metadata.get("min"), model_shape.metadata.get("max")
    if low is not None and size < low:
        return [Violation(path, f"has {size} {unit}, fewer than the minimum of {low}")]
    if high is not None and size > high:
        return [Violation(path, f"has {size} {unit}, more than the maximum of {high}")]
    return []


def _check_string(model_shape: Shape, value: str, path: ApiPath, sensitive: bool) -> list[Violation]:
    meta = model_shape.metadata

    def violation(problem: str, fix: str = "") -> Violation:
        return Violation(path, problem, fix, value=value, has_value=True, sensitive=sensitive)

    enum = meta.get("enum")
    if enum and value not in enum:
        return [violation("is not an allowed value", "allowed: " + ", ".join(enum))]
    low, high = meta.get("min"), meta.get("max")
    if low is not None and len(value) < low:
        return [violation(f"is {len(value)} characters long, shorter than the minimum of {low}")]
    if high is not None and len(value) > high:
        return [violation(f"is {len(value)} characters long, longer than the maximum of {high}")]
    pattern = meta.get("pattern")
    if pattern and not compiled_pattern(pattern).fullmatch(value):
        hint = ", where \\w is A-Z, a-z, 0-9 or _" if "\\w" in pattern else ""  # not any letter, as in Python
        return [violation("does not match the required pattern", f"the whole value must match {pattern}{hint}")]
    return []


def _check_range(model_shape: Shape, value: float, path: ApiPath) -> list[Violation]:
    low, high = model_shape.metadata.get("min"), model_shape.metadata.get("max")
    if low is not None and value < low:
        return [Violation(path, f"is below the minimum of {low}", value=value, has_value=True)]
    if high is not None and value > high:
        return [Violation(path, f"is above the maximum of {high}", value=value, has_value=True)]
    return []


@functools.cache
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    """A model pattern as a Python regex with the model's meaning.

    Model patterns are ECMA-262 regexes (the Smithy ``@pattern`` dialect), and Python's ``re`` reads
    several of their escapes differently: its ``\\w`` and ``\\d`` match any Unicode letter or digit
    (``café-名前`` would pass ``[\\w/!@#+=.-]+``), its ``\\s`` is ``str.isspace`` (which takes
    U+001C-U+001F and U+0085 but not U+FEFF), its ``.`` stops only at ``\\n`` and its ``$`` also
    matches before a final newline. So: ``re.ASCII`` for ``\\w \\W \\d \\D \\b \\B`` (ECMAScript's are
    ASCII), ``\\s``/``\\S`` spelt out as ECMAScript's WhiteSpace and LineTerminator set, ``.`` as
    "not a line terminator", ``$`` as the end of the value, and a surrogate pair of ``\\u`` escapes
    (``\\uD800\\uDC00``, as in the Glue name patterns) as the one code point it encodes, as in
    ECMAScript's Unicode mode, since JSON decoding gives Python code points, not UTF-16 units.
    """
    return re.compile(ecmascript_to_python(pattern), re.ASCII)


# ECMA-262 WhiteSpace (TAB VT FF SP NBSP ZWNBSP and category Zs) and LineTerminator (LF CR LS PS).
_ECMA_SPACE = (
    (0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029),
    (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF),
)
_ECMA_LINE_END = ((0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029))
_UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")


def _complement(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    found: list[tuple[int, int]] = []
    start = 0
    for low, high in ranges:
        if low > start:
            found.append((start, low - 1))
        start = high + 1
    return (*found, (start, 0x10FFFF))


def _class_items(ranges: tuple[tuple[int, int], ...]) -> str:
    """Ranges of code points as the inside of a character class, valid inside another class too."""
    return "".join(f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges)


_TRANSLATIONS = {
    "s": _class_items(_ECMA_SPACE),
    "S": _class_items(_complement(_ECMA_SPACE)),
}


def _surrogate_pair(pattern: str, index: int) -> int | None:
    """The code point of a ``\\uHHHH\\uLLLL`` surrogate pair at ``index``, if one is there."""
    high, low = _UNICODE_ESCAPE.match(pattern, index), _UNICODE_ESCAPE.match(pattern, index + 6)
    if high is None or low is None:
        return None
    high_unit, low_unit = int(high[1], 16), int(low[1], 16)
    if not (0xD800 <= high_unit <= 0xDBFF and 0xDC00 <= low_unit <= 0xDFFF):
        return None
    return 0x10000 + ((high_unit - 0xD800) << 10) + (low_unit - 0xDC00)


def ecmascript_to_python(pattern: str) -> str:
    """The ECMA-262 ``pattern`` in Python ``re`` syntax, to compile with ``re.ASCII`` (see ``compiled_pattern``)."""
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            code_point = _surrogate_pair(pattern, index)
            if code_point is not None:
                out.append(f"\\U{code_point:08x}")
                index += 12
                continue
            if escaped in _TRANSLATIONS:
                items = _TRANSLATIONS[escaped]
                out.append(items if in_class else f"[{items}]")
            else:
                out.append(pattern[index : index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == ".":
            out.append(f"[^{_class_items(_ECMA_LINE_END)}]")
        elif char == "$":
            out.append(r"\Z")
        else:
            out.append(char)
        index += 1
    return "".join(out)
