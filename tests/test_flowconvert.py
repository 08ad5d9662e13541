"""deployer.flowconvert: AWS::AppFlow::Flow properties <-> CreateFlow / UpdateFlow / DescribeFlow.

Every property path of the Flow schema gets a row: it either reaches the CreateFlow member the naming
rule predicts (first letter lowercased, connector keys verbatim, matched in any case) or it is one of the
structural differences, listed here independently of flowconvert's own table.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.validate import validate_parameters

from deployer.apimodel import Violation, check_value, input_shape
from deployer.convert import cfn_path, member_for
from deployer.flowconvert import DIFFERENCES, Kind, flow_schema, flow_to_api, flow_to_cfn, flow_update_request

CREATE = input_shape("CreateFlow")

TRIGGER = ("TriggerConfig", "TriggerProperties")
DESTINATION = ("DestinationFlowConfigList", "*", "DestinationConnectorProperties")
ERROR_HANDLING_OWNERS = ("CustomConnector", "EventBridge", "Marketo", "Redshift", "SAPOData", "Salesforce",
                         "Snowflake", "Zendesk")

# The structural differences, by CloudFormation path, as read off the two models by hand.
EXPECTED_DIFFERENCES: dict[tuple[str, ...], Kind] = {
    ("Tags",): Kind.KEY_VALUE_LIST,
    ("Tasks", "*", "TaskProperties"): Kind.KEY_VALUE_LIST,
    TRIGGER: Kind.FLATTENED,
    (*TRIGGER, "ScheduleStartTime"): Kind.EPOCH_SECONDS,
    (*TRIGGER, "ScheduleEndTime"): Kind.EPOCH_SECONDS,
    (*TRIGGER, "FirstExecutionFrom"): Kind.EPOCH_SECONDS,
    **{(*DESTINATION, c, "ErrorHandlingConfig", "FailOnFirstError"): Kind.RENAMED for c in ERROR_HANDLING_OWNERS},
    ("FlowStatus",): Kind.NOT_IN_REQUEST,
    ("FlowArn",): Kind.READ_ONLY,
    (*DESTINATION, "LookoutMetrics", "Object"): Kind.DROPPED,
}
RENAMED_MEMBERS = {"FailOnFirstError": "failOnFirstDestinationError"}


def schema_paths() -> list[tuple[str, ...]]:
    """Every property path of the Flow schema, "*" for list items, definitions resolved."""
    schema = flow_schema()
    definitions = schema["definitions"]
    found: list[tuple[str, ...]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        while "$ref" in node:
            node = definitions[node["$ref"].rsplit("/", 1)[-1]]
        if node.get("type") == "array":
            walk(node["items"], (*path, "*"))
        for key, child in node.get("properties", {}).items():
            found.append((*path, key))
            walk(child, (*path, key))

    walk(schema, ())
    return found


PATHS = schema_paths()


def listed_difference(path: tuple[str, ...]) -> Kind | None:
    """The difference a path is, or lies inside (the Key and Value of a Key/Value list)."""
    for end in range(len(path), 0, -1):
        kind = EXPECTED_DIFFERENCES.get(path[:end])
        if kind is not None and (end == len(path) or kind is Kind.KEY_VALUE_LIST):
            return kind
    return None


def expected_api_path(path: tuple[str, ...]) -> tuple[str, ...]:
    """The CreateFlow path the naming rule predicts; the flattened trigger gets its Scheduled wrapper back."""
    api: list[str] = []
    model: Shape = CREATE
    for index, part in enumerate(path):
        if isinstance(model, ListShape):
            api.append("*")
            model = model.member
            continue
        assert isinstance(model, StructureShape), f"{path[:index]} is not a structure in the model"
        if path[:index] == TRIGGER:
            api.append("Scheduled")
            model = model.members["Scheduled"]
        wanted = RENAMED_MEMBERS.get(part, part).lower()
        member = next((m for m in model.members if m.lower() == wanted), None)
        assert member is not None, f"{part} has no member in {model.name}"
        api.append(member)
        model = model.members[member]
    return tuple(api)


def declared(path: tuple[str, ...]) -> Kind | None:
    """The kind flowconvert's own table gives a path ("*" in the table matches any list item or key)."""
    for difference in DIFFERENCES:
        if len(difference.path) == len(path) and all(d in ("*", p) for d, p in zip(difference.path, path, strict=True)):
            return difference.kind
    return None


