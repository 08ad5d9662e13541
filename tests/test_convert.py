"""deployer.convert: CloudFormation-named manifest props -> the CreateConnectorProfile request.

Every property path of the CloudFormation schema gets a test: a manifest setting it
converts to the right API member, and the request passes the API model checks and
botocore's own parameter validation. The expected API names are worked out here from
the naming rule (first letter lowercased; connector keys and user map keys verbatim;
the two real renames), never from convert.py's own tables.
"""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from typing import Any

import pytest
from botocore.exceptions import ParamValidationError
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.validate import validate_parameters

from deployer.apimodel import Violation, check_value, input_shape
from deployer.apimodel import shape as api_model_shape
from deployer.connectors import check_connector_rules
from deployer.convert import Conversion, cfn_name, cfn_path, in_cloudformation, to_api, to_cfn
from deployer.schema import connector_profile_schema, property_paths, read_only_properties
from tests.support import names_outside_schema, sample_string

CREATE = input_shape("CreateConnectorProfile")
REFERENCE_SCHEMA_SHA256 = "095d1ae1df38131db3ab37854f0cc03176b02789a7db4ac5e15a168b59f4c22e"
CLIENT_TOKEN = "test-client-token"

CONFIG, PROPERTIES, CREDENTIALS = "ConnectorProfileConfig", "ConnectorProfileProperties", "ConnectorProfileCredentials"

# The two CloudFormation names that are not the API name with a capital first letter.
RENAMED = {"KMSArn": "kmsArn", "ConnectorOAuthRequest": "oAuthRequest"}

# Connector key (as in the schema's blocks) -> its ConnectorType value.
CONNECTOR_TYPES = {
    "Amplitude": "Amplitude", "CustomConnector": "CustomConnector", "Datadog": "Datadog", "Dynatrace": "Dynatrace",
    "GoogleAnalytics": "Googleanalytics", "InforNexus": "Infornexus", "Marketo": "Marketo", "Pardot": "Pardot",
    "Redshift": "Redshift", "SAPOData": "SAPOData", "Salesforce": "Salesforce", "ServiceNow": "Servicenow",
    "Singular": "Singular", "Slack": "Slack", "Snowflake": "Snowflake", "Trendmicro": "Trendmicro",
    "Veeva": "Veeva", "Zendesk": "Zendesk",
}


