"""The one exception tree of the deployer.

Every error the core raises on purpose is a ``StackError``; the CLI turns it into
a message and exit code 1, and shows a traceback only with ``--debug``::

    StackError
    ├── ManifestError          problems in the user's files, collected and reported together
    ├── StateError             unreadable, unwritable, foreign or conflicting state
    ├── AwsError               an AWS call failed; carries the AWS error code, never parsed from text
    │   └── ResourceNotFound
    ├── PlanError              (plan.py) the plan breaks a rule the user set, such as prevent_destroy
    ├── LockedError            (lock.py) another run holds the stack's lock; names the holder
    └── ResolverError          (resolvers.py) secret() or ssm() could not fetch its value

Problems found in the user's input are ``Diagnostic`` values, not exceptions, so that
every one of them can be reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One problem in the user's files: where it is, what is wrong, how to fix it."""

    file: str
    line: int | None
    path: str
    message: str
    fix: str = ""

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return f"{text}; {self.fix}" if self.fix else text


class StackError(Exception):
    """Base of every error the deployer raises on purpose."""


class ManifestError(StackError):
    """The user's stack has problems; nothing was called and nothing was written."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        count = len(self.diagnostics)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the stack")

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)


class StateError(StackError):
    """The state cannot be read, written or trusted."""


class AwsError(StackError):
    """An AWS call failed. ``code`` is AWS's error code (``ThrottlingException``...)."""

    def __init__(self, message: str, *, code: str = "", operation: str = "", resource: str = "",
                 answered: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation
        self.resource = resource
        self.answered = answered  # False when no answer came back: the call may or may not have happened


class ResourceNotFound(AwsError):
    """The resource does not exist in AWS."""
