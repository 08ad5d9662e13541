"""Stacks that arrive in another tool's format, as stack.yaml text: what ``stack convert`` writes.

A converter (``deployer.cfn_template`` for CloudFormation templates, ``deployer.stackql`` for
stackql-deploy projects) turns its source into a ``Converted``: the stack.yaml text, the
environments/ENV.yaml texts, and a report of what it could not express (never silently
dropped). ``write_converted`` puts them in a directory without overwriting anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deployer.errors import StackError


@dataclass(frozen=True)
class Converted:
    stack_yaml: str
    environments: dict[str, str] = field(default_factory=dict)  # env name -> environments/ENV.yaml text
    report: tuple[str, ...] = ()  # one line per thing the source has that the stack cannot express


def write_converted(converted: Converted, out_dir: Path) -> list[Path]:
    """Write the stack into ``out_dir``; refuses to overwrite a file that exists. Returns the files written."""
    files = {out_dir / "stack.yaml": converted.stack_yaml}
    files.update({out_dir / "environments" / f"{env}.yaml": text for env, text in converted.environments.items()})
    existing = [path for path in files if path.exists()]
    if existing:
        raise StackError(f"{existing[0]} already exists; convert into an empty directory, or remove it first")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)
