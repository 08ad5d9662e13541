"""Which provider serves a resource type, and what the core may ask about a type.

The AppFlow connector profile has a native provider (batched reads, its API's rules); every
other type goes through Cloud Control, driven by its CloudFormation schema. The engine, the
renderer and validation ask here (``deployer.providers.routing`` picks the provider); none of
them names a provider. A new native provider is a package under ``deployer/providers`` plus a
line in ``NATIVE`` and one in ``routing``.
"""

from __future__ import annotations

from typing import Any

from deployer.providers.cloudcontrol.resource import attribute_names
from deployer.registry import TypeSchema, type_schema
from deployer.schema import TYPE_NAME

FLOW = "AWS::AppFlow::Flow"
NATIVE: dict[str, tuple[str, ...]] = {
    # type -> the attributes ``resources.NAME.X`` reads (its Fn::GetAtt, and its name)
    TYPE_NAME: ("ConnectorProfileArn", "CredentialsArn", "ConnectorProfileName"),
    FLOW: ("FlowArn", "FlowName"),
}


def is_native(type_name: str) -> bool:
    return type_name in NATIVE


def cloud_schema(type_name: str) -> TypeSchema:
    """The schema of a type served by Cloud Control (the manifest has checked that it is one)."""
    return type_schema(type_name)


def attribute_tree(type_name: str, exports: tuple[str, ...] = ()) -> dict[str, Any]:
    """The names ``resources.NAME.X`` may read of a resource of ``type_name`` (None at each leaf, a dict for
    nested attributes such as ``Endpoint.Address``), plus the ``exports:`` the manifest lists."""
    if is_native(type_name):
        names: dict[str, Any] = dict.fromkeys(NATIVE[type_name])
    else:
        names = attribute_names(cloud_schema(type_name))
    for name in exports:
        names.setdefault(name, None)
    return names
