"""CloudFormation templates as stacks: ``convert_template`` turns template.yaml / template.json into stack.yaml.

The template is read like every other YAML input (``deployer.yamlfile``: the same size, value and depth bounds,
the line of every value), with the short forms (``!Ref``, ``!GetAtt a.b``, ``!Sub``...) read as the long ones.
Each intrinsic becomes Jinja that the stack's sandbox renders: ``Ref`` to a parameter reads the variable of that
name, ``Ref`` to a resource reads its primary identifier, ``Fn::GetAtt`` reads ``resources.X.Attr``, conditions
become boolean globals and ``Mappings`` one global. Parameter defaults go to ``environments/default.yaml``, under
every other source of variables. What the stack cannot express is either refused with a located error (custom
resources, wait conditions, transforms, imports, unknown intrinsics) or, where a value can still be given,
listed in ``Converted.report`` (parameter constraints, which nothing checks; ``Fn::GetAZs``; ``Fn::Base64``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from deployer import yamlfile
from deployer.errors import Diagnostic, ManifestError, StackError
from deployer.kinds import attribute_tree
from deployer.manifest import OUTPUT_NAME, RESOURCE_NAME, TEMPLATE_FILES
from deployer.paths import KeyPath, format_path
from deployer.registry import type_schema
from deployer.sources import Converted
from deployer.yamlfile import YamlDoc

# What no stack can be made of (the README, "Converting a CloudFormation template"): each with why and what to do
_REFUSED_TYPES: dict[str, tuple[str, str]] = {
    "AWS::CloudFormation::CustomResource": ("a custom resource runs code CloudFormation calls; a stack has no such "
                                            "hook", "deploy that resource another way and pass what it makes as "
                                            "variables"),
    "AWS::CloudFormation::WaitCondition": ("wait conditions wait for a CloudFormation signal, which a stack never "
                                           "sends", "remove it and its handle; depends_on orders resources"),
    "AWS::CloudFormation::WaitConditionHandle": ("wait conditions wait for a CloudFormation signal, which a stack "
                                                 "never sends", "remove it and its wait condition"),
    "AWS::CloudFormation::Stack": ("a nested stack is a CloudFormation stack", "convert its template into a stack "
                                   "of its own"),
}
_REFUSED_SECTIONS: dict[str, tuple[str, str]] = {
    "Transform": ("transforms (SAM, macros, AWS::LanguageExtensions) are expanded by CloudFormation only",
                  "convert the processed template: aws cloudformation get-template --template-stage Processed"),
    "Rules": ("template rules are checked by CloudFormation only", "remove them; check the values another way"),
    "Hooks": ("hooks run in CloudFormation only", "remove them"),
}
_IGNORED_SECTIONS = ("AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Mappings", "Conditions",
                     "Resources", "Outputs")
_RESOURCE_KEYS = ("Type", "Properties", "DependsOn", "Condition", "DeletionPolicy", "UpdateReplacePolicy",
                  "Metadata", "CreationPolicy", "UpdatePolicy")
_CONSTRAINTS = ("AllowedValues", "AllowedPattern", "MinLength", "MaxLength", "MinValue", "MaxValue")
_CONSTRAINT_KEYS = {"AllowedValues": "allowed_values", "AllowedPattern": "allowed_pattern",
                    "MinLength": "min_length", "MaxLength": "max_length", "MinValue": "min_value",
                    "MaxValue": "max_value"}
# Names templates see besides the variables (deployer.render StackContext.base_names), and the globals we add
_RESERVED = frozenset({"vars", "resources", "stack_name", "stack_env", "region", "Mappings", "AccountId",
                       "AvailabilityZones", "secret", "ssm", "stack_output", "import_value", "range", "dict"})
_JINJA_WORDS = frozenset({"and", "or", "not", "in", "is", "if", "else", "none", "None", "true", "True", "false",
                          "False", "loop", "self"})
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")
_DELIMITERS = ("{{", "{%", "{#")
# Refs to pseudo parameters: the Jinja each stands for ("" when refused: the message and fix)
_PSEUDO: dict[str, str] = {"AWS::Region": "region", "AWS::StackName": "stack_name", "AWS::Partition": "'aws'",
                           "AWS::URLSuffix": "'amazonaws.com'", "AWS::AccountId": "AccountId",
                           "AWS::NoValue": "none"}
_PSEUDO_REFUSED = ("a stack has no CloudFormation stack id or notification ARNs",
                   "write the value it stands for, or make it a parameter")


class _Omit:
    """``Ref: AWS::NoValue`` where a value stands: the key or list item is left out."""


OMIT = _Omit()


def find_template(path: Path) -> Path:
    """``path`` itself, or the template.yaml / template.yml / template.json in the directory ``path``."""
    if not path.is_dir():
        return path
    for name in TEMPLATE_FILES:
        if (path / name).is_file():
            return path / name
    raise StackError(f"{path} has no {', '.join(TEMPLATE_FILES)}; name the template file")


def read_template(path: Path, display: str) -> YamlDoc:
    """The template's values, with the short forms as long ones (``!GetAtt a.b`` is ``{Fn::GetAtt: [a, b]}``)."""
    if path.suffix != ".json":
        return _parse(path, display, None)
    return _parse(path, display, _check_json)


