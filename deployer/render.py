"""Rendering: Jinja in a sandbox, value by value, so types and line numbers survive.

Every string in a manifest is a template. A string that is one expression
(``'{{ IsSandbox }}'``) evaluates to the value itself, so a boolean variable stays
a boolean and ``none`` means "not set"; any other string renders to text. Undefined
names are errors that name the variable, the file and the line.

Exports of other resources (``resources.NAME.Attribute``) are known only once that
resource exists. Until then they render as ``Unknown``; the plan shows them as
"known after apply" and apply renders the resource again with the real values.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError

from deployer import sandbox, taint
from deployer.apimodel import suggest
from deployer.constraints import check_variables
from deployer.errors import Diagnostic, ManifestError, StackError
from deployer.kinds import attribute_tree
from deployer.manifest import Manifest, Raw, ResourceSpec
from deployer.paths import KeyPath
from deployer.secrets import SECRETS, looks_secret
from deployer.yamlfile import load_yaml

ENV_VAR_PREFIX = "STACK_VAR_"
_ONE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)
_RESOURCE_REFERENCE = re.compile(r"\bresources\s*(?:\.\s*(\w+)|\[\s*['\"](\w+)['\"]\s*\])")
_OPEN, _CLOSE = "\u2983", "\u2984"


@dataclass(frozen=True)
class Unknown:
    """A value that exists only after apply, such as the ARN of a profile not yet created."""

    reference: str
    # the rendered text with each reference between the markers, when it is more than one reference
    marked: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{_OPEN}{self.reference}{_CLOSE}"

    def pieces(self) -> tuple[tuple[str, bool], ...]:
        """The value as (text, is_reference) pieces in order: ``arn-{{ resources.a.X }}`` is ("arn-", False),
        ("resources.a.X", True). A filter applied to a reference changes the text between the markers too."""
        if not self.marked:
            return ((self.reference, True),)
        found = []
        for index, piece in enumerate(re.split(f"{_OPEN}([^{_CLOSE}]*){_CLOSE}", self.marked)):
            if piece or index % 2:
                found.append((piece, index % 2 == 1))
        return tuple(found)


@dataclass(frozen=True)
class Inputs:
    """What the user passes besides the manifest: environment and variables."""

    env: str = "dev"
    cli_vars: Mapping[str, str] = field(default_factory=dict)
    var_files: tuple[Path, ...] = ()
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    default_region: str | None = None  # --region, AWS_REGION or the profile's, for resources that name none


@dataclass(frozen=True)
class Origin:
    file: str
    line: int | None
    label: str  # the user-facing path of the prop, e.g. resources[0].props.ConnectorType


@dataclass(frozen=True)
class RenderedResource:
    spec: ResourceSpec
    props: dict[str, Any]  # prop name -> rendered value; unset props are absent
    origins: dict[KeyPath, Origin]  # (prop name, *nested keys) -> where it was written
    region: str | None

    @property
    def name(self) -> str:
        return self.spec.name

    def origin(self, path: KeyPath) -> Origin:
        """The origin of ``path`` or of its nearest written ancestor."""
        for end in range(len(path), 0, -1):
            found = self.origins.get(path[:end])
            if found is not None:
                return found
        return Origin(self.spec.origin.doc.file, self.spec.origin.line, f"{self.spec.label}.props")


@dataclass(frozen=True)
class StackContext:
    """The names templates see, before any resource is rendered."""

    manifest: Manifest
    env: str
    variables: dict[str, Any]
    globals: dict[str, Any]
    active: tuple[ResourceSpec, ...]  # resources whose if: holds in this environment
    default_region: str | None = None
    functions: Mapping[str, Callable[..., Any]] = field(default_factory=dict)  # resolvers: secret(), ssm()
    # resources of the manifest (active or not) whose prevent_destroy holds in this environment
    protected: frozenset[str] = frozenset()
    sensitive: frozenset[str] = frozenset()  # variables whose values are secrets (see deployer.taint)
    tainted: frozenset[str] = frozenset()  # names whose values depend on a secret: those, resolvers, globals

    @functools.cached_property
    def active_by_name(self) -> dict[str, ResourceSpec]:
        return {spec.name: spec for spec in self.active}

    @functools.cached_property
    def bare_exports(self) -> tuple[tuple[str, str], ...]:
        """(resource, attribute) for every name a resource exports, in manifest order."""
        return tuple((spec.name, attribute) for spec in self.active for attribute in spec.exports)

    @functools.cached_property
    def bare_export_owners(self) -> dict[str, str]:
        """Each bare export name, and the first resource that exports it: the one templates see."""
        owners: dict[str, str] = {}
        for owner, attribute in self.bare_exports:
            owners.setdefault(attribute, owner)
        return owners

    @property
    def region(self) -> str | None:
        region = self.globals.get("region")
        return region if isinstance(region, str) and region else self.default_region

    def base_names(self) -> dict[str, Any]:
        return {
            **self.variables,
            **self.functions,
            **self.globals,
            "vars": dict(self.variables),
            "stack_name": self.manifest.name,
            "stack_env": self.env,
        }


# Templates compile and render in deployer.sandbox, within its limits; each is compiled once and cached there.
_expression = sandbox.expression
_template = sandbox.template
_names_read = sandbox.names_read


def load_variables(manifest: Manifest, inputs: Inputs) -> dict[str, Any]:
    """Variables, lowest precedence first: environments/default.yaml, environments/<env>.yaml, STACK_VAR_*,
    --var-file, -e.

    Values of sensitive variables (declared in the manifest, or STACK_VAR_* names that look like
    secrets) are registered as secrets at once.
    """
    variables: dict[str, Any] = dict(manifest.defaults)
    for path in environment_files(manifest.stack_dir, inputs.env):
        variables.update(read_var_file(path))
    from_environ = {k[len(ENV_VAR_PREFIX):]: v for k, v in inputs.environ.items() if k.startswith(ENV_VAR_PREFIX)}
    variables.update(from_environ)
    for path in inputs.var_files:
        variables.update(read_var_file(path))
    variables.update(inputs.cli_vars)
    sensitive = set(manifest.sensitive) | {name for name in from_environ if looks_secret(name)}
    for name in sensitive:
        _register(variables.get(name))
    return variables


def environment_files(stack_dir: Path, env: str) -> list[Path]:
    """``environments/default.yaml`` under ``environments/<env>.yaml``, those that exist.

    They are found by convention, not named by the user, so like templates they must not lead out of the stack
    directory (a link to ~/.aws/credentials in a pull request would be read, and its values shown)."""
    names = ["default.yaml"] + ([f"{env}.yaml"] if env != "default" else [])
    found = [stack_dir / "environments" / n for n in names if (stack_dir / "environments" / n).is_file()]
    root = stack_dir.resolve()
    for path in found:
        if root not in path.resolve().parents:
            raise ManifestError([Diagnostic(str(path), None, "", "leads out of the stack directory (to "
                                            f"{path.resolve()}); an environment file must be inside it",
                                            "copy the file into environments/, or pass it with --var-file")])
    return found


def check_environment(manifest: Manifest, env: str) -> None:
    """Refuse an environment the stack does not know, so that a mistyped --env fails instead of deploying
    an environment of defaults.

    A stack with an ``environments/`` directory knows the names of its ``environments/*.yaml`` and the keys
    of its props' ``values:`` maps (templates' included). ``if:`` expressions are code and name none. A stack
    without that directory, or one that names no environment but ``default``, takes any name.
    """
    folder = manifest.stack_dir / "environments"
    if not folder.is_dir():
        return
    named = {path.stem for path in folder.glob("*.yaml")}
    named |= {key for spec in manifest.resources for prop in spec.props for key in prop.by_env}
    known = sorted(named - {"default"})
    if env in named or not known:
        return
    hint = suggest(env, known)
    raise StackError(f"unknown environment '{env}'; known: {', '.join(known)}"
                     + (f"; {hint}" if hint.startswith("did you mean") else ""))


def variable_sources(manifest: Manifest, inputs: Inputs) -> dict[str, tuple[Any, str]]:
    """Each variable's value and where it came from, as ``load_variables`` would settle it."""
    found: dict[str, tuple[Any, str]] = {}
    for path in environment_files(manifest.stack_dir, inputs.env):
        found.update({k: (v, f"environments/{path.name}") for k, v in read_var_file(path).items()})
    found.update({k[len(ENV_VAR_PREFIX):]: (v, f"environment variable {k}") for k, v in inputs.environ.items()
                  if k.startswith(ENV_VAR_PREFIX)})
    for path in inputs.var_files:
        found.update({k: (v, f"--var-file {path}") for k, v in read_var_file(path).items()})
    found.update({k: (v, "-e") for k, v in inputs.cli_vars.items()})
    return found


def _register(value: Any) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _register(item)
    elif isinstance(value, list):
        for item in value:
            _register(item)
    elif value is not None and not isinstance(value, bool):
        SECRETS.add(str(value))


def read_var_file(path: Path) -> dict[str, Any]:
    doc = load_yaml(path, str(path))
    if doc.data is None:
        return {}
    if not isinstance(doc.data, dict) or not all(isinstance(k, str) for k in doc.data):
        raise ManifestError([Diagnostic(doc.file, 1, "", "a variables file must be a mapping of names to values",
                                        "write NAME: value lines")])
    return dict(doc.data)


def build_context(manifest: Manifest, inputs: Inputs,
                  functions: Mapping[str, Callable[..., Any]] | None = None) -> StackContext:
    """Variables, globals and conditions for one environment; ``functions`` are the resolvers."""
    variables = load_variables(manifest, inputs)
    functions = dict(functions or {})
    problems: list[Diagnostic] = check_variables(manifest, variables, lambda: variable_sources(manifest, inputs))
    names = {**variables, **functions, "vars": dict(variables), "stack_name": manifest.name,
             "stack_env": inputs.env}
    rendered_globals: dict[str, Any] = {}
    for item in manifest.globals:
        value = _render_tree(item.value, item.value.value, item.value.path, f"globals.{item.name}", names, problems)
        rendered_globals[item.name] = value
        names[item.name] = value
    sensitive = taint.sensitive_variables(manifest, variables)
    for name in sensitive:
        _register(variables.get(name))
    tainted = taint.tainted_names(manifest, sensitive)
    for item in manifest.globals:
        if item.name != "region" or item.name not in tainted:
            taint.register_tainted(item.value.value, rendered_globals.get(item.name), tainted)
        else:
            problems.append(Diagnostic(item.value.doc.file, item.value.line, "globals.region",
                                       "the region must not depend on a secret (it decides where the stack goes, "
                                       "which the plan shows)", "set it from a variable that is not sensitive"))
    context = StackContext(manifest, inputs.env, variables, rendered_globals, (), inputs.default_region, functions)
    names = context.base_names()
    active = [spec for spec in manifest.resources
              if spec.condition is None or _holds(spec, spec.condition, "if", names, problems, tainted)]
    protected = frozenset(spec.name for spec in manifest.resources if spec.prevent_destroy is not None
                          and _holds(spec, spec.prevent_destroy, "prevent_destroy", names, problems, tainted))
    if problems:
        raise ManifestError(problems)
    return StackContext(manifest, inputs.env, variables, rendered_globals, tuple(active), inputs.default_region,
                        functions, protected, sensitive, tainted)


def _holds(spec: ResourceSpec, condition: Raw, key: str, names: dict[str, Any], problems: list[Diagnostic],
           tainted: frozenset[str]) -> bool:
    """The truth of ``if:`` or ``prevent_destroy:``: a boolean, or a Jinja expression (with or without braces).
    It must not read a secret: which resources a plan has, or whether it may delete, would tell it."""
    text = condition.value
    label = f"{spec.label}.{key}"
    if isinstance(text, bool):
        return text
    if not isinstance(text, str):
        problems.append(Diagnostic(condition.doc.file, condition.line, label,
                                   f"{key}: must be true, false or a Jinja expression",
                                   "for example: stack_env == 'prod'"))
        return False
    match = _ONE_EXPRESSION.match(text)
    expression = match.group("expr") if match else text
    if taint.depends_on_secret("{{ " + expression + " }}", tainted):
        problems.append(Diagnostic(condition.doc.file, condition.line, label,
                                   f"{key}: must not depend on a secret (the plan would tell its value)",
                                   "decide it from a variable that is not sensitive, such as stack_env"))
        return False
    try:
        return bool(_expression(expression)(**names))
    except Exception as error:  # noqa: BLE001 - every Jinja failure becomes a diagnostic
        problems.append(_jinja_problem(error, condition.doc.file, condition.line, label))
        return False


def references(spec: ResourceSpec) -> set[str]:
    """Names of resources that ``spec``'s templates refer to as resources.NAME."""
    found: set[str] = set()
    for text in _strings(spec):
        for match in _RESOURCE_REFERENCE.finditer(text):
            found.add(match.group(1) or match.group(2))
    return found


def variables_used(spec: ResourceSpec) -> set[str]:
    """Top-level names that ``spec``'s templates read."""
    found: set[str] = set()
    for text in _strings(spec):
        if "{{" in text or "{%" in text:
            try:
                found |= _names_read(text)
            except (jinja2.TemplateSyntaxError, sandbox.TemplateLimitError):
                continue  # reported when rendered
    return found


def _strings(spec: ResourceSpec) -> list[str]:
    texts: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for prop in spec.props:
        for raw in [prop.value, *prop.by_env.values()]:
            if raw is not None:
                collect(raw.value)
    for raw in spec.template_vars.values():
        collect(raw.value)
    return texts


def render_resource(
    spec: ResourceSpec, context: StackContext, exports: Mapping[str, Mapping[str, Any]]
) -> RenderedResource:
    """Render one resource; ``exports`` maps earlier resources to their known export values."""
    problems: list[Diagnostic] = []
    names = context.base_names()
    resource_names = _ResourceExports(context.active_by_name, exports)
    owners = context.bare_export_owners
    for attribute in variables_used(spec) & owners.keys():  # the bare export names (stack-deploy style) it reads:
        names.setdefault(attribute, resource_names[owners[attribute]][attribute])  # all would be quadratic
    names["resources"] = resource_names
    tainted = context.tainted
    for key, var in spec.template_vars.items():
        names[key] = _render_tree(var, var.value, var.path, f"{spec.label}.vars.{key}", names, problems)
        if taint.depends_on_secret(var.value, tainted):
            tainted |= {key}
            taint.register_tainted(var.value, names[key], tainted)
    props: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    for prop in spec.props:
        raw = prop.for_env(context.env)
        if raw is None:
            continue
        label = f"{spec.label}.props.{prop.name}"
        _record_origins(raw, raw.value, raw.path, (prop.name,), label, origins)
        props[prop.name] = _render_tree(raw, raw.value, raw.path, label, names, problems)
        if prop.name in taint.SHAPE_PROPS and taint.depends_on_secret(raw.value, tainted):
            problems.append(Diagnostic(raw.doc.file, raw.line, label,
                                       f"{prop.name} must not depend on a secret (the plan shows it, and state "
                                       "and AWS are keyed by it)", "build it from variables that are not sensitive"))
        else:
            taint.register_tainted(raw.value, props[prop.name], tainted)
    if problems:
        raise ManifestError(problems)
    region = props.pop("region", None)
    if region is not None and not isinstance(region, str):
        raise ManifestError([Diagnostic(*_where(spec, origins, ("region",)), "region must be a string")])
    return RenderedResource(spec, props, origins, region or context.region)


class _ResourceExports(Mapping[str, dict[str, Any]]):
    """``resources.NAME.Attribute`` for templates, worked out only for the names a template reads."""

    def __init__(self, specs: Mapping[str, ResourceSpec], exports: Mapping[str, Mapping[str, Any]]) -> None:
        self._specs = specs
        self._exports = exports

    def __getitem__(self, name: str) -> dict[str, Any]:
        spec = self._specs[name]
        return _with_unknowns(attribute_tree(spec.type, spec.exports), self._exports.get(name, {}),
                              f"resources.{name}", spec.type)

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


def render_outputs(context: StackContext, exports: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The stack's outputs (``outputs:``) rendered over the variables, globals and the resources' exports; a
    value read from a resource that does not exist yet is ``Unknown``. Raises ``ManifestError`` with every
    problem (an output reading a resource not in this environment is one)."""
    problems: list[Diagnostic] = []
    names = context.base_names()
    names["resources"] = _ResourceExports(context.active_by_name, exports)
    values: dict[str, Any] = {}
    for output in context.manifest.outputs:
        raw = output.value
        values[output.name] = _render_tree(raw, raw.value, raw.path, f"outputs.{output.name}", names, problems)
    if problems:
        raise ManifestError(problems)
    return values


class _Attributes(dict[str, Any]):
    """A resource's attributes as templates see them; a name it does not have is an error naming those it has."""

    def __init__(self, values: dict[str, Any], reference: str, type_name: str) -> None:
        super().__init__(values)
        self.reference = reference
        self.type_name = type_name

    def __missing__(self, key: str) -> Any:
        raise StackError(f"{self.reference} has no attribute '{key}' ({self.type_name}); it has "
                         f"{', '.join(sorted(map(str, self))) or 'none'}. A value the manifest sets is read from the "
                         "variable it comes from, not from the resource")


def _with_unknowns(names: Mapping[str, Any], known: Mapping[str, Any], prefix: str, type_name: str
                   ) -> dict[str, Any]:
    """The known values, and ``Unknown`` for each name not known yet (nested names by dots)."""
    values: dict[str, Any] = dict(known)
    for attribute, nested in names.items():
        reference = f"{prefix}.{attribute}"
        if isinstance(nested, dict):
            inner = known.get(attribute)
            values[attribute] = _with_unknowns(nested, inner if isinstance(inner, Mapping) else {}, reference,
                                               type_name)
        elif attribute not in known:
            values[attribute] = Unknown(reference)
    return _Attributes(values, prefix, type_name)


def _where(spec: ResourceSpec, origins: dict[KeyPath, Origin], path: KeyPath) -> tuple[str, int | None, str]:
    origin = origins.get(path)
    if origin is None:
        return spec.origin.doc.file, spec.origin.line, spec.label
    return origin.file, origin.line, origin.label


def _record_origins(raw: Raw, value: Any, yaml_path: KeyPath, prop_path: KeyPath, label: str,
                    origins: dict[KeyPath, Origin]) -> None:
    origins[prop_path] = Origin(raw.doc.file, raw.doc.line_of(yaml_path), label)
    if isinstance(value, dict):
        for key, item in value.items():
            _record_origins(raw, item, (*yaml_path, key), (*prop_path, key), f"{label}.{key}", origins)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _record_origins(raw, item, (*yaml_path, index), (*prop_path, index), f"{label}[{index}]", origins)


def _render_tree(
    raw: Raw, value: Any, path: KeyPath, label: str, names: dict[str, Any], problems: list[Diagnostic]
) -> Any:
    if isinstance(value, str):
        return _render_string(raw, value, path, label, names, problems)
    if isinstance(value, dict):
        return {k: _render_tree(raw, v, (*path, k), f"{label}.{k}", names, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_tree(raw, v, (*path, i), f"{label}[{i}]", names, problems) for i, v in enumerate(value)]
    return value


def _render_string(
    raw: Raw, text: str, path: KeyPath, label: str, names: dict[str, Any], problems: list[Diagnostic]
) -> Any:
    if "{{" not in text and "{%" not in text and "{#" not in text:
        return text
    try:
        match = _ONE_EXPRESSION.match(text)
        if match:
            result = _expression(match.group("expr"))(**names)
            if isinstance(result, jinja2.Undefined):
                str(result)  # raises the UndefinedError that names the variable
        else:
            result = _template(text).render(**names)
    except Exception as error:  # noqa: BLE001 - every Jinja failure becomes a diagnostic
        problems.append(_jinja_problem(error, raw.doc.file, raw.doc.line_of(path), label))
        return None
    if isinstance(result, str) and _OPEN in result:
        return Unknown(result.replace(_OPEN, "").replace(_CLOSE, ""), marked=result)
    return result


def _jinja_problem(error: Exception, file: str, line: int | None, label: str) -> Diagnostic:
    if isinstance(error, jinja2.UndefinedError):
        missing = re.search(r"'([^']+)' is undefined", str(error))
        if missing:
            name = missing.group(1)
            return Diagnostic(file, line, label, f"undefined variable '{name}'", _how_to_set(name))
        attribute = re.search(r"has no attribute '([^']+)'", str(error))
        if attribute:
            name = attribute.group(1)
            return Diagnostic(file, line, label, f"undefined name '{name}'",
                              f"for a variable, {_how_to_set(name)}; resources.NAME must name a resource of this stack")
        return Diagnostic(file, line, label, f"undefined value: {error}",
                          "check the name; resources.NAME must be another resource of this stack in this environment")
    if isinstance(error, StackError):  # a resolver that could not fetch its value
        return Diagnostic(file, line, label, str(error))
    if isinstance(error, sandbox.TemplateLimitError):
        return Diagnostic(file, line, label, str(error), sandbox.FIX)
    if isinstance(error, SecurityError):
        return Diagnostic(file, line, label, f"not allowed in a template: {error}",
                          "templates may only read variables, globals and resource exports")
    if isinstance(error, jinja2.TemplateSyntaxError):
        return Diagnostic(file, line, label, f"template syntax error: {error.message}",
                          "check the {{ }} and {% %} pairs")
    return Diagnostic(file, line, label, f"template error: {type(error).__name__}: {error}")


def _how_to_set(name: str) -> str:
    return f"pass it with -e {name}=..., a --var-file, environments/<env>.yaml or STACK_VAR_{name}"
