"""State in S3, for teams: one object per stack and environment, and a lock object beside it.

``s3://BUCKET/PREFIX`` holds ``PREFIX/STACK/ENV.json`` and ``PREFIX/STACK/ENV.json.lock``.
S3's conditional writes do the work, as in Terraform's S3 backend with ``use_lockfile``:
the lock is created with ``If-None-Match: *`` (exactly one run succeeds) and deleted with
``If-Match`` on its ETag (only by its holder); state is written with ``If-Match`` on the
ETag this run last read, so a run whose state changed underneath it is refused instead of
overwriting. Keep bucket versioning on: every version of the state stays recoverable.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import botocore.exceptions

from deployer.errors import StackError, StateError
from deployer.lock import LockInfo
from deployer.state import MAX_STATE_BYTES, StackState, next_version

ClientFor = Callable[[str, str], Any]
_PRECONDITION = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_MISSING = {"NoSuchKey", "404", "NotFound"}


def parse_s3_url(url: str) -> tuple[str, str]:
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StackError(f"'{url}' names no bucket: use s3://BUCKET/PREFIX")
    return bucket, prefix.strip("/")


def _code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3Backend:
    def __init__(self, client_for: ClientFor, bucket: str, prefix: str, stack: str, env: str,
                 region: str = "us-east-1") -> None:
        self.bucket = bucket
        self.key = "/".join(part for part in (prefix, stack, f"{env}.json") if part)
        self.location = f"s3://{bucket}/{self.key}"
        self._client_for = client_for
        self._region = region
        self._etag: str | None = None  # of the object as this backend last saw it; "" when there was none
        self._seen: StackState | None = None
        self.lock = S3LockStore(self._client, bucket, self.key + ".lock")

    def _client(self) -> Any:
        return self._client_for("s3", self._region)

    def read(self) -> StackState | None:
        try:
            answer = self._client().get_object(Bucket=self.bucket, Key=self.key)
            with contextlib.closing(answer["Body"]) as body:
                # at most one byte past the largest state: from_json reports the excess without holding it all
                data = body.read(MAX_STATE_BYTES + 1)
        except botocore.exceptions.ClientError as error:
            if _code(error) in _MISSING:
                self._etag, self._seen = "", None
                return None
            raise StateError(f"{self.location}: cannot read the state: {_code(error)}; check the bucket name, the "
                             "region and s3:GetObject permission") from None
        except botocore.exceptions.BotoCoreError as error:
            raise StateError(f"{self.location}: cannot read the state: {error}") from None
        state = StackState.from_json(data, self.location, recovery=self.recovery())
        self._etag, self._seen = answer["ETag"], state
        return state

    def recovery(self) -> str:
        """How to get a good state back: there is no backup object beside it; bucket versioning keeps every version."""
        return (f"With bucket versioning on, every earlier version of the state is kept: list them "
                f"with `aws s3api list-object-versions --bucket {self.bucket} --prefix {self.key}` and restore one "
                f"with `aws s3api copy-object --bucket {self.bucket} --key {self.key} --copy-source "
                f"'{self.bucket}/{self.key}?versionId=VERSION_ID'` (without versioning, put a good copy in place "
                f"with `aws s3 cp FILE {self.location}`)")

    def restore(self, *, stack: str, env: str, force: bool = False) -> tuple[StackState, str | None]:
        raise StateError(f"{self.location}: `stack state restore` puts back a local state file's backup; S3 state "
                         "has none. " + self.recovery())

    def write(self, state: StackState, *, force: bool = False) -> StackState:
        if self._etag is None:
            self.read()  # learn which version we are replacing
        current = self._seen
        written = next_version(current, state, self.location, force=force)
        condition = {"IfNoneMatch": "*"} if not self._etag else {"IfMatch": self._etag}
        try:
            answer = self._client().put_object(Bucket=self.bucket, Key=self.key, Body=written.to_json().encode(),
                                               ContentType="application/json", **condition)
        except botocore.exceptions.ClientError as error:
            if _code(error) in _PRECONDITION:
                self._etag = None
                raise StateError(f"{self.location}: another run wrote the state since this run read it; nothing "
                                 "was overwritten. Run the command again") from None
            raise StateError(f"{self.location}: cannot write the state: {_code(error)}; check s3:PutObject "
                             "permission") from None
        except botocore.exceptions.BotoCoreError as error:
            # no answer: the object is the old one, or (if the request got through) this one; the next read tells
            self._etag = None
            raise StateError(f"{self.location}: cannot write the state: {error}; run the command again: it "
                             "carries on from the stored state and its intent journal") from None
        self._etag, self._seen = answer["ETag"], written
        return written


class S3LockStore:
    def __init__(self, client: Callable[[], Any], bucket: str, key: str) -> None:
        self._client = client
        self.bucket = bucket
        self.key = key
        self._etags: dict[str, str] = {}  # lock id -> ETag of the lock object that holds it

    def create(self, lock: LockInfo) -> bool:
        try:
            answer = self._client().put_object(Bucket=self.bucket, Key=self.key, IfNoneMatch="*",
                                               Body=json.dumps(asdict(lock)).encode(), ContentType="application/json")
        except botocore.exceptions.ClientError as error:
            if _code(error) in _PRECONDITION:
                return False
            raise StateError(f"s3://{self.bucket}/{self.key}: cannot create the lock: {_code(error)}") from None
        self._etags[lock.lock_id] = answer["ETag"]
        return True

    def holder(self) -> LockInfo | None:
        try:
            answer = self._client().get_object(Bucket=self.bucket, Key=self.key)
        except botocore.exceptions.ClientError as error:
            if _code(error) in _MISSING:
                return None
            raise StateError(f"s3://{self.bucket}/{self.key}: cannot read the lock: {_code(error)}") from None
        try:
            holder = LockInfo(**json.loads(answer["Body"].read()))
        except (ValueError, TypeError) as error:
            raise StackError(f"s3://{self.bucket}/{self.key}: the lock object is unreadable ({error}); if no run "
                             "is going on, delete it") from None
        self._etags[holder.lock_id] = answer["ETag"]
        return holder

    def remove_if_held_by(self, holder: LockInfo) -> bool:
        etag = self._etags.get(holder.lock_id)
        if etag is None:
            if self.holder() != holder:
                return False
            etag = self._etags[holder.lock_id]
        try:
            self._client().delete_object(Bucket=self.bucket, Key=self.key, IfMatch=etag)
        except botocore.exceptions.ClientError as error:
            if _code(error) in _PRECONDITION | _MISSING:
                return False
            raise StateError(f"s3://{self.bucket}/{self.key}: cannot delete the lock: {_code(error)}") from None
        return True