def _check_json(text: str, display: str) -> str:
    """JSON is YAML but for tabs between tokens (a tab inside a JSON string is escaped), so a valid JSON text is read
    by the YAML reader, for its lines, with its tabs made spaces."""
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise ManifestError([Diagnostic(display, error.lineno, "", f"JSON syntax error: {error.msg}")]) from None
    except RecursionError:
        raise ManifestError([Diagnostic(display, None, "", f"nested more than {yamlfile.MAX_DEPTH} levels deep",
                                        "write the value with fewer levels")]) from None
    return text.replace("\t", " ")


def _parse(path: Path, display: str, prepare: Callable[[str, str], str] | None) -> YamlDoc:
    # load_yaml's steps (bounded read, then parse_yaml's checks), with a builder that knows the short forms
    try:
        data = path.read_bytes()[: yamlfile.MAX_FILE_BYTES + 1] if path.is_file() else b""
    except OSError as error:
        raise ManifestError([Diagnostic(display, None, "", f"cannot read the file: {error.strerror}")]) from None
    if not path.is_file():
        raise ManifestError([Diagnostic(display, None, "", "no such file", "name a template.yaml or template.json")])
    if len(data) > yamlfile.MAX_FILE_BYTES:
        raise ManifestError([Diagnostic(display, None, "", f"the file is larger than "
                                        f"{yamlfile.MAX_FILE_BYTES // 2**20} MiB, the limit for a YAML file")])
    try:
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ManifestError([Diagnostic(display, line, "", "the file is not UTF-8 text", "save it as UTF-8")]) from None
    bad = yamlfile._NOT_YAML.search(text)
    if bad:
        raise ManifestError([Diagnostic(display, text.count("\n", 0, bad.start()) + 1, "",
                                        f"the character U+{ord(bad.group()):04X} is not allowed in YAML")])
    if prepare is not None:
        text = prepare(text, display)
    loader = yamlfile._Loader(text)
    try:
        yamlfile._check_bounds(yamlfile._Loader(text), display)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        raise ManifestError([yamlfile._syntax_problem(error, display)]) from None
    except yaml.YAMLError as error:
        raise ManifestError([Diagnostic(display, None, "", f"YAML error: {error}")]) from None
    finally:
        loader.dispose()
    if node is None:
        return YamlDoc(display, None, {})
    builder = _ShortForms(display, loader)
    built = builder.build(node, ())
    if builder.problems:
        raise ManifestError(builder.problems)
    return YamlDoc(display, built, builder.lines)


class _ShortForms(yamlfile._Builder):
    """``!Name value`` is ``{Fn::Name: value}`` (``!Ref`` and ``!Condition`` keep their names); an unknown
    ``!Name`` is refused later, as an unknown intrinsic, at its line."""

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        tag = node.tag
        if not tag.startswith("!") or tag.startswith("!!"):
            return super().build(node, path)
        name = tag[1:] if tag in ("!Ref", "!Condition") else f"Fn::{tag[1:]}"
        self.lines[path] = node.start_mark.line + 1
        inner: Any
        if isinstance(node, yaml.ScalarNode):
            inner = node.value
            if name == "Fn::GetAtt":
                inner = inner.split(".", 1)
        else:
            copy: yaml.Node = (
                yaml.MappingNode("tag:yaml.org,2002:map", node.value, node.start_mark, node.end_mark)
                if isinstance(node, yaml.MappingNode)
                else yaml.SequenceNode("tag:yaml.org,2002:seq", node.value, node.start_mark, node.end_mark))
            inner = super().build(copy, (*path, name))
        self.lines[(*path, name)] = node.start_mark.line + 1
        return {name: inner}


def convert_template(path: Path, *, stack_name: str | None = None) -> Converted:
    """The stack of a CloudFormation template (a file, or a directory holding template.yaml / .json)."""
    file = find_template(path)
    doc = read_template(file, str(file))
    if not isinstance(doc.data, dict) or not isinstance(doc.data.get("Resources"), dict):
        raise ManifestError([Diagnostic(doc.file, 1, "", "not a CloudFormation template: no Resources mapping")])
    name = stack_name or re.sub(r"[^A-Za-z0-9-]+", "-", file.resolve().parent.name).strip("-") or "stack"
    return _Converter(doc, file.name, name).convert()


