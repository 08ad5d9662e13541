"""Table-driven: for every connector type, a full request is accepted and each kind of
constraint, broken once, is refused with a ValidationException naming the member."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.model import Shape, StructureShape

from deployer.apimodel import compiled_pattern, shape
from deployer.connectors import CONFIG, CREDENTIALS, PROPERTIES, connector_key, profile_types
from deployer.emulator import Emulator
from deployer.paths import format_path
from tests.support import PROFILE_NAMES, appflow_client, full_create_request, signed_call

Path = tuple[str, ...]
Mutation = Callable[[str, dict[str, Any]], Path]


def _connector_members(connector_type: str) -> list[tuple[Path, Shape, bool]]:
    """(path, shape, required) of each top-level member of the connector's two blocks."""
    key = connector_key(connector_type)
    found = []
    for block, shape_name in ((PROPERTIES, "ConnectorProfileProperties"), (CREDENTIALS, "ConnectorProfileCredentials")):
        container = shape(shape_name)
        assert isinstance(container, StructureShape)
        if key in container.members:
            connector_shape = container.members[key]
            assert isinstance(connector_shape, StructureShape)
            for name, member in connector_shape.members.items():
                required = name in connector_shape.required_members
                found.append(((CONFIG, block, key, name), member, required))
    return found


def _pick(connector_type: str, wanted: Callable[[Shape, bool], bool], fallback: Path) -> Path:
    return next((p for p, s, r in _connector_members(connector_type) if wanted(s, r)), fallback)


def _at(request: dict[str, Any], path: Path) -> tuple[dict[str, Any], str]:
    parent = request
    for part in path[:-1]:
        parent = parent[part]
    return parent, path[-1]


def _set(request: dict[str, Any], path: Path, value: Any) -> None:
    parent, name = _at(request, path)
    parent[name] = value


def missing_required(connector_type: str, request: dict[str, Any]) -> Path:
    path = _pick(connector_type, lambda s, required: required, ("connectionMode",))
    parent, name = _at(request, path)
    del parent[name]
    return path


def bad_enum(connector_type: str, request: dict[str, Any]) -> Path:
    path = _pick(connector_type, lambda s, r: bool(s.metadata.get("enum")), ("connectionMode",))
    _set(request, path, "NotAnAllowedValue")
    return path


def too_long(connector_type: str, request: dict[str, Any]) -> Path:
    def bounded(s: Shape, r: bool) -> bool:
        return s.type_name == "string" and "max" in s.metadata and not s.metadata.get("enum")

    path = _pick(connector_type, bounded, ("connectorProfileName",))
    _set(request, path, "a" * (_member_shape(connector_type, path).metadata["max"] + 1))
    return path


def _member_shape(connector_type: str, path: Path) -> Shape:
    """The model shape at ``path``: a connector block member, or a top-level request member."""
    found = next((s for p, s, r in _connector_members(connector_type) if p == path), None)
    return found or shape("CreateConnectorProfileRequest").members[path[-1]]  # type: ignore[attr-defined]


def pattern_mismatch(connector_type: str, request: dict[str, Any]) -> Path:
    def breakable(s: Shape, r: bool) -> bool:
        return s.type_name == "string" and _breaking_value(s) is not None

    path = _pick(connector_type, breakable, ("connectorProfileName",))
    _set(request, path, _breaking_value(_member_shape(connector_type, path)))
    return path


def _breaking_value(member_shape: Shape) -> str | None:
    pattern = member_shape.metadata.get("pattern")
    if not pattern or member_shape.metadata.get("enum"):
        return None
    low, high = member_shape.metadata.get("min", 0), member_shape.metadata.get("max", 10_000)
    for candidate in ("has space", "\n", "!!", "x\ny"):
        if low <= len(candidate) <= high and not compiled_pattern(pattern).fullmatch(candidate):
            return candidate
    return None


def wrong_type(connector_type: str, request: dict[str, Any]) -> Path:
    path = _pick(connector_type, lambda s, r: s.type_name == "string", ("connectorProfileName",))
    _set(request, path, 12345)
    return path


def unknown_member(connector_type: str, request: dict[str, Any]) -> Path:
    key = connector_key(connector_type)
    assert key is not None
    path = (CONFIG, PROPERTIES, key, "notAMember")
    request[CONFIG][PROPERTIES].setdefault(key, {})["notAMember"] = "x"
    return path


def wrong_connector_block(connector_type: str, request: dict[str, Any]) -> Path:
    other = "Zendesk" if connector_type != "Zendesk" else "Slack"
    request[CONFIG][PROPERTIES][other] = {"instanceUrl": "https://example.com"}
    return (CONFIG, PROPERTIES, other)


