"""Redaction: credential values never reach output, logs or files.

Everything under a connector profile's credentials block (in CloudFormation or API
spelling), and every registered secret value, is replaced by ``(sensitive)``, leaf by
leaf, so the shape stays visible.
"""

from __future__ import annotations

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