def test_every_difference_in_the_module_table_is_expected() -> None:
    assert sorted((d.path, d.kind.name) for d in DIFFERENCES) == sorted(
        {(p if p[:3] != DESTINATION or p[3] not in ERROR_HANDLING_OWNERS else (*DESTINATION, "*", *p[4:]), k.name)
         for p, k in EXPECTED_DIFFERENCES.items()})


def test_the_two_create_requests_share_no_structure() -> None:
    # convert.py names a structure from one schema only: it must not be in both requests' trees.
    def structures(model: Shape, seen: set[str]) -> set[str]:
        if isinstance(model, ListShape):
            return structures(model.member, seen)
        if isinstance(model, MapShape):
            return structures(model.value, seen)
        if isinstance(model, StructureShape) and model.name not in seen:
            seen.add(model.name)
            for member in model.members.values():
                structures(member, seen)
        return seen

    assert structures(CREATE, set()) & structures(input_shape("CreateConnectorProfile"), set()) == set()


@pytest.mark.parametrize("path", PATHS, ids=[".".join(p) for p in PATHS])
def test_each_schema_path_reaches_a_create_member_or_is_a_listed_difference(path: tuple[str, ...]) -> None:
    kind = listed_difference(path)
    if kind is not None and kind is not Kind.RENAMED and kind is not Kind.EPOCH_SECONDS:
        owner = next(path[:end] for end in range(len(path), 0, -1) if path[:end] in EXPECTED_DIFFERENCES)
        assert declared(owner) is kind
        return
    if kind is not None:
        assert declared(path) is kind
    api = expected_api_path(path)
    concrete = tuple(0 if p == "*" else p for p in api)
    spelled = cfn_path(concrete, CREATE)
    if path[:2] == TRIGGER and len(path) > 2:
        spelled = (*spelled[:2], *spelled[3:])  # Scheduled is the flattened wrapper
    assert tuple("*" if s == 0 else s for s in spelled) == path
    model: Shape = CREATE
    members = [a for a in api if a not in ("*", "Scheduled")]
    for part, member in zip([p for p in path if p != "*"], members, strict=True):
        while isinstance(model, ListShape) or (isinstance(model, StructureShape) and model.name == "TriggerProperties"):
            model = model.member if isinstance(model, ListShape) else model.members["Scheduled"]
        assert isinstance(model, StructureShape)
        assert member_for(model, part) == member  # the CloudFormation spelling is accepted for the member
        model = model.members[member]