MUTATIONS: list[Mutation] = [
    missing_required, bad_enum, too_long, pattern_mismatch, wrong_type, unknown_member, wrong_connector_block,
]


@pytest.fixture(scope="module")
def unchecked_client() -> Any:
    """One emulator for the module and a client that skips botocore's own checks, so the emulator sees bad input."""
    with Emulator() as emulator:
        yield appflow_client(emulator.endpoint, parameter_validation=False)


@pytest.mark.parametrize("connector_type", profile_types())
def test_full_request_is_accepted(unchecked_client: Any, connector_type: str) -> None:
    name = f"full-{connector_type}"
    arn = unchecked_client.create_connector_profile(**full_create_request(connector_type, name))["connectorProfileArn"]
    assert arn.endswith(f":connectorprofile/{name}")
    [detail] = unchecked_client.describe_connector_profiles(connectorProfileNames=[name])["connectorProfileDetails"]
    assert detail["connectorType"] == connector_type


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.__name__ for m in MUTATIONS])
@pytest.mark.parametrize("connector_type", profile_types())
def test_each_broken_constraint_is_refused_naming_the_member(
    unchecked_client: Any, connector_type: str, mutation: Mutation
) -> None:
    request = copy.deepcopy(full_create_request(connector_type, f"bad-{connector_type}"))
    path = mutation(connector_type, request)
    # Signed like boto3 signs, but sent as-is: boto3's serializer cannot even express an unknown member.
    status, headers, body = signed_call(unchecked_client.meta.endpoint_url, "/create-connector-profile",
                                        json.dumps(request))
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert f"'{format_path(path)}'" in body["message"]
    existing = unchecked_client.describe_connector_profiles(maxResults=100)["connectorProfileDetails"]
    assert f"bad-{connector_type}" not in [d["connectorProfileName"] for d in existing]


def _without_label(request: dict[str, Any]) -> None:
    del request["connectorLabel"]


def _basic_auth_without_basic_block(request: dict[str, Any]) -> None:
    credentials = request[CONFIG][CREDENTIALS]["CustomConnector"]
    credentials["authenticationType"] = "BASIC"
    del credentials["basic"]


@pytest.mark.parametrize(
    ("change", "member", "message"),
    [
        (_without_label, "connectorLabel", "required for connector type 'CustomConnector'"),
        (_basic_auth_without_basic_block, "connectorProfileConfig.connectorProfileCredentials.CustomConnector.basic",
         "required when authenticationType is BASIC"),
    ],
    ids=["without-label", "basic-auth-without-basic-block"],
)
def test_custom_connector_rules(unchecked_client: Any, change: Callable[[dict[str, Any]], None], member: str,
                                message: str) -> None:
    request = full_create_request("CustomConnector", "custom-rules")
    change(request)
    with pytest.raises(unchecked_client.exceptions.ValidationException) as raised:
        unchecked_client.create_connector_profile(**request)
    assert f"'{member}' {message}" in raised.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("request_body", "member", "message"),
    [
        ({**full_create_request("Salesforce", "labelled"), "connectorLabel": "x"}, "connectorLabel",
         "only allowed with connector type 'CustomConnector'"),
        ({**full_create_request("Salesforce", "s3"), "connectorType": "S3"}, "connectorType",
         "connector type 'S3' has no connector profiles"),
        ({**full_create_request("Redshift", "no-creds"),
          CONFIG: {PROPERTIES: full_create_request("Redshift")[CONFIG][PROPERTIES]}},
         "connectorProfileConfig.connectorProfileCredentials", "credentials for 'Redshift' are required"),
        ({**full_create_request("Salesforce", "empty-creds"),
          CONFIG: {**full_create_request("Salesforce")[CONFIG], CREDENTIALS: {"Salesforce": {"refreshToken": "r"}}}},
         "connectorProfileConfig.connectorProfileCredentials.Salesforce", "'Salesforce' credentials are incomplete"),
    ],
    ids=["label-on-salesforce", "type-without-profiles", "create-without-credentials", "incomplete-credentials"],
)
def test_connector_rules(unchecked_client: Any, request_body: dict[str, Any], member: str, message: str) -> None:
    with pytest.raises(unchecked_client.exceptions.ValidationException) as raised:
        unchecked_client.create_connector_profile(**request_body)
    assert f"'{member}' {message}" in raised.value.response["Error"]["Message"]


def test_credential_values_are_not_echoed(unchecked_client: Any) -> None:
    request = full_create_request("Salesforce", "echo")
    request[CONFIG][CREDENTIALS]["Salesforce"]["accessToken"] = "s3cr3t value with spaces\n" * 500
    with pytest.raises(unchecked_client.exceptions.ValidationException) as raised:
        unchecked_client.create_connector_profile(**request)
    assert "s3cr3t" not in str(raised.value)


