"""The digest of what a stack is made from, for saved plans and promotion.

It covers every file the manifest was read from (the stack file and its templates), the
environment files and ``--var-file`` files used, and the non-secret variables of the
environment, each as one named source, so a saved plan can say which one changed.
Variables files are covered by their non-secret content only: the names of all their
variables and the values of the non-secret ones. Secret values never enter a digest,
which is printed and stored in plan files and state, so a digest cannot be used to test
a guess of a secret; a changed secret shows in a saved plan's keyed request fingerprints
instead. Which variables are secret is decided by name only (``sensitive:`` in the
manifest, or a name that looks like a secret), so the same stack gives the same digest
whether or not its resources were rendered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deployer.render import StackContext, environment_files, read_var_file
from deployer.secrets import SENSITIVE

PUBLIC_VARIABLES = "non-secret variables"


def public_variables(context: StackContext) -> dict[str, Any]:
    return {k: v for k, v in sorted(context.variables.items()) if _public(context, k)}


def _public(context: StackContext, name: str) -> bool:
    return name not in context.sensitive


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()


def digest_sources(context: StackContext, var_files: Sequence[Path] = ()) -> dict[str, str]:
    """The digest of each source the stack is made from, by a name the user knows it by."""
    sources = {}
    root = context.manifest.stack_dir.resolve()
    for path in context.manifest.files:
        name = str(path.relative_to(root)) if path.is_relative_to(root) else f"templates/{path.name}"
        sources[name] = _sha256(path.read_bytes())
    files = [(f"environments/{p.name}", p) for p in environment_files(context.manifest.stack_dir, context.env)]
    for path in var_files:
        name = f"--var-file {path.name}"
        files.append((name if all(name != taken for taken, _ in files) else f"{name} #{len(files)}", path))
    for name, path in files:
        content = {k: v if _public(context, k) else SENSITIVE for k, v in read_var_file(path).items()}
        sources[name] = _sha256(_canonical(content))
    sources[PUBLIC_VARIABLES] = _sha256(_canonical(public_variables(context)))
    return sources


def stack_digest(context: StackContext, var_files: Sequence[Path] = ()) -> str:
    return _sha256(_canonical(digest_sources(context, var_files)))
