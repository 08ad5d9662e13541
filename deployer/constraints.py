"""Declared variables' constraints (``variables:``, CloudFormation's parameter constraints), checked before any call.

Each declared variable that has a value is checked against its ``allowed_values``, ``allowed_pattern``
(the whole value, Java-style syntax as CloudFormation reads it, through ``registry.compiled_schema_pattern``),
``min_length``/``max_length`` and ``min_value``/``max_value``, as CloudFormation checks a parameter: on the value
as text, and as a number for the value bounds. A problem names the declaration's file and line, the value
(never a sensitive one) and where the value came from. A variable without a value is not checked here: a
template that reads it reports it undefined.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from deployer.errors import Diagnostic, StackError
from deployer.manifest import Manifest, VariableSpec
from deployer.registry import compiled_schema_pattern
from deployer.secrets import SECRETS, SENSITIVE


def check_variables(manifest: Manifest, variables: Mapping[str, Any],
                    sources: Callable[[], Mapping[str, tuple[Any, str]]]) -> list[Diagnostic]:
    """Every broken constraint; ``sources`` says where each value came from (asked only when one is broken)."""
    problems: list[Diagnostic] = []
    for spec in manifest.variables:
        if spec.name not in variables or variables[spec.name] is None:
            continue
        value = variables[spec.name]
        broken = _broken(spec, value)
        if broken is None:
            continue
        problem, fix = broken
        hidden = spec.name in manifest.sensitive or str(value) in SECRETS
        shown = SENSITIVE if hidden else json.dumps(value, default=str)
        where = sources().get(spec.name, (None, "its default"))[1]
        origin = spec.origin
        problems.append(Diagnostic(origin.doc.file, origin.line, f"variables.{spec.name}",
                                   f"{shown} (from {where}) {problem}", fix))
    return problems


def _broken(spec: VariableSpec, value: Any) -> tuple[str, str] | None:
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    if spec.allowed_values is not None and text not in {str(v) for v in spec.allowed_values}:
        return "is not an allowed value", "allowed: " + ", ".join(str(v) for v in spec.allowed_values)
    if spec.allowed_pattern is not None:
        try:
            matched = compiled_schema_pattern(spec.allowed_pattern).fullmatch(text) is not None
        except StackError:
            return "cannot be checked: allowed_pattern is not a regular expression", "fix allowed_pattern"
        if not matched:
            return "does not match allowed_pattern", f"the whole value must match {spec.allowed_pattern}"
    if spec.min_length is not None and len(text) < spec.min_length:
        return f"is shorter than min_length {spec.min_length}", f"use at least {spec.min_length} characters"
    if spec.max_length is not None and len(text) > spec.max_length:
        return f"is longer than max_length {spec.max_length}", f"use at most {spec.max_length} characters"
    if spec.min_value is not None or spec.max_value is not None:
        try:
            number = float(text)
        except ValueError:
            return "is not a number", "use a number"
        if not math.isfinite(number):
            return "is not a number", "use a number"
        if spec.min_value is not None and number < spec.min_value:
            return f"is below min_value {spec.min_value:g}", f"use {spec.min_value:g} or more"
        if spec.max_value is not None and number > spec.max_value:
            return f"is above max_value {spec.max_value:g}", f"use {spec.max_value:g} or less"
    return None
