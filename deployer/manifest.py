"""Reading a stack directory into a ``Manifest``: structure checked, nothing rendered yet.

A stack is a directory with ``stack.yaml`` (or stack-deploy's ``stackql_manifest.yml``).
This module checks the manifest's shape (top-level keys, resources, props, the
``values:`` per environment, ``template:`` files) and keeps every raw value with the
file and YAML path it came from, so that later stages can point at lines. Jinja is
not evaluated here; see ``render``.
"""

from __future__ import annotations

import functools
import json
import math
import re
import shlex
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from deployer.apimodel import suggest
from deployer.errors import Diagnostic, ManifestError, StackError
from deployer.paths import KeyPath, format_path
from deployer.registry import type_schema
from deployer.yamlfile import YamlDoc, load_yaml, parse_yaml

STACK_FILES = ("stack.yaml", "stack.yml", "stackql_manifest.yml", "template.yaml", "template.yml", "template.json")
TEMPLATE_FILES = ("template.yaml", "template.yml", "template.json")  # CloudFormation, converted as it is read
TEMPLATE_LIBRARY = "templates"
TYPE_ALIASES = {"aws.appflow.connector_profiles": "AWS::AppFlow::ConnectorProfile"}
SUPPORTED_TYPES = ("AWS::AppFlow::ConnectorProfile",)

_TOP_KEYS = ("version", "name", "description", "providers", "globals", "resources", "retries", "sensitive", "state",
             "moved", "outputs", "variables")
_RETRY_KEYS = ("max_attempts", "max_wait")
_RESOURCE_KEYS = ("name", "type", "props", "exports", "depends_on", "if", "template", "vars", "description",
                  "DeletionPolicy", "prevent_destroy")
RESOURCE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VARIABLE_KEYS = ("name", "description", "default", "sensitive", "allowed_values", "allowed_pattern", "min_length",
                  "max_length", "min_value", "max_value")
OUTPUT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# An environment's name is part of file names (environments/ENV.yaml, .stack/state/ENV.json) and S3 keys, so
# it is one plain word: never a path, never '..'.
ENV_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Raw:
    """A value as written, with where it was written."""

    value: Any
    doc: YamlDoc
    path: KeyPath

    @property
    def line(self) -> int | None:
        return self.doc.line_of(self.path)


@dataclass(frozen=True)
class PropSpec:
    name: str
    value: Raw | None  # None when the prop has only per-environment values
    by_env: dict[str, Raw] = field(default_factory=dict)

    def for_env(self, env: str) -> Raw | None:
        """The value for ``env``: its own entry, else ``default``, else the plain value."""
        if self.by_env:
            return self.by_env.get(env) or self.by_env.get("default")
        return self.value


@dataclass(frozen=True)
class ResourceSpec:
    index: int
    name: str
    type: str
    props: tuple[PropSpec, ...]
    exports: tuple[str, ...]
    depends_on: tuple[str, ...]
    condition: Raw | None
    template_vars: dict[str, Raw]
    retain: bool
    prevent_destroy: Raw | None  # true/false, or a Jinja expression evaluated per environment
    origin: Raw

    @property
    def label(self) -> str:
        return f"resources[{self.index}]"


@dataclass(frozen=True)
class GlobalSpec:
    name: str
    value: Raw


@dataclass(frozen=True)
class Manifest:
    stack_dir: Path
    doc: YamlDoc
    name: str
    description: str
    globals: tuple[GlobalSpec, ...]
    resources: tuple[ResourceSpec, ...]
    retries: dict[str, float] = field(default_factory=dict)  # max_attempts, max_wait
    sensitive: tuple[str, ...] = ()  # variables whose values are secrets
    state: str | None = None  # where state lives, e.g. s3://BUCKET/PREFIX; --state and STACK_STATE win
    files: tuple[Path, ...] = ()  # every file read: the stack file, then templates
    moved: tuple[tuple[str, str], ...] = ()  # (from, to): resources renamed in the manifest, to rename in state
    outputs: tuple[OutputSpec, ...] = ()  # values recorded in state at each apply (stack output, stack_output())
    defaults: dict[str, Any] = field(default_factory=dict)  # variables' lowest layer: declared defaults
    variables: tuple[VariableSpec, ...] = ()  # declared variables and their constraints


