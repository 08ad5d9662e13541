"""The S3 backend against the conformance suite, on moto in server mode."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict
from typing import Any

import boto3
import pytest

from deployer.backends import StateBackend
from deployer.backends.s3 import S3Backend, parse_s3_url
from deployer.errors import StackError
from deployer.lock import LockInfo
from tests.backends.conformance import Conformance, race
from tests.support import DUMMY_CREDENTIALS, MotoServer

BUCKET = "stack-state-conformance"


def _client_for(endpoint: str) -> Any:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **DUMMY_CREDENTIALS)
    return lambda service, region: client


def race_backend(location: str, number: int) -> S3Backend:
    endpoint, prefix = location.split("|")
    return S3Backend(_client_for(endpoint), BUCKET, prefix, "race", f"round-{number}")


@pytest.fixture(scope="module")
def bucket(moto_server: MotoServer) -> MotoServer:
    client = moto_server.client("s3")
    try:
        client.create_bucket(Bucket=BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    return moto_server


class TestS3Backend(Conformance):
    @pytest.fixture(autouse=True)
    def _place(self, bucket: MotoServer) -> None:
        self.server = bucket
        self.prefix = f"teams/{uuid.uuid4().hex}"

    def make(self) -> StateBackend:
        return S3Backend(_client_for(self.server.endpoint), BUCKET, self.prefix, "crm", "dev")

    def corrupt(self, backend: StateBackend, data: bytes) -> None:
        self.server.client("s3").put_object(Bucket=BUCKET, Key=f"{self.prefix}/crm/dev.json", Body=data)

    def replace_lock(self, backend: StateBackend, lock: LockInfo) -> None:
        self.server.client("s3").put_object(Bucket=BUCKET, Key=f"{self.prefix}/crm/dev.json.lock",
                                            Body=json.dumps(asdict(lock)).encode())

    def test_objects_are_where_the_documentation_says(self) -> None:
        from deployer.lock import acquire
        from deployer.state import StackState

        backend = self.make()
        backend.write(StackState.new("crm", "dev"))
        acquire(backend.lock, "deploy")
        keys = sorted(o["Key"] for o in self.server.client("s3").list_objects_v2(
            Bucket=BUCKET, Prefix=self.prefix)["Contents"])
        assert keys == [f"{self.prefix}/crm/dev.json", f"{self.prefix}/crm/dev.json.lock"]
        assert backend.location == f"s3://{BUCKET}/{self.prefix}/crm/dev.json"


@pytest.mark.parametrize(("url", "parsed"), [("s3://b/p/q/", ("b", "p/q")), ("s3://b", ("b", ""))])
def test_s3_urls(url: str, parsed: tuple[str, str]) -> None:
    assert parse_s3_url(url) == parsed


def test_an_s3_url_without_a_bucket_is_refused() -> None:
    with pytest.raises(StackError, match="names no bucket"):
        parse_s3_url("s3:///prefix")


def test_eight_processes_race_for_the_lock_and_exactly_one_wins_each_round(bucket: MotoServer) -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", DUMMY_CREDENTIALS["aws_access_key_id"])
    rounds = race("tests.backends.test_s3", f"{bucket.endpoint}|race/{uuid.uuid4().hex}")
    assert rounds == [["lost"] * 7 + ["won"]] * 20
