"""``stack skeleton TYPE`` for any provisionable CloudFormation type: a manifest written from its provider schema.

One resource, named for the type (``cluster`` for ``AWS::Redshift::Cluster``). Its props hold
every required top-level property: a variable (``'{{ DBName }}'``, filled from
``environments/<env>.yaml`` or ``-e DBName=...``, so an unfilled skeleton names every missing
value at once) for text, the first allowed value for an enum, a literal for numbers and
booleans, and the required members, recursively, for objects. Every other settable property
follows as a commented-out item with the first sentence of its description. Read-only
properties are never props: they are listed as what other resources can read as
``resources.NAME.Attribute``. Text in, text out: the schema comes from ``deployer.registry``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from deployer.errors import StackError
from deployer.registry import DEFAULT_REGION, TypeSchema, type_schema
from deployer.secrets import looks_secret

_WIDTH = 100  # a description's first sentence is cut to about this many characters
_LINE = 116  # comment lines listing attributes wrap before this column
_PROPS = 6  # indent of a prop item under resources[0].props
_MAX_DEPTH = 4  # required members of required objects are filled this deep; deeper ones are left as {}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_REF = "#/definitions/"
_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")  # AWS's descriptions are markdown: [text](url)
_MARKDOWN_CODE = re.compile(r"``?([^`]*)``?")


def cloud_skeleton(type_name: str, region: str = DEFAULT_REGION) -> str:
    """The manifest text for one resource of ``type_name`` (a type name or StackQL id); StackError if it cannot be
    provisioned, UnknownType if no schema defines it."""
    found = type_schema(type_name, region)
    if not found.provisionable:
        raise StackError(f"{found.type_name} cannot be deployed, so it has no skeleton: {found.why_not}")
    return skeleton_text(found)


def skeleton_text(found: TypeSchema) -> str:
    """The manifest text for one resource of the type ``found`` describes."""
    name = resource_name(found.type_name)
    writer = _Writer(found)
    required = [p for p in _settable(found) if p in found.required]
    optional = [p for p in _settable(found) if p not in found.required]
    items: list[str] = []
    for prop in required:
        items += writer.required_item(prop)
    lines = [
        "version: 1",
        "name: my-stack",
        f"description: One {found.type_name}",
        "providers: [aws]",
        "# The region is --region, AWS_REGION or the profile's. To pin it in the manifest:",
        "# globals:",
        "#   - name: region",
        "#     value: us-east-1",
    ]
    if writer.secrets:
        lines += ["# Variables whose values are secrets: kept out of output and state.",
                  f"sensitive: [{', '.join(writer.secrets)}]"]
    lines += [
        "resources:",
        f"  - name: {name}",
        f"    type: {found.type_name}",
        *_attribute_lines(found, name),
        "    props:" if items else "    props: []  # nothing is required; to set a property, drop the [] "
                                   "and uncomment it below",
        *items,
    ]
    if optional:
        lines.append(" " * _PROPS + "# Optional: uncomment and add value: (or values: per environment).")
        lines += [writer.optional_line(prop) for prop in optional]
    return "\n".join(lines) + "\n"


def resource_name(type_name: str) -> str:
    """The resource's name in the skeleton: the type's last part in snake case (``DBCluster`` is ``db_cluster``)."""
    last = type_name.split("::")[-1]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", last).lower()


def first_sentence(description: str, width: int = _WIDTH) -> str:
    """A description's first sentence on one line, cut at ``width`` characters (with ``...``)."""
    text = " ".join(_MARKDOWN_CODE.sub(r"\1", _MARKDOWN_LINK.sub(r"\1", description)).split())
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0].rstrip(".")
    if len(sentence) <= width:
        return sentence
    return sentence[:width].rsplit(" ", 1)[0].rstrip(",;:") + "..."


def _settable(found: TypeSchema) -> list[str]:
    """Top-level properties a manifest may set, in the schema's order: all but the read-only ones."""
    read_only = {_pointer_path(p) for p in found.read_only}
    writer = _Writer(found)
    settable = []
    for prop, node in found.schema.get("properties", {}).items():
        members = writer.resolve(node).get("properties", {})
        if (prop,) in read_only or (members and all((prop, m) in read_only for m in members)):
            continue  # all read back, nothing to set: Redshift's Endpoint is Address and Port
        settable.append(prop)
    return settable