ROLE = "arn:aws:iam::123456789012:role/appflow-glue"
SALESFORCE_TO_S3: dict[str, Any] = {
    "FlowName": "accounts-to-s3",
    "Description": "Nightly copy of Salesforce accounts",
    "KMSArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "FlowStatus": "Active",
    "TriggerConfig": {
        "TriggerType": "Scheduled",
        "TriggerProperties": {
            "ScheduleExpression": "rate(1days)",
            "DataPullMode": "Incremental",
            "ScheduleStartTime": 1767225600,
            "TimeZone": "Europe/Paris",
            "ScheduleOffset": 3600,
            "FlowErrorDeactivationThreshold": 3,
        },
    },
    "SourceFlowConfig": {
        "ConnectorType": "Salesforce",
        "ConnectorProfileName": "sf-prod",
        "SourceConnectorProperties": {"Salesforce": {"Object": "Account", "EnableDynamicFieldUpdate": False,
                                                     "IncludeDeletedRecords": False}},
        "IncrementalPullConfig": {"DatetimeTypeFieldName": "LastModifiedDate"},
    },
    "DestinationFlowConfigList": [{
        "ConnectorType": "S3",
        "DestinationConnectorProperties": {"S3": {
            "BucketName": "crm-exports",
            "BucketPrefix": "accounts",
            "S3OutputFormatConfig": {"FileType": "PARQUET", "AggregationConfig": {"AggregationType": "SingleFile"},
                                     "PrefixConfig": {"PrefixType": "PATH", "PrefixFormat": "DAY"}},
        }},
    }],
    "Tasks": [
        {"TaskType": "Filter", "SourceFields": ["Id", "Name", "Industry"],
         "ConnectorOperator": {"Salesforce": "PROJECTION"}},
        {"TaskType": "Filter", "SourceFields": ["Industry"], "ConnectorOperator": {"Salesforce": "EQUAL_TO"},
         "TaskProperties": [{"Key": "VALUES", "Value": "Banking"}, {"Key": "DATA_TYPE", "Value": "picklist"}]},
        {"TaskType": "Map", "SourceFields": ["Id"], "DestinationField": "Id",
         "ConnectorOperator": {"Salesforce": "NO_OP"},
         "TaskProperties": [{"Key": "DESTINATION_DATA_TYPE", "Value": "id"},
                            {"Key": "SOURCE_DATA_TYPE", "Value": "id"}]},
        {"TaskType": "Map", "SourceFields": ["Name"], "DestinationField": "Name",
         "ConnectorOperator": {"Salesforce": "NO_OP"}},
    ],
    "MetadataCatalogConfig": {"GlueDataCatalog": {"RoleArn": ROLE, "DatabaseName": "crm", "TablePrefix": "sf"}},
    "Tags": [{"Key": "team", "Value": "crm"}, {"Key": "env", "Value": "prod"}],
}

SALESFORCE_TO_S3_REQUEST: dict[str, Any] = {
    "flowName": "accounts-to-s3",
    "description": "Nightly copy of Salesforce accounts",
    "kmsArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "triggerConfig": {
        "triggerType": "Scheduled",
        "triggerProperties": {"Scheduled": {
            "scheduleExpression": "rate(1days)", "dataPullMode": "Incremental", "scheduleStartTime": 1767225600,
            "timezone": "Europe/Paris", "scheduleOffset": 3600, "flowErrorDeactivationThreshold": 3,
        }},
    },
    "sourceFlowConfig": {
        "connectorType": "Salesforce",
        "connectorProfileName": "sf-prod",
        "sourceConnectorProperties": {"Salesforce": {"object": "Account", "enableDynamicFieldUpdate": False,
                                                     "includeDeletedRecords": False}},
        "incrementalPullConfig": {"datetimeTypeFieldName": "LastModifiedDate"},
    },
    "destinationFlowConfigList": [{
        "connectorType": "S3",
        "destinationConnectorProperties": {"S3": {
            "bucketName": "crm-exports",
            "bucketPrefix": "accounts",
            "s3OutputFormatConfig": {"fileType": "PARQUET", "aggregationConfig": {"aggregationType": "SingleFile"},
                                     "prefixConfig": {"prefixType": "PATH", "prefixFormat": "DAY"}},
        }},
    }],
    "tasks": [
        {"taskType": "Filter", "sourceFields": ["Id", "Name", "Industry"],
         "connectorOperator": {"Salesforce": "PROJECTION"}},
        {"taskType": "Filter", "sourceFields": ["Industry"], "connectorOperator": {"Salesforce": "EQUAL_TO"},
         "taskProperties": {"VALUES": "Banking", "DATA_TYPE": "picklist"}},
        {"taskType": "Map", "sourceFields": ["Id"], "destinationField": "Id",
         "connectorOperator": {"Salesforce": "NO_OP"},
         "taskProperties": {"DESTINATION_DATA_TYPE": "id", "SOURCE_DATA_TYPE": "id"}},
        {"taskType": "Map", "sourceFields": ["Name"], "destinationField": "Name",
         "connectorOperator": {"Salesforce": "NO_OP"}},
    ],
    "metadataCatalogConfig": {"glueDataCatalog": {"roleArn": ROLE, "databaseName": "crm", "tablePrefix": "sf"}},
    "tags": {"team": "crm", "env": "prod"},
}


