"""Taint: which variables, globals and rendered values depend on a secret.

A value is sensitive when its template reads a sensitive name, whatever filters or
concatenation produced it (``{{ Token|upper }}``, ``'https://' ~ Tenant ~ '.x'``). The
answer comes from the names a template reads, never from the values, so it is the same
whatever the secret is: nothing about a secret can be learned from which values are
redacted.

Sensitive inputs are the variables declared in ``sensitive:``, variables whose names look
like secrets, variables a credentials block reads, and the resolvers ``secret()`` and
``ssm()``; then every global and resource ``vars:`` entry computed from them. Rendered
values that read one are registered as secrets (``deployer.secrets``), so every output
redacts them and state stores only their fingerprints.

Some values decide the shape of a plan: ``if:``, ``prevent_destroy``, a resource's
identifier and its region. Those may not read a sensitive name at all, or the plan would
be an oracle (``if: "{{ secret('x')[0] == 'D' }}"`` tells one bit per run).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

import jinja2
from jinja2 import nodes

from deployer.manifest import Manifest, ResourceSpec
from deployer.sandbox import MAX_SOURCE
from deployer.secrets import SECRETS, looks_secret

RESOLVERS = frozenset({"secret", "ssm"})
EVERY_VARIABLE = "vars[...]"  # read when a template looks a variable up by a computed name
CREDENTIALS_KEY = "connectorprofilecredentials"
SHAPE_PROPS = ("ConnectorProfileName", "connectorProfileName", "region")  # the identifier and the region
_PARSER = jinja2.Environment()  # parsing only: nothing is rendered with it


@functools.lru_cache(maxsize=8192)
def names_read(source: str) -> frozenset[str]:
    """The names a template reads: top-level names, and ``vars.X`` / ``vars['X']`` as ``X``."""
    if ("{{" not in source and "{%" not in source) or len(source) > MAX_SOURCE:
        return frozenset()  # a source over the limit is reported when it is rendered
    try:
        tree = _PARSER.parse(source)
        names = list(tree.find_all(nodes.Name))
        lookups = [n for n in (*tree.find_all(nodes.Getattr), *tree.find_all(nodes.Getitem))
                   if isinstance(n.node, nodes.Name) and n.node.name == "vars"]
    except (jinja2.TemplateSyntaxError, RecursionError, MemoryError):
        return frozenset()  # reported as a template error when it is rendered
    found = {n.name for n in names if n.ctx == "load" and n.name != "vars"}
    uses = sum(1 for n in names if n.name == "vars")
    for lookup in lookups:
        if isinstance(lookup, nodes.Getattr):
            found.add(lookup.attr)
        elif isinstance(lookup.arg, nodes.Const) and isinstance(lookup.arg.value, str):
            found.add(lookup.arg.value)
        else:
            found.add(EVERY_VARIABLE)
    if uses > len(lookups):
        found.add(EVERY_VARIABLE)  # vars passed around whole
    return frozenset(found)


def reads(value: Any) -> frozenset[str]:
    """Every name the templates in ``value`` (a string, or a tree of them) read."""
    if isinstance(value, str):
        return names_read(value)
    if isinstance(value, dict):
        return frozenset().union(*(reads(v) for v in value.values()))
    if isinstance(value, list):
        return frozenset().union(*(reads(v) for v in value))
    return frozenset()


def depends_on_secret(value: Any, tainted: frozenset[str]) -> bool:
    found = reads(value)
    return bool(found & tainted) or (EVERY_VARIABLE in found and bool(tainted - RESOLVERS))


def sensitive_variables(manifest: Manifest, variables: Iterable[str]) -> frozenset[str]:
    """The variables whose values are secrets: declared, named like one, or read by a credentials block (also
    through globals)."""
    names = set(variables)
    found = {name for name in names if name in manifest.sensitive or looks_secret(name)}
    by_global = {item.name: reads(item.value.value) for item in manifest.globals}
    for spec in manifest.resources:
        # a global or resource var that a credentials block reads passes its own reads on
        definitions = {**by_global, **{key: reads(raw.value) for key, raw in spec.template_vars.items()}}
        wanted = set(reads(_credentials(spec)))
        while more := set().union(*(definitions[name] for name in wanted & set(definitions))) - wanted:
            wanted |= more
        found |= wanted & names
    return frozenset(found)


def tainted_names(manifest: Manifest, sensitive: frozenset[str]) -> frozenset[str]:
    """The sensitive variables, the resolvers, and the globals computed from them (in manifest order)."""
    tainted = set(sensitive | RESOLVERS)
    for item in manifest.globals:
        if depends_on_secret(item.value.value, frozenset(tainted)):
            tainted.add(item.name)
    return frozenset(tainted)


def register_tainted(raw: Any, rendered: Any, tainted: frozenset[str]) -> None:
    """Register as secrets the rendered leaves whose template reads a sensitive name."""
    if isinstance(raw, str):
        if depends_on_secret(raw, tainted):
            _register(rendered)
    elif isinstance(raw, dict) and isinstance(rendered, dict):
        for key, item in raw.items():
            register_tainted(item, rendered.get(key), tainted)
    elif isinstance(raw, list) and isinstance(rendered, list):
        for item, out in zip(raw, rendered, strict=False):  # rendering keeps every item
            register_tainted(item, out, tainted)


def _register(value: Any) -> None:
    if isinstance(value, Mapping):
        for item in value.values():
            _register(item)
    elif isinstance(value, list):
        for item in value:
            _register(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        SECRETS.add(str(value))


def _credentials(spec: ResourceSpec) -> list[Any]:
    """The raw values of a resource's credentials blocks, in every environment."""
    found: list[Any] = []

    def walk(value: Any, inside: bool) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, inside or str(key).lower() == CREDENTIALS_KEY)
        elif isinstance(value, list):
            for item in value:
                walk(item, inside)
        elif inside:
            found.append(value)

    for prop in spec.props:
        for raw in [prop.value, *prop.by_env.values()]:
            if raw is not None:
                walk(raw.value, False)
    return found