def _base(key: str, properties: dict[str, Any] | None, credentials: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A minimal valid manifest for one connector; values start with 'base' so the tests' own values differ."""
    props: dict[str, Any] = {
        "ConnectorProfileName": "base-profile",
        "ConnectorType": CONNECTOR_TYPES[key],
        "ConnectionMode": "Public",
        CONFIG: {
            PROPERTIES: {key: properties} if properties is not None else {},
            CREDENTIALS: {key: credentials},
        },
    }
    props.update(top)
    return props


URL = {"InstanceUrl": "https://base.example.com"}
CLIENT = {"ClientId": "base-client-id", "ClientSecret": "base-client-secret"}
LOGIN = {"Username": "base-user", "Password": "base-password"}
BASES: dict[str, dict[str, Any]] = {
    "Amplitude": _base("Amplitude", None, {"ApiKey": "base-api-key", "SecretKey": "base-secret-key"}),
    "CustomConnector": _base("CustomConnector", None, {"AuthenticationType": "APIKEY",
                                                       "ApiKey": {"ApiKey": "base-api-key"}},
                             ConnectorLabel="base-connector"),
    "Datadog": _base("Datadog", URL, {"ApiKey": "base-api-key", "ApplicationKey": "base-application-key"}),
    "Dynatrace": _base("Dynatrace", URL, {"ApiToken": "base-api-token"}),
    "GoogleAnalytics": _base("GoogleAnalytics", None, CLIENT),
    "InforNexus": _base("InforNexus", URL, {"AccessKeyId": "base-key-id", "UserId": "base-user",
                                            "SecretAccessKey": "base-secret", "Datakey": "base-data-key"}),
    "Marketo": _base("Marketo", URL, CLIENT),
    "Pardot": _base("Pardot", URL, {"AccessToken": "base-access-token"}),
    "Redshift": _base("Redshift", {"BucketName": "base-bucket",
                                   "RoleArn": "arn:aws:iam::123456789012:role/base-role"}, LOGIN),
    "SAPOData": _base("SAPOData", {"ApplicationHostUrl": "https://base.example.com",
                                   "ApplicationServicePath": "/sap/opu/odata", "PortNumber": 8443,
                                   "ClientNumber": "010"}, {"BasicAuthCredentials": LOGIN}),
    "Salesforce": _base("Salesforce", URL, {"AccessToken": "base-access-token"}),
    "ServiceNow": _base("ServiceNow", URL, LOGIN),
    "Singular": _base("Singular", None, {"ApiKey": "base-api-key"}),
    "Slack": _base("Slack", URL, CLIENT),
    "Snowflake": _base("Snowflake", {"Warehouse": "base_wh", "Stage": "base-stage", "BucketName": "base-bucket"},
                       LOGIN),
    "Trendmicro": _base("Trendmicro", None, {"ApiSecretKey": "base-secret"}),
    "Veeva": _base("Veeva", URL, LOGIN),
    "Zendesk": _base("Zendesk", URL, CLIENT),
}

# Leaves whose value the connector rules fix: the tests set the value the base already needs.
FIXED_VALUES = {
    (CONFIG, CREDENTIALS, "CustomConnector", "AuthenticationType"): "APIKEY",  # the base carries ApiKey
}

# Strings tried in order; the first that fits a member's pattern and length is used.
STRING_CANDIDATES = [
    "set-value",
    "https://set.example.com/path",
    "arn:aws:iam::123456789012:role/set-role",
    "arn:aws:kms:us-east-1:123456789012:key/set-key",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:set-secret",
    "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
    "header.payload.signature",
    "100",
    "EN",
]


# --- The independent expectation: CloudFormation path -> API path --------------------------------


def expected_api_path(cfn_path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The API path of a CloudFormation path, from the naming rule alone.

    Connector keys (the member under ConnectorProfileProperties/Credentials) and the keys of
    user maps stay verbatim; the two real renames; otherwise the first letter is lowercased.
    """
    out: list[str | int] = []
    for index, name in enumerate(cfn_path):
        shape_here = api_shape_at(tuple(out))
        if isinstance(name, int) or isinstance(shape_here, MapShape):
            out.append(name)
        elif index == 2 and cfn_path[0] == CONFIG and cfn_path[1] in (PROPERTIES, CREDENTIALS):
            out.append(name)
        elif name in RENAMED:
            out.append(RENAMED[name])
        else:
            out.append(name[:1].lower() + name[1:])
    return tuple(out)


def api_shape_at(api_path: tuple[str | int, ...]) -> Shape:
    """The model shape at an API path; fails if the path names no member."""
    current: Shape = CREATE
    for part in api_path:
        if isinstance(current, StructureShape):
            assert part in current.members, f"API model has no member {part!r} in {current.name}"
            current = current.members[part]
        elif isinstance(current, MapShape):
            current = current.value
        elif isinstance(current, ListShape):
            current = current.member
        else:
            raise AssertionError(f"{api_path} goes below the scalar {current.name}")
    return current


def translate(value: Any, cfn_path: tuple[str | int, ...]) -> Any:
    """A CloudFormation-spelled value in API spelling, per ``expected_api_path``."""
    if isinstance(value, dict):
        return {expected_api_path((*cfn_path, k))[-1]: translate(v, (*cfn_path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [translate(item, (*cfn_path, i)) for i, item in enumerate(value)]
    return value


def get(value: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


# --- Manifest builders ---------------------------------------------------------------------------


def schema_node(cfn_path: tuple[str, ...]) -> dict[str, Any]:
    """The CloudFormation schema node at a property path, with $ref and arrays resolved."""
    schema = connector_profile_schema()
    definitions = schema["definitions"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = definitions[node["$ref"].rsplit("/", 1)[-1]]
        return node

    node = resolve(schema)
    for name in cfn_path:
        if node.get("type") == "array":
            node = resolve(node["items"])
        node = resolve(node["properties"][name])
    return node


def sample_scalar(model: Shape, cfn_path: tuple[str, ...], existing: Any = None) -> Any:
    kind = model.type_name
    if kind == "boolean":
        return True
    if kind in ("integer", "long"):
        low, high = model.metadata.get("min", 1), model.metadata.get("max", 10_000)
        return min(max(low, 443), high)
    assert kind == "string", f"no sample for {kind} at {cfn_path}"
    if model.enum:
        return next(v for v in model.enum if v != existing)
    return sample_string(model, STRING_CANDIDATES)


def sample(cfn_path: tuple[str, ...], connector: str, existing: Any = None) -> Any:
    """A value for a CloudFormation path, in CloudFormation spelling, valid for the API model."""
    if cfn_path in FIXED_VALUES:
        return FIXED_VALUES[cfn_path]
    if cfn_path == ("ConnectorType",):
        return CONNECTOR_TYPES[connector]
    model = api_shape_at(expected_api_path(cfn_path))
    if isinstance(model, StructureShape):
        value = copy.deepcopy(existing) if isinstance(existing, dict) else {}
        fill_required(value, cfn_path, connector)
        if not value:
            children = list(schema_node(cfn_path).get("properties", {}))
            if cfn_path[-1] in (PROPERTIES, CREDENTIALS):
                children = [connector] if connector in children else []
            scalars = [c for c in children if "properties" not in schema_node((*cfn_path, c))]
            for child in scalars + children:
                value[child] = sample((*cfn_path, child), connector)
                break
        return value
    if isinstance(model, MapShape):
        return {"key1": "value"}
    if isinstance(model, ListShape):
        return [sample_scalar(model.member, cfn_path)]
    return sample_scalar(model, cfn_path, existing)


def fill_required(block: dict[str, Any], cfn_path: tuple[str, ...], connector: str) -> None:
    """Add the members the API model requires in the structure at ``cfn_path`` (CloudFormation names)."""
    model = api_shape_at(expected_api_path(cfn_path))
    assert isinstance(model, StructureShape)
    by_api_name = {expected_api_path((*cfn_path, c))[-1]: c for c in schema_node(cfn_path).get("properties", {})}
    for member in model.required_members:
        child = by_api_name[member]
        if child not in block:
            block[child] = sample((*cfn_path, child), connector)


def connector_of(cfn_path: tuple[str, ...]) -> str:
    if len(cfn_path) >= 3 and cfn_path[0] == CONFIG:
        return cfn_path[2]
    if cfn_path == ("ConnectorLabel",):
        return "CustomConnector"  # the connector rules allow a label only there
    return "Salesforce"


def manifest_setting(cfn_path: tuple[str, ...]) -> dict[str, Any]:
    """The connector's minimal manifest with a value set at ``cfn_path`` (and what its parents need)."""
    connector = connector_of(cfn_path)
    props = copy.deepcopy(BASES[connector])
    parent = props
    for depth in range(1, len(cfn_path)):
        parent = parent.setdefault(cfn_path[depth - 1], {})
        fill_required(parent, cfn_path[:depth], connector)
    parent[cfn_path[-1]] = sample(cfn_path, connector, parent.get(cfn_path[-1]))
    return props


def assert_valid_request(request: dict[str, Any]) -> None:
    """The request passes the API model, AppFlow's connector rules and botocore's own validation."""
    with_token = {**request, "clientToken": CLIENT_TOKEN}
    assert check_value(CREATE, with_token) == []
    assert check_connector_rules(request["connectorType"], request.get("connectorLabel"),
                                 request["connectorProfileConfig"], creating=True) == []
    try:
        validate_parameters(with_token, CREATE)
    except ParamValidationError as error:  # pragma: no cover - the failure message is the point
        pytest.fail(f"botocore refuses the request: {error}")


def convert(props: dict[str, Any], **kwargs: Any) -> Conversion:
    return to_api(props, CREATE, **kwargs)


def _cfg(properties: Any = None, credentials: Any = None) -> dict[str, Any]:
    block: dict[str, Any] = {}
    if properties is not None:
        block[PROPERTIES] = properties
    if credentials is not None:
        block[CREDENTIALS] = credentials
    return {CONFIG: block}


# --- Every CloudFormation property path ----------------------------------------------------------

INPUT_PATHS = [p for p in property_paths() if p[0] not in read_only_properties()]


def test_the_packaged_schema_is_the_reviewed_reference_schema() -> None:
    # sha256 of ../shared/reference/aws-appflow-connectorprofile.schema.json (cfn-lint 1.58.0, 2026-10-20),
    # copied into the package; a new reference is copied in and this digest updated in the same change.
    packaged = resources.files("deployer").joinpath("data/aws-appflow-connectorprofile.schema.json").read_bytes()
    assert hashlib.sha256(packaged).hexdigest() == REFERENCE_SCHEMA_SHA256
    assert connector_profile_schema()["typeName"] == "AWS::AppFlow::ConnectorProfile"


def test_property_paths_cover_the_schema() -> None:
    paths = property_paths()
    assert len(paths) == 183 and len(set(paths)) == 183
    assert read_only_properties() == ("ConnectorProfileArn", "CredentialsArn")
    assert {p[2] for p in paths if len(p) >= 3 and p[0] == CONFIG} == set(CONNECTOR_TYPES)
    assert len(INPUT_PATHS) == 181


@pytest.mark.parametrize("connector", sorted(BASES))
def test_each_base_manifest_is_a_valid_request(connector: str) -> None:
    conversion = convert(BASES[connector])
    assert conversion.problems == []
    assert conversion.value == translate(BASES[connector], ())
    assert_valid_request(conversion.value)


@pytest.mark.parametrize("cfn_path", INPUT_PATHS, ids=[".".join(p) for p in INPUT_PATHS])
def test_each_property_path_converts_to_its_api_member(cfn_path: tuple[str, ...]) -> None:
    props = manifest_setting(cfn_path)
    api_path = expected_api_path(cfn_path)

    conversion = convert(props)

    assert conversion.problems == []
    assert get(conversion.value, api_path) == translate(get(props, cfn_path), cfn_path)
    assert conversion.value == translate(props, ())
    assert conversion.user_path(api_path) == cfn_path
    assert_valid_request(conversion.value)


@pytest.mark.parametrize("prop", ["ConnectorProfileArn", "CredentialsArn"])
def test_read_only_properties_are_not_inputs(prop: str) -> None:
    assert prop in read_only_properties()
    value = "arn:aws:appflow:us-east-1:123456789012:connectorprofile/base-profile"
    props = {**BASES["Salesforce"], prop: value}

    refused = convert(props)
    assert [(v.path, v.problem) for v in refused.problems] == [((prop,), "unknown property")]
    assert refused.value == convert(BASES["Salesforce"]).value

    skipped = convert(props, not_in_api=(prop,))  # how validate.py passes them over (and reports them itself)
    assert skipped.problems == []
    assert skipped.value == convert(BASES["Salesforce"]).value


def test_client_token_is_not_a_manifest_property() -> None:
    # Not in the CloudFormation schema; the deployer sends its own clientToken on create and update.
    conversion = convert({**BASES["Salesforce"], "ClientToken": "user-token"})
    assert "clientToken" not in conversion.value
    assert [(v.path, v.problem) for v in conversion.problems] == [(("ClientToken",), "unknown property")]


# --- Spellings -----------------------------------------------------------------------------------

API_SPELLED = {
    "salesforce": {
        "connectorProfileName": "crm", "connectorType": "Salesforce", "connectionMode": "Public",
        "kmsArn": "arn:aws:kms:us-east-1:123456789012:key/k",
        "connectorProfileConfig": {
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": "https://x.my.salesforce.com",
                                                          "isSandboxEnvironment": False}},
            "connectorProfileCredentials": {"Salesforce": {"accessToken": "t",
                                                           "oAuthRequest": {"authCode": "c", "redirectUri": "r"}}},
        },
    },
    "sapodata": {
        "connectorProfileName": "sap", "connectorType": "SAPOData", "connectionMode": "Private",
        "connectorProfileConfig": {
            "connectorProfileProperties": {"SAPOData": {
                "applicationHostUrl": "https://sap.example.com", "applicationServicePath": "/odata",
                "portNumber": 443, "clientNumber": "100", "logonLanguage": "EN", "disableSSO": True,
                "oAuthProperties": {"tokenUrl": "https://t.example.com", "authCodeUrl": "https://a.example.com",
                                    "oAuthScopes": ["read", "write"]}}},
            "connectorProfileCredentials": {"SAPOData": {"oAuthCredentials": {
                "clientId": "id", "clientSecret": "s", "oAuthRequest": {"authCode": "c"}}}},
        },
    },
    "custom-connector": {
        "connectorProfileName": "cc", "connectorType": "CustomConnector", "connectorLabel": "my-connector",
        "connectionMode": "Public",
        "connectorProfileConfig": {
            "connectorProfileProperties": {"CustomConnector": {
                "profileProperties": {"instanceUrl": "x", "API_VERSION": "v1"},
                "oAuth2Properties": {"tokenUrl": "https://t.example.com", "oAuth2GrantType": "CLIENT_CREDENTIALS",
                                     "tokenUrlCustomProperties": {"Audience": "a"}}}},
            "connectorProfileCredentials": {"CustomConnector": {
                "authenticationType": "CUSTOM",
                "custom": {"customAuthenticationType": "token", "credentialsMap": {"ApiKey": "k", "x_id": "y"}},
                "oauth2": {"clientId": "id", "oAuthRequest": {"redirectUri": "r"}}}},
        },
    },
    "servicenow": {
        "connectorProfileName": "sn", "connectorType": "Servicenow", "connectionMode": "Public",
        "connectorProfileConfig": {
            "connectorProfileProperties": {"ServiceNow": {"instanceUrl": "https://sn.example.com"}},
            "connectorProfileCredentials": {"ServiceNow": {"oAuth2Credentials": {
                "clientId": "id", "clientSecret": "s", "oAuthRequest": {"authCode": "c"}}}},
        },
    },
    "inforNexus": {
        "connectorProfileName": "inx", "connectorType": "Infornexus", "connectionMode": "Public",
        "connectorProfileConfig": {
            "connectorProfileProperties": {"InforNexus": {"instanceUrl": "https://inx.example.com"}},
            "connectorProfileCredentials": {"InforNexus": {"accessKeyId": "a", "userId": "u",
                                                           "secretAccessKey": "s", "datakey": "d"}},
        },
    },
    "amplitude-empty-properties": {
        "connectorProfileName": "amp", "connectorType": "Amplitude", "connectionMode": "Public",
        "connectorProfileConfig": {"connectorProfileProperties": {},
                                   "connectorProfileCredentials": {"Amplitude": {"apiKey": "k", "secretKey": "s"}}},
    },
}


