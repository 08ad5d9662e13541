"""The digest of what a stack is made from, for saved plans and promotion.

It covers every file the manifest was read from (the stack file and its templates) and
the non-secret variables of the environment. Which variables are secret is decided by
name only (``sensitive:`` in the manifest, or a name that looks like a secret), so the
same stack gives the same digest whether or not its resources were rendered.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from deployer.render import StackContext
from deployer.secrets import looks_secret


def public_variables(context: StackContext) -> dict[str, Any]:
    sensitive = set(context.manifest.sensitive)
    return {k: v for k, v in sorted(context.variables.items()) if k not in sensitive and not looks_secret(k)}


def stack_digest(context: StackContext) -> str:
    digest = hashlib.sha256()
    root = context.manifest.stack_dir.resolve()
    for path in context.manifest.files:
        name = str(path.relative_to(root)) if path.is_relative_to(root) else f"templates/{path.name}"
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(public_variables(context), sort_keys=True, default=str).encode())
    return f"sha256:{digest.hexdigest()}"