def test_a_salesforce_to_s3_scheduled_flow_converts_to_a_valid_create_request() -> None:
    converted = flow_to_api(SALESFORCE_TO_S3)
    assert converted.conversion.problems == []
    assert converted.create == SALESFORCE_TO_S3_REQUEST
    assert converted.status == "Active"
    assert check_value(CREATE, converted.create) == []
    validate_parameters({**converted.create, "clientToken": "test-token"}, CREATE)  # botocore's own check


def test_the_users_props_are_left_as_written() -> None:
    props = copy.deepcopy(SALESFORCE_TO_S3)
    flow_to_api(props)
    assert props == SALESFORCE_TO_S3


def test_the_update_request_leaves_out_the_create_only_key_and_the_tags() -> None:
    update = flow_update_request({**SALESFORCE_TO_S3_REQUEST, "clientToken": "t"})
    expected = {k: v for k, v in SALESFORCE_TO_S3_REQUEST.items() if k not in ("kmsArn", "tags")}
    assert update == expected
    assert check_value(input_shape("UpdateFlow"), update) == []


def test_an_update_without_description_clears_it() -> None:
    request = {k: v for k, v in SALESFORCE_TO_S3_REQUEST.items() if k != "description"}
    assert flow_update_request(request)["description"] == ""


def test_describe_flow_answer_converts_back_to_the_manifest() -> None:
    answer = copy.deepcopy(SALESFORCE_TO_S3_REQUEST)
    # boto3 parses timestamps into datetimes; DescribeFlow also answers members CloudFormation does not have
    answer["triggerConfig"]["triggerProperties"]["Scheduled"]["scheduleStartTime"] = datetime.datetime(
        2026, 1, 1, tzinfo=datetime.timezone.utc)
    answer.update(flowArn="arn:aws:appflow:us-east-1:123456789012:flow/accounts-to-s3", flowStatus="Active",
                  createdAt=datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc), schemaVersion=1,
                  lastRunExecutionDetails={"mostRecentExecutionStatus": "Successful"})
    expected = copy.deepcopy(SALESFORCE_TO_S3)
    expected["Tags"] = [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "crm"}]  # sorted by key
    for task in expected["Tasks"]:
        if "TaskProperties" in task:
            task["TaskProperties"] = sorted(task["TaskProperties"], key=lambda e: e["Key"])
    expected["FlowArn"] = "arn:aws:appflow:us-east-1:123456789012:flow/accounts-to-s3"
    assert flow_to_cfn(answer) == expected


def test_the_renamed_and_dropped_destination_properties() -> None:
    props = {**SALESFORCE_TO_S3, "DestinationFlowConfigList": [
        {"ConnectorType": "Salesforce", "ConnectorProfileName": "sf",
         "DestinationConnectorProperties": {"Salesforce": {
             "Object": "Account", "ErrorHandlingConfig": {"FailOnFirstError": True, "BucketName": "errors"}}}},
    ]}
    converted = flow_to_api(props)
    assert converted.conversion.problems == []
    assert converted.create["destinationFlowConfigList"] == [
        {"connectorType": "Salesforce", "connectorProfileName": "sf",
         "destinationConnectorProperties": {"Salesforce": {
             "object": "Account", "errorHandlingConfig": {"failOnFirstDestinationError": True,
                                                          "bucketName": "errors"}}}},
    ]
    back = flow_to_cfn(converted.create)["DestinationFlowConfigList"]
    assert back[0]["DestinationConnectorProperties"]["Salesforce"]["ErrorHandlingConfig"] == {
        "FailOnFirstError": True, "BucketName": "errors"}


