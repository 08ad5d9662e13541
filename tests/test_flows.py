"""AppFlow flows end to end: the salesforce-to-s3 example against the emulator.

A Salesforce connector profile, an S3 bucket (Cloud Control) and a scheduled flow reading the one into
the other. Every test checks what the emulator holds afterwards through boto3 (``describe_flow``, the
execution records that prove whether a flow was run), and that the next plan is clean.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.support import appflow_client

EXAMPLE = Path(__file__).resolve().parent.parent / "manifests" / "salesforce-to-s3"
FLOW = "salesforce-to-s3-dev-accounts"
PROFILE = "salesforce-to-s3-dev-sf"
BUCKET = "salesforce-to-s3-dev-123456789012-crm-landing"


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    copy = tmp_path / "salesforce-to-s3"
    shutil.copytree(EXAMPLE, copy)
    return copy


def flow(emulator: Emulator, name: str = FLOW) -> dict[str, Any] | None:
    client = appflow_client(emulator.endpoint)
    try:
        return dict(client.describe_flow(flowName=name))
    except client.exceptions.ResourceNotFoundException:
        return None


def runs(emulator: Emulator, name: str = FLOW) -> list[Any]:
    answer = appflow_client(emulator.endpoint).describe_flow_execution_records(flowName=name)
    return list(answer["flowExecutions"])


def state_of(stack: Path) -> dict[str, Any]:
    return dict(json.loads((stack / ".stack" / "state" / "dev.json").read_text()))


def deploy(stack: Path, *extra: str) -> None:
    assert main(["deploy", str(stack), "--auto-approve", *extra]) == 0


def assert_settled(stack: Path, *extra: str) -> None:
    assert main(["plan", str(stack), "--detailed-exitcode", *extra]) == 0


def edit(stack: Path, old: str, new: str) -> None:
    manifest = stack / "stack.yaml"
    assert manifest.read_text().count(old) == 1
    manifest.write_text(manifest.read_text().replace(old, new))


def test_a_flow_deploys_after_what_it_reads_and_a_second_run_changes_nothing(
        against_live_emulator: Emulator, stack: Path) -> None:
    deploy(stack)
    found = flow(against_live_emulator)
    assert found is not None
    assert found["sourceFlowConfig"]["connectorProfileName"] == PROFILE
    assert found["destinationFlowConfigList"][0]["destinationConnectorProperties"]["S3"]["bucketName"] == BUCKET
    assert found["triggerConfig"]["triggerProperties"]["Scheduled"]["scheduleExpression"] == "rate(1hours)"
    assert [t["taskType"] for t in found["tasks"]] == ["Filter", "Map", "Map", "Map"]
    assert found["tasks"][1]["taskProperties"] == {"SOURCE_DATA_TYPE": "id", "DESTINATION_DATA_TYPE": "id"}
    assert found["tags"] == {"team": "crm"}
    assert found["flowStatus"] == "Draft"  # dev asks for Suspended: a flow that never ran is left as it is
    assert state_of(stack)["resources"]["accounts"]["arn"] == found["flowArn"]
    assert runs(against_live_emulator) == []
    assert_settled(stack)
    against_live_emulator.stats.reset()
    deploy(stack)
    assert {op for op in against_live_emulator.stats.calls if not op.startswith(("Describe", "Get"))} == set()


def test_flow_status_starts_and_stops_a_scheduled_flow(against_live_emulator: Emulator, stack: Path) -> None:
    deploy(stack, "-e", "FlowStatus=Active")
    assert flow(against_live_emulator)["flowStatus"] == "Active"  # type: ignore[index]
    assert against_live_emulator.stats.calls["StartFlow"] == 1
    assert_settled(stack, "-e", "FlowStatus=Active")
    deploy(stack, "-e", "FlowStatus=Suspended")
    assert flow(against_live_emulator)["flowStatus"] == "Suspended"  # type: ignore[index]
    assert against_live_emulator.stats.calls["StopFlow"] == 1
    assert_settled(stack, "-e", "FlowStatus=Suspended")
    assert runs(against_live_emulator) == []  # activating a schedule runs nothing by itself


def test_an_on_demand_flow_is_never_started_by_a_deploy(against_live_emulator: Emulator, stack: Path) -> None:
    edit(stack, """          TriggerType: Scheduled
          TriggerProperties:
            ScheduleExpression: '{{ Schedule }}'
            DataPullMode: Incremental
            TimeZone: UTC