@pytest.mark.parametrize("request_body", list(API_SPELLED.values()), ids=list(API_SPELLED))
def test_a_request_in_api_spelling_converts_to_itself(request_body: dict[str, Any]) -> None:
    conversion = convert(copy.deepcopy(request_body))
    assert conversion.problems == []
    assert conversion.value == request_body
    assert_valid_request(conversion.value)


@pytest.mark.parametrize(
    ("props", "path", "fix"),
    [
        (_cfg({"Salesforce": {"InstanceURL": "https://x"}}), (CONFIG, PROPERTIES, "Salesforce", "InstanceURL"),
         "did you mean 'InstanceUrl'?"),
        ({"connectorprofilename": "x"}, ("connectorprofilename",), "did you mean 'ConnectorProfileName'?"),
        ({"KmsArn": "arn:aws:kms:us-east-1:123456789012:key/k"}, ("KmsArn",), "did you mean 'KMSArn'?"),
        (_cfg({"SalesForce": {}}), (CONFIG, PROPERTIES, "SalesForce"), "did you mean 'Salesforce'?"),
        (_cfg(None, {"GoogleAnalytics": {"ClientID": "x"}}), (CONFIG, CREDENTIALS, "GoogleAnalytics", "ClientID"),
         "did you mean 'ClientId'?"),
        (_cfg(None, {"CustomConnector": {"OAuth2": {}}}), (CONFIG, CREDENTIALS, "CustomConnector", "OAuth2"),
         "did you mean 'Oauth2'?"),
        ({"Tags": [{"Key": "team", "Value": "crm"}]}, ("Tags",),
         "allowed: ConnectionMode, ConnectorLabel, ConnectorProfileConfig, ConnectorProfileName, "
         "ConnectorType, KMSArn"),
    ],
    ids=["InstanceURL", "lowercase-name", "KmsArn", "SalesForce", "ClientID", "OAuth2-for-Oauth2", "no-close-match"],
)
def test_a_wrong_name_is_an_unknown_property(props: dict[str, Any], path: tuple[str, ...], fix: str) -> None:
    conversion = convert(props)
    assert conversion.problems == [Violation(path, "unknown property", fix)]
    assert path[-1] not in json.dumps(conversion.value)