@dataclass(frozen=True)
class VariableSpec:
    """A declared variable (CloudFormation's Parameters): a default and the constraints its value must meet."""

    name: str
    origin: Raw  # the declaration, for file:line
    description: str = ""
    allowed_values: tuple[Any, ...] | None = None
    allowed_pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class OutputSpec:
    name: str
    value: Raw
    description: str = ""
    sensitive: bool = False
    export: str | None = None  # a name other stacks can import it by (CloudFormation's Export)


def check_env_name(name: str) -> str:
    """``name`` if it can name an environment; otherwise a ``StackError`` that says what can."""
    if not ENV_NAME.fullmatch(name):
        raise StackError(f"{name!r} is not an environment name: use letters, digits, '-' and '_' (at most 64), as "
                         "it names files in the stack directory")
    return name


def find_stack_file(stack_dir: Path) -> Path:
    if stack_dir.is_file():
        return stack_dir
    for name in STACK_FILES:
        if (stack_dir / name).is_file():
            found = stack_dir / name
            if stack_dir.resolve() not in found.resolve().parents:  # found by convention: it stays in the directory
                raise ManifestError([Diagnostic(str(found), None, "", "leads out of the stack directory (to "
                                                f"{found.resolve()}); the stack file must be inside it",
                                                "copy the file into the directory, or pass its path instead")])
            return found
    if not stack_dir.exists():
        raise ManifestError([Diagnostic(str(stack_dir), None, "", "no such directory",
                                        "pass the directory that holds stack.yaml")])
    raise ManifestError([Diagnostic(str(stack_dir), None, "", "no stack.yaml in this directory",
                                    f"create one with `stack init {shlex.quote(str(stack_dir))}` or pass the right "
                                    "directory")])


def load_manifest(stack_dir: Path) -> Manifest:
    stack_file = find_stack_file(stack_dir)
    root = stack_file.parent
    _refuse_stackql_project(stack_file)
    defaults: dict[str, Any] = {}
    if stack_file.name in TEMPLATE_FILES or (stack_dir.is_file() and _is_template(stack_file)):
        from deployer.cfn_template import convert_template  # CloudFormation input only

        converted = convert_template(stack_file)
        doc = parse_yaml(converted.stack_yaml, f"{_display(stack_file)} (as stack.yaml)")
        default_text = converted.environments.get("default")
        defaults = dict(parse_yaml(default_text, f"{_display(stack_file)} (defaults)").data or {}) \
            if default_text else {}
    else:
        doc = load_yaml(stack_file, _display(stack_file))
    reader = _Reader(doc, root, stack_file.resolve())
    manifest = reader.read()
    if manifest is not None and defaults:
        manifest = replace(manifest, defaults={**manifest.defaults, **defaults})
    if reader.problems:
        raise ManifestError(reader.problems)
    schema_problems = check_schema(doc)  # the reader explains better; the schema catches what it does not
    if schema_problems:
        raise ManifestError(schema_problems)
    assert manifest is not None
    return manifest


def _is_template(path: Path) -> bool:
    """A file passed by path is a CloudFormation template if it reads like one (Resources with Type entries)."""
    if path.suffix not in (".yaml", ".yml", ".json", ".template") or path.stat().st_size > 1024 * 1024:
        return False
    text = path.read_text(errors="replace")
    return "AWSTemplateFormatVersion" in text or ("Resources" in text and "Type:" in text and "props:" not in text)


def _refuse_stackql_project(stack_file: Path) -> None:
    """A stackql-deploy project (its manifest beside resources/*.iql) is not read as it is: its resources are SQL."""
    if stack_file.name == "stackql_manifest.yml" and any((stack_file.parent / "resources").glob("*.iql")):
        folder = shlex.quote(str(stack_file.parent))
        raise ManifestError([Diagnostic(_display(stack_file), None, "", "this is a stackql-deploy project (its "
                                        "resources are SQL in resources/*.iql); stack reads it once converted",
                                        f"convert it with `stack convert {folder} -o NEW_DIR`, check the report, "
                                        "then deploy NEW_DIR")])


@functools.lru_cache(maxsize=1)
def stack_schema() -> dict[str, Any]:
    """The JSON Schema of stack.yaml, the one editors use through `# yaml-language-server: $schema=...`."""
    return dict(json.loads(resources.files("deployer").joinpath("data/stack.schema.json").read_text()))


