"""A stackql-deploy project (``stackql_manifest.yml``, ``resources/*.iql``, ``.env``) as a stack: ``stack convert``.

Each resource's type and CloudFormation properties come from the ``INSERT INTO provider.service.resource (columns)
SELECT values`` of its ``create`` anchor: the columns are property names (awscc's PascalCase kept, snake_case
matched against the type's schema), the values keep their Jinja, and a quoted JSON literal becomes YAML. A prop
with one ``value`` becomes a global (globals are rendered, so its Jinja still works); per-environment ``values``
become variables in ``environments/ENV.yaml``. An export becomes ``resources.NAME.Attribute`` wherever a later
resource reads it, when the column it selects is one of the type's read-only attributes or identifiers. The
``.env`` file's names become variables the stack reads from the process environment; its values are never
written (only ``AWS_REGION``, the region global's default, is). Everything the stack cannot express (lookups
beyond the resource's own columns, computed exports, query/multi/script resources, StackQL request fields) is
a line of ``Converted.report``, never dropped silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deployer.errors import StackError
from deployer.registry import TypeSchema, UnknownType, type_schema
from deployer.secrets import looks_secret
from deployer.sources import Converted

MANIFEST_NAMES = ("stackql_manifest.yml", "stackql_manifest.yaml")
_ANCHOR = re.compile(r"/\*\+\s*([A-Za-z_]+)\s*(?:,([^*]*))?\*/")
_INSERT = re.compile(r"INSERT\s+INTO\s+([\w.]+)\s*\((.*?)\)\s*(SELECT|VALUES)\b(.*)", re.IGNORECASE | re.DOTALL)
_PROVIDER_ID = re.compile(r"^(aws|awscc)\.[a-z0-9_]+\.[a-z0-9_]+$")
_COUNT_QUERY = re.compile(r"SELECT\s+COUNT\(\s*\*\s*\)(?:\s+AS\s+\w+)?\s+FROM\s+([\w.]+)\s+WHERE\s+(.*)",
                          re.IGNORECASE | re.DOTALL)
_SELECT_QUERY = re.compile(r"SELECT\s+(.*?)\s+FROM\s+([\w.]+)(?:\s+WHERE\s+(.*))?$", re.IGNORECASE | re.DOTALL)
_DELETE_QUERY = re.compile(r"DELETE\s+FROM\s+([\w.]+)\s+WHERE\s+(.*)", re.IGNORECASE | re.DOTALL)
_SELECT_ITEM = re.compile(r"^(\w+)(?:\s+AS\s+(\w+))?$", re.IGNORECASE)
_CONDITION = re.compile(r"^(\w+)\s*=\s*(.+)$", re.DOTALL)
_JINJA_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_SINGLE_EXPRESSION = re.compile(r"^\{\{(.*?)\}\}$", re.DOTALL)
_TOJSON = re.compile(r"^\s*(.*?)\s*\|\s*tojson\s*$", re.DOTALL)
_SQL_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_LOOKUP_COLUMNS = {"region", "data__identifier"}  # what names a resource itself, whatever its type
_SELF_DESCRIBED = {"create", "createorupdate", "statecheck", "exists", "exports", "delete"}


@dataclass
class _Stack:
    """What the conversion builds up, resource by resource."""

    root: Path
    report: list[str] = field(default_factory=list)
    globals: list[dict[str, Any]] = field(default_factory=list)
    global_values: dict[str, Any] = field(default_factory=dict)  # global name -> its (unrendered) value
    env_vars: dict[str, dict[str, Any]] = field(default_factory=dict)  # env -> variable -> value
    taken: dict[str, str] = field(default_factory=dict)  # variable or global name -> its definition, as JSON
    exported: dict[str, str] = field(default_factory=dict)  # export name -> the Jinja expression it stands for
    sensitive: list[str] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)


def convert_stackql(project_dir: Path) -> Converted:
    """The stack for the stackql-deploy project in ``project_dir``; StackError when it has no manifest."""
    manifest_path = next((project_dir / n for n in MANIFEST_NAMES if (project_dir / n).is_file()), None)
    if manifest_path is None:
        raise StackError(f"{project_dir}: no {MANIFEST_NAMES[0]}; is this a stackql-deploy project?")
    data = yaml.safe_load(manifest_path.read_text()) or {}
    if not isinstance(data, dict):
        raise StackError(f"{manifest_path}: a stackql-deploy manifest is a mapping")
    stack = _Stack(project_dir)
    dotenv = _read_dotenv(project_dir / ".env")
    stack.taken.update(dict.fromkeys(dotenv, '".env"'))
    _convert_globals(stack, data.get("globals") or [], dotenv)
    for index, resource in enumerate(data.get("resources") or []):
        if isinstance(resource, dict) and isinstance(resource.get("name"), str):
            _convert_resource(stack, manifest_path.name, resource)
        else:
            stack.report.append(f"{manifest_path.name} resources[{index}]: a resource without a name; not converted")
    _convert_dotenv(stack, dotenv)

    document: dict[str, Any] = {"version": 1, "name": data.get("name") or project_dir.name}
    if data.get("description"):
        document["description"] = data["description"]
    document["providers"] = ["aws"]
    if stack.globals:
        document["globals"] = stack.globals
    if stack.sensitive:
        document["sensitive"] = stack.sensitive
    document["resources"] = stack.resources
    header = f"# Converted by `stack convert` from the stackql-deploy project {project_dir.name}.\n"
    environments = {env: _dump(values) for env, values in stack.env_vars.items()}
    return Converted(header + _dump(document), environments, tuple(stack.report))


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a merged global is written out in full, never as a YAML anchor a reader has to chase


def _dump(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=120)


# --- globals, props, .env ---------------------------------------------------------------------------------------

def _read_dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        found[name.strip()] = value.strip().strip("'\"")
    return found


def _convert_globals(stack: _Stack, items: list[Any], dotenv: dict[str, str]) -> None:
    region = dotenv.get("AWS_REGION")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue  # stackql-deploy itself refuses such a manifest
        name, value = item["name"], item.get("value")
        if name == "region" and region and _single_expression(value) == "AWS_REGION":
            value = _jinja(f"AWS_REGION | default({json.dumps(region)})")
        _add_global(stack, name, value, item.get("description"))
    if "region" not in stack.global_values and region:
        value = _jinja(f"AWS_REGION | default({json.dumps(region)})")
        stack.globals.insert(0, {"name": "region", "value": value})
        stack.global_values["region"] = value
        stack.taken["region"] = _definition({"": value})


def _add_global(stack: _Stack, name: str, value: Any, description: str | None = None) -> None:
    item: dict[str, Any] = {"name": name, "value": value}
    if description:
        item["description"] = description
    stack.globals.append(item)
    stack.global_values[name] = value
    stack.taken[name] = _definition({"": value})


def _definition(by_env: dict[str, Any]) -> str:
    """What two props of one name must share to be one variable: their values in every environment."""
    return json.dumps(by_env, sort_keys=True)


def _convert_props(stack: _Stack, where: str, resource: str, props: list[Any]) -> dict[str, str]:
    """Each prop as a global or per-environment variables; returns the props renamed to avoid a clash."""
    renamed: dict[str, str] = {}
    for prop in props:
        if not isinstance(prop, dict) or not isinstance(prop.get("name"), str):
            stack.report.append(f"{where} resources.{resource}.props: a prop without a name; not converted")
            continue
        name = prop["name"]
        if "values" in prop:
            by_env = {env: (entry or {}).get("value") for env, entry in (prop["values"] or {}).items()}
        else:
            by_env = {"": prop.get("value")}
        merged = {env: _merged(stack, where, resource, name, value, prop.get("merge") or [])
                  for env, value in by_env.items()}
        definition = _definition(merged)
        target = name
        if name in stack.taken and stack.taken[name] != definition:
            target = renamed[name] = f"{resource}_{name}"
        if target in stack.taken:
            continue  # the same prop in another resource: one variable serves both
        stack.taken[target] = definition
        reads_exports = _names_read(merged) & stack.exported.keys()
        if reads_exports:
            stack.report.append(f"{where} resources.{resource}.props.{name}: reads the export "
                                f"{sorted(reads_exports)[0]}; a variable cannot read a resource, "
                                "write the reference into the property instead")
        if "" in merged:
            _add_global(stack, target, merged[""], prop.get("description"))
            continue
        with_jinja = sorted(env for env, value in merged.items() if _has_jinja(value))
        if with_jinja:
            stack.report.append(f"{where} resources.{resource}.props.{name}: the value for {with_jinja[0]} is a "
                                "template; environments/ENV.yaml is not rendered, so it is written as text")
        for env, value in merged.items():
            stack.env_vars.setdefault(env, {})[target] = value
    return renamed


def _merged(stack: _Stack, where: str, resource: str, name: str, value: Any, merge: list[str]) -> Any:
    """stackql-deploy's ``merge``: a list prop followed by each global's list, or a mapping updated by each's."""
    for global_name in merge:
        extra = stack.global_values.get(global_name)
        if isinstance(value, list) and isinstance(extra, list):
            value = value + extra
        elif isinstance(value, dict) and isinstance(extra, dict):
            value = {**extra, **value}
        else:
            stack.report.append(f"{where} resources.{resource}.props.{name}: merge of {global_name} not converted: "
                                "only a list with a list, or a mapping with a mapping, merge")
    return value


