"""deployer.redact: secret-bearing credential leaves are hidden, a fixed vocabulary (enums) stays visible.

The credentials block is walked beside the API model in either spelling, so that
``AuthenticationType: CUSTOM`` is shown (and a CloudFormation template keeps a valid
enum) while every value that may be a secret is ``(sensitive)``.
"""

from __future__ import annotations

from typing import Any

import pytest

from deployer.redact import redact
from deployer.render import Unknown
from deployer.secrets import SECRETS, SENSITIVE

S = SENSITIVE


def _credentials(key: str, block: dict[str, Any], *, api: bool = False) -> dict[str, Any]:
    if api:
        return {"connectorProfileConfig": {"connectorProfileCredentials": {key: block}}}
    return {"ConnectorProfileConfig": {"ConnectorProfileCredentials": {key: block}}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (_credentials("CustomConnector", {"AuthenticationType": "CUSTOM", "Custom": {
            "CustomAuthenticationType": "hmac", "CredentialsMap": {"key_id": "k", "secret": "s"}}}),
         _credentials("CustomConnector", {"AuthenticationType": "CUSTOM", "Custom": {
             "CustomAuthenticationType": S, "CredentialsMap": {"key_id": S, "secret": S}}})),
        (_credentials("CustomConnector", {"authenticationType": "BASIC", "basic": {"username": "u", "password": "p"}},
                      api=True),
         _credentials("CustomConnector", {"authenticationType": "BASIC", "basic": {"username": S, "password": S}},
                      api=True)),
        (_credentials("Salesforce", {"OAuth2GrantType": "JWT_BEARER", "JwtToken": "j",
                                     "ConnectorOAuthRequest": {"AuthCode": "c", "RedirectUri": "r"}}),
         _credentials("Salesforce", {"OAuth2GrantType": "JWT_BEARER", "JwtToken": S,
                                     "ConnectorOAuthRequest": {"AuthCode": S, "RedirectUri": S}})),
        # not marked sensitive in botocore's model, and secrets all the same
        (_credentials("Dynatrace", {"apiToken": "t"}, api=True), _credentials("Dynatrace", {"apiToken": S}, api=True)),
        (_credentials("InforNexus", {"SecretAccessKey": "s", "Datakey": "d"}),
         _credentials("InforNexus", {"SecretAccessKey": S, "Datakey": S})),
        # a name the model does not know: everything under it
        (_credentials("Nope", {"Inner": {"x": "y"}, "AuthenticationType": "BASIC"}),
         _credentials("Nope", {"Inner": {"x": S}, "AuthenticationType": S})),
        ({"ConnectorProfileProperties": {"Salesforce": {"InstanceUrl": "https://x"}}},
         {"ConnectorProfileProperties": {"Salesforce": {"InstanceUrl": "https://x"}}}),
        ({"list": [_credentials("Singular", {"ApiKey": "k"})], "after": Unknown("resources.a.ConnectorProfileArn")},
         {"list": [_credentials("Singular", {"ApiKey": S})], "after": "(known after apply)"}),
    ],
    ids=["custom-cfn", "custom-api", "salesforce-enum-and-oauth-request", "dynatrace-unmarked", "infornexus-unmarked",
         "unknown-key", "properties-visible", "lists-and-unknown"],
)
def test_credentials_are_hidden_leaf_by_leaf_and_enums_stay_visible(value: Any, expected: Any) -> None:
    assert redact(value) == expected


def test_a_registered_secret_is_hidden_anywhere_even_as_an_enum_value() -> None:
    SECRETS.add("BASIC")
    SECRETS.add("tenant-x")
    value = {"Url": "tenant-x", **_credentials("CustomConnector", {"AuthenticationType": "BASIC"})}
    assert redact(value) == {"Url": S, **_credentials("CustomConnector", {"AuthenticationType": S})}
