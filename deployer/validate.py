"""Validation: from a rendered stack to ``Desired`` resources, or every problem at once.

For each resource in this environment: render it, convert it to the API shape, check
it against the API model and AppFlow's connector rules. For the stack: dependencies
that exist, no cycles, no duplicate profile names, no export name that shadows a
variable. No network call is made here. Problems are ``Diagnostic`` values in the
user's spelling, with file and line; credential values are never shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from deployer.apimodel import ApiPath, Violation, check_value, input_shape, shape
from deployer.connectors import CONFIG, CREDENTIALS, check_connector_rules
from deployer.convert import Conversion, cfn_path, to_api, to_cfn
from deployer.errors import Diagnostic, ManifestError
from deployer.flowconvert import CREATE_OPERATION as FLOW_CREATE
from deployer.flowconvert import flow_to_api
from deployer.graph import CycleError, dependency_order
from deployer.kinds import FLOW, cloud_schema, is_native
from deployer.manifest import ResourceSpec
from deployer.paths import KeyPath, format_path
from deployer.providers.cloudcontrol.resource import attribute_names, identifier_of, write_only_values
from deployer.registry import TypeSchema
from deployer.render import (
    RenderedResource,
    StackContext,
    Unknown,
    references,
    render_outputs,
    render_resource,
    variables_used,
)
from deployer.schema import TYPE_NAME, read_only_properties
from deployer.schemacheck import check_properties, typed_properties
from deployer.secrets import SECRETS, SENSITIVE, looks_secret

CREATE_OPERATION = "CreateConnectorProfile"


@dataclass(frozen=True)
class Desired:
    """One resource as this environment wants it, in the API's shape."""

    spec: ResourceSpec
    rendered: RenderedResource
    conversion: Conversion
    depends_on: frozenset[str]
    prevent_destroy: bool = False  # as the manifest says for this environment
    schema: TypeSchema | None = None  # a Cloud Control type's; None for the native connector profile
    flow_status: str | Unknown | None = None  # a flow's FlowStatus, which CreateFlow does not take

    @property
    def cloud(self) -> bool:
        return self.schema is not None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def type(self) -> str:
        return self.spec.type

    @property
    def request(self) -> dict[str, Any]:
        """The CreateConnectorProfile request (without clientToken), or a Cloud Control type's desired state in
        CloudFormation names; may hold ``Unknown`` values."""
        return self.conversion.value

    @property
    def properties(self) -> dict[str, Any]:
        """The request in CloudFormation spelling, the schema's exact names (whatever spelling the manifest used)."""
        if self.schema is not None:
            return self.request
        if self.type == FLOW:
            return self.rendered.props
        return to_cfn(self.request, input_shape(CREATE_OPERATION))[0]

    @property
    def identifier(self) -> str | Unknown:
        """What AWS knows the resource by; ``Unknown`` until it exists when AWS assigns it (a KMS key's id)."""
        if self.schema is not None:
            found = identifier_of(self.schema, self.request)
            names = ".".join(p.split("/")[-1] for p in self.schema.primary_identifier)
            return found if found is not None else Unknown(f"resources.{self.name}.{names}")
        if self.type == FLOW:
            return self.request.get("flowName", Unknown(f"resources.{self.name}.FlowName"))
        return self.request.get("connectorProfileName", Unknown(f"resources.{self.name}.ConnectorProfileName"))

    @property
    def region(self) -> str | None:
        return self.rendered.region

    @property
    def has_unknowns(self) -> bool:
        return contains_unknown(self.request)

    @property
    def credentials(self) -> Any:
        """A connector profile's credentials (AWS never returns them); a Cloud Control type has none apart: its
        write-only properties stay in the request and state keeps them protected."""
        if self.schema is not None or self.type == FLOW:
            return None
        return (self.request.get(CONFIG) or {}).get(CREDENTIALS)


@dataclass(frozen=True)
class DesiredStack:
    context: StackContext
    resources: tuple[Desired, ...]  # in dependency order
    depends_on: Mapping[str, frozenset[str]]