class _Converter:
    def __init__(self, doc: YamlDoc, source: str, name: str) -> None:
        self.doc = doc
        self.template: dict[str, Any] = doc.data
        self.source = source
        self.name = name
        self.problems: list[Diagnostic] = []
        self.report: list[str] = []
        self.declarations: list[dict[str, Any]] = []  # variables: the parameters' constraints
        self.parameters: dict[str, dict[str, Any]] = _mapping(self.template.get("Parameters"))
        self.resources: dict[str, dict[str, Any]] = _mapping(self.template.get("Resources"))
        self.mappings: dict[str, Any] = _mapping(self.template.get("Mappings"))
        self.conditions: dict[str, Any] = _mapping(self.template.get("Conditions"))
        self.types: dict[str, str] = {}
        self.uses_region = False
        self.noted: set[str] = set()

    # where and what ------------------------------------------------------------------------------------

    def refuse(self, path: KeyPath, message: str, fix: str = "") -> None:
        self.problems.append(Diagnostic(self.doc.file, self.doc.line_of(path), format_path(path), message, fix))

    def note(self, path: KeyPath, message: str, once: str = "") -> None:
        if once and once in self.noted:
            return
        self.noted.add(once)
        self.report.append(Diagnostic(self.doc.file, self.doc.line_of(path), format_path(path), message).render())

    # the whole template ---------------------------------------------------------------------------------

    def convert(self) -> Converted:
        for key in self.template:
            if key in _REFUSED_SECTIONS:
                self.refuse((key,), *_REFUSED_SECTIONS[key])
            elif key not in _IGNORED_SECTIONS:
                self.refuse((key,), f"unknown template section '{key}'", "remove it")
        if "Metadata" in self.template:
            self.note(("Metadata",), "template Metadata is not converted")
        self.check_names()
        for logical_id, resource in self.resources.items():
            self.types[logical_id] = str(resource.get("Type")) if isinstance(resource, dict) else ""
        condition_globals = self.convert_conditions()
        resources = [r for r in (self.convert_resource(k, v) for k, v in self.resources.items()) if r]
        outputs = [o for o in (self.convert_output(k, v) for k, v in _mapping(self.template.get("Outputs")).items())
                   if o]
        defaults = self.convert_parameters()
        if self.problems:
            raise ManifestError(self.problems)
        stack: dict[str, Any] = {"version": 1, "name": self.name}
        description = self.template.get("Description")
        if isinstance(description, str) and description.strip():
            stack["description"] = description.strip()
        sensitive = [k for k, v in self.parameters.items() if str(v.get("NoEcho", "")).lower() == "true"]
        if sensitive:
            stack["sensitive"] = sensitive
        stack_globals = ([{"name": "region", "value": "{{ vars.AWS_REGION }}"}] if self.uses_region else [])
        if self.mappings:
            stack_globals.append({"name": "Mappings", "value": _mapping_values(self.mappings)})
        stack_globals += condition_globals
        if stack_globals:
            stack["globals"] = stack_globals
        if self.declarations:
            stack["variables"] = self.declarations
        stack["resources"] = resources
        if outputs:
            stack["outputs"] = outputs
        header = f"# Converted from the CloudFormation template {self.source} by `stack convert`.\n"
        return Converted(header + _dump(stack), {"default": defaults} if defaults else {}, tuple(self.report))

    def check_names(self) -> None:
        for section, names in (("Parameters", self.parameters), ("Conditions", self.conditions)):
            for name in names:
                if not _IDENTIFIER.match(name) or name in _JINJA_WORDS:
                    self.refuse((section, name), f"'{name}' cannot be a name in a template",
                                "rename it: letters, digits and _, not starting with a digit")
                elif name in _RESERVED:
                    self.refuse((section, name), f"'{name}' is a name the stack itself gives templates",
                                "rename it")
        for name in self.conditions:
            if name in self.parameters:
                self.refuse(("Conditions", name), f"'{name}' is both a parameter and a condition; in the stack both "
                            "are names templates read", "rename the condition")
        for name in self.resources:
            if not RESOURCE_NAME.match(name):
                self.refuse(("Resources", name), f"'{name}' cannot be a resource name",
                            "rename it: letters, digits and _")

    def convert_parameters(self) -> str:
        """environments/default.yaml: each default (as text, as CloudFormation passes every parameter), and each
        parameter's description and constraints as comments."""
        lines = [f"# Parameter defaults of {self.source}; environments/ENV.yaml, STACK_VAR_*, --var-file and -e "
                 "override them.\n"]
        for name, parameter in self.parameters.items():
            if not isinstance(parameter, dict):
                self.refuse(("Parameters", name), "a parameter must be a mapping with a Type")
                continue
            if isinstance(parameter.get("Description"), str):
                lines.append(f"# {name}: {' '.join(parameter['Description'].split())}\n")
            constraints = {_CONSTRAINT_KEYS[k]: _number(parameter[k]) for k in _CONSTRAINTS if k in parameter}
            if constraints:  # checked by the stack, with the declaration's line, before any call
                self.declarations.append({"name": name, **constraints})
            if "Default" in parameter:
                default = parameter["Default"]
                if isinstance(default, list):
                    default = ",".join(map(_text, default))
                lines.append(_dump({name: _text(default)}))
            else:
                lines.append(f"# {name}: (no default: set it in environments/ENV.yaml or with -e {name}=...)\n")
        return "".join(lines) if self.parameters else ""

    def convert_conditions(self) -> list[dict[str, Any]]:
        """Each condition as a global of its truth, after the conditions it reads (globals render in order)."""
        done: list[dict[str, Any]] = []
        placed: set[str] = set()
        visiting: list[str] = []

        def place(name: str) -> None:
            if name in placed:
                return
            if name in visiting:
                self.refuse(("Conditions", name), f"the condition '{name}' depends on itself: "
                            f"{' -> '.join([*visiting[visiting.index(name):], name])}", "break the cycle")
                return
            visiting.append(name)
            path: KeyPath = ("Conditions", name)
            for read in _conditions_read(self.conditions[name]):
                if read in self.conditions:
                    place(read)
            expression = self.expr(self.conditions[name], path, in_condition=True)
            visiting.pop()
            placed.add(name)
            done.append({"name": name, "value": "{{ " + expression + " }}"})

        for name in self.conditions:
            place(name)
        return done

    def convert_resource(self, logical_id: str, resource: Any) -> dict[str, Any] | None:
        path: KeyPath = ("Resources", logical_id)
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            self.refuse(path, "a resource must be a mapping with a Type")
            return None
        type_name = resource["Type"]
        for key in resource:
            if key not in _RESOURCE_KEYS:
                self.refuse((*path, key), f"unknown resource attribute '{key}'", "remove it")
            elif key in ("Metadata", "CreationPolicy", "UpdatePolicy"):
                self.note((*path, key), f"{key} is not converted: the stack has no such setting")
        if type_name.startswith("Custom::") or type_name in _REFUSED_TYPES:
            message, fix = _REFUSED_TYPES.get(type_name, _REFUSED_TYPES["AWS::CloudFormation::CustomResource"])
            self.refuse((*path, "Type"), f"{type_name}: {message}", fix)
            return None
        try:
            type_schema(type_name)
        except StackError as error:
            self.refuse((*path, "Type"), str(error))
            return None
        result: dict[str, Any] = {"name": logical_id, "type": type_name}
        condition = resource.get("Condition")
        if condition is not None:
            if condition not in self.conditions:
                self.refuse((*path, "Condition"), f"no condition named '{condition}'")
            result["if"] = "{{ " + str(condition) + " }}"
        depends = resource.get("DependsOn")
        if depends is not None:
            names = [depends] if isinstance(depends, str) else depends
            for index, other in enumerate(names if isinstance(names, list) else [None]):
                if other not in self.resources:
                    self.refuse((*path, "DependsOn", *([index] if isinstance(depends, list) else [])),
                                f"DependsOn names no resource of the template: {other!r}")
            result["depends_on"] = list(names) if isinstance(names, list) else []
        policy = self.deletion_policy(resource, path)
        if policy:
            result["DeletionPolicy"] = policy
        props: list[dict[str, Any]] = []
        for prop, value in _mapping(resource.get("Properties")).items():
            converted = self.value(value, (*path, "Properties", prop))
            if converted is not OMIT:
                props.append({"name": prop, "value": converted})
        result["props"] = props
        return result

    def deletion_policy(self, resource: dict[str, Any], path: KeyPath) -> str:
        deletion, replace = resource.get("DeletionPolicy", "Delete"), resource.get("UpdateReplacePolicy", "Delete")
        if deletion in ("Snapshot", "RetainExceptOnCreate"):
            self.note((*path, "DeletionPolicy"), f"DeletionPolicy {deletion} became Retain: the stack has Retain "
                      "only, which keeps the resource in AWS when it leaves the stack")
            return "Retain"
        if deletion == "Retain":
            return "Retain"
        if replace in ("Retain", "Snapshot"):
            self.note((*path, "UpdateReplacePolicy"), f"UpdateReplacePolicy {replace} became DeletionPolicy Retain: "
                      "the stack has one policy, which also keeps the resource when it leaves the stack")
            return "Retain"
        return ""

    def convert_output(self, name: str, output: Any) -> dict[str, Any] | None:
        path: KeyPath = ("Outputs", name)
        if not isinstance(output, dict) or "Value" not in output:
            self.refuse(path, "an output must be a mapping with a Value")
            return None
        if not OUTPUT_NAME.match(name):
            self.refuse(path, f"'{name}' cannot be an output name", "rename it: a letter, then letters and digits")
        expression = self.expr(output["Value"], (*path, "Value"))
        condition = output.get("Condition")
        if condition is not None:
            if condition not in self.conditions:
                self.refuse((*path, "Condition"), f"no condition named '{condition}'")
            expression = f"{_group(expression)} if {condition} else none"
        result: dict[str, Any] = {"name": name, "value": "{{ " + expression + " }}"}
        if isinstance(output.get("Description"), str):
            result["description"] = output["Description"]
        export = output.get("Export")
        if export is not None:
            fixed = _static_text(export.get("Name") if isinstance(export, dict) else None, self.name)
            if fixed is None:
                self.note((*path, "Export"), "the export name is not converted: a stack's export is a fixed name, "
                          "and this one is computed; add export: NAME to the output")
            else:
                result["export"] = fixed
        return result

    # values and intrinsics ------------------------------------------------------------------------------

    def value(self, node: Any, path: KeyPath) -> Any:
        """``node`` as the manifest writes it: literal values as they are, intrinsics as ``{{ }}`` templates,
        ``OMIT`` for AWS::NoValue."""
        if isinstance(node, dict) and _intrinsic(node):
            (key, argument), = node.items()
            if key == "Ref" and argument == "AWS::NoValue":
                return OMIT
            if key == "Fn::Sub":
                return self.sub(argument, (*path, key), as_text=True)
            if (key == "Fn::Join" and isinstance(argument, list) and len(argument) == 2
                    and isinstance(argument[0], str) and isinstance(argument[1], list) and len(argument[1]) > 1):
                return _escape(argument[0]).join(self.text(item, (*path, key, 1, i))
                                                 for i, item in enumerate(argument[1]))
            return "{{ " + self.expr(node, path) + " }}"
        if isinstance(node, dict):
            kept = {k: self.value(v, (*path, k)) for k, v in node.items()}
            return {k: v for k, v in kept.items() if v is not OMIT}
        if isinstance(node, list) and any(_maybe_no_value(item) for item in node):
            # an item that Fn::If may leave out: the list is one expression, and none leaves it (the renderer
            # drops null values of mappings, not items of lists)
            return "{{ " + self.expr(node, path) + " | reject('none') | list }}"
        if isinstance(node, list):
            return [v for v in (self.value(item, (*path, i)) for i, item in enumerate(node)) if v is not OMIT]
        return _escape(node) if isinstance(node, str) else node

    def text(self, node: Any, path: KeyPath) -> str:
        """``node`` as a piece of template text (an item Fn::Join joins)."""
        if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
            return self.sub(node["Fn::Sub"], (*path, "Fn::Sub"), as_text=True)
        if isinstance(node, (dict, list)):
            return "{{ " + self.expr(node, path) + " }}"
        return _escape(_text(node)) if node is not None else ""

    def expr(self, node: Any, path: KeyPath, *, in_condition: bool = False) -> str:
        """``node`` as one Jinja expression."""
        if isinstance(node, dict) and (_intrinsic(node) or (in_condition and set(node) == {"Condition"})):
            (key, argument), = node.items()
            return self.intrinsic(key, argument, (*path, key), in_condition)
        if isinstance(node, dict):
            items = (f"{_literal(k)}: {self.expr(v, (*path, k))}" for k, v in node.items()
                     if not _is_no_value(v))
            return "{" + ", ".join(items) + "}"
        if isinstance(node, list):
            return "[" + ", ".join(self.expr(v, (*path, i)) for i, v in enumerate(node) if not _is_no_value(v)) + "]"
        return _literal(node)

    def intrinsic(self, key: str, argument: Any, path: KeyPath, in_condition: bool) -> str:
        handler = _INTRINSICS.get(key)
        if handler is None or (key == "Condition" and not in_condition):
            self.refuse(path, f"unknown intrinsic function '{key}'", "write the value it stands for, or make it a "
                        "parameter")
            return "none"
        return handler(self, argument, path, in_condition)

    def ref(self, name: Any, path: KeyPath, _: bool) -> str:
        if not isinstance(name, str):
            self.refuse(path, "Ref takes the name of a parameter or resource")
            return "none"
        if name in _PSEUDO:
            self.uses_region |= name == "AWS::Region"
            if name == "AWS::AccountId":
                self.note(path, "AWS::AccountId reads the variable AccountId: set it in environments/ENV.yaml",
                          once=name)
            if name == "AWS::Partition":
                self.note(path, "AWS::Partition is 'aws' (not aws-cn or aws-us-gov)", once=name)
            if name == "AWS::Region":
                self.note(path, "AWS::Region reads the region global, set from the variable AWS_REGION: set it in "
                          "environments/ENV.yaml", once=name)
            return _PSEUDO[name]
        if name.startswith("AWS::"):
            self.refuse(path, f"{name}: {_PSEUDO_REFUSED[0]}", _PSEUDO_REFUSED[1])
            return "none"
        if name in self.parameters:
            kind = str(_mapping(self.parameters[name]).get("Type", "String"))
            if kind.startswith("AWS::SSM::Parameter::Value<"):
                return f"ssm({name})"
            if kind == "CommaDelimitedList" or kind.startswith("List<"):
                return f"({name}.split(',') if {name} is string else {name})"
            return name
        if name in self.resources:
            identifier = self.identifier(name, path)
            return identifier
        self.refuse(path, f"Ref names no parameter or resource of the template: '{name}'")
        return "none"

    def identifier(self, name: str, path: KeyPath) -> str:
        """What Ref of a resource returns: its primary identifier (several joined by '|', as Cloud Control does)."""
        try:
            pointers = type_schema(self.types[name]).primary_identifier
        except StackError:
            return "none"  # the resource's type is refused where it is declared
        parts = [f"resources.{name}." + ".".join(p.split("/")[2:]) for p in pointers]
        if len(parts) == 1:
            return parts[0]
        return "[" + ", ".join(parts) + "] | join('|')"

    def get_att(self, argument: Any, path: KeyPath, _: bool) -> str:
        if (not isinstance(argument, list) or len(argument) != 2
                or not all(isinstance(part, str) for part in argument)):
            self.refuse(path, "Fn::GetAtt takes [resource, attribute], both names",
                        "an attribute computed by Ref is not supported; name it")
            return "none"
        name, attribute = argument
        if name not in self.resources:
            self.refuse(path, f"Fn::GetAtt names no resource of the template: '{name}'")
            return "none"
        try:
            tree: Any = attribute_tree(self.types[name])
        except StackError:
            return "none"
        for part in attribute.split("."):
            if not isinstance(tree, dict) or part not in tree:
                known = ", ".join(_attribute_names(attribute_tree(self.types[name])))
                self.refuse(path, f"{self.types[name]} has no attribute '{attribute}'; it has {known}")
                return "none"
            tree = tree[part]
        return f"resources.{name}.{attribute}"

    def sub(self, argument: Any, path: KeyPath, as_text: bool = False) -> str:
        """Fn::Sub as template text (``as_text``) or as one expression joining the pieces with ``~``."""
        text, names = (argument, {}) if isinstance(argument, str) else (
            argument if isinstance(argument, list) and len(argument) == 2 else (None, None))
        if not isinstance(text, str) or not isinstance(names, dict):
            self.refuse(path, "Fn::Sub takes a string, or [string, {name: value}]")
            return "none"
        pieces: list[tuple[str, bool]] = []  # (literal text or expression, is expression)
        position = 0
        for match in _SUB_VARIABLE.finditer(text):
            literal = text[position:match.start()]
            position = match.end()
            variable = match.group(2).strip()
            if match.group(1):
                pieces.append((literal + "${" + match.group(2) + "}", False))
                continue
            pieces.append((literal, False))
            if variable in names:
                pieces.append((self.expr(names[variable], (*path, 1, variable)), True))
            elif "." in variable and not variable.startswith("AWS::"):
                pieces.append((self.get_att(variable.split(".", 1), path, False), True))
            else:
                pieces.append((self.ref(variable, path, False), True))
        pieces.append((text[position:], False))
        pieces = [(t, e) for t, e in pieces if t or e]
        pieces = [(t[1:-1], False) if e and t in ("'aws'", "'amazonaws.com'") else (t, e) for t, e in pieces]
        if as_text:
            return "".join("{{ " + t + " }}" if e else _escape(t) for t, e in pieces)
        if len(pieces) == 1 and pieces[0][1]:
            return pieces[0][0]
        return " ~ ".join(_group(t) if e else _literal(t) for t, e in pieces) or "''"

    def join(self, argument: Any, path: KeyPath, _: bool) -> str:
        if not isinstance(argument, list) or len(argument) != 2 or not isinstance(argument[0], str):
            self.refuse(path, "Fn::Join takes [separator, [values]]")
            return "none"
        return f"{self.list_expr(argument[1], (*path, 1))} | join({_literal(argument[0])})"

    def list_expr(self, node: Any, path: KeyPath) -> str:
        text = self.expr(node, path)
        return text if isinstance(node, list) else _group(text)

    def select(self, argument: Any, path: KeyPath, _: bool) -> str:
        if not isinstance(argument, list) or len(argument) != 2:
            self.refuse(path, "Fn::Select takes [index, [values]]")
            return "none"
        index = argument[0]
        if isinstance(index, str) and index.isdigit():
            index = int(index)
        position = str(index) if isinstance(index, int) else f"{_group(self.expr(index, (*path, 0)))} | int"
        listed = argument[1]
        if isinstance(listed, dict) and set(listed) == {"Fn::Split"} and self.split_args(listed["Fn::Split"], path):
            # a value known only after apply is not text yet: it stands for its piece until it is
            separator, text = listed["Fn::Split"]
            whole = _group(self.expr(text, (*path, 1, "Fn::Split", 1)))
            return f"({whole}.split({_literal(separator)})[{position}] if {whole} is string else {whole})"
        if isinstance(listed, list) or (isinstance(listed, dict) and listed.get("Ref") in self.parameters):
            return f"{_group(self.expr(listed, (*path, 1)))}[{position}]"
        values = _group(self.expr(listed, (*path, 1)))
        return f"({values}[{position}] if {values} is sequence else {values})"

    def split_args(self, argument: Any, path: KeyPath) -> bool:
        if not isinstance(argument, list) or len(argument) != 2 or not isinstance(argument[0], str):
            self.refuse(path, "Fn::Split takes [separator, text]")
            return False
        return True

    def split(self, argument: Any, path: KeyPath, _: bool) -> str:
        if not self.split_args(argument, path):
            return "none"
        # a value known only after apply is not text yet: it stays one unknown piece until it is
        whole = _group(self.expr(argument[1], (*path, 1)))
        return f"({whole}.split({_literal(argument[0])}) if {whole} is string else [{whole}])"

    def if_(self, argument: Any, path: KeyPath, _: bool) -> str:
        if not isinstance(argument, list) or len(argument) != 3 or not isinstance(argument[0], str):
            self.refuse(path, "Fn::If takes [condition name, value if true, value if false]")
            return "none"
        if argument[0] not in self.conditions:
            self.refuse((*path, 0), f"no condition named '{argument[0]}'")
        return (f"{_group(self.expr(argument[1], (*path, 1)))} if {argument[0]} "
                f"else {_group(self.expr(argument[2], (*path, 2)))}")

    def equals(self, argument: Any, path: KeyPath, _: bool) -> str:
        if not isinstance(argument, list) or len(argument) != 2:
            self.refuse(path, "Fn::Equals takes [value, value]")
            return "none"
        # CloudFormation compares text: a number written in the template equals the parameter text "3"
        sides = [_literal(str(v).lower() if isinstance(v, bool) else str(v)) if isinstance(v, (int, float))
                 else self.expr(v, (*path, i)) for i, v in enumerate(argument)]
        return f"{sides[0]} == {sides[1]}"

    def logical(self, operator: str) -> Callable[[_Converter, Any, KeyPath, bool], str]:
        def combine(converter: _Converter, argument: Any, path: KeyPath, _: bool) -> str:
            least = 1 if operator == "not" else 2
            if not isinstance(argument, list) or len(argument) < least or (operator == "not" and len(argument) != 1):
                converter.refuse(path, f"Fn::{operator.title()} takes a list of "
                                 + ("one condition" if operator == "not" else "2 to 10 conditions"))
                return "none"
            terms = [_group(converter.expr(v, (*path, i), in_condition=True)) for i, v in enumerate(argument)]
            return f"not {terms[0]}" if operator == "not" else f" {operator} ".join(terms)
        return combine

    def condition(self, name: Any, path: KeyPath, _: bool) -> str:
        if name not in self.conditions:
            self.refuse(path, f"no condition named '{name}'")
            return "none"
        return str(name)

    def find_in_map(self, argument: Any, path: KeyPath, _: bool) -> str:
        if not isinstance(argument, list) or len(argument) != 3:
            self.refuse(path, "Fn::FindInMap takes [map, top-level key, second-level key]")
            return "none"
        if isinstance(argument[0], str) and argument[0] not in self.mappings:
            self.refuse((*path, 0), f"no mapping named '{argument[0]}'")
        keys = "".join(f"[{self.expr(v, (*path, i))}]" for i, v in enumerate(argument))
        return f"Mappings{keys}"

    def base64(self, argument: Any, path: KeyPath, _: bool) -> str:
        self.note(path, "Fn::Base64 is not converted: the stack's templates have no b64encode filter, so the value "
                  "is passed as plain text; encode it yourself if the property wants base64")
        return self.expr(argument, path)

    def import_value(self, argument: Any, path: KeyPath, _: bool) -> str:
        """An export of another stack: ``import_value()`` finds it among the stacks beside this one."""
        return f"import_value({self.expr(argument, path)})"

    def get_azs(self, argument: Any, path: KeyPath, _: bool) -> str:
        self.note(path, "Fn::GetAZs is not supported: the value reads the variable AvailabilityZones, a list of "
                  "zone names: set it in environments/ENV.yaml", once="Fn::GetAZs")
        return "AvailabilityZones"