""", "          TriggerType: OnDemand\n")
    for _ in range(2):
        deploy(stack, "-e", "FlowStatus=Active")
        assert_settled(stack, "-e", "FlowStatus=Active")
    assert flow(against_live_emulator)["flowStatus"] == "Active"  # type: ignore[index]
    assert against_live_emulator.stats.calls["StartFlow"] == 0
    assert runs(against_live_emulator) == []


def test_a_schedule_and_a_tag_change_in_place(against_live_emulator: Emulator, stack: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    deploy(stack)
    arn = flow(against_live_emulator)["flowArn"]  # type: ignore[index]
    edit(stack, "{Key: team, Value: crm}", "{Key: team, Value: sales}")
    capsys.readouterr()
    assert main(["plan", str(stack), "-e", "Schedule=rate(2hours)"]) == 0
    shown = capsys.readouterr().out
    assert 'TriggerConfig.TriggerProperties.ScheduleExpression: "rate(1hours)" -> "rate(2hours)"' in shown
    deploy(stack, "-e", "Schedule=rate(2hours)")
    found = flow(against_live_emulator)
    assert found is not None and found["flowArn"] == arn
    assert found["triggerConfig"]["triggerProperties"]["Scheduled"]["scheduleExpression"] == "rate(2hours)"
    assert found["tags"] == {"team": "sales"}
    assert_settled(stack, "-e", "Schedule=rate(2hours)")


def test_a_new_flow_name_replaces_the_flow(against_live_emulator: Emulator, stack: Path) -> None:
    deploy(stack)
    edit(stack, "value: '{{ prefix }}-accounts'", "value: '{{ prefix }}-accounts-v2'")
    deploy(stack)
    assert flow(against_live_emulator) is None
    assert flow(against_live_emulator, f"{FLOW}-v2") is not None
    assert_settled(stack)


def test_destroy_deletes_the_flow_before_its_profile_and_deploy_makes_it_again(
        against_live_emulator: Emulator, stack: Path) -> None:
    for _ in range(2):
        deploy(stack)
        assert flow(against_live_emulator) is not None
        assert_settled(stack)
        # the emulator refuses to delete a profile a flow uses, so this succeeding shows the order
        assert main(["destroy", str(stack), "--auto-approve"]) == 0
        assert flow(against_live_emulator) is None
        profiles = appflow_client(against_live_emulator.endpoint).describe_connector_profiles()
        assert profiles["connectorProfileDetails"] == []
        assert state_of(stack)["resources"] == {}


def test_drift_in_a_flow_is_named_and_repaired(against_live_emulator: Emulator, stack: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    deploy(stack)
    found = flow(against_live_emulator)
    assert found is not None
    trigger = found["triggerConfig"]
    trigger["triggerProperties"]["Scheduled"]["scheduleExpression"] = "rate(5hours)"
    appflow_client(against_live_emulator.endpoint).update_flow(
        flowName=FLOW, triggerConfig=trigger, sourceFlowConfig=found["sourceFlowConfig"],
        destinationFlowConfigList=found["destinationFlowConfigList"], tasks=found["tasks"])
    capsys.readouterr()
    assert main(["drift", str(stack)]) == 2
    assert 'TriggerConfig.TriggerProperties.ScheduleExpression: "rate(1hours)" (last applied) -> "rate(5hours)"' \
        in capsys.readouterr().out
    deploy(stack)
    scheduled = flow(against_live_emulator)["triggerConfig"]["triggerProperties"]["Scheduled"]  # type: ignore[index]
    assert scheduled["scheduleExpression"] == "rate(1hours)"
    assert main(["drift", str(stack)]) == 0


def test_a_flow_naming_its_profile_by_name_comes_after_it(against_live_emulator: Emulator, stack: Path) -> None:
    edit(stack, "ConnectorProfileName: '{{ resources.salesforce.ConnectorProfileName }}'",
         "ConnectorProfileName: '{{ prefix }}-sf'")
    deploy(stack)  # the emulator refuses a flow whose profile does not exist yet
    assert state_of(stack)["resources"]["accounts"]["depends_on"] == ["landing", "salesforce"]
    assert main(["destroy", str(stack), "--auto-approve"]) == 0


def test_a_mistake_in_a_flow_is_located_before_any_call(against_live_emulator: Emulator, stack: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    edit(stack, "ScheduleExpression: '{{ Schedule }}'", "ScheduleExpresion: '{{ Schedule }}'")
    edit(stack, "DestinationField: Industry", "DestinationField: [Industry]")
    assert main(["deploy", str(stack), "--auto-approve"]) == 1
    err = capsys.readouterr().err
    manifest = stack / "stack.yaml"
    assert (f"{manifest}:55 resources[2].props.TriggerConfig.TriggerProperties.ScheduleExpresion: unknown "
            "property; did you mean 'ScheduleExpression'?") in err
    assert (f"{manifest}:95 resources[2].props.Tasks[3].DestinationField: expected text, got list: [\"Industry\"]; "
            "quote it to make it text") in err
    assert against_live_emulator.stats.total == 0


def test_a_profile_a_flow_outside_the_stack_uses_is_not_deleted(against_live_emulator: Emulator, stack: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    deploy(stack)
    assert main(["state", "rm", str(stack), "accounts"]) == 0  # the flow stays, outside the stack now
    edit(stack, "  - name: accounts\n", "  - name: accounts\n    if: false\n")
    capsys.readouterr()
    assert main(["destroy", str(stack), "--auto-approve"]) == 1
    err = capsys.readouterr().err
    assert f"DeleteConnectorProfile failed for '{PROFILE}': ConflictException" in err
    assert state_of(stack)["resources"]["salesforce"]["identifier"] == PROFILE  # still recorded: still in AWS


def test_the_flow_template_deploys_with_its_required_variables(against_live_emulator: Emulator, stack: Path) -> None:
    manifest = stack / "stack.yaml"
    text = manifest.read_text()
    manifest.write_text(text[:text.index("  - name: accounts\n")] + """  - name: contacts
    type: AWS::AppFlow::Flow
    template: flows/salesforce_to_s3.yaml
    vars:
      FlowName: '{{ prefix }}-contacts'
      ProfileName: '{{ resources.salesforce.ConnectorProfileName }}'
      Object: Contact
      BucketName: '{{ resources.landing.BucketName }}'
      Schedule: rate(1days)