def stack_dependencies(context: StackContext) -> tuple[dict[str, frozenset[str]], list[Diagnostic]]:
    """Declared and inferred dependencies of each active resource, and problems with them."""
    active = {spec.name: spec for spec in context.active}
    declared_anywhere = {spec.name for spec in context.manifest.resources}
    bare_exports = context.bare_export_owners
    problems: list[Diagnostic] = []
    graph: dict[str, frozenset[str]] = {}
    for spec in context.active:
        wanted = set(spec.depends_on) | references(spec)
        wanted |= {bare_exports[n] for n in variables_used(spec) if n in bare_exports}
        for name in sorted(wanted):
            if name in active:
                continue
            where = spec.origin
            if name in declared_anywhere:
                message = f"depends on '{name}', which is not part of environment '{context.env}' (its if: is false)"
                fix = "give both resources the same if:, or remove the dependency"
            else:
                message = f"depends on '{name}', which is not a resource of this stack"
                fix = "check the name in depends_on or resources.NAME"
            problems.append(Diagnostic(where.doc.file, where.line, spec.label, message, fix))
        graph[spec.name] = frozenset(n for n in wanted if n in active)
    problems += _export_collisions(context)
    return graph, problems


def _export_collisions(context: StackContext) -> list[Diagnostic]:
    problems = []
    owner: dict[str, str] = {}
    taken = set(context.variables) | set(context.globals)
    for spec in context.active:
        for name in spec.exports:
            where = spec.origin
            if name in owner:
                problems.append(Diagnostic(where.doc.file, where.line, f"{spec.label}.exports",
                                           f"export '{name}' is also exported by '{owner[name]}'",
                                           f"refer to them as resources.{owner[name]}.{name} and "
                                           f"resources.{spec.name}.{name}, and export the name from one only"))
            elif name in taken:
                problems.append(Diagnostic(where.doc.file, where.line, f"{spec.label}.exports",
                                           f"export '{name}' has the name of a variable or global",
                                           f"rename the variable, or use resources.{spec.name}.{name}"))
            owner.setdefault(name, spec.name)
    return problems


def validate_stack(context: StackContext, exports: Mapping[str, Mapping[str, Any]] | None = None) -> DesiredStack:
    """Every active resource as ``Desired``, in dependency order; raises ``ManifestError`` with all problems."""
    graph, problems = stack_dependencies(context)
    try:
        order = dependency_order([s.name for s in context.active], graph)
    except CycleError as cycle:
        first = next(s for s in context.active if s.name == cycle.cycle[0])
        problems.append(Diagnostic(first.origin.doc.file, first.origin.line, first.label,
                                   f"dependency cycle: {cycle}", "remove one of these dependencies"))
        raise ManifestError(problems) from None
    by_name = {spec.name: spec for spec in context.active}
    desired: list[Desired] = []
    for name in order:
        try:
            desired.append(desire(by_name[name], context, exports or {}, graph[name]))
        except ManifestError as error:
            problems += error.diagnostics
    problems += _duplicate_identifiers(desired)
    try:
        render_outputs(context, exports or {})
    except ManifestError as error:
        problems += error.diagnostics
    if problems:
        raise ManifestError(problems)
    desired, graph = _by_name_dependencies(desired, graph)
    return DesiredStack(context, tuple(desired), graph)


def _by_name_dependencies(desired: list[Desired], graph: dict[str, frozenset[str]]
                          ) -> tuple[list[Desired], dict[str, frozenset[str]]]:
    """A flow depends on the connector profiles of the stack it names, by name as well as by reference: it is
    created after them and deleted before them."""
    profiles = {d.identifier: d.name for d in desired if d.type == TYPE_NAME and isinstance(d.identifier, str)}
    extra = {d.name: frozenset(profiles[n] for n in named_profiles(d) if n in profiles) - d.depends_on
             for d in desired}
    if not any(extra.values()):
        return desired, graph
    graph = {name: needs | extra.get(name, frozenset()) for name, needs in graph.items()}
    try:
        order = dependency_order(list(graph), graph)
    except CycleError as cycle:
        first = next(d for d in desired if d.name == cycle.cycle[0])
        raise ManifestError([Diagnostic(first.spec.origin.doc.file, first.spec.origin.line, first.spec.label,
                                        f"dependency cycle: {cycle}", "remove one of these dependencies")]) from None
    by_name = {d.name: d for d in desired}
    return [replace(by_name[n], depends_on=graph[n]) for n in order if n in by_name], graph


