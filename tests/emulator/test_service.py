"""Connector-profile operations through a real boto3 client over HTTP."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from deployer.emulator import Emulator, Knobs
from tests.support import FakeClock, appflow_client, full_create_request


def _salesforce(name: str, **overrides: Any) -> dict[str, Any]:
    request = {
        "connectorProfileName": name,
        "connectorType": "Salesforce",
        "connectionMode": "Public",
        "connectorProfileConfig": {
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": "https://acme.my.salesforce.com"}},
            "connectorProfileCredentials": {"Salesforce": {"accessToken": "token-value"}},
        },
    }
    request.update(overrides)
    return request


def _code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def test_create_describe_update_delete_round_trip(appflow: Any) -> None:
    arn = appflow.create_connector_profile(**_salesforce("crm"))["connectorProfileArn"]
    assert arn == "arn:aws:appflow:us-east-1:123456789012:connectorprofile/crm"

    [detail] = appflow.describe_connector_profiles(connectorProfileNames=["crm"])["connectorProfileDetails"]
    assert detail["connectorProfileArn"] == arn
    assert detail["connectorType"] == "Salesforce"
    assert detail["connectionMode"] == "Public"
    assert detail["credentialsArn"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:appflow!")
    assert detail["connectorProfileProperties"] == {"Salesforce": {"instanceUrl": "https://acme.my.salesforce.com"}}
    assert "connectorLabel" not in detail and "privateConnectionProvisioningState" not in detail
    assert detail["createdAt"] == detail["lastUpdatedAt"]

    new_config = {"connectorProfileProperties": {"Salesforce": {"instanceUrl": "https://other.my.salesforce.com"}}}
    updated = appflow.update_connector_profile(
        connectorProfileName="crm", connectionMode="Public", connectorProfileConfig=new_config
    )
    assert updated["connectorProfileArn"] == arn
    [detail] = appflow.describe_connector_profiles(connectorProfileNames=["crm"])["connectorProfileDetails"]
    assert detail["connectorProfileProperties"]["Salesforce"]["instanceUrl"] == "https://other.my.salesforce.com"

    appflow.delete_connector_profile(connectorProfileName="crm")
    assert appflow.describe_connector_profiles()["connectorProfileDetails"] == []


def test_describe_never_returns_credentials(appflow: Any) -> None:
    appflow.create_connector_profile(**_salesforce("crm"))
    response = appflow.describe_connector_profiles()
    assert "token-value" not in repr(response)


def test_update_keeps_type_label_and_arn(appflow: Any) -> None:
    request = full_create_request("CustomConnector", "custom")
    appflow.create_connector_profile(**request)
    appflow.update_connector_profile(
        connectorProfileName="custom", connectionMode="Public", connectorProfileConfig=request["connectorProfileConfig"]
    )
    [detail] = appflow.describe_connector_profiles()["connectorProfileDetails"]
    assert (detail["connectorType"], detail["connectorLabel"]) == ("CustomConnector", "my-connector")


def test_creating_an_existing_name_is_a_conflict(appflow: Any) -> None:
    appflow.create_connector_profile(**_salesforce("crm"))
    with pytest.raises(appflow.exceptions.ConflictException, match="'crm' already exists"):
        appflow.create_connector_profile(**_salesforce("crm"))


@pytest.mark.parametrize("operation", ["update", "delete"])
def test_missing_profile_is_not_found(appflow: Any, operation: str) -> None:
    with pytest.raises(appflow.exceptions.ResourceNotFoundException, match="'ghost' does not exist"):
        if operation == "update":
            appflow.update_connector_profile(
                connectorProfileName="ghost",
                connectionMode="Public",
                connectorProfileConfig={"connectorProfileProperties": {}},
            )
        else:
            appflow.delete_connector_profile(connectorProfileName="ghost")


def test_quota_per_account_and_region(emulator: Emulator, appflow: Any) -> None:
    emulator.knobs.quota = 2
    appflow.create_connector_profile(**_salesforce("one"))
    appflow.create_connector_profile(**_salesforce("two"))
    with pytest.raises(appflow.exceptions.ServiceQuotaExceededException, match="quota of 2"):
        appflow.create_connector_profile(**_salesforce("three"))
    appflow_client(emulator.endpoint, "eu-west-1").create_connector_profile(**_salesforce("three"))


def test_regions_do_not_see_each_other(emulator: Emulator, appflow: Any) -> None:
    appflow.create_connector_profile(**_salesforce("crm"))
    europe = appflow_client(emulator.endpoint, "eu-west-1")
    assert europe.describe_connector_profiles()["connectorProfileDetails"] == []
    with pytest.raises(europe.exceptions.ResourceNotFoundException):
        europe.delete_connector_profile(connectorProfileName="crm")
    arn = europe.create_connector_profile(**_salesforce("crm"))["connectorProfileArn"]
    assert arn == "arn:aws:appflow:eu-west-1:123456789012:connectorprofile/crm"


def test_account_id_comes_from_the_knob(clock: FakeClock) -> None:
    with Emulator(Knobs(account_id="210987654321"), clock=clock) as emulator:
        arn = appflow_client(emulator.endpoint).create_connector_profile(**_salesforce("crm"))["connectorProfileArn"]
    assert arn == "arn:aws:appflow:us-east-1:210987654321:connectorprofile/crm"


class TestDescribe:
    @pytest.fixture
    def many(self, appflow: Any) -> Any:
        for index in range(45):
            appflow.create_connector_profile(**_salesforce(f"sf-{index:02d}"))
        for index in range(3):
            appflow.create_connector_profile(**full_create_request("Zendesk", f"zd-{index}"))
        custom = full_create_request("CustomConnector", "custom")
        appflow.create_connector_profile(**custom)
        return appflow

    def test_pages_of_twenty_by_default(self, many: Any) -> None:
        names: list[str] = []
        token: dict[str, str] = {}
        pages = 0
        while True:
            page = many.describe_connector_profiles(**token)
            pages += 1
            assert len(page["connectorProfileDetails"]) <= 20
            names += [d["connectorProfileName"] for d in page["connectorProfileDetails"]]
            if "nextToken" not in page:
                break
            token = {"nextToken": page["nextToken"]}
        assert pages == 3
        assert len(names) == len(set(names)) == 49

    def test_max_results_and_paginator(self, many: Any) -> None:
        assert len(many.describe_connector_profiles(maxResults=100)["connectorProfileDetails"]) == 49
        sizes, token = [], {}
        while True:
            page = many.describe_connector_profiles(maxResults=10, **token)
            sizes.append(len(page["connectorProfileDetails"]))
            if "nextToken" not in page:
                break
            token = {"nextToken": page["nextToken"]}
        assert sizes == [10, 10, 10, 10, 9]

    def test_filters(self, many: Any) -> None:
        by_name = many.describe_connector_profiles(connectorProfileNames=["sf-01", "zd-2", "nope"])
        assert sorted(d["connectorProfileName"] for d in by_name["connectorProfileDetails"]) == ["sf-01", "zd-2"]
        by_type = many.describe_connector_profiles(connectorType="Zendesk")
        assert len(by_type["connectorProfileDetails"]) == 3
        by_label = many.describe_connector_profiles(connectorType="CustomConnector", connectorLabel="my-connector")
        assert [d["connectorProfileName"] for d in by_label["connectorProfileDetails"]] == ["custom"]

    @pytest.mark.parametrize(
        ("arguments", "member"),
        [
            ({"maxResults": 0}, "maxResults"),
            ({"maxResults": 101}, "maxResults"),
            ({"connectorProfileNames": [f"n{i}" for i in range(101)]}, "connectorProfileNames"),
            ({"nextToken": "not-a-token"}, "nextToken"),
        ],
        ids=["max-results-0", "max-results-101", "101-names", "bad-next-token"],
    )
    def test_bad_arguments(self, emulator: Emulator, arguments: dict[str, Any], member: str) -> None:
        unchecked = appflow_client(emulator.endpoint, parameter_validation=False)
        with pytest.raises(unchecked.exceptions.ValidationException, match=member):
            unchecked.describe_connector_profiles(**arguments)


class TestNextToken:
    """The token is a cursor on the name order: changes between pages neither skip nor repeat a profile."""

    @pytest.fixture
    def twenty_five(self, appflow: Any) -> list[str]:
        names = [f"p-{index:02d}" for index in range(25)]
        for name in names:
            appflow.create_connector_profile(**_salesforce(name))
        return names

    @pytest.mark.parametrize(
        "deleted_from_first_page",
        [["p-00", "p-04", "p-09"], [f"p-{index:02d}" for index in range(10)]],
        ids=["three-including-the-last-returned", "the-whole-first-page"],
    )
    def test_deletions_between_pages_skip_nothing(self, appflow: Any, twenty_five: list[str],
                                                   deleted_from_first_page: list[str]) -> None:
        first = appflow.describe_connector_profiles(maxResults=10)
        seen = [d["connectorProfileName"] for d in first["connectorProfileDetails"]]
        for name in deleted_from_first_page:
            appflow.delete_connector_profile(connectorProfileName=name)
        token = first["nextToken"]
        while token:
            page = appflow.describe_connector_profiles(maxResults=10, nextToken=token)
            seen += [d["connectorProfileName"] for d in page["connectorProfileDetails"]]
            token = page.get("nextToken")
        assert sorted(seen) == twenty_five  # each exactly once, deleted ones included from the first page

    def test_profiles_created_between_pages_after_the_cursor_are_seen(self, appflow: Any,
                                                                      twenty_five: list[str]) -> None:
        first = appflow.describe_connector_profiles(maxResults=10)
        appflow.create_connector_profile(**_salesforce("p-00a"))  # before the cursor: not this listing's
        appflow.create_connector_profile(**_salesforce("p-20a"))
        names, token = [], first["nextToken"]
        while token:
            page = appflow.describe_connector_profiles(maxResults=10, nextToken=token)
            names += [d["connectorProfileName"] for d in page["connectorProfileDetails"]]
            token = page.get("nextToken")
        assert names == [*twenty_five[10:21], "p-20a", *twenty_five[21:]]

    def test_page_size_may_change_and_names_may_be_reordered(self, appflow: Any, twenty_five: list[str]) -> None:
        first = appflow.describe_connector_profiles(connectorProfileNames=["p-03", "p-01", "p-02"], maxResults=1)
        second = appflow.describe_connector_profiles(connectorProfileNames=["p-01", "p-02", "p-03", "p-02"],
                                                     maxResults=5, nextToken=first["nextToken"])
        assert [d["connectorProfileName"] for d in second["connectorProfileDetails"]] == ["p-02", "p-03"]

    @pytest.mark.parametrize(
        ("issued_with", "used_with"),
        [
            ({}, {"connectorType": "Salesforce"}),
            ({"connectorType": "Salesforce"}, {}),
            ({}, {"connectorProfileNames": ["p-20", "p-21"]}),
            ({"connectorProfileNames": [f"p-{index:02d}" for index in range(12)]},
             {"connectorProfileNames": [f"p-{index:02d}" for index in range(13)]}),
            ({"connectorType": "Salesforce"}, {"connectorType": "Zendesk"}),
        ],
        ids=["none-then-type", "type-then-none", "none-then-names", "other-names", "other-type"],
    )
    def test_a_token_from_other_filters_is_refused(self, appflow: Any, twenty_five: list[str],
                                                   issued_with: dict[str, Any], used_with: dict[str, Any]) -> None:
        token = appflow.describe_connector_profiles(maxResults=10, **issued_with)["nextToken"]
        with pytest.raises(appflow.exceptions.ValidationException, match="^.*Invalid nextToken: it was issued for "
                                                                         "other connectorProfileNames"):
            appflow.describe_connector_profiles(maxResults=10, nextToken=token, **used_with)

    def test_a_token_from_another_region_is_refused(self, emulator: Emulator, appflow: Any,
                                                    twenty_five: list[str]) -> None:
        token = appflow.describe_connector_profiles(maxResults=10)["nextToken"]
        europe = appflow_client(emulator.endpoint, "eu-west-1")
        with pytest.raises(europe.exceptions.ValidationException, match="Invalid nextToken"):
            europe.describe_connector_profiles(nextToken=token)


class TestIdempotency:
    def test_replay_returns_the_first_answer_and_creates_nothing(self, emulator: Emulator, appflow: Any) -> None:
        first = appflow.create_connector_profile(clientToken="token-1", **_salesforce("crm"))
        again = appflow.create_connector_profile(clientToken="token-1", **_salesforce("crm"))
        assert again["connectorProfileArn"] == first["connectorProfileArn"]
        assert len(appflow.describe_connector_profiles()["connectorProfileDetails"]) == 1

    def test_same_token_with_other_input_fails(self, appflow: Any) -> None:
        appflow.create_connector_profile(clientToken="token-1", **_salesforce("crm"))
        with pytest.raises(appflow.exceptions.ConflictException, match="clientToken was already used"):
            appflow.create_connector_profile(clientToken="token-1", **_salesforce("crm", connectionMode="Private"))
        assert len(appflow.describe_connector_profiles()["connectorProfileDetails"]) == 1

    def test_token_expires_after_eight_hours(self, clock: FakeClock, appflow: Any) -> None:
        appflow.create_connector_profile(clientToken="token-1", **_salesforce("crm"))
        clock.advance(8 * 3600 + 1)
        with pytest.raises(appflow.exceptions.ConflictException, match="already exists"):
            appflow.create_connector_profile(clientToken="token-1", **_salesforce("crm"))

    def test_update_replay(self, appflow: Any) -> None:
        appflow.create_connector_profile(**_salesforce("crm"))
        config = {"connectorProfileProperties": {"Salesforce": {"instanceUrl": "https://b.my.salesforce.com"}}}
        update = {"connectorProfileName": "crm", "connectionMode": "Public", "connectorProfileConfig": config}
        first = appflow.update_connector_profile(clientToken="u-1", **update)
        assert appflow.update_connector_profile(clientToken="u-1", **update)["connectorProfileArn"] == (
            first["connectorProfileArn"]
        )
        with pytest.raises(appflow.exceptions.ConflictException):
            appflow.update_connector_profile(clientToken="u-1", **{**update, "connectionMode": "Private"})


def test_twenty_threads_racing_for_one_name(emulator: Emulator) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(20)
    lock = threading.Lock()

    def create() -> None:
        client = appflow_client(emulator.endpoint)
        barrier.wait()
        try:
            client.create_connector_profile(**_salesforce("contested"))
            outcome = "created"
        except ClientError as error:
            outcome = _code(error)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=create) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ConflictException"] * 19 + ["created"]
    details = appflow_client(emulator.endpoint).describe_connector_profiles()["connectorProfileDetails"]
    assert [d["connectorProfileName"] for d in details] == ["contested"]


def test_private_connection_moves_from_pending_to_created(emulator: Emulator, clock: FakeClock, appflow: Any) -> None:
    emulator.knobs.private_delay_s = 30
    appflow.create_connector_profile(**_salesforce("private", connectionMode="Private"))

    def status() -> str:
        [detail] = appflow.describe_connector_profiles()["connectorProfileDetails"]
        return str(detail["privateConnectionProvisioningState"]["status"])

    assert status() == "PENDING"
    clock.advance(29)
    assert status() == "PENDING"
    clock.advance(2)
    assert status() == "CREATED"


def test_state_survives_a_restart(tmp_path: Any, clock: FakeClock) -> None:
    with Emulator(data_dir=tmp_path, clock=clock) as first:
        arn = appflow_client(first.endpoint).create_connector_profile(**_salesforce("kept"))["connectorProfileArn"]
    with Emulator(data_dir=tmp_path, clock=clock) as second:
        client = appflow_client(second.endpoint)
        [detail] = client.describe_connector_profiles()["connectorProfileDetails"]
        with pytest.raises(client.exceptions.ConflictException):
            client.create_connector_profile(**_salesforce("kept"))
    assert detail["connectorProfileArn"] == arn
    assert "token-value" not in (tmp_path / "appflow.sqlite3").read_bytes().decode("latin-1")