def test_update_checks_blocks_against_the_stored_type(unchecked_client: Any) -> None:
    unchecked_client.create_connector_profile(**full_create_request("Salesforce", "stored-type"))
    with pytest.raises(unchecked_client.exceptions.ValidationException) as raised:
        unchecked_client.update_connector_profile(
            connectorProfileName="stored-type",
            connectionMode="Public",
            connectorProfileConfig={PROPERTIES: {"Zendesk": {"instanceUrl": "https://x.zendesk.com"}}},
        )
    assert "'connectorProfileConfig.connectorProfileProperties.Zendesk' block does not match connector type" in (
        raised.value.response["Error"]["Message"]
    )


# JSON null: for an optional member it means "absent", at any depth (AWS's own sample requests send
# "kmsArn": null and an oauthRequest of nulls); for a required member it is as missing as an absent one.
# boto3 cannot send a null, so these go out signed but as written.

def _null_sample(name: str) -> dict[str, Any]:
    request = full_create_request("Salesforce", name)
    request["kmsArn"] = None
    request[CONFIG][PROPERTIES]["Salesforce"] = {"instanceUrl": "https://acme.my.salesforce.com",
                                                 "isSandboxEnvironment": False,
                                                 "usePrivateLinkForMetadataAndAuthorization": None}
    request[CONFIG][CREDENTIALS]["Salesforce"] = {"accessToken": "token", "refreshToken": None,
                                                  "oAuthRequest": {"authCode": None, "redirectUri": None}}
    return request


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/create-connector-profile", _null_sample("null-sample")),
        ("/describe-connector-profiles", {"connectorProfileNames": None, "connectorType": None, "connectorLabel": None,
                                          "maxResults": None, "nextToken": None}),
        ("/delete-connector-profile", {"connectorProfileName": "to-delete", "forceDelete": None}),
        ("/update-connector-profile", {"connectorProfileName": "to-update", "connectionMode": "Public",
                                       "clientToken": None,
                                       CONFIG: {PROPERTIES: {"Salesforce": {"instanceUrl": "https://b.salesforce.com",
                                                                            "isSandboxEnvironment": None}},
                                                CREDENTIALS: None}}),
    ],
    ids=["create-like-the-aws-sample", "describe", "delete", "update-nested"],
)
def test_null_optional_member_is_absent(emulator: Emulator, path: str, body: dict[str, Any]) -> None:
    appflow = appflow_client(emulator.endpoint)
    for name in ("to-delete", "to-update"):
        appflow.create_connector_profile(**full_create_request("Salesforce", name))
    status, _, answer = signed_call(emulator.endpoint, path, json.dumps(body))
    assert status == 200, answer
    for detail in appflow.describe_connector_profiles()["connectorProfileDetails"]:
        assert None not in detail["connectorProfileProperties"]["Salesforce"].values()  # stored without nulls


def test_null_optional_member_is_absent_for_a_client_token_too(emulator: Emulator) -> None:
    """A retry that spells the absent kmsArn another way is the same request, not a conflicting one."""
    with_null = {**_null_sample("tokened"), "clientToken": "token-1"}
    first = signed_call(emulator.endpoint, "/create-connector-profile", json.dumps(with_null))
    without = {k: v for k, v in with_null.items() if k != "kmsArn"}
    without[CONFIG][CREDENTIALS]["Salesforce"] = {"accessToken": "token", "oAuthRequest": {}}
    without[CONFIG][PROPERTIES]["Salesforce"] = {"instanceUrl": "https://acme.my.salesforce.com",
                                                 "isSandboxEnvironment": False}
    again = signed_call(emulator.endpoint, "/create-connector-profile", json.dumps(without))
    assert (first[0], again[0]) == (200, 200)
    assert again[2] == first[2]
    assert emulator.stats.replayed["CreateConnectorProfile"] == 1


@pytest.mark.parametrize(
    ("path", "body", "member", "problem"),
    [
        ("/create-connector-profile", {**full_create_request("Salesforce", "n"), "connectorProfileName": None},
         "connectorProfileName", "required member is missing"),
        ("/create-connector-profile", {**full_create_request("Salesforce", "n"), CONFIG: {PROPERTIES: None}},
         f"{CONFIG}.{PROPERTIES}", "required member is missing"),
        ("/create-connector-profile",
         {**full_create_request("Zendesk", "n"), CONFIG: {**full_create_request("Zendesk")[CONFIG],
                                                          PROPERTIES: {"Zendesk": {"instanceUrl": None}}}},
         f"{CONFIG}.{PROPERTIES}.Zendesk.instanceUrl", "required member is missing"),
        ("/describe-connector-profiles", {"connectorProfileNames": ["crm", None]},
         "connectorProfileNames[1]", "expected a string, got null"),
        ("/delete-connector-profile", {"connectorProfileName": None}, "connectorProfileName",
         "required member is missing"),
    ],
    ids=["required-top-level", "required-nested", "required-in-connector-block", "null-list-item",
         "required-on-delete"],
)
def test_null_required_member_is_refused_naming_it(unchecked_client: Any, path: str, body: dict[str, Any],
                                                     member: str, problem: str) -> None:
    status, headers, answer = signed_call(unchecked_client.meta.endpoint_url, path, json.dumps(body))
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert f"'{member}' {problem}" in answer["message"]