def _convert_dotenv(stack: _Stack, dotenv: dict[str, str]) -> None:
    for name in dotenv:
        if name == "AWS_REGION" and "region" in stack.global_values:
            stack.report.append(f".env: AWS_REGION={dotenv[name]} is the region global's default")
            continue
        secret = looks_secret(name)
        if secret and name not in stack.sensitive:
            stack.sensitive.append(name)
        stack.report.append(f".env: {name} is not copied{' (sensitive)' if secret else ''}; stack reads it from "
                            f"the environment: STACK_VAR_{name}=... or -e {name}=...")


# --- resources --------------------------------------------------------------------------------------------------

def _convert_resource(stack: _Stack, manifest_name: str, resource: dict[str, Any]) -> None:
    name = str(resource["name"])
    where = manifest_name
    kind = resource.get("type", "resource")
    if kind != "resource":
        exports = ", ".join(resource.get("exports") or [])
        also = f"; set its exports ({exports}) with -e NAME=VALUE or STACK_VAR_NAME" if exports else ""
        stack.report.append(f"{where} resources.{name}: type {kind} not converted{also}")
        return
    renamed = _convert_props(stack, where, name, resource.get("props") or [])
    for protected in resource.get("protected") or []:
        target = renamed.get(protected, protected)
        if target in stack.taken and target not in stack.sensitive:
            stack.sensitive.append(target)
        elif target not in stack.taken:
            stack.report.append(f"{where} resources.{name}.protected: {protected} is not a prop; "
                                "only variables can be sensitive")
    iql_name = resource.get("file") or f"{name}.iql"
    iql_path = stack.root / "resources" / iql_name
    source = f"resources/{iql_name}"
    if not iql_path.is_file():
        stack.report.append(f"{where} resources.{name}: {source} not found; resource not converted")
        return
    anchors = dict(_anchors(iql_path.read_text()))
    create = anchors.get("create") or anchors.get("createorupdate")
    insert = _INSERT.match(create or "")
    if insert is None:
        stack.report.append(f"{source}: no /*+ create */ INSERT INTO ... SELECT; resource not converted")
        return
    provider_id, columns, keyword, rest = insert.groups()
    if not _PROVIDER_ID.match(provider_id):
        stack.report.append(f"{source} /*+ create */: {provider_id} is not an aws or awscc resource; "
                            "resource not converted")
        return
    try:
        schema = type_schema(provider_id)
    except UnknownType as error:
        stack.report.append(f"{source} /*+ create */: {error}; resource not converted")
        return
    rewrite = {**stack.exported, **renamed}
    spec: dict[str, Any] = {"name": name, "type": provider_id}
    if resource.get("if") is not None:
        spec["if"] = _rewritten(resource["if"], rewrite)
        if _single_expression(resource["if"]) is None:
            stack.report.append(f"{where} resources.{name}.if: stack evaluates it as a Jinja expression; check it "
                                "still means the same")
    props, set_from = _create_props(stack, source, schema, columns, keyword, rest, rewrite)
    spec["props"] = props
    stack.resources.append(spec)
    _convert_exports(stack, source, name, schema, anchors.get("exports"), resource.get("exports") or [], set_from)
    _check_lookups(stack, source, provider_id, schema, anchors)


