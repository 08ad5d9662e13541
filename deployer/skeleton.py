"""``stack skeleton``: a ready-to-fill manifest, generated from the API model and the CloudFormation schema.

Like the AWS CLI's ``--generate-cli-skeleton``, for stacks. For a connector profile, every property of the
chosen connector that CloudFormation has, in its spelling: a variable for each value a
new profile needs (what the API model or the CloudFormation schema requires, and the
connector's first way to authenticate), ``null`` (not set) for the optional ones, and
comments for allowed values.
Filled with ``-e`` it validates. One connector per resource; without ``--connector``, one
resource with every connector's blocks (stack-deploy's skeleton), to fill one of.
The region is left to ``--region`` / ``AWS_REGION`` / the profile, as for every command.
Any other type is written from its provider schema alone, by ``deployer.skeleton_cloud``.
"""

from __future__ import annotations

from collections.abc import Sequence

from botocore.model import ListShape, MapShape, Shape, StructureShape

from deployer.apimodel import shape
from deployer.connectors import (
    CREDENTIALS,
    PROPERTIES,
    connector_key,
    connector_type_for_key,
    first_credentials,
    needs_block,
)
from deployer.convert import cfn_name, in_cloudformation, required_in_cloudformation
from deployer.errors import StackError
from deployer.manifest import SUPPORTED_TYPES, TYPE_ALIASES
from deployer.registry import resolve_type
from deployer.schema import connector_types
from deployer.skeleton_cloud import cloud_skeleton


def skeleton(type_name: str, connectors: Sequence[str] = ()) -> str:
    """The manifest text. For a connector profile: one resource per connector in ``connectors``; without any, every
    connector's blocks. For any other type (a type name or a StackQL id): one resource from its provider schema."""
    resolved = TYPE_ALIASES.get(type_name) or resolve_type(type_name)
    if resolved not in SUPPORTED_TYPES:
        if connectors:
            raise StackError(f"--connector is for {SUPPORTED_TYPES[0]}; {resolved} has no connectors")
        return cloud_skeleton(resolved)
    offered = [t for t in connector_types() if connector_key(t) is not None]
    chosen: list[str] = []
    for connector in connectors:
        found = connector_type_for_key(connector)
        if found is not None and found not in offered:
            raise StackError(f"connector '{connector}' has no CloudFormation connector profile; one of: "
                             f"{', '.join(offered)}")
        if found is None:
            raise StackError(f"unknown connector '{connector}'; one of: {', '.join(offered)}")
        if found not in chosen:
            chosen.append(found)
    lines = [
        "version: 1",
        "name: my-stack",
        "description: AppFlow connector profiles",
        "providers: [aws]",
        "# The region is --region, AWS_REGION or the profile's. To pin it in the manifest:",
        "# globals:",
        "#   - name: region",
        "#     value: us-east-1",
        "resources:",
    ]
    if len(chosen) <= 1:
        lines += _resource("connector_profile", "profile", chosen or offered, prefix="", exports=True)
    else:
        lines[-1:-1] = ["# Each resource's ConnectorProfileArn, CredentialsArn and ConnectorProfileName are visible",
                        "# to the others as resources.NAME.Attribute (exports: makes them bare names, one owner each)."]
        for connector_type in chosen:
            key = str(connector_key(connector_type))
            lines += _resource(key.lower(), key.lower(), [connector_type], prefix=key, exports=False)
    return "\n".join(lines) + "\n"


