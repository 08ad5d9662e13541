"""CloudFormation templates of a rendered stack: ``stack render --output cloudformation``.

One environment's stack as a template CloudFormation can deploy: each resource under a
logical id made of its name (``salesforce_profile`` -> ``SalesforceProfile``), with its
properties in the schema's exact spelling: a connector profile's taken from the converted
request (types coerced), a Cloud Control type's as they are (already CloudFormation names).
Nothing secret is in the template: every sensitive value (a secret-bearing credential, or
any value registered as a secret, such as a write-only password) becomes a ``NoEcho``
String parameter without a default, referenced with ``Ref``. References to other
resources' attributes, known only after apply, become ``Fn::GetAtt`` (the referenced
type's read-only properties, nested ones by dots: ``Endpoint.Address``) or ``Ref`` (a
primary identifier the user may set, which is what ``Ref`` returns), or ``Fn::Sub``
inside text. ``DependsOn`` holds the dependencies no such reference already implies;
``exports`` become ``Outputs`` with an ``Export`` named after the CloudFormation stack.
The region is where the CloudFormation stack is created, so it is only noted in
``Metadata``.

What CloudFormation cannot express is refused rather than left out: members the schema
lacks (``CodeVerifier``, Snowflake's ``PrivateKey``), exports that are no attribute, and
expressions computed from a value known only after apply, or from a property the user sets
(other than the identifier ``Ref`` returns), since CloudFormation has no attribute for it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from botocore.model import Shape

from deployer.apimodel import ApiPath, input_shape
from deployer.connectors import CONFIG, CREDENTIALS
from deployer.convert import CREATE_OPERATION, cfn_path, to_cfn
from deployer.errors import Diagnostic, ManifestError
from deployer.kinds import FLOW
from deployer.paths import KeyPath, format_path
from deployer.providers.cloudcontrol.pointers import WILDCARD, pointer_segments
from deployer.redact import secret_bearing
from deployer.registry import type_schema
from deployer.render import Unknown
from deployer.schema import connector_profile_schema
from deployer.secrets import SECRETS
from deployer.validate import Desired, DesiredStack

FORMAT_VERSION = "2010-09-09"
_IMPORT_VALUE = re.compile(r"^import_value\('([^']*)'\)$")
_STACK_OUTPUT = re.compile(r"^stack_output\('([^']*)', '([^']*)'")
_REFERENCE = re.compile(r"^resources\.([^.]+)\.(\w+(?:\.\w+)*)$")  # nested attributes by dots
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]+")
_MAX_ID = 255  # CloudFormation's limit on logical ids
_MAX_DESCRIPTION = 1024  # and on a template's description


def logical_id(name: str) -> str:
    """A resource, parameter or output name as a logical id (letters and digits): ``api_key-id`` -> ``ApiKeyId``."""
    words = [w for w in _NOT_ALPHANUMERIC.split(name) if w]
    spelled = "".join(w[:1].upper() + w[1:] for w in words) or "Resource"
    return spelled if spelled[0].isalpha() else "R" + spelled


@dataclass(frozen=True)
class Attributes:
    """What ``resources.NAME.X`` may read of a type in a template: ``Ref`` returns ``ref`` (the primary
    identifier, when the user may set it), ``Fn::GetAtt`` the read-only properties (nested ones by dots)."""

    ref: str | None
    get_att: tuple[str, ...]

    def intrinsic(self, target: str, attribute: str) -> dict[str, Any] | None:
        if attribute in self.get_att:
            return {"Fn::GetAtt": [target, attribute]}
        if attribute == self.ref:
            return {"Ref": target}
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.get_att, *((self.ref,) if self.ref else ()))


def attributes_of(schema: Mapping[str, Any]) -> Attributes:
    """The attributes of the type ``schema`` describes. A read-only identifier (a KMS key's ``KeyId``) is read
    with ``Fn::GetAtt``; an identifier of several parts has no single ``Ref`` value here."""
    read_only = tuple(".".join(s) for s in pointer_segments(schema, "readOnlyProperties") if WILDCARD not in s)
    identifier = [".".join(s) for s in pointer_segments(schema, "primaryIdentifier")]
    ref = identifier[0] if len(identifier) == 1 and identifier[0] not in read_only else None
    return Attributes(ref, read_only)


def _attributes(desired: Desired) -> Attributes:
    if desired.schema is not None:
        return attributes_of(desired.schema.schema)
    if desired.type == FLOW:
        return attributes_of(type_schema(FLOW).schema)
    return attributes_of(connector_profile_schema())


def _as_written(desired: Desired) -> bool:
    """Whether the resource's properties are CloudFormation's as the manifest has them (any type but the
    connector profile, whose request is converted back)."""
    return desired.cloud or desired.type == FLOW


def _joined(words: tuple[str, ...]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _unique(wanted: str, taken: set[str]) -> str:
    found, number = wanted[:_MAX_ID], 2
    while found in taken:
        suffix = str(number)
        found, number = wanted[:_MAX_ID - len(suffix)] + suffix, number + 1
    taken.add(found)
    return found


def build_template(stack: DesiredStack) -> dict[str, Any]:
    """The template of ``stack`` as a value (``template_yaml`` and ``template_json`` write it)."""
    taken: set[str] = set()
    ids = {desired.name: _unique(logical_id(desired.name), taken) for desired in stack.resources}
    attributes = {desired.name: _attributes(desired) for desired in stack.resources}
    parameters: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    problems: list[Diagnostic] = []
    for desired in stack.resources:
        emitter = _Resource(desired, ids, attributes, parameters, taken)
        resources[ids[desired.name]] = emitter.resource()
        outputs.update(emitter.outputs())
        problems += emitter.problems
    if problems:
        raise ManifestError(problems)
    manifest = stack.context.manifest
    described = f"{manifest.description or manifest.name} (stack {manifest.name}, environment {stack.context.env})"
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": FORMAT_VERSION,
        "Description": described[:_MAX_DESCRIPTION],
    }
    if parameters:
        template["Parameters"] = parameters
    template["Resources"] = resources
    if outputs:
        template["Outputs"] = outputs
    return template


class _Resource:
    """One resource's part of the template; problems are collected, not raised."""

    def __init__(self, desired: Desired, ids: dict[str, str], attributes: dict[str, Attributes],
                 parameters: dict[str, Any], taken: set[str]) -> None:
        self.desired = desired
        self.id = ids[desired.name]
        self.ids = ids
        self.attributes = attributes  # by resource name
        self.parameters = parameters
        self.taken = taken
        self.referenced: set[str] = set()  # logical ids this resource's properties refer to
        self.problems: list[Diagnostic] = []

    def resource(self) -> dict[str, Any]:
        desired = self.desired
        properties = self._properties()
        resource: dict[str, Any] = {"Type": desired.type}
        depends = sorted(self.ids[name] for name in desired.depends_on if self.ids[name] not in self.referenced)
        if depends:
            resource["DependsOn"] = depends  # the ones no Ref or Fn::GetAtt already implies
        if desired.spec.retain:
            resource["DeletionPolicy"] = resource["UpdateReplacePolicy"] = "Retain"
        noted = {"Resource": desired.name, "Region": desired.region, "PreventDestroy": desired.prevent_destroy or None}
        resource["Metadata"] = {"Stack": {k: v for k, v in noted.items() if v is not None}}
        resource["Properties"] = properties
        return resource

    def _properties(self) -> dict[str, Any]:
        if _as_written(self.desired):
            return dict(self._walk(self.desired.properties, ()))
        properties, missing = to_cfn(self.desired.request, input_shape(CREATE_OPERATION), self._leaf)
        for api_path in missing:
            self._problem(api_path, "has no CloudFormation property, so the template cannot set it",
                          "leave it out of the stack to render it for CloudFormation")
        return properties

    def _walk(self, value: Any, path: KeyPath) -> Any:
        """A Cloud Control type's properties, already CloudFormation names, with each leaf translated."""
        if isinstance(value, dict):
            return {key: self._walk(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self._walk(item, (*path, index)) for index, item in enumerate(value)]
        return self._leaf(value, None, path)

    def outputs(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        own = self.attributes[self.desired.name]
        for attribute in self.desired.spec.exports:
            value = own.intrinsic(self.id, attribute)
            if value is None:
                origin = self.desired.spec.origin
                self.problems.append(Diagnostic(
                    origin.doc.file, origin.line, f"{self.desired.spec.label}.exports",
                    f"export '{attribute}' is no CloudFormation attribute of {self.desired.type}",
                    "export one of: " + ", ".join((*((own.ref,) if own.ref else ()), *own.get_att))))
                continue
            name = _unique(logical_id(f"{self.id}{attribute}"), self.taken)
            exported = attribute.replace(".", "")  # an export name has no dots
            found[name] = {"Description": f"{attribute} of {self.desired.name}", "Value": value,
                           "Export": {"Name": {"Fn::Sub": f"${{AWS::StackName}}-{self.id}-{exported}"}}}
        return found

    def _leaf(self, value: Any, model: Shape | None, api_path: ApiPath) -> Any:
        if isinstance(value, Unknown):
            return self._unknown(value, api_path)
        if self._sensitive(value, model, api_path):
            return {"Ref": self._parameter(value, api_path)}
        return value

    @staticmethod
    def _sensitive(value: Any, model: Shape | None, api_path: ApiPath) -> bool:
        if value is None or isinstance(value, bool):
            return False
        if str(value) in SECRETS:
            return True
        return api_path[:2] == (CONFIG, CREDENTIALS) and secret_bearing(model)

    def _parameter(self, value: Any, api_path: ApiPath) -> str:
        if _as_written(self.desired):
            spelled, inside = api_path, api_path
        else:
            spelled = cfn_path(api_path, input_shape(CREATE_OPERATION))
            inside = spelled[3:] if api_path[:1] == (CONFIG,) else spelled  # less config, block and connector
        name = _unique(logical_id(self.id + "".join(logical_id(str(p)) for p in inside)), self.taken)
        number = isinstance(value, (int, float))
        self.parameters[name] = {
            "Type": "Number" if number else "String",
            "NoEcho": True,
            "Description": f"{format_path(spelled)} of {self.desired.name}",
        }
        return name

    def _unknown(self, value: Unknown, api_path: ApiPath) -> Any:
        parts: list[Any] = []
        for text, is_reference in value.pieces():
            if not is_reference:
                parts.append(text)
                continue
            imported = _IMPORT_VALUE.match(text)
            if imported is not None:
                parts.append({"Fn::ImportValue": imported.group(1)})
                continue
            other = _STACK_OUTPUT.match(text)
            if other is not None:  # another stack's output: a parameter of the template, described as such
                described = f"output {other.group(2)} of the stack at {other.group(1)} (stack_output)"
                parameter = next((n for n, p in self.parameters.items() if p.get("Description") == described),
                                 None) or _unique(logical_id(f"{other.group(2)}Output"), self.taken)
                self.parameters[parameter] = {"Type": "String", "Description": described}
                parts.append({"Ref": parameter})
                continue
            found = _REFERENCE.match(text)
            name = found.group(1) if found and found.group(1) in self.ids else ""
            intrinsic = self.attributes[name].intrinsic(self.ids[name], found.group(2)) if name and found else None
            if intrinsic is None:
                self._problem(api_path, f"is computed from '{text}', known only after apply, in a way "
                                        "CloudFormation cannot express", self._reference_fix(text))
                return str(value)
            target = self.ids[name]
            self.referenced.add(target)
            parts.append(intrinsic)
        if len(parts) == 1 and not isinstance(parts[0], str):
            return parts[0]
        return {"Fn::Sub": "".join(_sub_piece(p) for p in parts)}

    def _reference_fix(self, text: str) -> str:
        """What to write instead: the referenced resource's attributes (its name found in any case, for a filter
        such as ``upper`` changes the reference's text too)."""
        by_lower = {name.lower(): name for name in self.ids}
        name = by_lower.get(text.split(".")[1].lower(), "") if text.lower().startswith("resources.") else ""
        names = self.attributes[name].names if name else ()
        if not names:
            return "use a resource's attribute as it is (resources.NAME.ATTRIBUTE), alone or inside text"
        return f"use the attribute as it is (resources.NAME.{_joined(names)}), alone or inside text"

    def _problem(self, api_path: ApiPath, message: str, fix: str) -> None:
        desired = self.desired
        user_path = api_path if _as_written(desired) else desired.conversion.user_path(api_path)
        origin = desired.rendered.origin(user_path)
        self.problems.append(Diagnostic(origin.file, origin.line,
                                        f"{desired.spec.label}.props.{format_path(user_path)}", message, fix))


def _sub_piece(part: Any) -> str:
    """A piece of an ``Fn::Sub`` string: literal text (``${`` escaped), or a reference as ``${Id}``/``${Id.Attr}``."""
    if isinstance(part, str):
        return part.replace("${", "${!")
    if "Ref" in part:
        return f"${{{part['Ref']}}}"
    target, attribute = part["Fn::GetAtt"]
    return f"${{{target}.{attribute}}}"


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # CloudFormation has no anchors


def template_yaml(template: dict[str, Any]) -> str:
    return yaml.dump(template, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)


def template_json(template: dict[str, Any]) -> str:
    return json.dumps(template, indent=2) + "\n"