@pytest.mark.parametrize(
    ("props", "member"),
    [
        ({"KMSArn": "arn:aws:kms:us-east-1:123456789012:key/k", "kmsArn": "arn:aws:kms:us-east-1:1:key/other"},
         "kmsArn"),
        (_cfg({"Salesforce": {"InstanceUrl": "https://a", "instanceUrl": "https://b"}}), "instanceUrl"),
    ],
    ids=["KMSArn+kmsArn", "InstanceUrl+instanceUrl"],
)
def test_a_member_set_under_two_spellings_is_a_problem(props: dict[str, Any], member: str) -> None:
    conversion = convert(props)
    assert [(v.problem, v.fix) for v in conversion.problems] == [
        (f"set twice (also as another spelling of {member})", "keep one")]


# --- Unset values and empty blocks ---------------------------------------------------------------

SF_CREDENTIALS = {"Salesforce": {"AccessToken": "t"}}
API_SF_CREDENTIALS = {"Salesforce": {"accessToken": "t"}}


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"ConnectorProfileName": "p", "KMSArn": None}, {"connectorProfileName": "p"}),
        ({"ConnectorProfileName": "p", "KMSArn": ""}, {"connectorProfileName": "p"}),
        ({"ConnectorProfileName": None, "ConnectorLabel": ""}, {}),
        (_cfg({"Salesforce": {"InstanceUrl": None, "isSandboxEnvironment": ""}}, SF_CREDENTIALS),
         {"connectorProfileConfig": {"connectorProfileProperties": {},
                                     "connectorProfileCredentials": API_SF_CREDENTIALS}}),
        (_cfg({}, {"Salesforce": {"AccessToken": "", "RefreshToken": None}}),
         {"connectorProfileConfig": {"connectorProfileProperties": {}}}),
        (_cfg(None, {"Salesforce": {"AccessToken": "t", "ConnectorOAuthRequest": {"AuthCode": None,
                                                                                   "RedirectUri": ""}}}),
         {"connectorProfileConfig": {"connectorProfileProperties": {},
                                     "connectorProfileCredentials": API_SF_CREDENTIALS}}),
        (_cfg({"SAPOData": {"OAuthProperties": {"OAuthScopes": [None, "", "read"]}}}),
         {"connectorProfileConfig": {"connectorProfileProperties": {
             "SAPOData": {"oAuthProperties": {"oAuthScopes": ["read"]}}}}}),
        (_cfg({"SAPOData": {"OAuthProperties": {"OAuthScopes": [None, ""]}}}),
         {"connectorProfileConfig": {"connectorProfileProperties": {}}}),
        (_cfg({"CustomConnector": {"ProfileProperties": {"a": None, "b": "", "c": "v"}}}),
         {"connectorProfileConfig": {"connectorProfileProperties": {
             "CustomConnector": {"profileProperties": {"c": "v"}}}}}),
        (_cfg({"CustomConnector": {"ProfileProperties": {"a": None}}}),
         {"connectorProfileConfig": {"connectorProfileProperties": {}}}),
        ({CONFIG: None}, {}),
        ({CONFIG: {}}, {"connectorProfileConfig": {"connectorProfileProperties": {}}}),
    ],
    ids=["null-scalar", "empty-scalar", "all-top-level-unset", "properties-block-left-empty",
         "credentials-block-left-empty", "nested-block-left-empty", "list-items-dropped", "list-left-empty",
         "map-entries-dropped", "map-left-empty", "config-null", "config-empty"],
)
def test_null_and_empty_values_are_dropped_with_blocks_left_empty(props: dict[str, Any],
                                                                  expected: dict[str, Any]) -> None:
    conversion = convert(props)
    assert conversion.problems == []
    assert conversion.value == expected