def _resource(name: str, suffix: str, chosen: list[str], *, prefix: str, exports: bool) -> list[str]:
    filled = len(chosen) == 1
    connector_type = chosen[0]
    names = _Variables(prefix)
    lines = [
        f"  - name: {name}",
        "    type: AWS::AppFlow::ConnectorProfile",
        "    props:",
        "      - name: ConnectorProfileName",
        f"        value: '{{{{ stack_name }}}}-{{{{ stack_env }}}}-{suffix}'",
        "      - name: ConnectionMode",
        f"        value: Public  # {' or '.join(shape('ConnectionMode').enum)}",
        "      - name: ConnectorType",
        f"        value: {connector_type}" if filled else "        value: '{{ ConnectorType }}'  # one of: "
        + ", ".join(chosen),
    ]
    if not filled:
        lines += ["      - name: ConnectorLabel", "        value: null  # CustomConnector only: the registered label"]
    elif connector_type == "CustomConnector":
        lines += ["      - name: ConnectorLabel", f"        value: '{{{{ {names.take('ConnectorLabel')} }}}}'"
                  "  # the label the connector was registered with"]
    lines += ["      - name: KMSArn",
              "        value: null  # KMS key that encrypts the credentials; an AWS-managed key if unset"]
    lines += ["      - name: ConnectorProfileConfig", "        value:"]
    config = shape("ConnectorProfileConfig")
    assert isinstance(config, StructureShape)
    for block in (PROPERTIES, CREDENTIALS):
        container = config.members[block]
        assert isinstance(container, StructureShape)
        keys = [k for k in (connector_key(t) for t in chosen) if k is not None and in_cloudformation(container, k)]
        if keys:
            lines.append(f"          {cfn_name(block, config)}:")
        for key in keys:
            member = container.members[key]
            assert isinstance(member, StructureShape)
            needed = filled and (needs_block(connector_type, block) or bool(required_in_cloudformation(member)))
            presets = first_credentials(key) if filled and block == CREDENTIALS else {}
            lines += _block(key, member, 12, needed, names, presets)
    if exports:
        lines.append("    exports: [ConnectorProfileArn, CredentialsArn]")
    return lines


class _Variables:
    """Variable names for placeholders, unique in the manifest: the property's name, prefixed by the connector's
    when the skeleton has several, and by its block's when taken."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.taken: set[str] = set()

    def take(self, name: str, parent: str = "") -> str:
        wanted = self.prefix + name
        if wanted in self.taken:
            wanted = self.prefix + parent + name
        self.taken.add(wanted)
        return wanted


def _block(name: str, model: StructureShape, indent: int, needed: bool, names: _Variables,
           presets: dict[str, str | None]) -> list[str]:
    """A structure's members that CloudFormation has; ``needed``: a new profile needs the block, so its required
    members (and the ``presets``) are asked for."""
    pad = " " * indent
    out = [f"{pad}{name}:"]
    for member, member_shape in model.members.items():
        if not in_cloudformation(model, member):
            continue
        required = member in model.required_members or member in required_in_cloudformation(model)
        wanted = needed and (required or member in presets)
        out += _member(str(cfn_name(member, model)), member_shape, indent + 2, required=required, wanted=wanted,
                       names=names, parent=name, preset=presets.get(member))
    return out if len(out) > 1 else [f"{pad}{name}: {{}}"]


def _member(name: str, model: Shape, indent: int, *, required: bool, wanted: bool, names: _Variables, parent: str,
            preset: str | None) -> list[str]:
    pad = " " * indent
    note = "" if wanted or not required else "  # required in this block"
    if isinstance(model, StructureShape):
        lines = _block(name, model, indent, wanted, names, {})
        return [lines[0] + note, *lines[1:]]
    if isinstance(model, MapShape):
        return [f"{pad}{name}: {{}}{note or '  # a map of names to values'}"]
    if isinstance(model, ListShape):
        return [f"{pad}{name}: []{note}"]
    enum = model.metadata.get("enum")
    if enum:
        note += ("  #" if not note else ";") + " one of: " + ", ".join(enum)
    if preset is not None:
        return [f"{pad}{name}: {preset}{note or '  #'} (set the block it names)"]
    value = f"'{{{{ {names.take(name, parent)} }}}}'" if wanted else "null"
    return [f"{pad}{name}: {value}{note}"]