def _anchors(text: str) -> Iterator[tuple[str, str]]:
    matches = list(_ANCHOR.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        yield match.group(1).lower(), text[match.end():end].strip().rstrip(";").strip()


def _create_props(stack: _Stack, source: str, schema: TypeSchema, columns: str, keyword: str, rest: str,
                  rewrite: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The props of the INSERT, and each property's value (for exports that read a property back)."""
    where = f"{source} /*+ create */"
    names = [column.strip() for column in columns.split(",")]
    rest = rest.strip()
    if keyword.upper() == "VALUES":
        rest = rest.removeprefix("(").removesuffix(")")
    values = _split(rest, ",")
    tail = _split(values[-1], "FROM")
    if len(tail) > 1:
        values[-1] = tail[0]
        stack.report.append(f"{where}: FROM {tail[1].strip()} not converted: the values are taken as written")
    if len(values) != len(names):
        stack.report.append(f"{where}: {len(names)} columns but {len(values)} values; resource not converted")
        return [], {}
    props: list[dict[str, Any]] = []
    set_from: dict[str, Any] = {}
    for column, sql in zip(names, values, strict=True):
        value, problem = _sql_value(sql.strip())
        if problem:
            stack.report.append(f"{where}: column {column} not converted: {problem}")
            continue
        value = _rewritten(value, rewrite)
        if column.lower().startswith("data__"):
            stack.report.append(f"{where}: column {column} dropped: a StackQL request field, "
                                f"not a property of {schema.type_name}")
        elif column == "region":
            if not _same_region(value, stack):
                props.append({"name": "region", "value": value})
        elif (prop := _property_for(column, schema)) is None:
            stack.report.append(f"{where}: column {column} dropped: {schema.type_name} has no such property")
        else:
            props.append({"name": prop, "value": value})
            set_from[prop] = value
    return props, set_from


def _same_region(value: Any, stack: _Stack) -> bool:
    region = stack.global_values.get("region")
    return value == region or _single_expression(value) == "region"


def _property_for(column: str, schema: TypeSchema) -> str | None:
    if column in schema.properties:
        return column
    return next((name for name in sorted(schema.properties) if _snake(name) == column.lower()), None)


def _attribute_for(column: str, schema: TypeSchema) -> str | None:
    """The read-only attribute or identifier that a column names (``vpc_id`` -> ``VpcId``)."""
    pointers = schema.read_only + schema.primary_identifier
    names = sorted({p.split("/")[2] for p in pointers if p.count("/") == 2})
    return next((name for name in names if name == column or _snake(name) == column.lower()), None)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _convert_exports(stack: _Stack, source: str, resource: str, schema: TypeSchema, query: str | None,
                     exports: list[str], set_from: dict[str, Any]) -> None:
    where = f"{source} /*+ exports */"
    selected: dict[str, str] = {}  # export name -> the column it selects
    computed: dict[str, str] = {}  # export name -> the SQL expression it is computed by
    if query:
        match = _SELECT_QUERY.match(query)
        items = _split(match.group(1), ",") if match else []
        for item in items:
            simple = _SELECT_ITEM.match(item.strip())
            if simple:
                column, alias = simple.groups()
                selected[alias or column] = column
            else:
                parts = _split(item.strip(), "AS")
                computed[parts[-1].strip()] = parts[0].strip()
        if match is None:
            stack.report.append(f"{where}: not converted: more than a selection of columns")
    for export in exports:
        if export in computed:
            stack.report.append(f"{where}: {export} not converted: {computed[export]} is more than a column; "
                                f"read an attribute as resources.{resource}.NAME instead")
            continue
        column = selected.get(export, export)
        attribute = _attribute_for(column, schema)
        prop = _property_for(column, schema)
        if attribute is not None:
            stack.exported[export] = f"resources.{resource}.{attribute}"
        elif prop in set_from and (expression := _single_expression(set_from[prop])) is not None:
            if expression != export:
                stack.exported[export] = expression
        else:
            stack.report.append(f"{where}: {export} not converted: {column} is not an attribute of "
                                f"{schema.type_name}; references to {{{{ {export} }}}} are left as a variable")


def _check_lookups(stack: _Stack, source: str, provider_id: str, schema: TypeSchema, anchors: dict[str, str]) -> None:
    """exists, statecheck and delete are what stack does from its state when they only name the resource itself."""
    for anchor, query in anchors.items():
        where = f"{source} /*+ {anchor} */"
        if anchor in ("exists", "statecheck"):
            match = _COUNT_QUERY.match(query)
            if not (match and match.group(1) == provider_id and _own_columns(match.group(2), schema)):
                stack.report.append(f"{where}: not converted: more than a lookup by the resource's own columns; "
                                    "stack finds the resource in its state and compares every property")
        elif anchor == "delete":
            match = _DELETE_QUERY.match(query)
            conditions = _conditions(match.group(2)) if match and match.group(1) == provider_id else None
            if conditions is None or {c.lower() for c in conditions} - _LOOKUP_COLUMNS:
                stack.report.append(f"{where}: not converted: stack deletes the resource by its identifier")
        elif anchor == "update":
            stack.report.append(f"{where}: not converted: stack updates in place from the plan's differences")
        elif anchor not in _SELF_DESCRIBED:
            stack.report.append(f"{where}: not converted: an anchor stack does not know")


def _own_columns(where: str, schema: TypeSchema) -> bool:
    conditions = _conditions(where)
    return conditions is not None and all(
        column.lower() in _LOOKUP_COLUMNS or _property_for(column, schema) or _attribute_for(column, schema)
        for column in conditions)


def _conditions(where: str) -> list[str] | None:
    """The columns of ``a = x AND b = y``; None for anything else."""
    columns = []
    for condition in _split(where, " AND "):
        match = _CONDITION.match(condition.strip())
        if match is None or _sql_value(match.group(2).strip())[1]:
            return None
        columns.append(match.group(1))
    return columns


# --- SQL values and Jinja -------------------------------------------------------------------------------------

def _split(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` (``,``, ``||`` or a keyword such as ``AND``, in any case) outside quotes,
    brackets and Jinja blocks."""
    if separator.isalpha():
        at = re.compile(rf"\s+{separator}\s+", re.IGNORECASE)
    else:
        at = re.compile(re.escape(separator))
    parts: list[str] = []
    depth, quoted, start, index = 0, False, 0, 0
    while index < len(text):
        if text.startswith(("{{", "{%"), index):
            close = text.find("}}" if text[index + 1] == "{" else "%}", index)
            index = len(text) if close < 0 else close + 2
            continue
        char = text[index]
        found = None if quoted or depth else at.match(text, index)
        if found:
            parts.append(text[start:index])
            index = start = found.end()
            continue
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        index += 1
    parts.append(text[start:])
    return parts


def _sql_value(sql: str) -> tuple[Any, str]:
    """A SELECT value as YAML, or an empty value and why it cannot be."""
    if len(sql) >= 2 and sql[0] == sql[-1] == "'" and len(_split(sql, "||")) == 1:
        return _text_value(sql[1:-1].replace("''", "'")), ""
    if _SINGLE_EXPRESSION.match(sql):
        return _text_value(sql), ""
    lowered = sql.lower()
    if lowered in ("true", "false"):
        return lowered == "true", ""
    if lowered == "null":
        return None, ""
    if _SQL_NUMBER.match(sql):
        return json.loads(sql), ""
    return None, f"{sql} is SQL, not a value"


def _text_value(text: str) -> Any:
    """A quoted SQL string: one Jinja expression (``| tojson`` dropped: stack keeps the value's type), JSON with
    Jinja in it parsed into YAML, or the text itself."""
    expression = _single_expression(text)
    if expression is not None:
        return _jinja(expression)
    if text.strip()[:1] in ("[", "{"):
        parsed = _json_with_jinja(text.strip())
        if parsed is not None:
            return parsed
    return text


def _jinja(expression: str) -> str:
    return "{{ " + expression + " }}"


def _single_expression(value: Any) -> str | None:
    """``x`` for ``'{{ x }}'`` or ``'{{ x | tojson }}'``; None for anything else."""
    if not isinstance(value, str):
        return None
    match = _SINGLE_EXPRESSION.match(value.strip())
    if match is None or "}}" in match.group(1) or "{{" in match.group(1):
        return None
    inner = match.group(1).strip()
    tojson = _TOJSON.match(inner)
    return tojson.group(1) if tojson else inner


def _json_with_jinja(text: str) -> Any:
    """JSON whose strings (or whole values, ``{{ x | tojson }}``) are Jinja, as YAML; None if it is not JSON."""
    blocks: list[str] = []
    out, index, in_string = [], 0, False
    while index < len(text):
        if text.startswith(("{{", "{%"), index):
            close = text.find("}}" if text[index + 1] == "{" else "%}", index)
            if close < 0:
                return None
            blocks.append(text[index:close + 2])
            token = f"\x00{len(blocks) - 1}\x00"
            out.append(token if in_string else json.dumps(token))
            index = close + 2
            continue
        char = text[index]
        if char == "\\" and in_string:
            out.append(text[index:index + 2])
            index += 2
            continue
        if char == '"':
            in_string = not in_string
        out.append(char)
        index += 1
    try:
        parsed = json.loads("".join(out).replace("\x00", "\\u0000"))
    except ValueError:
        return None

    def restore(value: Any) -> Any:
        if isinstance(value, str):
            whole = re.fullmatch("\x00(\\d+)\x00", value)
            if whole:
                expression = _single_expression(blocks[int(whole.group(1))])
                return _jinja(expression) if expression is not None else blocks[int(whole.group(1))]
            return re.sub("\x00(\\d+)\x00", lambda m: blocks[int(m.group(1))], value)
        if isinstance(value, list):
            return [restore(item) for item in value]
        if isinstance(value, dict):
            return {key: restore(item) for key, item in value.items()}
        return value

    return restore(parsed)


def _rewritten(value: Any, mapping: dict[str, str]) -> Any:
    """``value`` with each name of ``mapping`` replaced inside its Jinja blocks (``vpc_id`` ->
    ``resources.main_vpc.VpcId``)."""
    if isinstance(value, list):
        return [_rewritten(item, mapping) for item in value]
    if isinstance(value, dict):
        return {key: _rewritten(item, mapping) for key, item in value.items()}
    if not isinstance(value, str) or not mapping:
        return value
    names = "|".join(re.escape(name) for name in mapping)
    pattern = re.compile(r"(?<![\w.'\"])(" + names + r")(?![\w(])")
    return _JINJA_BLOCK.sub(lambda block: pattern.sub(lambda m: mapping[m.group(1)], block.group(0)), value)


def _names_read(value: Any) -> set[str]:
    if isinstance(value, list):
        return set().union(*(_names_read(item) for item in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(_names_read(item) for item in value.values())) if value else set()
    if not isinstance(value, str):
        return set()
    found: set[str] = set()
    for block in _JINJA_BLOCK.findall(value):
        found |= set(re.findall(r"(?<![\w.'\"])([A-Za-z_]\w*)", block[2:-2]))
    return found


def _has_jinja(value: Any) -> bool:
    return "{{" in json.dumps(value) or "{%" in json.dumps(value)