def test_lookout_metrics_object_is_dropped_and_its_block_kept() -> None:
    props = {**SALESFORCE_TO_S3, "DestinationFlowConfigList": [
        {"ConnectorType": "LookoutMetrics", "DestinationConnectorProperties": {"LookoutMetrics": {"Object": "x"}}}]}
    converted = flow_to_api(props)
    assert converted.conversion.problems == []
    assert converted.create["destinationFlowConfigList"] == [
        {"connectorType": "LookoutMetrics", "destinationConnectorProperties": {"LookoutMetrics": {}}}]


def _with(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    props = copy.deepcopy(SALESFORCE_TO_S3)
    block: Any = props
    for part in path[:-1]:
        block = block[part]
    block[path[-1]] = value
    return props


@pytest.mark.parametrize(
    ("props", "problem"),
    [
        (_with((*TRIGGER, "ScheduleExpresion"), "rate(1hours)"),
         Violation((*TRIGGER, "ScheduleExpresion"), "unknown property", "did you mean 'ScheduleExpression'?")),
        (_with((*TRIGGER, "Timezone"), "UTC"),  # as KmsArn for KMSArn: only the schema's capitalisation is taken
         Violation((*TRIGGER, "Timezone"), "unknown property", "did you mean 'TimeZone'?")),
        (_with(("Tasks", 1, "TaskPropertys"), []),
         Violation(("Tasks", 1, "TaskPropertys"), "unknown property", "did you mean 'TaskProperties'?")),
        (_with((*TRIGGER, "FlowErrorDeactivationThreshold"), "often"),
         Violation((*TRIGGER, "FlowErrorDeactivationThreshold"), "expected a whole number, got string",
                   "use a whole number", value="often", has_value=True)),
        (_with((*TRIGGER, "ScheduleStartTime"), "tomorrow"),
         Violation((*TRIGGER, "ScheduleStartTime"), "expected a number, got string",
                   "use seconds since 1970-01-01 UTC, such as 1767225600", value="tomorrow", has_value=True)),
        (_with(("Tags", 1), {"Key": "env"}),
         Violation(("Tags", 1), "expected a mapping of Key and Value, got a mapping of Key",
                   "write it as {Key: ..., Value: ...}")),
        (_with(("Tags", 1), {"Key": "team", "Value": "other"}),
         Violation(("Tags", 1, "Key"), "repeats the key 'team'", "keep one of them")),
        (_with(("Tags", 1, "Value"), ["prod"]),
         Violation(("Tags", 1), "expected text, got list", "quote it to make it text", value=["prod"],
                   has_value=True)),
        (_with(("FlowStatus",), "Running"),
         Violation(("FlowStatus",), "is not an allowed value", "allowed: Active, Suspended, Draft", value="Running",
                   has_value=True)),
        (_with(("TriggerConfig", "TriggerProperties"), "daily"),
         Violation(TRIGGER, "expected a mapping, got string", value="daily", has_value=True)),
    ],
    ids=["typo-ScheduleExpresion", "Timezone-for-TimeZone", "typo-TaskPropertys", "wrong-type-threshold",
         "start-time-not-a-number", "tag-without-Value", "tag-key-twice", "tag-value-a-list", "unknown-status",
         "trigger-properties-not-a-mapping"],
)
def test_problems_are_located_in_the_users_spelling(props: dict[str, Any], problem: Violation) -> None:
    assert flow_to_api(props).conversion.problems == [problem]


def test_a_problem_found_later_on_the_request_is_located_in_the_users_spelling() -> None:
    props = _with(("Tags", 1, "Key"), "aws:reserved")
    converted = flow_to_api(props)
    [violation] = check_value(CREATE, converted.create)
    assert converted.conversion.user_path(violation.path) == ("Tags", 1)
    props = _with((*TRIGGER, "ScheduleOffset"), 99999)
    converted = flow_to_api(props)
    [violation] = check_value(CREATE, converted.create)
    assert converted.conversion.user_path(violation.path) == (*TRIGGER, "ScheduleOffset")


def test_a_request_in_api_spelling_converts_to_itself() -> None:
    converted = flow_to_api(SALESFORCE_TO_S3_REQUEST)
    assert converted.conversion.problems == []
    assert converted.create == SALESFORCE_TO_S3_REQUEST