""")
    deploy(stack)
    found = flow(against_live_emulator, "salesforce-to-s3-dev-contacts")
    assert found is not None and found["flowStatus"] == "Draft"
    assert found["tasks"] == [{"sourceFields": [], "connectorOperator": {"Salesforce": "NO_OP"},
                               "taskType": "Map_all", "taskProperties": {"EXCLUDE_SOURCE_FIELDS_LIST": "[]"}}]
    s3 = found["destinationFlowConfigList"][0]["destinationConnectorProperties"]["S3"]
    assert (s3["bucketName"], s3["bucketPrefix"], s3["s3OutputFormatConfig"]["fileType"]) == (
        BUCKET, "Contact", "PARQUET")
    assert_settled(stack)


def test_a_new_destination_object_replaces_the_flow(against_live_emulator: Emulator, stack: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """AppFlow refuses to change the object a destination writes to in place (terraform-provider-aws #42482)."""
    edit(stack, """          ConnectorType: Salesforce
          ConnectorProfileName: '{{ resources.salesforce.ConnectorProfileName }}'
          SourceConnectorProperties:
            Salesforce:
              Object: Account
          IncrementalPullConfig:
            DatetimeTypeFieldName: LastModifiedDate
""", """          ConnectorType: S3
          SourceConnectorProperties:
            S3: {BucketName: '{{ resources.landing.BucketName }}', BucketPrefix: exports}
""")
    edit(stack, """          - ConnectorType: S3
            DestinationConnectorProperties:
              S3:
                BucketName: '{{ resources.landing.BucketName }}'
                BucketPrefix: accounts
                S3OutputFormatConfig:
                  FileType: PARQUET
                  AggregationConfig: {AggregationType: SingleFile}
""", """          - ConnectorType: Salesforce
            ConnectorProfileName: '{{ resources.salesforce.ConnectorProfileName }}'
            DestinationConnectorProperties:
              Salesforce: {Object: '{{ Target }}'}
""")
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace("{Salesforce: PROJECTION}", "{S3: PROJECTION}")
                        .replace("{Salesforce: NO_OP}", "{S3: NO_OP}")
                        .replace("DataPullMode: Incremental", "DataPullMode: Complete"))
    deploy(stack, "-e", "Target=Account")
    first = flow(against_live_emulator)
    assert first is not None
    client = appflow_client(against_live_emulator.endpoint)
    moved = [{**first["destinationFlowConfigList"][0], "destinationConnectorProperties": {
        "Salesforce": {"object": "Contact"}}}]
    with pytest.raises(client.exceptions.ValidationException, match="Destination object for the destination"):
        client.update_flow(flowName=FLOW, triggerConfig=first["triggerConfig"], tasks=first["tasks"],
                           sourceFlowConfig=first["sourceFlowConfig"], destinationFlowConfigList=moved)
    capsys.readouterr()
    assert main(["plan", str(stack), "-e", "Target=Contact"]) == 0
    assert "the destination's Object changes (forces replacement" in capsys.readouterr().out
    against_live_emulator.stats.reset()
    deploy(stack, "-e", "Target=Contact")
    calls = against_live_emulator.stats.calls
    assert (calls["DeleteFlow"], calls["CreateFlow"], calls["UpdateFlow"]) == (1, 1, 0)
    second = flow(against_live_emulator)
    assert second is not None
    assert second["destinationFlowConfigList"][0]["destinationConnectorProperties"] == {
        "Salesforce": {"object": "Contact"}}
    assert_settled(stack, "-e", "Target=Contact")
