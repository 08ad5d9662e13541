"""AWS sessions and clients: standard AWS configuration, or the embedded local cloud.

Without ``--local`` nothing is overridden: the credential chain, ``AWS_PROFILE``,
``AWS_REGION``, ``AWS_ENDPOINT_URL_APPFLOW`` and ``AWS_ENDPOINT_URL_CLOUDCONTROL``
apply as they do for any boto3 program.
With ``--local`` the clients point at the in-process emulator with dummy credentials.
Every call made is counted, for ``--debug`` and the JSON output.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from deployer.errors import StackError

LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
LOCAL_REGION = "us-east-1"
LOCAL_SERVICES = ("appflow", "cloudcontrol")  # what the local cloud serves, on one port
# Seconds to open a connection (botocore's default is 60). An AWS endpoint answers in well under a second;
# one that does not is unreachable, and a run should say so rather than wait a minute per attempt.
CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class AwsSettings:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None  # set only for the embedded local cloud


class Clients:
    """boto3 clients per service and region, made once and shared by all workers (they are thread-safe)."""

    def __init__(self, settings: AwsSettings, local_cloud: Callable[[], str] | None = None) -> None:
        """``local_cloud`` starts the embedded local cloud and returns its endpoint; it is called at the first
        AppFlow client, so a run that stops before any call leaves nothing of it behind."""
        self.settings = settings
        self._local_cloud = local_cloud
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        # botocore reads AWS_DEFAULT_REGION and the profile's region, but not AWS_REGION (which the AWS CLI v2 and
        # the other SDKs honour first): it is passed explicitly, so every client, resolver and S3 state sees it.
        region = settings.region or os.environ.get("AWS_REGION") or None
        try:
            self._session = boto3.Session(profile_name=settings.profile, region_name=region)
        except botocore.exceptions.ProfileNotFound as error:
            raise StackError(f"{error}; check --profile or AWS_PROFILE") from None
        # The local cloud is AppFlow and Cloud Control only: other services (Secrets Manager, SSM for resolvers)
        # keep the standard configuration, including AWS_ENDPOINT_URL_<SERVICE>.
        self._local = (boto3.Session(region_name=region or LOCAL_REGION, **LOCAL_CREDENTIALS)
                       if settings.endpoint_url or local_cloud else None)

    @property
    def default_region(self) -> str | None:
        return self.settings.region or self._session.region_name or (LOCAL_REGION if self._local else None)

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                local = self._local is not None and service in LOCAL_SERVICES
                session = self._local if local and self._local else self._session
                # The SDK's standard retry mode, unless the user chose another; its attempts follow the
                # standard AWS settings (AWS_MAX_ATTEMPTS, the profile), default 3.
                config = Config(retries={"mode": os.environ.get("AWS_RETRY_MODE", "standard")},
                                connect_timeout=CONNECT_TIMEOUT_S, max_pool_connections=64)
                made = session.client(service, region_name=region, config=config,
                                      endpoint_url=self._local_endpoint() if local else None)
                made.meta.events.register("before-call", self._count)
                self._clients[key] = made
            return self._clients[key]

    def _local_endpoint(self) -> str | None:
        if self.settings.endpoint_url is None and self._local_cloud is not None:  # the lock is held
            self.settings = replace(self.settings, endpoint_url=self._local_cloud())
        return self.settings.endpoint_url

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1
