"""The secret values of this run, so that none of them is ever printed or written.

Every value that is sensitive is registered here as soon as it is known: credential
values of connector profiles, variables declared sensitive (or whose ``STACK_VAR_``
name looks like a secret), and everything a resolver fetched. The CLI passes all its
output through ``scrub``; state stores fingerprints in their place. This is the
catch-all behind the structural redaction in ``redact``: an AWS error that echoes the
request back, a traceback under ``--debug``, a secret used in a non-secret property.
"""

from __future__ import annotations

import json
import re
import threading

SENSITIVE = "(sensitive)"
MIN_LENGTH = 6  # shorter values would blank out ordinary words; structural redaction still hides them
_SECRET_NAME = re.compile(r"secret|passw|token|credential|private|api_?key|access_?key|(^|_)key$", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """Whether a variable name suggests a secret (``DB_PASSWORD``, ``ApiToken``, ``CLIENT_SECRET``)."""
    return bool(_SECRET_NAME.search(name))


class SecretRegistry:
    """Every secret value, for redaction by position (``in``, any length) and in free text (``scrub``, values of
    ``MIN_LENGTH`` characters or more)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exact: set[str] = set()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: object) -> None:
        if not isinstance(value, str) or not value:
            return
        with self._lock:
            self._exact.add(value)
        if len(value) < MIN_LENGTH:
            return
        forms = {value, json.dumps(value)[1:-1]}  # as written, and as it appears inside JSON text
        with self._lock:
            if not forms <= self._values:
                self._values |= forms
                self._pattern = None

    def clear(self) -> None:
        """Forget every value (for tests: one process runs many stacks)."""
        with self._lock:
            self._exact.clear()
            self._values.clear()
            self._pattern = None

    def __contains__(self, value: object) -> bool:
        with self._lock:
            return isinstance(value, str) and value in self._exact

    def scrub(self, text: str) -> str:
        with self._lock:
            if not self._values:
                return text
            if self._pattern is None:
                ordered = sorted(self._values, key=len, reverse=True)  # longest first: no partial leftovers
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
            pattern = self._pattern
        return pattern.sub(SENSITIVE, text)


SECRETS = SecretRegistry()
