"""This run's command line, so that every hint names a command a user can paste and run as is.

A hint such as "import it with `stack state import ...`" is written with the stack directory
as the user gave it and the options that pick the same environment and state: ``--env`` and
``--state`` when they are not the defaults, and ``--local``. A command that renders the stack
(``plan``, ``deploy``, ``drift``, ``state import``) also gets ``--region``, ``--profile``,
each ``--var-file`` and the ``-e`` variables. A secret ``-e`` value is never written: the
hint names the variable to give again instead (``withheld``). Values only; nothing here prints.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from deployer.secrets import SECRETS

DEFAULT_ENV = "dev"


@dataclass(frozen=True)
class Invocation:
    stack_dir: str
    env: str = DEFAULT_ENV
    state: str | None = None  # --state (or STACK_STATE): None for the manifest's or the default location
    local: bool = False
    region: str | None = None
    profile: str | None = None
    var_files: tuple[str, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()  # -e NAME=VALUE, in the order given
    secret: frozenset[str] = frozenset()  # names of -e variables whose values are secrets

    def command(self, verb: str, *arguments: str, renders: bool = False) -> str:
        """``stack VERB STACK_DIR ARGUMENTS OPTIONS``, in backticks. ``renders``: the command renders the stack, so
        it needs the same variables (a message with such a command ends with ``withheld()``)."""
        words = ["stack", *verb.split(), self.stack_dir, *arguments, *self._selection()]
        if renders:
            words += self._inputs()
        return f"`{shlex.join(words)}`"

    def apply_command(self, plan_file: str) -> str:
        """``stack apply PLAN_FILE``, in backticks: a saved plan keeps the stack, the environment, the state and the
        non-secret variables; the variables files (and the secret ``-e`` variables, see ``withheld``) are given
        again."""
        return f"`{shlex.join(['stack', 'apply', plan_file, *_pairs('--var-file', self.var_files)])}`"

    def withheld(self) -> str:
        """What a command that renders the stack needs besides what it says: the secret ``-e`` variables of this
        run, which are never shown; "" when there are none."""
        names = [name for name, value in self.variables if self._is_secret(name, value)]
        if not names:
            return ""
        return f" (give {' '.join(f'-e {name}=...' for name in names)} again: secret values are not shown)"

    def _selection(self) -> list[str]:
        """The options that pick the same environment and state."""
        words = []
        if self.env != DEFAULT_ENV:
            words += ["--env", self.env]
        if self.state:
            words += ["--state", self.state]
        if self.local:
            words.append("--local")
        return words

    def _inputs(self) -> list[str]:
        words = [*_pairs("--region", [self.region] if self.region else []),
                 *_pairs("--profile", [self.profile] if self.profile else []),
                 *_pairs("--var-file", self.var_files)]
        for name, value in self.variables:
            if not self._is_secret(name, value):
                words += ["-e", f"{name}={value}"]
        return words

    def _is_secret(self, name: str, value: str) -> bool:
        return name in self.secret or value in SECRETS


def _pairs(option: str, values: Iterable[str]) -> list[str]:
    return [word for value in values for word in (option, value)]
