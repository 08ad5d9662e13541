"""Resolvers: ``secret()`` and ``ssm()`` in templates, fetched through boto3 at plan and apply time.

``{{ secret('NAME_OR_ARN') }}`` reads an AWS Secrets Manager secret, ``{{ secret('NAME',
key='password') }}`` one key of a JSON secret, ``{{ ssm('/path') }}`` an SSM parameter
(SecureString decrypted). Every value fetched is registered as a secret at once. Offline
(``stack validate``, ``stack render``) nothing is fetched: a resolver stands for a value
known only at plan time. Errors name the secret or parameter, never a value.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from deployer.errors import StackError
from deployer.render import Unknown
from deployer.secrets import SECRETS

ClientFor = Callable[[str, str], Any]  # (service, region) -> boto3 client


class ResolverError(StackError):
    """A resolver could not fetch its value."""


class Resolvers:
    """The template functions; ``client_for`` None means offline."""

    def __init__(self, client_for: ClientFor | None, region: str | None) -> None:
        self._client_for = client_for
        self.region = region
        self._cache: dict[tuple[str, ...], str] = {}
        self._lock = threading.Lock()

    def names(self) -> dict[str, Callable[..., Any]]:
        return {"secret": self.secret, "ssm": self.ssm}

    def secret(self, name: str, key: str | None = None) -> Any:
        what = f"secret('{name}'" + (f", key='{key}')" if key else ")")
        if self._client_for is None:
            return Unknown(what)
        text = self._fetch(("secretsmanager", name), lambda client: client.get_secret_value(SecretId=name),
                           "secretsmanager", f"secret '{name}'")
        if key is None:
            return text
        try:
            document = json.loads(text)
        except ValueError:
            raise ResolverError(f"secret '{name}' is not JSON, so it has no key '{key}'; leave out key=") from None
        if not isinstance(document, dict) or key not in document:
            keys = ", ".join(sorted(document)) if isinstance(document, dict) else "none"
            raise ResolverError(f"secret '{name}' has no key '{key}' (its keys: {keys})")
        value = document[key]
        SECRETS.add(value if isinstance(value, str) else json.dumps(value))
        return value

    def ssm(self, path: str) -> Any:
        if self._client_for is None:
            return Unknown(f"ssm('{path}')")
        return self._fetch(("ssm", path), lambda client: client.get_parameter(Name=path, WithDecryption=True),
                           "ssm", f"SSM parameter '{path}'")

    def _fetch(self, cache_key: tuple[str, ...], call: Callable[[Any], Any], service: str, what: str) -> str:
        with self._lock:
            if cache_key in self._cache:
                return self._cache[cache_key]
        if not self.region:
            raise ResolverError(f"no AWS region to read {what} from: set the 'region' global, --region or AWS_REGION")
        assert self._client_for is not None
        try:
            answer = call(self._client_for(service, self.region))
        except botocore.exceptions.ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("ResourceNotFoundException", "ParameterNotFound"):
                raise ResolverError(f"{what} not found in {self.region}: check the name, the region and the "
                                    "account") from None
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("AccessDeniedException", "AccessDenied") or status == 403:
                permission = "secretsmanager:GetSecretValue" if service == "secretsmanager" else "ssm:GetParameter"
                raise ResolverError(f"access denied reading {what}: the credentials in use need {permission} "
                                    "(and kms:Decrypt for its key)") from None
            raise ResolverError(f"reading {what} failed: {code}") from None
        except botocore.exceptions.BotoCoreError as error:
            raise ResolverError(f"reading {what} failed: {type(error).__name__}") from None
        value = answer.get("SecretString") if service == "secretsmanager" else answer["Parameter"].get("Value")
        if value is None:
            raise ResolverError(f"{what} holds binary data; only text secrets can be used")
        SECRETS.add(value)
        with self._lock:
            self._cache[cache_key] = value
        return str(value)
