"""One connector profile, two doors: the AppFlow API and Cloud Control's AWS::AppFlow::ConnectorProfile see the
same profiles, through real boto3 appflow and cloudcontrol clients against one emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from deployer.emulator import Emulator
from tests.support import FakeClock, appflow_client, cloudcontrol_client

PROFILE = "AWS::AppFlow::ConnectorProfile"
ARN = "arn:aws:appflow:us-east-1:123456789012:connectorprofile/{}"
CREDENTIALS_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:appflow!123456789012-{}-"
TOKEN = "sf-access-token-value"  # a credential: must never come back through either door


def native_request(name: str, **overrides: Any) -> dict[str, Any]:
    """A Salesforce profile as the AppFlow API takes it."""
    return {
        "connectorProfileName": name,
        "connectorType": "Salesforce",
        "connectionMode": "Public",
        "connectorProfileConfig": {
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": "https://acme.my.salesforce.com"}},
            "connectorProfileCredentials": {"Salesforce": {"accessToken": TOKEN}},
        },
        **overrides,
    }


def cfn_state(name: str, **overrides: Any) -> dict[str, Any]:
    """The same profile as CloudFormation (and Cloud Control's DesiredState) spells it."""
    return {
        "ConnectorProfileName": name,
        "ConnectorType": "Salesforce",
        "ConnectionMode": "Public",
        "ConnectorProfileConfig": {
            "ConnectorProfileProperties": {"Salesforce": {"InstanceUrl": "https://acme.my.salesforce.com"}},
            "ConnectorProfileCredentials": {"Salesforce": {"AccessToken": TOKEN}},
        },
        **overrides,
    }


REDSHIFT_STATE = {  # the profile of a "redshift pipeline" stack
    "ConnectorProfileName": "warehouse",
    "ConnectorType": "Redshift",
    "ConnectionMode": "Public",
    "ConnectorProfileConfig": {
        "ConnectorProfileProperties": {"Redshift": {
            "DatabaseUrl": "jdbc:redshift://pipeline-dw.abc123xyz789.us-east-1.redshift.amazonaws.com:5439/analytics",
            "BucketName": "pipeline-staging", "BucketPrefix": "appflow",
            "RoleArn": "arn:aws:iam::123456789012:role/pipeline-redshift"}},
        "ConnectorProfileCredentials": {"Redshift": {"Username": "admin", "Password": "Sup3r-secret-pw"}},
    },
}


@pytest.fixture
def cc(emulator: Emulator) -> Any:
    return cloudcontrol_client(emulator.endpoint)


def finished(cc: Any, event: dict[str, Any], clock: FakeClock) -> dict[str, Any]:
    clock.advance(3600)
    return dict(cc.get_resource_request_status(RequestToken=event["RequestToken"])["ProgressEvent"])


def cc_create(cc: Any, clock: FakeClock, state: dict[str, Any]) -> dict[str, Any]:
    return finished(cc, cc.create_resource(TypeName=PROFILE, DesiredState=json.dumps(state))["ProgressEvent"], clock)


def cc_update(cc: Any, clock: FakeClock, name: str, patch: list[dict[str, Any]]) -> dict[str, Any]:
    event = cc.update_resource(TypeName=PROFILE, Identifier=name, PatchDocument=json.dumps(patch))["ProgressEvent"]
    return finished(cc, event, clock)


def cc_properties(cc: Any, name: str) -> dict[str, Any]:
    described = cc.get_resource(TypeName=PROFILE, Identifier=name)["ResourceDescription"]
    assert described["Identifier"] == name
    assert TOKEN not in described["Properties"]
    return dict(json.loads(described["Properties"]))


def native_detail(appflow: Any, name: str) -> dict[str, Any]:
    [detail] = appflow.describe_connector_profiles(connectorProfileNames=[name])["connectorProfileDetails"]
    return dict(detail)


def test_a_profile_made_through_appflow_is_read_through_cloud_control(appflow: Any, cc: Any) -> None:
    appflow.create_connector_profile(**native_request("crm"))
    model = cc_properties(cc, "crm")
    credentials_arn = model.pop("CredentialsArn")
    assert credentials_arn.startswith(CREDENTIALS_ARN.format("crm"))
    assert credentials_arn == native_detail(appflow, "crm")["credentialsArn"]
    # ConnectorProfileConfig is write-only in the type's schema (credentials and properties alike), as is KMSArn
    assert model == {"ConnectorProfileName": "crm", "ConnectorType": "Salesforce", "ConnectionMode": "Public",
                     "ConnectorProfileArn": ARN.format("crm")}
    listed = cc.list_resources(TypeName=PROFILE)["ResourceDescriptions"]
    assert [d["Identifier"] for d in listed] == ["crm"]
    assert json.loads(listed[0]["Properties"])["ConnectorProfileArn"] == ARN.format("crm")


def test_a_custom_connector_reads_back_its_label(appflow: Any, cc: Any) -> None:
    appflow.create_connector_profile(
        connectorProfileName="custom", connectorType="CustomConnector", connectorLabel="my-connector",
        connectionMode="Public", connectorProfileConfig={
            "connectorProfileProperties": {"CustomConnector": {"profileProperties": {"tenant": "acme"}}},
            "connectorProfileCredentials": {"CustomConnector": {"authenticationType": "APIKEY",
                                                                "apiKey": {"apiKey": TOKEN}}}})
    model = cc_properties(cc, "custom")
    assert (model["ConnectorType"], model["ConnectorLabel"]) == ("CustomConnector", "my-connector")


def test_a_profile_made_through_cloud_control_is_described_by_appflow(appflow: Any, cc: Any,
                                                                       clock: FakeClock) -> None:
    done = cc_create(cc, clock, REDSHIFT_STATE)
    assert (done["OperationStatus"], done["Identifier"]) == ("SUCCESS", "warehouse")
    detail = native_detail(appflow, "warehouse")
    assert detail["connectorProfileArn"] == ARN.format("warehouse")
    assert (detail["connectorType"], detail["connectionMode"]) == ("Redshift", "Public")
    assert detail["connectorProfileProperties"] == {"Redshift": {
        "databaseUrl": "jdbc:redshift://pipeline-dw.abc123xyz789.us-east-1.redshift.amazonaws.com:5439/analytics",
        "bucketName": "pipeline-staging", "bucketPrefix": "appflow",
        "roleArn": "arn:aws:iam::123456789012:role/pipeline-redshift"}}
    assert "Sup3r-secret-pw" not in json.dumps(detail, default=str)
    assert cc_properties(cc, "warehouse")["CredentialsArn"] == detail["credentialsArn"]
    assert "Sup3r-secret-pw" not in cc.get_resource(TypeName=PROFILE, Identifier="warehouse")["ResourceDescription"][
        "Properties"]


def test_an_update_through_either_door_is_seen_through_the_other(appflow: Any, cc: Any, clock: FakeClock) -> None:
    assert cc_create(cc, clock, cfn_state("crm"))["OperationStatus"] == "SUCCESS"
    moved = [{"op": "replace", "path": "/ConnectorProfileConfig/ConnectorProfileProperties/Salesforce/InstanceUrl",
              "value": "https://other.my.salesforce.com"}]
    assert cc_update(cc, clock, "crm", moved)["OperationStatus"] == "SUCCESS"
    detail = native_detail(appflow, "crm")
    assert detail["connectorProfileProperties"] == {"Salesforce": {"instanceUrl": "https://other.my.salesforce.com"}}
    assert detail["lastUpdatedAt"] > detail["createdAt"]

    appflow.update_connector_profile(connectorProfileName="crm", connectionMode="Private", connectorProfileConfig={
        "connectorProfileProperties": {"Salesforce": {"instanceUrl": "https://other.my.salesforce.com"}}})
    assert cc_properties(cc, "crm")["ConnectionMode"] == "Private"
    back = [{"op": "replace", "path": "/ConnectionMode", "value": "Public"}]
    assert cc_update(cc, clock, "crm", back)["OperationStatus"] == "SUCCESS"
    assert "privateConnectionProvisioningState" not in native_detail(appflow, "crm")


def test_a_delete_through_either_door_is_seen_through_the_other(appflow: Any, cc: Any, clock: FakeClock) -> None:
    cc_create(cc, clock, cfn_state("by-cc"))
    appflow.create_connector_profile(**native_request("by-appflow"))
    assert [d["Identifier"] for d in cc.list_resources(TypeName=PROFILE)["ResourceDescriptions"]] == [
        "by-appflow", "by-cc"]

    deleted = cc.delete_resource(TypeName=PROFILE, Identifier="by-appflow")["ProgressEvent"]
    assert finished(cc, deleted, clock)["OperationStatus"] == "SUCCESS"
    appflow.delete_connector_profile(connectorProfileName="by-cc")
    assert appflow.describe_connector_profiles()["connectorProfileDetails"] == []
    assert cc.list_resources(TypeName=PROFILE)["ResourceDescriptions"] == []
    with pytest.raises(ClientError) as gone:
        cc.get_resource(TypeName=PROFILE, Identifier="by-cc")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    again = finished(cc, cc.delete_resource(TypeName=PROFILE, Identifier="by-cc")["ProgressEvent"], clock)
    assert (again["OperationStatus"], again["ErrorCode"]) == ("FAILED", "NotFound")


def test_list_resources_pages_through_the_appflow_store(appflow: Any, cc: Any) -> None:
    for index in range(5):
        appflow.create_connector_profile(**native_request(f"crm-{index}"))
    pages = list(cc.get_paginator("list_resources").paginate(TypeName=PROFILE, PaginationConfig={"PageSize": 2}))
    assert [[d["Identifier"] for d in page["ResourceDescriptions"]] for page in pages] == [
        ["crm-0", "crm-1"], ["crm-2", "crm-3"], ["crm-4"]]


# (id, the AppFlow request, the same through Cloud Control, Cloud Control's StatusMessage: AppFlow's, in CFN names)
REFUSED_BY_BOTH = [
    ("no-credentials",
     native_request("crm", connectorProfileConfig={
         "connectorProfileProperties": {"Salesforce": {"instanceUrl": "https://acme.my.salesforce.com"}}}),
     cfn_state("crm", ConnectorProfileConfig={
         "ConnectorProfileProperties": {"Salesforce": {"InstanceUrl": "https://acme.my.salesforce.com"}}}),
     "1 validation error detected: 'ConnectorProfileConfig.ConnectorProfileCredentials' credentials for "
     "'Salesforce' are required to create the profile (add ConnectorProfileCredentials.Salesforce)"),
    ("label-on-salesforce", native_request("crm", connectorLabel="mine"), cfn_state("crm", ConnectorLabel="mine"),
     "1 validation error detected: Value \"mine\" at 'ConnectorLabel' only allowed with connector type "
     "'CustomConnector' (remove ConnectorLabel)"),
    ("another-connectors-block",
     native_request("crm", connectorProfileConfig={
         "connectorProfileProperties": {"Salesforce": {"instanceUrl": "https://acme.my.salesforce.com"}},
         "connectorProfileCredentials": {"Zendesk": {"clientId": "id", "clientSecret": TOKEN}}}),
     cfn_state("crm", ConnectorProfileConfig={
         "ConnectorProfileProperties": {"Salesforce": {"InstanceUrl": "https://acme.my.salesforce.com"}},
         "ConnectorProfileCredentials": {"Zendesk": {"ClientId": "id", "ClientSecret": TOKEN}}}),
     "2 validation errors detected: 'ConnectorProfileConfig.ConnectorProfileCredentials.Zendesk' block does not "
     "match connector type 'Salesforce' (use the 'Salesforce' block, or change the connector type to 'Zendesk'); "
     "'ConnectorProfileConfig.ConnectorProfileCredentials.Salesforce' required for connector type 'Salesforce' "
     "(add Salesforce)"),
]


@pytest.mark.parametrize(("native", "state", "message"), [case[1:] for case in REFUSED_BY_BOTH],
                         ids=[case[0] for case in REFUSED_BY_BOTH])
def test_both_doors_refuse_the_same_profile(appflow: Any, cc: Any, clock: FakeClock, native: dict[str, Any],
                                            state: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientError) as refused:
        appflow.create_connector_profile(**native)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    failed = cc_create(cc, clock, state)
    assert (failed["OperationStatus"], failed["ErrorCode"]) == ("FAILED", "InvalidRequest")
    assert failed["StatusMessage"] == message
    assert TOKEN not in failed["StatusMessage"]
    assert appflow.describe_connector_profiles()["connectorProfileDetails"] == []


def test_a_name_taken_through_one_door_is_taken_through_the_other(appflow: Any, cc: Any, clock: FakeClock) -> None:
    appflow.create_connector_profile(**native_request("crm"))
    failed = cc_create(cc, clock, cfn_state("crm"))
    assert (failed["ErrorCode"], failed["StatusMessage"]) == (
        "AlreadyExists", "Connector profile with name 'crm' already exists.")
    cc_create(cc, clock, cfn_state("by-cc"))
    with pytest.raises(ClientError) as conflict:
        appflow.create_connector_profile(**native_request("by-cc"))
    assert conflict.value.response["Error"]["Code"] == "ConflictException"


def test_the_quota_counts_profiles_from_both_doors(emulator: Emulator, appflow: Any, cc: Any,
                                                   clock: FakeClock) -> None:
    emulator.knobs.quota = 2
    appflow.create_connector_profile(**native_request("one"))
    assert cc_create(cc, clock, cfn_state("two"))["OperationStatus"] == "SUCCESS"
    assert cc_create(cc, clock, cfn_state("three"))["ErrorCode"] == "ServiceLimitExceeded"


def test_cloud_control_refuses_what_appflow_would_refuse_on_update(appflow: Any, cc: Any, clock: FakeClock) -> None:
    appflow.create_connector_profile(**native_request("crm"))
    wrong_block = [{"op": "add", "path": "/ConnectorProfileConfig/ConnectorProfileProperties/Zendesk",
                    "value": {"InstanceUrl": "https://acme.zendesk.com"}}]
    failed = cc_update(cc, clock, "crm", wrong_block)
    assert (failed["ErrorCode"], failed["StatusMessage"]) == ("InvalidRequest", (
        "1 validation error detected: 'ConnectorProfileConfig.ConnectorProfileProperties.Zendesk' block does not "
        "match connector type 'Salesforce' (use the 'Salesforce' block, or change the connector type to 'Zendesk')"))
    renamed = [{"op": "replace", "path": "/ConnectorType", "value": "Zendesk"}]
    assert cc_update(cc, clock, "crm", renamed)["ErrorCode"] == "NotUpdatable"
    assert native_detail(appflow, "crm")["connectorProfileProperties"] == {
        "Salesforce": {"instanceUrl": "https://acme.my.salesforce.com"}}


def test_regions_are_separate_behind_both_doors(emulator: Emulator, appflow: Any) -> None:
    appflow.create_connector_profile(**native_request("crm"))
    elsewhere = cloudcontrol_client(emulator.endpoint, region="eu-west-1")
    assert elsewhere.list_resources(TypeName=PROFILE)["ResourceDescriptions"] == []
    assert appflow_client(emulator.endpoint, region="eu-west-1").describe_connector_profiles()[
        "connectorProfileDetails"] == []
