"""``stack skeleton``: a ready-to-fill manifest, generated from the API model.

Like the AWS CLI's ``--generate-cli-skeleton``, for stacks: every property of the
chosen connector, in CloudFormation spelling: a variable for each required value,
``null`` (not set) for the optional ones, and comments for allowed values.
"""

from __future__ import annotations

from botocore.model import ListShape, MapShape, Shape, StructureShape

from deployer.apimodel import shape
from deployer.connectors import connector_key, connector_type_for_key, profile_types
from deployer.convert import cfn_name
from deployer.errors import StackError
from deployer.manifest import SUPPORTED_TYPES, TYPE_ALIASES


def skeleton(type_name: str, connector: str | None) -> str:
    if TYPE_ALIASES.get(type_name, type_name) not in SUPPORTED_TYPES:
        raise StackError(f"unsupported resource type '{type_name}'; supported: {', '.join(SUPPORTED_TYPES)}")
    if connector is None:
        chosen = list(profile_types())
    else:
        found = connector_type_for_key(connector) or (connector if connector in profile_types() else None)
        if found is None or connector_key(found) is None:
            raise StackError(f"unknown connector '{connector}'; one of: {', '.join(profile_types())}")
        chosen = [found]
    lines = [
        "version: 1",
        "name: my-stack",
        "description: AppFlow connector profiles",
        "providers: [aws]",
        "globals:",
        "  - name: region",
        "    value: '{{ vars.AWS_REGION }}'",
        "resources:",
        "  - name: connector_profile",
        "    type: AWS::AppFlow::ConnectorProfile",
        "    props:",
        "      - name: ConnectorProfileName",
        "        value: '{{ stack_name }}-{{ stack_env }}-profile'",
        "      - name: ConnectionMode",
        "        value: Public  # Public or Private",
        "      - name: ConnectorType",
        f"        value: {chosen[0] if len(chosen) == 1 else repr('{{ ConnectorType }}')}",
    ]
    if chosen == ["CustomConnector"]:
        lines += ["      - name: ConnectorLabel", "        value: '{{ ConnectorLabel }}'"]
    lines += ["      - name: ConnectorProfileConfig", "        value:"]
    for block, shape_name in (("ConnectorProfileProperties", "ConnectorProfileProperties"),
                              ("ConnectorProfileCredentials", "ConnectorProfileCredentials")):
        container = shape(shape_name)
        assert isinstance(container, StructureShape)
        keys = [key for key in (connector_key(t) for t in chosen) if key is not None]
        present = [k for k in keys if k in container.members]
        if not present:
            continue
        lines.append(f"          {block}:")
        for key in present:
            lines += _block(key, container.members[key], 12, filled=len(chosen) == 1)
    lines.append("    exports: [ConnectorProfileArn, CredentialsArn]")
    return "\n".join(lines) + "\n"


def _block(name: str, model: Shape, indent: int, *, filled: bool) -> list[str]:
    pad = " " * indent
    if isinstance(model, StructureShape):
        if not model.members:
            return [f"{pad}{name}: {{}}"]
        out = [f"{pad}{name}:"]
        for member, member_shape in model.members.items():
            required = member in model.required_members
            out += _member(str(cfn_name(member)), member_shape, indent + 2, required, filled=filled)
        return out
    return _member(name, model, indent, False, filled=filled)


def _member(name: str, model: Shape, indent: int, required: bool, *, filled: bool) -> list[str]:
    pad = " " * indent
    note = "  # required" if required else ""
    if isinstance(model, StructureShape):
        lines = _block(name, model, indent, filled=filled)
        return [lines[0] + note, *lines[1:]]
    if isinstance(model, MapShape):
        return [f"{pad}{name}: {{}}{note or '  # a map of names to values'}"]
    if isinstance(model, ListShape):
        return [f"{pad}{name}: []{note}"]
    enum = model.metadata.get("enum")
    if enum:
        note += ("  #" if not note else ";") + " one of: " + ", ".join(enum)
    value = f"'{{{{ {name} }}}}'" if filled and required else "null"
    return [f"{pad}{name}: {value}{note}"]
