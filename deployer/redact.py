"""Redaction: credential values never reach output, logs or files.

Every secret-bearing leaf of a connector profile's credentials block (in CloudFormation
or API spelling), and every registered secret value, is replaced by ``(sensitive)``,
leaf by leaf, so the shape stays visible. The credentials block is walked beside the
API model: a member from a fixed vocabulary (an enum such as ``AuthenticationType``)
is no secret and stays visible; every other one is secret-bearing. botocore marks
most of them ``sensitive``, but not all that are (Dynatrace's ``apiToken``, InforNexus'
``secretAccessKey``, every ``refreshToken``), so the mark alone is not the rule. A key
the model does not know hides everything under it.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from deployer.apimodel import shape
from deployer.convert import member_for
from deployer.render import Unknown
from deployer.secrets import SECRETS, SENSITIVE

_CREDENTIAL_KEYS = {"connectorprofilecredentials"}
_OUTSIDE = object()  # not inside a credentials block


def secret_bearing(model: Shape | None) -> bool:
    """Whether a credentials leaf of this model shape carries a secret: anything but a fixed vocabulary."""
    if model is None or model.metadata.get("sensitive"):
        return True
    return not model.metadata.get("enum")


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret-bearing credential leaf, and every registered secret, replaced by
    ``(sensitive)``."""
    return _redact(value, _OUTSIDE)


def _redact(value: Any, model: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact(v, _inner(model, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, model.member if isinstance(model, ListShape) else model if model is _OUTSIDE else None)
                for v in value]
    if isinstance(value, Unknown):
        return "(known after apply)"
    if value is not None and (value in SECRETS or (model is not _OUTSIDE and secret_bearing(model))):
        return SENSITIVE
    return value


def _inner(model: Any, key: Any) -> Any:
    """The model of ``key``'s value: ``_OUTSIDE`` until a credentials block, then the API shape (None: unknown)."""
    if model is _OUTSIDE:
        return shape("ConnectorProfileCredentials") if str(key).lower() in _CREDENTIAL_KEYS else _OUTSIDE
    if isinstance(model, StructureShape):
        member = member_for(model, str(key))
        return model.members[member] if member is not None else None
    if isinstance(model, MapShape):
        return model.value
    return None


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
