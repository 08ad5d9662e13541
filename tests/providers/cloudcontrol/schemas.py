"""Real provider schemas for the Cloud Control rule tests, from cfn-lint's bundled copies."""

from __future__ import annotations

import functools
from typing import Any

import cfnlint.schema

REGION = "us-east-1"


@functools.cache
def real_schema(type_name: str) -> dict[str, Any]:
    """The provider schema cfn-lint ships for ``type_name`` (the same document CloudFormation publishes)."""
    schema: dict[str, Any] = cfnlint.schema.PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, type_name).schema
    return schema


# A made-up type for what no real schema shows compactly: names that need RFC 6901 escaping,
# a nested write-only member, a create-only member of every item of an unordered array.
SYNTHETIC: dict[str, Any] = {
    "typeName": "Test::Escaping::Thing",
    "properties": {
        "a/b~c": {"type": "string"},
        "Config": {"$ref": "#/definitions/Config"},
        "Items": {"type": "array", "insertionOrder": False, "items": {"$ref": "#/definitions/Item"}},
        "Name": {"type": "string"},
    },
    "definitions": {
        "Config": {"type": "object", "properties": {"Mode": {"type": "string"}, "se/cret~": {"type": "string"}}},
        "Item": {"type": "object", "properties": {"Name": {"type": "string"}, "Size": {"type": "integer"}}},
    },
    "createOnlyProperties": ["/properties/Items/*/Name", "/properties/a~1b~0c"],
    "writeOnlyProperties": ["/properties/Config/se~1cret~0"],
    "readOnlyProperties": [],
    "primaryIdentifier": ["/properties/Name"],
}


def schema_for(type_name: str) -> dict[str, Any]:
    return SYNTHETIC if type_name == SYNTHETIC["typeName"] else real_schema(type_name)
