from __future__ import annotations

import pytest

from deployer.secrets import SecretRegistry, looks_secret


@pytest.mark.parametrize(
    ("name", "secret"),
    [("DB_PASSWORD", True), ("ApiToken", True), ("CLIENT_SECRET", True), ("SalesforceAccessToken", True),
     ("api_key", True), ("SIGNING_KEY", True), ("PrivateKey", True), ("InstanceUrl", False), ("REGION", False),
     ("KeyboardLayout", False), ("Monkey", False)],
)
def test_secret_looking_names(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


def test_scrub_hides_every_form_and_the_longest_first() -> None:
    registry = SecretRegistry()
    registry.add("abc")  # too short to scrub from free text without blanking ordinary words
    registry.add('pa"ss\\word-1')
    registry.add("token-value")
    registry.add("token-value-longer")
    text = 'plain pa"ss\\word-1, json "pa\\"ss\\\\word-1", token-value-longer and token-value; abc'
    assert registry.scrub(text) == 'plain (sensitive), json "(sensitive)", (sensitive) and (sensitive); abc'
    assert "token-value" in registry and "abc" in registry  # short ones are still redacted by position
    assert "other" not in registry
