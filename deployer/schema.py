"""The CloudFormation resource schema of AWS::AppFlow::ConnectorProfile, as shipped in the package.

Source of the CloudFormation facts the API model does not carry: which properties are
read-only, and every property path in CloudFormation spelling (the tests convert each).
Which members cannot be updated comes from the API model itself (``plan.create_only_members``).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

TYPE_NAME = "AWS::AppFlow::ConnectorProfile"


@functools.lru_cache(maxsize=1)
def connector_profile_schema() -> dict[str, Any]:
    text = resources.files("deployer").joinpath("data/aws-appflow-connectorprofile.schema.json").read_text()
    return dict(json.loads(text))


def _names(key: str) -> tuple[str, ...]:
    return tuple(p.removeprefix("/properties/") for p in connector_profile_schema().get(key, []))


def read_only_properties() -> tuple[str, ...]:
    return _names("readOnlyProperties")


def primary_identifier() -> tuple[str, ...]:
    """The properties that identify a resource: what CloudFormation's ``Ref`` returns."""
    return _names("primaryIdentifier")


def property_paths() -> list[tuple[str, ...]]:
    """Every property path the schema defines, depth first (for tests and skeletons)."""
    schema = connector_profile_schema()
    definitions = schema.get("definitions", {})
    found: list[tuple[str, ...]] = []

    def walk(node: dict[str, Any], path: tuple[str, ...], seen: frozenset[str]) -> None:
        ref = node.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name in seen:
                return
            node, seen = definitions[name], seen | {name}
        for key, child in node.get("properties", {}).items():
            found.append((*path, key))
            walk(child, (*path, key), seen)
        if node.get("type") == "array" and "items" in node:
            walk(node["items"], path, seen)

    walk(schema, (), frozenset())
    return found


def connector_types() -> tuple[str, ...]:
    """The connector types CloudFormation knows (the API's less Honeycode, S3 and other destinations)."""
    return tuple(connector_profile_schema()["definitions"]["ConnectorType"]["enum"])