@pytest.mark.parametrize("connector", ["Amplitude", "GoogleAnalytics", "Singular", "Trendmicro"])
def test_required_properties_block_is_sent_empty_for_connectors_without_properties(connector: str) -> None:
    props = copy.deepcopy(BASES[connector])
    del props[CONFIG][PROPERTIES]
    conversion = convert(props)
    assert conversion.problems == []
    assert conversion.value["connectorProfileConfig"]["connectorProfileProperties"] == {}
    assert_valid_request(conversion.value)


def test_a_required_block_with_required_members_is_not_invented() -> None:
    props = {k: v for k, v in BASES["Salesforce"].items() if k != CONFIG}
    conversion = convert(props)
    assert conversion.problems == []
    assert "connectorProfileConfig" not in conversion.value
    assert Violation(("connectorProfileConfig",), "required member is missing", "add 'connectorProfileConfig'") in (
        check_value(CREATE, conversion.value))


# --- Types ---------------------------------------------------------------------------------------

SF_SANDBOX = (CONFIG, PROPERTIES, "Salesforce", "isSandboxEnvironment")
SAP_PORT = (CONFIG, PROPERTIES, "SAPOData", "PortNumber")
SAP_CLIENT = (CONFIG, PROPERTIES, "SAPOData", "ClientNumber")
REDSHIFT_SERVERLESS = (CONFIG, PROPERTIES, "Redshift", "IsRedshiftServerless")
SF_URL = (CONFIG, PROPERTIES, "Salesforce", "InstanceUrl")
SF_TOKEN = (CONFIG, CREDENTIALS, "Salesforce", "AccessToken")
SCOPES = (CONFIG, PROPERTIES, "SAPOData", "OAuthProperties", "OAuthScopes")