_Handler = Callable[[_Converter, Any, KeyPath, bool], str]
_INTRINSICS: dict[str, _Handler] = {
    "Ref": _Converter.ref, "Fn::GetAtt": _Converter.get_att,
    "Fn::Sub": lambda c, a, p, _: c.sub(a, p), "Fn::Join": _Converter.join, "Fn::Select": _Converter.select,
    "Fn::Split": _Converter.split, "Fn::If": _Converter.if_, "Fn::Equals": _Converter.equals,
    "Fn::And": lambda c, a, p, i: c.logical("and")(c, a, p, i),
    "Fn::Or": lambda c, a, p, i: c.logical("or")(c, a, p, i),
    "Fn::Not": lambda c, a, p, i: c.logical("not")(c, a, p, i),
    "Condition": _Converter.condition, "Fn::FindInMap": _Converter.find_in_map, "Fn::Base64": _Converter.base64,
    "Fn::GetAZs": _Converter.get_azs, "Fn::ImportValue": _Converter.import_value,
}


def _intrinsic(node: dict[Any, Any]) -> bool:
    return len(node) == 1 and isinstance(next(iter(node)), str) and (
        next(iter(node)) == "Ref" or next(iter(node)).startswith("Fn::"))


def _maybe_no_value(node: Any) -> bool:
    """Whether ``node`` is an Fn::If with AWS::NoValue as a branch."""
    return (isinstance(node, dict) and set(node) == {"Fn::If"} and isinstance(node["Fn::If"], list)
            and any(_is_no_value(branch) for branch in node["Fn::If"][1:]))


