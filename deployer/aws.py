"""AWS sessions and clients: standard AWS configuration, or the embedded local cloud.

Without ``--local`` nothing is overridden: the credential chain, ``AWS_PROFILE``,
``AWS_REGION`` and ``AWS_ENDPOINT_URL_APPFLOW`` apply as they do for any boto3 program.
With ``--local`` the clients point at the in-process emulator with dummy credentials.
Every call made is counted, for ``--debug`` and the JSON output.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from deployer.errors import StackError

LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
LOCAL_REGION = "us-east-1"
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

    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        try:
            self._session = boto3.Session(profile_name=settings.profile, region_name=settings.region)
        except botocore.exceptions.ProfileNotFound as error:
            raise StackError(f"{error}; check --profile or AWS_PROFILE") from None
        # The local cloud is AppFlow only: other services (Secrets Manager, SSM for resolvers) keep the
        # standard configuration, including AWS_ENDPOINT_URL_<SERVICE>.
        self._local = (boto3.Session(region_name=settings.region or LOCAL_REGION, **LOCAL_CREDENTIALS)
                       if settings.endpoint_url else None)

    @property
    def default_region(self) -> str | None:
        return self.settings.region or self._session.region_name or (LOCAL_REGION if self._local else None)

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                local = self._local is not None and service == "appflow"
                session = self._local if local and self._local else self._session
                # The SDK's standard retry mode, unless the user chose another; its attempts follow the
                # standard AWS settings (AWS_MAX_ATTEMPTS, the profile), default 3.
                config = Config(retries={"mode": os.environ.get("AWS_RETRY_MODE", "standard")},
                                connect_timeout=CONNECT_TIMEOUT_S, max_pool_connections=64)
                made = session.client(service, region_name=region, config=config,
                                      endpoint_url=self.settings.endpoint_url if local else None)
                made.meta.events.register("before-call", self._count)
                self._clients[key] = made
            return self._clients[key]

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1