def desire(spec: ResourceSpec, context: StackContext, exports: Mapping[str, Mapping[str, Any]],
           depends_on: frozenset[str] = frozenset()) -> Desired:
    """Render, convert and check one resource."""
    if not is_native(spec.type):
        return _desire_cloud(spec, context, exports, depends_on)
    if spec.type == FLOW:
        return _desire_flow(spec, context, exports, depends_on)
    rendered = render_resource(spec, context, exports)
    read_only = [p for p in rendered.props if p in read_only_properties()]
    conversion = to_api(rendered.props, input_shape(CREATE_OPERATION), not_in_api=tuple(read_only))
    _register_credentials((conversion.value.get(CONFIG) or {}).get(CREDENTIALS))
    problems = [_diagnostic(rendered, conversion, v, user_spelling=True) for v in conversion.problems]
    for prop in read_only:
        origin = rendered.origin((prop,))
        problems.append(Diagnostic(origin.file, origin.line, origin.label,
                                   "read-only: AWS sets it", f"remove it; read it as resources.{spec.name}.{prop}"))
    request = conversion.value
    not_converted = {v.path for v in conversion.problems}  # these would also show up as missing
    violations = [
        v for v in check_value(input_shape(CREATE_OPERATION), request)
        if not _about_unknown(v, request) and conversion.user_path(v.path) not in not_converted
    ]
    connector_type, label = request.get("connectorType"), request.get("connectorLabel")
    if isinstance(connector_type, str) and not isinstance(label, Unknown):
        violations += check_connector_rules(connector_type, label, request.get(CONFIG) or {}, creating=True,
                                            spell=_cfn_member)
    problems += [_diagnostic(rendered, conversion, v, user_spelling=False) for v in violations]
    if problems:
        raise ManifestError(problems)
    return Desired(spec, rendered, conversion, depends_on, spec.name in context.protected)


def _desire_cloud(spec: ResourceSpec, context: StackContext, exports: Mapping[str, Mapping[str, Any]],
                  depends_on: frozenset[str]) -> Desired:
    """Render one resource of a Cloud Control type and check it against the type's schema."""
    schema = cloud_schema(spec.type)
    rendered = render_resource(spec, context, exports)
    conversion = Conversion(value=rendered.props)
    problems = [_diagnostic(rendered, conversion, v, user_spelling=True)
                for v in check_properties(schema, rendered.props)]
    attributes = attribute_names(schema)
    for name in spec.exports:
        if name not in attributes:
            where = spec.origin
            problems.append(Diagnostic(where.doc.file, where.line, f"{spec.label}.exports",
                                       f"'{name}' is not an attribute of {spec.type}",
                                       "export one of " + ", ".join(sorted(attributes))))
    if problems:
        raise ManifestError(problems)
    request = typed_properties(schema, rendered.props)
    _register_write_only(schema, request)
    return Desired(spec, rendered, Conversion(value=request), depends_on, spec.name in context.protected, schema)


def _desire_flow(spec: ResourceSpec, context: StackContext, exports: Mapping[str, Mapping[str, Any]],
                 depends_on: frozenset[str]) -> Desired:
    """Render one flow, convert it to the CreateFlow request and check it against the API model."""
    rendered = render_resource(spec, context, exports)
    converted = flow_to_api(rendered.props)
    conversion = converted.conversion
    problems = [_diagnostic(rendered, conversion, v, user_spelling=True) for v in conversion.problems]
    if "FlowArn" in rendered.props:
        origin = rendered.origin(("FlowArn",))
        problems.append(Diagnostic(origin.file, origin.line, origin.label, "read-only: AWS sets it",
                                   f"remove it; read it as resources.{spec.name}.FlowArn"))
    request = conversion.value
    not_converted = {v.path for v in conversion.problems}
    violations = [v for v in check_value(input_shape(FLOW_CREATE), request)
                  if not _about_unknown(v, request) and conversion.user_path(v.path) not in not_converted]
    problems += [_diagnostic(rendered, conversion, v, user_spelling=False) for v in violations]
    if problems:
        raise ManifestError(problems)
    return Desired(spec, rendered, conversion, depends_on, spec.name in context.protected,
                   flow_status=converted.status)