def _is_no_value(node: Any) -> bool:
    return bool(node == {"Ref": "AWS::NoValue"})


def _conditions_read(node: Any) -> list[str]:
    if isinstance(node, dict):
        if set(node) == {"Condition"} and isinstance(node["Condition"], str):
            return [node["Condition"]]
        return [name for value in node.values() for name in _conditions_read(value)]
    if isinstance(node, list):
        return [name for value in node for name in _conditions_read(value)]
    return []


def _static_text(node: Any, stack_name: str) -> str | None:
    """An export name that is fixed once the stack has its name: text, Sub or Join of text and AWS::StackName."""
    if isinstance(node, str):
        return node if not any(d in node for d in _DELIMITERS) else None
    if node == {"Ref": "AWS::StackName"}:
        return stack_name
    if isinstance(node, dict) and set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
        text = node["Fn::Sub"].replace("${AWS::StackName}", stack_name)
        return None if _SUB_VARIABLE.search(text.replace("${!", "")) else text.replace("${!", "${")
    if isinstance(node, dict) and set(node) == {"Fn::Join"} and isinstance(node["Fn::Join"], list):
        separator, parts = (node["Fn::Join"] + [None, None])[:2]
        texts = [_static_text(part, stack_name) for part in parts] if isinstance(parts, list) else [None]
        if isinstance(separator, str) and None not in texts:
            return separator.join(t for t in texts if t is not None)
    return None


