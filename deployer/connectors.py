"""AppFlow's rules for connector profiles that the API model cannot express.

The model says what each connector block may hold; it does not say that a profile
of type ``Salesforce`` may carry only the ``Salesforce`` blocks, that
``connectorLabel`` belongs to ``CustomConnector`` alone, or which credentials a
connector cannot work without. Those rules live here, once, for the emulator and
the stack validator alike. Paths and names are in API spelling.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from botocore.model import StructureShape

from deployer.apimodel import ApiPath, Violation, shape, suggest

PROPERTIES = "connectorProfileProperties"
CREDENTIALS = "connectorProfileCredentials"
CONFIG = "connectorProfileConfig"

# Credentials a connector needs beyond the model's required members: each entry is a
# list of alternatives, and one alternative (all of its members) must be present.
_NEEDED_CREDENTIALS: dict[str, list[tuple[str, ...]]] = {
    "Salesforce": [("accessToken",), ("jwtToken",), ("clientCredentialsArn",), ("oAuthRequest",)],
    "Pardot": [("accessToken",), ("clientCredentialsArn",), ("oAuthRequest",)],
    "Honeycode": [("accessToken",), ("oAuthRequest",)],
    "Redshift": [("username", "password")],
    "ServiceNow": [("username", "password"), ("oAuth2Credentials",)],
    "SAPOData": [("basicAuthCredentials",), ("oAuthCredentials",)],
}

# For custom connectors, the credentials member that each authenticationType needs.
_CUSTOM_AUTH_MEMBER = {"BASIC": "basic", "OAUTH2": "oauth2", "APIKEY": "apiKey", "CUSTOM": "custom"}


@functools.lru_cache(maxsize=1)
def connector_types() -> tuple[str, ...]:
    return tuple(shape("ConnectorType").enum)


def _block_members(block: str) -> list[str]:
    block_shape = shape("ConnectorProfileProperties" if block == PROPERTIES else "ConnectorProfileCredentials")
    assert isinstance(block_shape, StructureShape)
    return list(block_shape.members)


@functools.cache
def connector_key(connector_type: str) -> str | None:
    """The member name of a connector type's blocks: ``Googleanalytics`` -> ``GoogleAnalytics``.

    ``None`` for types that have no profile blocks (destinations such as ``S3``).
    """
    for name in _block_members(PROPERTIES) + _block_members(CREDENTIALS):
        if name.lower() == connector_type.lower():
            return name
    return None


def connector_type_for_key(key: str) -> str | None:
    for connector_type in connector_types():
        if connector_type.lower() == key.lower():
            return connector_type
    return None


def profile_types() -> tuple[str, ...]:
    """Connector types that can have a connector profile."""
    return tuple(t for t in connector_types() if connector_key(t) is not None)


def first_credentials(key: str) -> dict[str, str | None]:
    """The credential members (API names) of the first way a connector can authenticate, beyond the model's
    required ones, each with a preset value or None: what a skeleton asks for. A custom connector: BASIC."""
    if key == "CustomConnector":
        return {"authenticationType": "BASIC", _CUSTOM_AUTH_MEMBER["BASIC"]: None}
    alternatives = _NEEDED_CREDENTIALS.get(key)
    return dict.fromkeys(alternatives[0]) if alternatives else {}


def has_block(connector_type: str, block: str) -> bool:
    key = connector_key(connector_type)
    return key is not None and key in _block_members(block)


def needs_block(connector_type: str, block: str) -> bool:
    """Whether creating a profile needs the connector's block: credentials always, properties when they
    have required members (Amplitude's properties, for one, are an empty structure)."""
    if not has_block(connector_type, block):
        return False
    if block == CREDENTIALS:
        return True
    key = connector_key(connector_type)
    container = shape("ConnectorProfileProperties")
    assert isinstance(container, StructureShape) and key is not None
    member = container.members[key]
    return isinstance(member, StructureShape) and bool(member.required_members)


def check_connector_rules(
    connector_type: str,
    connector_label: str | None,
    config: dict[str, Any],
    *,
    creating: bool,
    base: ApiPath = (),
    spell: Callable[[ApiPath], str] | None = None,
) -> list[Violation]:
    """Violations of AppFlow's per-connector rules by one request's type, label and config. ``spell`` names the
    member at the end of a path in fixes (the stack validator's: CloudFormation's name); default: the API's."""
    name = spell or (lambda path: str(path[-1]))
    if connector_type not in connector_types():
        return []  # the model check reports the bad enum value
    key = connector_key(connector_type)
    if key is None:
        return [
            Violation(
                (*base, "connectorType"),
                f"connector type '{connector_type}' has no connector profiles",
                "use one of: " + ", ".join(profile_types()),
                value=connector_type,
                has_value=True,
            )
        ]
    found: list[Violation] = []
    if connector_type == "CustomConnector" and not connector_label:
        found.append(Violation((*base, "connectorLabel"), "required for connector type 'CustomConnector'",
                               "add the label of the registered custom connector"))
    if connector_type != "CustomConnector" and connector_label:
        found.append(Violation((*base, "connectorLabel"), "only allowed with connector type 'CustomConnector'",
                               f"remove {name((*base, 'connectorLabel'))}", value=connector_label, has_value=True))
    if not isinstance(config, dict):
        return found
    for block in (PROPERTIES, CREDENTIALS):
        content = config.get(block)
        path = (*base, CONFIG, block)
        if not isinstance(content, dict):
            if creating and needs_block(connector_type, block):
                what = "credentials" if block == CREDENTIALS else "properties"
                found.append(Violation(path, f"{what} for '{key}' are required to create the profile",
                                       f"add {name(path)}.{key}"))
            continue
        for member in content:
            if member != key:
                found.append(Violation((*path, member), f"block does not match connector type '{connector_type}'",
                                       _block_fix(member, key, block)))
        if key not in content and creating and needs_block(connector_type, block):
            found.append(Violation((*path, key), f"required for connector type '{connector_type}'", f"add {key}"))
    credentials = (config.get(CREDENTIALS) or {}).get(key) if isinstance(config.get(CREDENTIALS), dict) else None
    if isinstance(credentials, dict):
        found += _check_needed_credentials(key, credentials, (*base, CONFIG, CREDENTIALS, key), name)
    return found


def _block_fix(member: str, key: str, block: str) -> str:
    if member in _block_members(block):
        return f"use the '{key}' block, or change the connector type to '{connector_type_for_key(member)}'"
    return suggest(member, [key])


def _check_needed_credentials(key: str, credentials: dict[str, Any], path: ApiPath,
                              name: Callable[[ApiPath], str]) -> list[Violation]:
    if key == "CustomConnector":
        auth = credentials.get("authenticationType")
        member = _CUSTOM_AUTH_MEMBER.get(auth) if isinstance(auth, str) else None
        if member and member not in credentials:
            return [Violation((*path, member), f"required when {name((*path, 'authenticationType'))} is {auth}",
                              f"add {name((*path, member))}")]
        return []
    alternatives = _NEEDED_CREDENTIALS.get(key)
    if not alternatives or any(all(m in credentials for m in alt) for alt in alternatives):
        return []
    options = " or ".join(" and ".join(name((*path, m)) for m in alt) for alt in alternatives)
    return [Violation(path, f"'{key}' credentials are incomplete", f"set {options}")]