def _nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    for name in reversed(path):
        value = {name: value}
    return value


@pytest.mark.parametrize(
    ("path", "given", "expected"),
    [
        (SF_SANDBOX, "true", True),
        (SF_SANDBOX, "false", False),
        (SF_SANDBOX, " True ", True),
        (SF_SANDBOX, False, False),
        (REDSHIFT_SERVERLESS, "FALSE", False),
        (SAP_PORT, "443", 443),
        (SAP_PORT, 443, 443),
        (SAP_CLIENT, 100, "100"),
        (SAP_CLIENT, "010", "010"),
        (SF_URL, "https://x.my.salesforce.com", "https://x.my.salesforce.com"),
        (SCOPES, "read", ["read"]),
    ],
    ids=["true", "false", "True-padded", "bool", "FALSE", "port-text", "port-int", "client-number-int",
         "client-number-text", "text", "single-item-as-list"],
)
def test_values_are_coerced_where_the_api_type_is_unambiguous(path: tuple[str, ...], given: Any,
                                                              expected: Any) -> None:
    conversion = convert(_nested(path, given))
    assert conversion.problems == []
    got = get(conversion.value, expected_api_path(path))
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("path", "given", "problem", "fix", "sensitive"),
    [
        (SF_SANDBOX, "yes", "expected true or false, got string", "use true or false", False),
        (SF_SANDBOX, 1, "expected true or false, got integer", "use true or false", False),
        (SAP_PORT, "443.0", "expected a whole number, got string", "use a whole number", False),
        (SAP_PORT, True, "expected a whole number, got boolean", "use a whole number", False),
        (SF_URL, True, "expected text, got boolean", "quote it to make it text", False),
        (SF_URL, ["https://x"], "expected text, got list", "quote it to make it text", False),
        (SF_TOKEN, True, "expected text, got boolean", "quote it to make it text", True),
        ((CONFIG, PROPERTIES, "Salesforce"), "https://x", "expected a mapping, got string", "", False),
        ((CONFIG, PROPERTIES, "CustomConnector", "ProfileProperties"), ["a"], "expected a mapping, got list", "",
         False),
    ],
    ids=["yes-for-boolean", "1-for-boolean", "decimal-for-integer", "boolean-for-integer", "boolean-for-text",
         "list-for-text", "sensitive-member", "text-for-structure", "list-for-map"],
)
def test_a_value_of_the_wrong_type_is_a_problem(path: tuple[str, ...], given: Any, problem: str, fix: str,
                                                sensitive: bool) -> None:
    conversion = convert(_nested(path, given))
    assert conversion.problems == [Violation(path, problem, fix, value=given, has_value=True, sensitive=sensitive)]
    with pytest.raises(KeyError):
        get(conversion.value, expected_api_path(path))


# --- User maps -----------------------------------------------------------------------------------

