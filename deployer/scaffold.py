"""``stack init``: a new stack directory, ready to fill in.

``stack.yaml`` is the skeleton of ``deployer.skeleton``, named after the directory;
``environments/dev.yaml`` has a line for each variable the manifest reads, to fill in;
``.gitignore`` keeps ``.stack/`` (state and the local cloud's data) out of Git.

A variable to fill is a commented-out line (``# InstanceUrl:``), not a made-up value: until
it is filled the variable is undefined, so ``stack validate`` names each one that is still
missing, with its line, instead of passing on a placeholder or reporting the block that an
empty value left out. Nothing is ever written over an existing file.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from deployer.errors import StackError
from deployer.manifest import SUPPORTED_TYPES, Manifest, load_manifest
from deployer.sandbox import ENVIRONMENT
from deployer.skeleton import skeleton
from deployer.taint import EVERY_VARIABLE, RESOLVERS, names_read, sensitive_variables

ENV = "dev"  # the environment commands use when none is given
ENV_FILE = f"environments/{ENV}.yaml"
# What templates see besides variables (deployer.render.StackContext.base_names, and resources.NAME)
_NOT_VARIABLES = frozenset({"stack_name", "stack_env", "vars", "resources", EVERY_VARIABLE}) | RESOLVERS
# A directory name that is also a good stack name: it becomes part of profile names and state keys
_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def scaffold(directory_name: str, connectors: Sequence[str] = ()) -> dict[str, str]:
    """The files of a new stack, by path relative to its directory: stack.yaml (a resource per connector, as
    ``stack skeleton``), environments/dev.yaml, .gitignore."""
    manifest_text = skeleton(SUPPORTED_TYPES[0], connectors)
    if _STACK_NAME.fullmatch(directory_name):
        name = directory_name if yaml.safe_load(directory_name) == directory_name else json.dumps(directory_name)
        manifest_text = re.sub(r"^name: .*$", f"name: {name}", manifest_text, count=1, flags=re.MULTILINE)
    return {
        "stack.yaml": manifest_text,
        ENV_FILE: _environment_file(_read(manifest_text)),
        ".gitignore": "# state, and the local cloud's data (stack ... --local): never in Git\n.stack/\n",
    }


def write_scaffold(stack_dir: Path, files: Mapping[str, str]) -> list[Path]:
    """Write ``files`` under ``stack_dir`` (created if needed); the paths written. Refuses, writing nothing,
    if any of them exists."""
    targets = [stack_dir / relative for relative in files]
    existing = [str(path) for path in targets if path.exists() or path.is_symlink()]
    if existing:
        raise StackError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                         "stack init writes nothing over an existing file (move it away, or choose another directory)")
    try:
        for path, text in zip(targets, files.values(), strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as file:  # "x": a file made meanwhile is not overwritten either
                file.write(text)
    except OSError as error:
        raise StackError(f"cannot write {error.filename}: {error.strerror}") from None
    return targets


def _read(manifest_text: str) -> Manifest:
    """The manifest as every command reads it (from a file: that is the reader there is)."""
    with tempfile.TemporaryDirectory(prefix="stack-init-") as directory:
        (Path(directory) / "stack.yaml").write_text(manifest_text, encoding="utf-8")
        return load_manifest(Path(directory))


def _environment_file(manifest: Manifest) -> str:
    variables = dict(_variables(manifest))
    secret = sensitive_variables(manifest, variables)
    lines = [
        f"# Variables of the {ENV} environment: a line for each variable stack.yaml reads. Fill in each",
        "# commented-out line (and remove its '# '); until then `stack validate` names what is missing.",
        "# Another environment: copy this file to environments/ENV.yaml and run commands with --env ENV.",
    ]
    width = max((len(name) for name in variables), default=0) + 2
    for name, used_at in variables.items():
        note = f"; a secret: better set as STACK_VAR_{name} than written here" if name in secret else ""
        lines.append(f"# {name + ':':<{width}}  # {used_at}{note}")
    return "\n".join(lines) + "\n"


def _variables(manifest: Manifest) -> Iterator[tuple[str, str]]:
    """Each variable the manifest reads, once, with where it is first read, in the order of the file."""
    provided = set(_NOT_VARIABLES) | set(ENVIRONMENT.globals)
    provided |= {attribute for spec in manifest.resources for attribute in spec.exports}
    seen: set[str] = set()
    for item in manifest.globals:
        for name in sorted(names_read(item.value.value) if isinstance(item.value.value, str) else ()):
            if name not in provided | seen:
                seen.add(name)
                yield name, f"globals.{item.name}"
        provided.add(item.name)  # later globals see it
    for spec in manifest.resources:
        own = set(spec.template_vars)
        reads = [(f"{spec.label}.vars.{key}", raw.value) for key, raw in spec.template_vars.items()]
        reads += [(f"{spec.label}.props.{prop.name}", raw.value) for prop in spec.props
                  for raw in [prop.value, *prop.by_env.values()] if raw is not None]
        for where, value in reads:
            for path, text in _strings(value, where):
                for name in sorted(names_read(text)):
                    if name not in provided | own | seen:
                        seen.add(name)
                        yield name, path


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