def check_schema(doc: YamlDoc) -> list[Diagnostic]:
    validator = jsonschema.Draft202012Validator(stack_schema())
    problems = []
    for error in sorted(validator.iter_errors(doc.data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = tuple(error.absolute_path)
        problems.append(Diagnostic(doc.file, doc.line_of(path), format_path(path),
                                   f"does not match the stack schema: {error.message}",
                                   "see deployer/data/stack.schema.json"))
    return problems


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def template_search_path(stack_dir: Path) -> list[Path]:
    """Where ``template:`` files are looked up: the stack directory, then the nearest ``templates/`` library,
    then the templates that ship with the package.

    The shipped ones are ``deployer/templates``: in a checkout a link to the top-level ``templates/``, in a
    wheel a copy of it (package data), so an installed ``stack`` finds them from any directory."""
    places = [stack_dir.resolve()]
    for parent in [stack_dir.resolve(), *stack_dir.resolve().parents]:
        if (parent / TEMPLATE_LIBRARY).is_dir():
            places.append(parent / TEMPLATE_LIBRARY)
            break
    bundled = (Path(__file__).parent / TEMPLATE_LIBRARY).resolve()
    if bundled.is_dir() and bundled not in places:
        places.append(bundled)
    return places


class _Reader:
    def __init__(self, doc: YamlDoc, root: Path, stack_file: Path) -> None:
        self.doc = doc
        self.root = root
        self.stack_file = stack_file
        self.templates_read: list[Path] = []
        self.problems: list[Diagnostic] = []

    def problem(self, doc: YamlDoc, path: KeyPath, message: str, fix: str = "") -> None:
        self.problems.append(Diagnostic(doc.file, doc.line_of(path), format_path(path), message, fix))

    def read(self) -> Manifest | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.problem(self.doc, (), "the manifest must be a mapping with 'name' and 'resources'",
                         "start from `stack skeleton AWS::AppFlow::ConnectorProfile`")
            return None
        for key in data:
            if key not in _TOP_KEYS:
                self.problem(self.doc, (key,), "unknown key", suggest(str(key), list(_TOP_KEYS)))
        if data.get("version", 1) != 1:
            self.problem(self.doc, ("version",), f"unsupported manifest version {data.get('version')!r}",
                         "use version: 1")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            self.problem(self.doc, ("name",), "the stack needs a name", "add name: my-stack")
            name = ""
        description = data.get("description") or ""
        stack_globals = self.read_globals(data.get("globals") or [])
        resources_raw = data.get("resources")
        if not isinstance(resources_raw, list):
            self.problem(self.doc, ("resources",), "resources must be a list", "add resources: with - name: ... items")
            resources_raw = []
        resources = tuple(
            r for r in (self.read_resource(i, item) for i, item in enumerate(resources_raw)) if r is not None
        )
        seen: dict[str, int] = {}
        for resource in resources:
            if resource.name in seen:
                self.problem(self.doc, ("resources", resource.index, "name"),
                             f"duplicate resource name '{resource.name}' (also resources[{seen[resource.name]}])",
                             "give each resource its own name")
            seen.setdefault(resource.name, resource.index)
        retries = self.read_retries(data.get("retries"))
        sensitive = self.read_names(data.get("sensitive"), ("sensitive",))
        state = data.get("state")
        if state is not None and not isinstance(state, str):
            self.problem(self.doc, ("state",), "state must be a location", "state: s3://my-bucket/stacks")
            state = None
        moved = self.read_moved(data.get("moved"), {r.name for r in resources})
        outputs = self.read_outputs(data.get("outputs"))
        variables, defaults, secret = self.read_variables(data.get("variables"))
        sensitive = tuple(dict.fromkeys((*sensitive, *secret)))
        return Manifest(self.root, self.doc, name, str(description), stack_globals, resources, retries, sensitive,
                        state, (self.stack_file, *dict.fromkeys(self.templates_read)), moved, outputs, defaults,
                        variables)

    def read_variables(self, value: Any) -> tuple[tuple[VariableSpec, ...], dict[str, Any], tuple[str, ...]]:
        """``variables: [{name, description?, default?, sensitive?, allowed_values?, allowed_pattern?, min_length?,
        max_length?, min_value?, max_value?}]``: the declared variables, their defaults, the sensitive ones."""
        if value is None:
            return (), {}, ()
        example = "variables:\n  - name: Env\n    default: dev\n    allowed_values: [dev, prod]"
        if not isinstance(value, list):
            self.problem(self.doc, ("variables",), "variables must be a list of declarations", example)
            return (), {}, ()
        found: list[VariableSpec] = []
        defaults: dict[str, Any] = {}
        secret: list[str] = []
        for index, item in enumerate(value):
            path: KeyPath = ("variables", index)
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                self.problem(self.doc, path, "each variable needs a name", example)
                continue
            for key in item:
                if key not in _VARIABLE_KEYS:
                    self.problem(self.doc, (*path, key), "unknown key", suggest(str(key), list(_VARIABLE_KEYS)))
            numbers: dict[str, Any] = {}
            for key in ("min_length", "max_length", "min_value", "max_value"):
                number = item.get(key)
                wanted = int if key.endswith("length") else (int, float)
                if number is not None and (isinstance(number, bool) or not isinstance(number, wanted)):
                    self.problem(self.doc, (*path, key), f"{key} must be a number")
                    number = None
                numbers[key] = number
            allowed = item.get("allowed_values")
            if allowed is not None and not isinstance(allowed, list):
                self.problem(self.doc, (*path, "allowed_values"), "allowed_values must be a list")
                allowed = None
            pattern = item.get("allowed_pattern")
            if pattern is not None and not isinstance(pattern, str):
                self.problem(self.doc, (*path, "allowed_pattern"), "allowed_pattern must be a regular expression")
                pattern = None
            if "default" in item:
                defaults[item["name"]] = item["default"]
            if item.get("sensitive") is True:
                secret.append(item["name"])
            found.append(VariableSpec(item["name"], Raw(item, self.doc, path), str(item.get("description") or ""),
                                      tuple(allowed) if allowed is not None else None, pattern, **numbers))
        return tuple(found), defaults, tuple(secret)

    def read_outputs(self, value: Any) -> tuple[OutputSpec, ...]:
        """``outputs: [{name, value, description?, sensitive?, export?}]``."""
        if value is None:
            return ()
        example = "outputs:\n  - name: BucketArn\n    value: '{{ resources.bucket.Arn }}'"
        if not isinstance(value, list):
            self.problem(self.doc, ("outputs",), "outputs must be a list of name/value entries", example)
            return ()
        found: list[OutputSpec] = []
        names: set[str] = set()
        for index, item in enumerate(value):
            path: KeyPath = ("outputs", index)
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or "value" not in item:
                self.problem(self.doc, path, "each output needs a name and a value", example)
                continue
            for key in item:
                if key not in ("name", "value", "description", "sensitive", "export"):
                    self.problem(self.doc, (*path, key), "unknown key",
                                 suggest(str(key), ["name", "value", "description", "sensitive", "export"]))
            name = item["name"]
            if not OUTPUT_NAME.match(name):
                self.problem(self.doc, (*path, "name"), f"'{name}' is not a valid output name",
                             "use letters, digits and underscores, starting with a letter")
            if name in names:
                self.problem(self.doc, (*path, "name"), f"output '{name}' is set twice", "keep one")
            names.add(name)
            sensitive = item.get("sensitive", False)
            if not isinstance(sensitive, bool):
                self.problem(self.doc, (*path, "sensitive"), "sensitive must be true or false")
            export = item.get("export")
            if export is not None and not isinstance(export, str):
                self.problem(self.doc, (*path, "export"), "export must be a name")
                export = None
            found.append(OutputSpec(name, Raw(item["value"], self.doc, (*path, "value")),
                                    str(item.get("description") or ""), sensitive is True, export))
        return tuple(found)

    def read_moved(self, value: Any, names: set[str]) -> tuple[tuple[str, str], ...]:
        """``moved: [{from: OLD, to: NEW}]``: NEW is a resource of the manifest, OLD no longer is."""
        if value is None:
            return ()
        example = "moved:\n  - from: old_name\n    to: new_name"
        if not isinstance(value, list):
            self.problem(self.doc, ("moved",), "moved must be a list of from/to entries", example)
            return ()
        found: list[tuple[str, str]] = []
        for index, item in enumerate(value):
            path: KeyPath = ("moved", index)
            if not isinstance(item, dict) or set(item) != {"from", "to"} or not all(
                    isinstance(item[k], str) and RESOURCE_NAME.match(item[k]) for k in ("from", "to")):
                self.problem(self.doc, path, "each moved entry is {from: OLD_NAME, to: NEW_NAME}, two resource names",
                             example)
                continue
            old, new = item["from"], item["to"]
            if new not in names:
                self.problem(self.doc, (*path, "to"), f"'{new}' is not a resource of this stack",
                             suggest(new, sorted(names)) or "name the resource's new name")
            elif old in names:
                self.problem(self.doc, (*path, "from"), f"'{old}' is still a resource of this stack",
                             "a move renames a resource: remove or rename the old one in resources")
            elif old in (o for o, _ in found) or new in (n for _, n in found):
                self.problem(self.doc, path, f"'{old}' or '{new}' is in more than one moved entry", "keep one")
            else:
                found.append((old, new))
        return tuple(found)

    def read_retries(self, value: Any) -> dict[str, float]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(self.doc, ("retries",), "retries must be a mapping",
                         "retries: {max_attempts: 8, max_wait: 20}")
            return {}
        found: dict[str, float] = {}
        for key, item in value.items():
            if key not in _RETRY_KEYS:
                self.problem(self.doc, ("retries", key), "unknown key", suggest(str(key), list(_RETRY_KEYS)))
            elif (isinstance(item, bool) or not isinstance(item, (int, float)) or not _finite(item)
                  or (key == "max_attempts" and not isinstance(item, int))
                  or item < (1 if key == "max_attempts" else 0)):
                self.problem(self.doc, ("retries", key), f"{item!r} is not allowed here",
                             "max_attempts is a whole number of at least 1, max_wait seconds of 0 or more")
            else:
                found[key] = float(item)
        return found

    def read_globals(self, items: Any) -> tuple[GlobalSpec, ...]:
        if not isinstance(items, list):
            self.problem(self.doc, ("globals",), "globals must be a list of name/value items")
            return ()
        found = []
        for index, item in enumerate(items):
            path = ("globals", index)
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or "value" not in item:
                self.problem(self.doc, path, "each global needs a name and a value",
                             "- name: region\n  value: us-east-1")
                continue
            found.append(GlobalSpec(item["name"], Raw(item["value"], self.doc, (*path, "value"))))
        return tuple(found)

    def read_resource(self, index: int, item: Any) -> ResourceSpec | None:
        path: KeyPath = ("resources", index)
        if not isinstance(item, dict):
            self.problem(self.doc, path, "each resource must be a mapping with name, type and props")
            return None
        for key in item:
            if key not in _RESOURCE_KEYS:
                self.problem(self.doc, (*path, key), "unknown resource key", suggest(str(key), list(_RESOURCE_KEYS)))
        name = item.get("name")
        if not isinstance(name, str) or not RESOURCE_NAME.match(name):
            self.problem(self.doc, (*path, "name"), f"resource name {name!r} is not a valid name",
                         "use letters, digits and underscores, starting with a letter (it is used as resources.NAME)")
            return None
        resource_type = self.read_type(item.get("type"), (*path, "type"))
        props = self.read_props(self.doc, item.get("props"), (*path, "props"), required=not item.get("template"))
        if item.get("template") is not None:
            props = self.merge_template(item["template"], (*path, "template"), props)
        policy = item.get("DeletionPolicy", "Delete")
        if policy not in ("Delete", "Retain"):
            self.problem(self.doc, (*path, "DeletionPolicy"), f"unknown DeletionPolicy {policy!r}",
                         "use Retain (destroy forgets the resource) or Delete")
        prevent = item.get("prevent_destroy")
        if prevent is not None and not isinstance(prevent, (bool, str)):
            self.problem(self.doc, (*path, "prevent_destroy"), "must be true, false or a Jinja expression",
                         "for example: prevent_destroy: \"{{ stack_env == 'prod' }}\"")
        template_vars = item.get("vars") or {}
        if not isinstance(template_vars, dict):
            self.problem(self.doc, (*path, "vars"), "vars must be a mapping of names to values")
            template_vars = {}
        return ResourceSpec(
            index=index,
            name=name,
            type=resource_type,
            props=props,
            exports=self.read_names(item.get("exports"), (*path, "exports")),
            depends_on=self.read_names(item.get("depends_on"), (*path, "depends_on")),
            condition=Raw(item["if"], self.doc, (*path, "if")) if "if" in item else None,
            template_vars={k: Raw(v, self.doc, (*path, "vars", k)) for k, v in template_vars.items()},
            retain=policy == "Retain",
            prevent_destroy=Raw(prevent, self.doc, (*path, "prevent_destroy")) if prevent is not None else None,
            origin=Raw(item, self.doc, path),
        )

    def read_type(self, value: Any, path: KeyPath) -> str:
        if value is None:
            return SUPPORTED_TYPES[0]  # stack-deploy manifests carry no type; the resource is a connector profile
        if not isinstance(value, str):
            self.problem(self.doc, path, f"a resource type must be text, not {value!r}",
                         "write a CloudFormation type such as AWS::S3::Bucket")
            return str(value)
        resolved = TYPE_ALIASES.get(value, value)
        if resolved in SUPPORTED_TYPES:
            return resolved
        try:
            found = type_schema(value)
        except StackError as error:  # UnknownType: says what it expected, with did-you-mean
            self.problem(self.doc, path, str(error).split("; ")[0], "; ".join(str(error).split("; ")[1:]))
            return value
        if not found.provisionable:
            self.problem(self.doc, path, f"{found.type_name} cannot be deployed: {found.why_not}",
                         "deploy it with CloudFormation, or use another type")
        return found.type_name

    def read_names(self, value: Any, path: KeyPath) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(self.doc, path, "must be a list of names")
            return ()
        return tuple(value)

    def read_props(self, doc: YamlDoc, value: Any, path: KeyPath, *, required: bool) -> tuple[PropSpec, ...]:
        if value is None:
            if required:
                self.problem(doc, path, "the resource has no props", "add props: with - name: ... value: ... items")
            return ()
        if not isinstance(value, list):
            self.problem(doc, path, "props must be a list of name/value items",
                         "write - name: ConnectorType\n  value: Salesforce")
            return ()
        found: list[PropSpec] = []
        names: set[str] = set()
        for index, item in enumerate(value):
            item_path = (*path, index)
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                self.problem(doc, item_path, "each prop needs a name and a value (or values per environment)")
                continue
            prop_name = item["name"]
            extra = [k for k in item if k not in ("name", "value", "values", "description")]
            for key in extra:
                self.problem(doc, (*item_path, key), "unknown prop key", suggest(str(key), ["value", "values"]))
            if prop_name in names:
                self.problem(doc, item_path, f"prop '{prop_name}' is set twice", "keep one")
            names.add(prop_name)
            if "values" in item:
                by_env = self.read_env_values(doc, item["values"], (*item_path, "values"))
                found.append(PropSpec(prop_name, None, by_env))
            elif "value" in item:
                found.append(PropSpec(prop_name, Raw(item["value"], doc, (*item_path, "value"))))
            else:
                self.problem(doc, item_path, f"prop '{prop_name}' has no value", "add value: or values:")
        return tuple(found)

    def read_env_values(self, doc: YamlDoc, value: Any, path: KeyPath) -> dict[str, Raw]:
        if not isinstance(value, dict) or not value:
            self.problem(doc, path, "values must map environment names to {value: ...}",
                         "values:\n  prod: {value: Private}\n  default: {value: Public}")
            return {}
        found: dict[str, Raw] = {}
        for env, entry in value.items():
            if not isinstance(entry, dict) or "value" not in entry:
                self.problem(doc, (*path, env), "each environment entry needs a value", f"{env}: {{value: ...}}")
                continue
            found[str(env)] = Raw(entry["value"], doc, (*path, env, "value"))
        return found

    def merge_template(self, name: Any, path: KeyPath, own: tuple[PropSpec, ...]) -> tuple[PropSpec, ...]:
        """Props from a template file, overridden by the resource's own props of the same name."""
        if not isinstance(name, str):
            self.problem(self.doc, path, "template must be a file name")
            return own
        places = template_search_path(self.root)
        if Path(name).is_absolute() or ".." in Path(name).parts:
            self.problem(self.doc, path, f"template path '{name}' leaves the stack directory and the templates/ "
                         "library", "name a file in the stack directory or in templates/, without .. or a leading /")
            return own
        found = _find_template(name, places)
        if found is None:
            where = ", ".join(_display(p) for p in places)
            self.problem(self.doc, path, f"template '{name}' not found (looked in {where})",
                         "check the name, or put the file in the stack directory or templates/")
            return own
        try:
            template_doc = load_yaml(found, _display(found))
            self.templates_read.append(found)
        except ManifestError as error:
            self.problems += error.diagnostics
            return own
        data = template_doc.data
        if not isinstance(data, dict) or "props" not in data:
            self.problem(template_doc, (), "a template holds props: a list of name/value items")
            return own
        from_template = self.read_props(template_doc, data["props"], ("props",), required=True)
        overridden = {p.name for p in own}
        return tuple(p for p in from_template if p.name not in overridden) + own


def _finite(number: float) -> bool:
    """Not nan or infinite, and within a float's range (YAML integers have any number of digits)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def _find_template(name: str, places: list[Path]) -> Path | None:
    for place in places:
        candidate = (place / name).resolve()
        inside = candidate == place or place in candidate.parents
        if inside and candidate.is_file():
            return candidate
    return None