USER_MAPS = [
    ((CONFIG, PROPERTIES, "CustomConnector", "ProfileProperties"),
     {"instanceUrl": "https://x", "API_VERSION": "v1", "Region": "us"}),
    ((CONFIG, CREDENTIALS, "CustomConnector", "Custom", "CredentialsMap"), {"ApiKey": "k", "client_id": "c"}),
    ((CONFIG, PROPERTIES, "CustomConnector", "OAuth2Properties", "TokenUrlCustomProperties"),
     {"Audience": "a", "KMSArn": "b", "ConnectorOAuthRequest": "c"}),
]


@pytest.mark.parametrize(("path", "entries"), USER_MAPS, ids=[p[-1] for p, _ in USER_MAPS])
def test_user_map_keys_are_kept_verbatim(path: tuple[str, ...], entries: dict[str, str]) -> None:
    conversion = convert(_nested(path, dict(entries)))
    assert conversion.problems == []
    api_path = {
        "ProfileProperties": ("connectorProfileConfig", "connectorProfileProperties", "CustomConnector",
                              "profileProperties"),
        "CredentialsMap": ("connectorProfileConfig", "connectorProfileCredentials", "CustomConnector", "custom",
                           "credentialsMap"),
        "TokenUrlCustomProperties": ("connectorProfileConfig", "connectorProfileProperties", "CustomConnector",
                                     "oAuth2Properties", "tokenUrlCustomProperties"),
    }[path[-1]]
    assert get(conversion.value, api_path) == entries
    first = next(iter(entries))
    assert conversion.user_path((*api_path, first)) == (*path, first)


# --- Conversion.user_path and cfn_name -----------------------------------------------------------

_SAP_WRITTEN = _cfg({"SAPOData": {"OAuthProperties": {"OAuthScopes": ["", "read"]}}})
_API_WRITTEN = {"connectorProfileConfig": {"connectorProfileCredentials": {"Salesforce": {"accessToken": "t"}}}}


@pytest.mark.parametrize(
    ("props", "api_path", "user_path"),
    [
        (BASES["Salesforce"], (), ()),
        (BASES["Salesforce"], ("connectorProfileName",), ("ConnectorProfileName",)),
        (BASES["Salesforce"], ("kmsArn",), ("KMSArn",)),
        ({"KMSArn": "arn:aws:kms:us-east-1:123456789012:key/k"}, ("kmsArn",), ("KMSArn",)),
        ({"kmsArn": "arn:aws:kms:us-east-1:123456789012:key/k"}, ("kmsArn",), ("kmsArn",)),
        (_cfg(None, {"Salesforce": {"ConnectorOAuthRequest": {"AuthCode": "c"}}}),
         ("connectorProfileConfig", "connectorProfileCredentials", "Salesforce", "oAuthRequest", "authCode"),
         (CONFIG, CREDENTIALS, "Salesforce", "ConnectorOAuthRequest", "AuthCode")),
        (_API_WRITTEN, ("connectorProfileConfig", "connectorProfileCredentials", "Salesforce", "accessToken"),
         ("connectorProfileConfig", "connectorProfileCredentials", "Salesforce", "accessToken")),
        (_API_WRITTEN, ("connectorProfileConfig", "connectorProfileCredentials", "Salesforce", "refreshToken"),
         ("connectorProfileConfig", "connectorProfileCredentials", "Salesforce", "RefreshToken")),
        (BASES["Redshift"], ("connectorProfileConfig", "connectorProfileProperties", "Redshift", "databaseName"),
         (CONFIG, PROPERTIES, "Redshift", "DatabaseName")),
        (_SAP_WRITTEN, ("connectorProfileConfig", "connectorProfileProperties", "SAPOData", "oAuthProperties",
                        "oAuthScopes", 0),
         (CONFIG, PROPERTIES, "SAPOData", "OAuthProperties", "OAuthScopes", 1)),
        (_SAP_WRITTEN, ("connectorProfileConfig", "connectorProfileProperties", "SAPOData", "oAuthProperties",
                        "tokenUrl"),
         (CONFIG, PROPERTIES, "SAPOData", "OAuthProperties", "TokenUrl")),
    ],
    ids=["root", "written", "unwritten-rename", "written-rename", "written-in-api-spelling", "nested-rename",
         "api-spelling-kept", "unwritten-under-api-spelling", "unwritten-member", "list-index-after-dropped-item",
         "unwritten-required-member"],
)
def test_user_path_maps_an_api_path_back_to_the_users_spelling(props: dict[str, Any], api_path: tuple[Any, ...],
                                                               user_path: tuple[Any, ...]) -> None:
    conversion = convert(props)
    assert conversion.problems == []
    assert conversion.user_path(api_path) == user_path


@pytest.mark.parametrize(
    ("api_name", "cfn"),
    [
        ("instanceUrl", "InstanceUrl"),
        ("connectorProfileConfig", "ConnectorProfileConfig"),
        ("kmsArn", "KMSArn"),
        ("oAuthRequest", "ConnectorOAuthRequest"),
        ("oAuth2Credentials", "OAuth2Credentials"),
        ("oauth2", "Oauth2"),
        ("datakey", "Datakey"),
        ("disableSSO", "DisableSSO"),
        ("Salesforce", "Salesforce"),
        ("SAPOData", "SAPOData"),
        ("GoogleAnalytics", "GoogleAnalytics"),
        (0, 0),
        (3, 3),
    ],
    ids=lambda v: str(v),
)
def test_cfn_name(api_name: str | int, cfn: str | int) -> None:
    assert cfn_name(api_name) == cfn


