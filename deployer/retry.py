"""The deployer's retry policy, on top of the SDK's own (standard mode).

botocore retries throttling and transient errors a few times by itself. What it does
not cover is retried here with tenacity: ``ThrottlingException`` and
``InternalServerException`` past the SDK's budget, calls that got no answer at all (safe:
every create and update carries a client token), and short eventual-consistency
windows (``ConnectorAuthenticationException`` right after the secret or role it needs
was created). ``ValidationException`` and every other error is never retried, and
neither is an endpoint that cannot be reached at all (refused, unknown host, connect
timeout): the SDK has already tried it, and it will not heal within a run.
Backoff is exponential with jitter; the sleep is injected, so tests never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity

from deployer.errors import AwsError

T = TypeVar("T")

RETRYABLE = frozenset({
    "ThrottlingException", "TooManyRequestsException", "InternalServerException", "ServiceUnavailable",
    "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException",
})
# Retried only for the first few attempts: a credential that was just created can take seconds to work.
SETTLING = frozenset({"ConnectorAuthenticationException"})
SETTLING_ATTEMPTS = 3


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    max_wait: float = 20.0  # seconds, the longest single wait
    initial_wait: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    # told of every retry: (operation, resource, the attempt that failed), for progress displays
    on_retry: Callable[[str, str, int], None] | None = field(default=None, compare=False, repr=False)

    def _wait(self) -> tenacity.wait.wait_base:
        if self.max_wait <= 0:
            return tenacity.wait_none()
        jitter = min(self.initial_wait, self.max_wait)
        return tenacity.wait_exponential(multiplier=self.initial_wait, max=self.max_wait - jitter) + \
            tenacity.wait_random(0, jitter)

    def call(self, operation: str, resource: str, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it succeeds, fails for good, or the attempts run out."""
        def retryable(state: tenacity.RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            if not isinstance(error, AwsError):
                return False
            if not error.answered:
                return True  # safe: creates and updates carry a client token, deletes and reads repeat harmlessly
            return error.code in RETRYABLE or (error.code in SETTLING and state.attempt_number < SETTLING_ATTEMPTS)

        retrying = tenacity.Retrying(
            retry=retryable,
            stop=tenacity.stop_after_attempt(max(1, self.max_attempts)),
            wait=self._wait(),
            sleep=self.sleep,
            reraise=True,
            before_sleep=(lambda state: self.on_retry(operation, resource, state.attempt_number))  # type: ignore[misc]
            if self.on_retry else None,
        )
        try:
            return retrying(attempt)
        except AwsError as error:
            attempts = retrying.statistics.get("attempt_number", 1)
            if attempts > 1:
                raise type(error)(f"{error} (gave up after {attempts} attempts)", code=error.code,
                                  operation=operation, resource=resource, answered=error.answered) from None
            raise
