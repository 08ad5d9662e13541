"""Redaction: credential values never reach output, logs or files.

Everything under a connector profile's credentials block (in CloudFormation or API
spelling), and every registered secret value, is replaced by ``(sensitive)``, leaf by
leaf, so the shape stays visible.
"""

from __future__ import annotations

import json
from typing import Any

from deployer.render import Unknown
from deployer.secrets import SECRETS, SENSITIVE

_CREDENTIAL_KEYS = {"connectorprofilecredentials"}


def redact(value: Any, *, hidden: bool = False) -> Any:
    """A copy of ``value`` with every credential leaf replaced by ``(sensitive)``."""
    if isinstance(value, dict):
        return {k: redact(v, hidden=hidden or str(k).lower() in _CREDENTIAL_KEYS) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, hidden=hidden) for v in value]
    if isinstance(value, Unknown):
        return "(known after apply)"
    if value is not None and (hidden or value in SECRETS):
        return SENSITIVE
    return value


ECHO_SCAN_LIMIT = 100  # JSON objects looked for in one message; AWS messages quote one request at most


def redact_echo(text: str) -> str:
    """``text`` (an AWS error message) with every JSON object in it redacted by position: an error that quotes
    the request back shows its shape, never a credential, however short (free-text scrubbing only catches
    values of ``MIN_LENGTH`` characters or more)."""
    decoder = json.JSONDecoder()
    parts: list[str] = []
    index = 0
    for _ in range(ECHO_SCAN_LIMIT):
        start = text.find("{", index)
        if start == -1:
            break
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            parts.append(text[index:start + 1])
            index = start + 1
            continue
        parts += [text[index:start], json.dumps(redact(value))]
        index = end
    return "".join(parts) + text[index:]
