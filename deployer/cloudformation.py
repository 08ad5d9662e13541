"""CloudFormation templates of a rendered stack: ``stack render --output cloudformation``.

One environment's stack as a template CloudFormation can deploy: each resource under a
logical id made of its name (``salesforce_profile`` -> ``SalesforceProfile``), with its
properties in the schema's exact spelling, taken from the converted request (types
coerced, unset values dropped). Nothing secret is in the template: every sensitive
value (a secret-bearing credential, or any value registered as a secret) becomes a
``NoEcho`` String parameter without a default, referenced with ``Ref``. References to
other resources' exports, known only after apply, become ``Ref`` (the primary
identifier) or ``Fn::GetAtt`` (the read-only attributes), or ``Fn::Sub`` inside text.
``DependsOn`` holds the dependencies no such reference already implies; ``exports``
become ``Outputs`` with an ``Export`` named after the CloudFormation stack. The region
is where the CloudFormation stack is created, so it is only noted in ``Metadata``.

What CloudFormation cannot express is refused rather than left out: members the schema
lacks (``CodeVerifier``, Snowflake's ``PrivateKey``), exports that are no attribute, and
expressions computed from a value known only after apply.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from botocore.model import Shape

from deployer.apimodel import ApiPath, input_shape
from deployer.connectors import CONFIG, CREDENTIALS
from deployer.convert import CREATE_OPERATION, cfn_path, to_cfn
from deployer.errors import Diagnostic, ManifestError
from deployer.paths import format_path
from deployer.redact import secret_bearing
from deployer.render import Unknown
from deployer.schema import primary_identifier, read_only_properties
from deployer.secrets import SECRETS
from deployer.validate import Desired, DesiredStack

FORMAT_VERSION = "2010-09-09"
_REFERENCE = re.compile(r"^resources\.(\w+)\.(\w+)$")
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]+")
_MAX_ID = 255  # CloudFormation's limit on logical ids
_MAX_DESCRIPTION = 1024  # and on a template's description


def logical_id(name: str) -> str:
    """A resource, parameter or output name as a logical id (letters and digits): ``api_key-id`` -> ``ApiKeyId``."""
    words = [w for w in _NOT_ALPHANUMERIC.split(name) if w]
    spelled = "".join(w[:1].upper() + w[1:] for w in words) or "Resource"
    return spelled if spelled[0].isalpha() else "R" + spelled


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
    parameters: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    problems: list[Diagnostic] = []
    for desired in stack.resources:
        emitter = _Resource(desired, ids, parameters, taken)
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

    def __init__(self, desired: Desired, ids: dict[str, str], parameters: dict[str, Any], taken: set[str]) -> None:
        self.desired = desired
        self.id = ids[desired.name]
        self.ids = ids
        self.parameters = parameters
        self.taken = taken
        self.referenced: set[str] = set()  # logical ids this resource's properties refer to
        self.problems: list[Diagnostic] = []

    def resource(self) -> dict[str, Any]:
        desired = self.desired
        request_shape = input_shape(CREATE_OPERATION)
        properties, missing = to_cfn(desired.request, request_shape, self._leaf)
        for api_path in missing:
            self._problem(api_path, "has no CloudFormation property, so the template cannot set it",
                          "leave it out of the stack to render it for CloudFormation")
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

    def outputs(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for attribute in self.desired.spec.exports:
            value = self._attribute(self.id, attribute)
            if value is None:
                origin = self.desired.spec.origin
                self.problems.append(Diagnostic(
                    origin.doc.file, origin.line, f"{self.desired.spec.label}.exports",
                    f"export '{attribute}' is no CloudFormation attribute of {self.desired.type}",
                    "export one of: " + ", ".join((*primary_identifier(), *read_only_properties()))))
                continue
            name = _unique(logical_id(f"{self.id}{attribute}"), self.taken)
            found[name] = {"Description": f"{attribute} of {self.desired.name}", "Value": value,
                           "Export": {"Name": {"Fn::Sub": f"${{AWS::StackName}}-{self.id}-{attribute}"}}}
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
            found = _REFERENCE.match(text)
            target = self.ids.get(found.group(1), "") if found else ""
            intrinsic = self._attribute(target, found.group(2)) if target and found else None
            if intrinsic is None:
                self._problem(api_path, f"is computed from '{text}', known only after apply, in a way "
                                        "CloudFormation cannot express",
                              "use the attribute as it is (resources.NAME.ConnectorProfileArn, CredentialsArn or "
                              "ConnectorProfileName), alone or inside text")
                return str(value)
            self.referenced.add(target)
            parts.append(intrinsic)
        if len(parts) == 1 and not isinstance(parts[0], str):
            return parts[0]
        return {"Fn::Sub": "".join(_sub_piece(p) for p in parts)}

    @staticmethod
    def _attribute(target: str, attribute: str) -> dict[str, Any] | None:
        if attribute in primary_identifier():
            return {"Ref": target}
        if attribute in read_only_properties():
            return {"Fn::GetAtt": [target, attribute]}
        return None

    def _problem(self, api_path: ApiPath, message: str, fix: str) -> None:
        desired = self.desired
        user_path = desired.conversion.user_path(api_path)
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