def _attribute_lines(found: TypeSchema, name: str) -> list[str]:
    """Comment lines naming the read-only properties, which other resources read; not those inside lists."""
    attributes = [".".join(path) for path in (_pointer_path(p) for p in found.read_only) if "*" not in path]
    if not attributes:
        return []
    lines = [f"    # Read back after create, for other resources as '{{{{ resources.{name}.ATTRIBUTE }}}}':"]
    line = "    #  "
    for attribute in sorted(set(attributes)):
        if len(line) + len(attribute) + 2 > _LINE and line.strip() != "#":
            lines.append(line)
            line = "    #  "
        line += f" {attribute},"
    return [*lines, line.rstrip(",")]


def _pointer_path(pointer: str) -> tuple[str, ...]:
    """``/properties/Endpoint/Address`` as ("Endpoint", "Address"); array items are ``*``."""
    parts = pointer.split("/")
    return tuple(parts[2:]) if parts[:2] == ["", "properties"] else tuple(parts[1:])


class _Writer:
    """Writes prop items from one type's schema; variable names are unique in the skeleton (a member's name,
    prefixed by its parent's when the name is taken)."""

    def __init__(self, found: TypeSchema) -> None:
        self.found = found
        self.definitions: Mapping[str, Any] = found.schema.get("definitions", {})
        self.read_only = {_pointer_path(p) for p in found.read_only}
        self.write_only = {_pointer_path(p) for p in found.write_only}
        self.create_only = {_pointer_path(p) for p in found.create_only}
        self.deprecated = {_pointer_path(p) for p in found.schema.get("deprecatedProperties", ())}
        self.taken: set[str] = set()
        self.secrets: list[str] = []

    def required_item(self, prop: str) -> list[str]:
        node = self.resolve(self.found.schema["properties"][prop])
        pad = " " * _PROPS
        value = self.value_lines(node, (prop,), _PROPS + 4, parent="")
        return [f"{pad}- name: {prop}", f"{pad}  value:{_with_notes(value[0], self.notes(node, (prop,)))}",
                *value[1:]]

    def optional_line(self, prop: str) -> str:
        node = self.resolve(self.found.schema["properties"][prop])
        return f"{' ' * _PROPS}# - name: {prop}{self.notes(node, (prop,), kind=True)}"

    def notes(self, node: Mapping[str, Any], path: tuple[str, ...], *, kind: bool = False) -> str:
        """The comment after a property: its kind, allowed values, description and how it behaves."""
        parts = []
        description = first_sentence(str(node.get("description", "")))
        if kind:
            parts.append(f"{_kind(node)}: {description}" if description else _kind(node))
        elif description:
            parts.append(description)
        if kind and "enum" in node:
            parts.append(_cut("one of: " + ", ".join(str(c) for c in node["enum"]), _WIDTH // 2))
        if path in self.write_only:
            parts.append("write-only: never read back")
        if path in self.create_only:
            parts.append("changing it replaces the resource")
        if path in self.deprecated:
            parts.append("deprecated")
        return ("  # " + "; ".join(parts)) if parts else ""

    def value_lines(self, node: Mapping[str, Any], path: tuple[str, ...], indent: int, parent: str) -> list[str]:
        """A placeholder for a required value: the text after ``key:`` (with a leading space), then any lines of
        a nested block at ``indent``."""
        kind = _kind(node)
        if "enum" in node:
            choices = [str(c) for c in node["enum"]]
            rest = f"  # or {', '.join(choices[1:])}" if len(choices) > 1 else ""
            return [f" {_scalar(node['enum'][0])}{rest}"]
        if kind == "string":
            name = self.variable(path[-1], parent)
            if looks_secret(name):
                self.secrets.append(name)
            return [f" '{{{{ {name} }}}}'"]
        if kind in ("integer", "number"):
            return [f" {node.get('default', node.get('minimum', 1))}  # {kind}: set it"]
        if kind == "boolean":
            return [f" {str(node.get('default', False)).lower()}  # true or false"]
        if kind == "list":
            return self.list_lines(node, path, indent, parent)
        if kind == "object" and len(path) <= _MAX_DEPTH:
            return self.object_lines(node, path, indent)
        if node.get("format") == "json":
            return [" {}  # a JSON document, as YAML or as a JSON string"]
        return [" {}  # a mapping" if kind in ("object", "map") else " null  # set it"]

    def object_lines(self, node: Mapping[str, Any], path: tuple[str, ...], indent: int) -> list[str]:
        members: Mapping[str, Any] = node.get("properties", {})
        wanted = [m for m in node.get("required", ()) if m in members and (*path, m) not in self.read_only]
        if not wanted:
            return [" {}  # no member is required"]
        lines = [""]
        for member in wanted:
            child = self.resolve(members[member])
            parent = next(part for part in reversed(path) if part != "*")
            value = self.value_lines(child, (*path, member), indent + 2, parent=parent)
            lines += [f"{' ' * indent}{member}:{_with_notes(value[0], self.notes(child, (*path, member)))}",
                      *value[1:]]
        return lines

    def list_lines(self, node: Mapping[str, Any], path: tuple[str, ...], indent: int, parent: str) -> list[str]:
        """One item, since a required list is rarely allowed empty."""
        item = self.resolve(node.get("items", {}))
        item_path = (*path, "*")
        if _kind(item) == "object" and len(path) <= _MAX_DEPTH:
            block = self.object_lines(item, item_path, indent + 2)
            if len(block) > 1:
                first = block[1].lstrip()
                return ["", f"{' ' * indent}- {first}", *block[2:]]
        value = self.value_lines(item, path, indent + 2, parent)
        if len(value) == 1 and not value[0].lstrip().startswith(("{", "null")):
            head, _, note = value[0].partition("  # ")
            return [f" [{head.strip()}]  # a list" + (f"; {note}" if note else "")]
        return [" []  # a list"]

    def variable(self, name: str, parent: str) -> str:
        """A top-level property's own name is kept for it; a member's is prefixed by its parent's when taken."""
        free = name not in self.taken and (not parent or name not in self.found.required)
        wanted = name if free else parent + name
        while wanted in self.taken:
            wanted += "2"
        self.taken.add(wanted)
        return wanted

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        """``node`` with a ``$ref`` into the definitions followed (keeping its own description), and the first
        alternative of a ``oneOf``/``anyOf`` merged in when it has no type of its own."""
        seen = 0
        while "$ref" in node and str(node["$ref"]).startswith(_REF) and seen < 20:
            target = self.definitions.get(str(node["$ref"])[len(_REF):], {})
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            seen += 1
        for key in ("oneOf", "anyOf"):
            if "type" not in node and "properties" not in node and node.get(key):
                node = {**self.resolve(node[key][0]), **{k: v for k, v in node.items() if k != key}}
        return node


def _kind(node: Mapping[str, Any]) -> str:
    """The schema type in a manifest's words: string, integer, number, boolean, list, object or map."""
    kind = node.get("type", "object" if "properties" in node else "")
    if isinstance(kind, list):
        kind = kind[0] if kind else ""
    if kind == "array":
        return "list"
    if kind == "object" and "properties" not in node:
        return "map"
    return str(kind or "any value")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width].rsplit(" ", 1)[0].rstrip(",") + " ..."


def _with_notes(value: str, notes: str) -> str:
    """A value's text with the property's notes, in one comment."""
    if not notes:
        return value
    return f"{value}; {notes[len('  # '):]}" if "  # " in value else value + notes


def _scalar(value: Any) -> str:
    """An enum value as YAML that reads back as the same value (JSON's quoting is YAML's double-quoted)."""
    text = json.dumps(value)
    plain = isinstance(value, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_./-]*", value) is not None
    return value if plain and value.lower() not in _YAML_WORDS else text


_YAML_WORDS = ("true", "false", "yes", "no", "on", "off", "null", "y", "n")