def named_profiles(desired: Desired) -> set[str]:
    """The connector profiles a flow names in its source and destination configurations."""
    if desired.type != FLOW:
        return set()
    configs = [desired.request.get("sourceFlowConfig"), *(desired.request.get("destinationFlowConfigList") or [])]
    return {c["connectorProfileName"] for c in configs
            if isinstance(c, dict) and isinstance(c.get("connectorProfileName"), str)}


def _register_write_only(schema: TypeSchema, request: Mapping[str, Any]) -> None:
    """Write-only values whose names say they are secret (MasterUserPassword, SecretString) are secrets wherever
    they turn up, as a connector profile's credentials are."""
    for path, value in write_only_values(schema, request).items():
        names = [str(p) for p in path if isinstance(p, str)]
        if names and (looks_secret(names[-1]) or any("credential" in n.lower() for n in names)):
            _register_leaves(value)


def _register_leaves(value: Any) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _register_leaves(item)
    elif isinstance(value, list):
        for item in value:
            _register_leaves(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool) and not isinstance(value, Unknown):
        SECRETS.add(str(value))


def _cfn_member(api_path: ApiPath) -> str:
    """The CloudFormation name of the member an API path ends in, for fixes."""
    return str(cfn_path(api_path, input_shape(CREATE_OPERATION))[-1])


def _about_unknown(violation: Violation, request: dict[str, Any]) -> bool:
    value: Any = request
    for part in violation.path:
        if isinstance(value, Unknown):
            return True
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(value, Unknown)


def _diagnostic(rendered: RenderedResource, conversion: Conversion, violation: Violation, *,
                user_spelling: bool) -> Diagnostic:
    user_path: KeyPath = violation.path if user_spelling else conversion.user_path(violation.path)
    api_path: ApiPath = () if user_spelling else violation.path
    origin = rendered.origin(user_path)
    label = f"{rendered.spec.label}.props.{format_path(user_path)}"
    message, fix = violation.problem, violation.fix
    if message == "required member is missing":
        message, fix = "required property is missing", f"add {user_path[-1]}"
    if violation.has_value:
        hidden = violation.sensitive or _is_credential(user_path) or _is_credential(api_path)
        shown = SENSITIVE if hidden else json.dumps(violation.value, default=str)
        message = f"{shown} {message}" if message.startswith(("is ", "does ")) else f"{message}: {shown}"
    return Diagnostic(origin.file, origin.line, label, message, fix)


def _is_credential(path: KeyPath) -> bool:
    return any(str(part).lower() == CREDENTIALS.lower() for part in path)


def _duplicate_identifiers(desired: list[Desired]) -> list[Diagnostic]:
    problems = []
    seen: dict[tuple[str, str | None, str], Desired] = {}
    for item in desired:
        identifier = item.identifier
        if isinstance(identifier, Unknown):
            continue
        key = (item.type, item.region, identifier)
        if key in seen and item.schema is not None:
            origin = item.rendered.origin((item.schema.primary_identifier[0].split("/")[-1],))
            problems.append(Diagnostic(origin.file, origin.line, origin.label,
                                       f"{item.type} '{identifier}' is also '{seen[key].name}'",
                                       "two resources cannot be the same AWS resource: give each its own name"))
        elif key in seen:
            origin = item.rendered.origin(("ConnectorProfileName",))
            problems.append(Diagnostic(origin.file, origin.line, origin.label,
                                       f"profile name '{identifier}' is also used by '{seen[key].name}'",
                                       "connector profile names are unique per account and region"))
        seen.setdefault(key, item)
    return problems


def contains_unknown(value: Any) -> bool:
    """Whether ``value`` is, or holds, a value known only after apply."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


def _register_credentials(value: Any, model: Shape | None = None) -> None:
    """Every credential value is a secret, wherever else it might turn up (an error echoing a request).

    Values from a fixed vocabulary (enums such as authenticationType) are not secrets.
    """
    if model is None:
        model = shape("ConnectorProfileCredentials")
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(model, StructureShape):
                _register_credentials(item, model.members.get(key))
            elif isinstance(model, MapShape):
                _register_credentials(item, model.value)
    elif isinstance(value, list):
        for item in value:
            _register_credentials(item, model.member if isinstance(model, ListShape) else None)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        if not (model is not None and model.metadata.get("enum")):
            SECRETS.add(str(value))