# Patterns in the API's ECMAScript dialect. botocore does not check patterns client side, so a client
# with its own validation on sends these, and the refusals come from the emulator.

@pytest.mark.parametrize(("name", "accepted"), [c[1:] for c in PROFILE_NAMES], ids=[c[0] for c in PROFILE_NAMES])
def test_profile_name_word_characters_are_ascii(emulator: Emulator, name: str, accepted: bool) -> None:
    appflow = appflow_client(emulator.endpoint)  # parameter_validation on
    request = full_create_request("Salesforce", name)
    if accepted:
        appflow.create_connector_profile(**request)
        assert [d["connectorProfileName"] for d in appflow.describe_connector_profiles()["connectorProfileDetails"]] \
            == [name]
        return
    with pytest.raises(appflow.exceptions.ValidationException) as raised:
        appflow.create_connector_profile(**request)
    assert "'connectorProfileName' does not match the required pattern" in raised.value.response["Error"]["Message"]
    assert "where \\w is A-Z, a-z, 0-9 or _" in raised.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("connector_type", "member", "value", "accepted"),
    [
        ("Salesforce", "instanceUrl", "https://例え.jp/パス", True),  # \S+: any non-space character
        ("Redshift", "bucketPrefix", "préfixe/名前/😀", True),  # .*: anything but a line terminator
        ("Snowflake", "warehouse", "wh\u00a0one\u3000two\ufeff", True),  # \s is ECMAScript's: NBSP, ideographic, BOM
        ("Snowflake", "warehouse", "wh\x1cone", False),  # U+001C is a space to Python's \s only
        ("Snowflake", "warehouse", "entrepôt", False),  # [\s\w...]: ASCII word characters only
        ("Redshift", "bucketPrefix", "a\rb", False),  # ECMAScript's . stops at CR too, not only at LF
        ("Salesforce", "instanceUrl", "https://a.example.com\u2003", False),  # EM SPACE is \s, so not \S
    ],
    ids=["unicode-in-non-space", "unicode-and-astral-in-any", "ecmascript-spaces", "python-only-space",
         "unicode-letter-in-word-class", "carriage-return-is-not-dot", "unicode-space-is-not-non-space"],
)
def test_patterns_follow_ecmascript(emulator: Emulator, connector_type: str, member: str, value: str,
                                    accepted: bool) -> None:
    appflow = appflow_client(emulator.endpoint)
    request = full_create_request(connector_type, "dialect")
    key = connector_key(connector_type)
    assert key is not None
    request[CONFIG][PROPERTIES][key][member] = value
    if accepted:
        appflow.create_connector_profile(**request)
        [detail] = appflow.describe_connector_profiles()["connectorProfileDetails"]
        assert detail["connectorProfileProperties"][key][member] == value
        return
    with pytest.raises(appflow.exceptions.ValidationException) as raised:
        appflow.create_connector_profile(**request)
    assert f"'{CONFIG}.{PROPERTIES}.{key}.{member}' does not match the required pattern" in (
        raised.value.response["Error"]["Message"])


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"^[a-zA-Z0-9_]*$", "abc\n", False),  # ECMAScript's $ is the end, not "before a final newline"
        (r"^\d{3}$", "١٢٣", False),
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", "glue 😀 名前", True),  # a surrogate pair
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", "\x01", False),  # is one code point
        (r"[\s\w/!@#+=.-]*", "a\u2029b", True),
        (r"\S+", "a\x85b", True),  # NEL: a space to Python's \s, not to ECMAScript's
    ],
    ids=["dollar-is-the-end", "digits-are-ascii", "astral-in-glue-name", "control-not-in-glue-name",
         "paragraph-separator-is-space", "nel-is-not-space"],
)
def test_patterns_no_profile_request_uses(pattern: str, value: str, matches: bool) -> None:
    """Model patterns outside the profile requests (Glue names, timestamps), read the same way."""
    assert bool(compiled_pattern(pattern).fullmatch(value)) is matches