def _attribute_names(tree: dict[str, Any], prefix: str = "") -> list[str]:
    names: list[str] = []
    for key, value in tree.items():
        names += _attribute_names(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]
    return names


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _literal(value: Any) -> str:
    """A Python value as a Jinja literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _escape(text: str) -> str:
    """Text that must render as itself: a text with Jinja's delimiters in it becomes a Jinja string literal."""
    if any(d in text for d in _DELIMITERS) or text.endswith("{"):
        return "{{ " + _literal(text) + " }}"
    return text


def _mapping_values(value: Any) -> Any:
    """Mappings as a global: CloudFormation's values are text (or lists of text), so a 7 is "7" here too."""
    if isinstance(value, dict):
        return {k: _mapping_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mapping_values(v) for v in value]
    return _escape(_text(value))


_SIMPLE = re.compile(r"[\w.]+|'[^'\\]*'")


def _group(expression: str) -> str:
    """``expression`` in parentheses unless it is a name or a literal, which read better without."""
    return expression if _SIMPLE.fullmatch(expression) or _wrapped(expression) else f"({expression})"


def _wrapped(expression: str) -> bool:
    """Whether the whole expression is one pair of parentheses (quotes aside, which our literals escape)."""
    depth, quoted = 0, False
    for index, char in enumerate(expression):
        if char == "'" and (index == 0 or expression[index - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "([{":
            depth += 1
        elif not quoted and char in ")]}":
            depth -= 1
            if depth == 0 and index != len(expression) - 1:
                return False
    return (expression[:1], expression[-1:]) in (("(", ")"), ("[", "]"), ("{", "}"))


class _Dumper(yaml.SafeDumper):
    """Block style, keys in the order given, multi-line text as literal blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # lists indented under their key, as the examples write them


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text and not text.endswith((" ", "\n\n")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def _dump(value: Any) -> str:
    text = yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=120)
    # a blank line between resources, as the examples are written
    if isinstance(value, dict) and "resources" in value:
        return re.sub(r"(?<=[^:])\n(  - name: )", r"\n\n\1", text)
    return text


def _number(value: Any) -> Any:
    """A constraint as the stack's variables: declaration wants it: CloudFormation writes numbers as text too."""
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+\.\d*", value.strip()):
        return float(value)
    return value