# --- CloudFormation names come from the schema ----------------------------------------------------


@pytest.mark.parametrize("cfn", INPUT_PATHS, ids=[".".join(p) for p in INPUT_PATHS])
def test_each_api_path_spells_back_to_its_schema_path(cfn: tuple[str, ...]) -> None:
    assert cfn_path(expected_api_path(cfn), CREATE) == cfn


@pytest.mark.parametrize(
    ("within", "api_name", "cfn"),
    [
        ("SalesforceConnectorProfileCredentials", "oAuthRequest", "ConnectorOAuthRequest"),
        ("OAuth2Credentials", "oAuthRequest", "OAuthRequest"),  # CustomConnector.Oauth2 and ServiceNow
        ("SalesforceConnectorProfileProperties", "isSandboxEnvironment", "isSandboxEnvironment"),
        ("SalesforceConnectorProfileProperties", "usePrivateLinkForMetadataAndAuthorization",
         "usePrivateLinkForMetadataAndAuthorization"),
        ("PardotConnectorProfileProperties", "isSandboxEnvironment", "IsSandboxEnvironment"),
        ("CreateConnectorProfileRequest", "kmsArn", "KMSArn"),
        ("CreateConnectorProfileRequest", "connectorLabel", "ConnectorLabel"),
    ],
)
def test_cfn_name_within_a_structure_is_the_schemas(within: str, api_name: str, cfn: str) -> None:
    model = api_model_shape(within)
    assert isinstance(model, StructureShape)
    assert cfn_name(api_name, model) == cfn
    assert in_cloudformation(model, api_name)


@pytest.mark.parametrize(
    ("within", "api_name"),
    [("ConnectorOAuthRequest", "codeVerifier"), ("SnowflakeConnectorProfileCredentials", "privateKey"),
     ("ConnectorProfileCredentials", "Honeycode"), ("ConnectorProfileProperties", "Amplitude"),
     ("CreateConnectorProfileRequest", "clientToken")],
)
def test_members_the_schema_lacks_are_known(within: str, api_name: str) -> None:
    model = api_model_shape(within)
    assert isinstance(model, StructureShape)
    assert not in_cloudformation(model, api_name)


@pytest.mark.parametrize(
    ("credentials", "api"),
    [
        ({"Oauth2": {"OAuthRequest": {"AuthCode": "c"}}}, {"oauth2": {"oAuthRequest": {"authCode": "c"}}}),
        ({"Oauth2": {"ConnectorOAuthRequest": {"AuthCode": "c"}}}, {"oauth2": {"oAuthRequest": {"authCode": "c"}}}),
    ],
    ids=["schema-name", "name-from-other-blocks"],
)
def test_every_name_a_member_has_in_the_schema_is_accepted(credentials: dict[str, Any], api: dict[str, Any]) -> None:
    conversion = convert(_cfg(None, {"CustomConnector": {"AuthenticationType": "OAUTH2", **credentials}}))
    assert conversion.problems == []
    assert conversion.value["connectorProfileConfig"]["connectorProfileCredentials"]["CustomConnector"] == {
        "authenticationType": "OAUTH2", **api}


@pytest.mark.parametrize("request_body", list(API_SPELLED.values()), ids=list(API_SPELLED))
def test_to_cfn_spells_a_request_with_the_schemas_names(request_body: dict[str, Any]) -> None:
    properties, missing = to_cfn(request_body, CREATE)
    assert missing == []
    assert names_outside_schema(properties) == []
    assert convert(properties).value == request_body


def test_to_cfn_reports_members_the_schema_lacks() -> None:
    request = {"connectorProfileConfig": {"connectorProfileCredentials": {"Snowflake": {
        "username": "u", "privateKey": "k"}}}}
    properties, missing = to_cfn(request, CREATE)
    assert missing == [("connectorProfileConfig", "connectorProfileCredentials", "Snowflake", "privateKey")]
    assert properties == {CONFIG: {CREDENTIALS: {"Snowflake": {"Username": "u", "PrivateKey": "k"}}}}


def test_user_path_of_an_unwritten_member_is_spelled_in_its_block() -> None:
    conversion = convert(_cfg(None, {"ServiceNow": {"OAuth2Credentials": {"ClientId": "id"}}}))
    api_path = ("connectorProfileConfig", "connectorProfileCredentials", "ServiceNow", "oAuth2Credentials",
                "oAuthRequest", "authCode")
    assert conversion.user_path(api_path) == (CONFIG, CREDENTIALS, "ServiceNow", "OAuth2Credentials", "OAuthRequest",
                                              "AuthCode")
