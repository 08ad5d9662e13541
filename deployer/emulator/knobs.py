"""The emulator's realism knobs and the mechanisms behind them.

Latency, a per-account token bucket, random server faults and scripted faults make
the emulator behave like a loaded AWS endpoint, for retry tests and benchmarks.
Every knob can be changed while the emulator runs; the clock and the random source
are injected so that tests are reproducible and never wait for real.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_QUOTA = 100  # AWS's default (soft) quota of connector profiles per account and region


@dataclass
class Knobs:
    """Settable behaviour of a running emulator."""

    latency_ms: float = 0.0
    tps: float | None = None
    fault_rate: float = 0.0
    seed: int | None = None
    quota: int = DEFAULT_QUOTA
    account_id: str = DEFAULT_ACCOUNT_ID
    private_delay_s: float = 1.0
    private_failure: str | None = None  # when set, Private connections end FAILED with this message
    run_duration_s: float = 0.0  # how long a flow run stays InProgress on the emulator's clock (flows.py)
    check_buckets: bool = True  # an S3 flow's bucket must be an AWS::S3::Bucket of Cloud Control's store (flows.py)
    # Faults to answer with, in order, before anything else: (operation or None for any, error code).
    scripted_faults: deque[tuple[str | None, str]] = field(default_factory=deque)
    holds: deque[Hold] = field(default_factory=deque)

    def hold_next(self, operation: str, *, effect: bool = True) -> Hold:
        """Stop the next call of ``operation`` mid-flight, for crash tests: with ``effect`` after it took effect,
        else before; the caller is told through ``Hold.reached`` and the call ends, unanswered, on ``release``."""
        hold = Hold(operation, effect)
        self.holds.append(hold)
        return hold

    def take_hold(self, operation: str) -> Hold | None:
        for hold in list(self.holds):
            if hold.operation == operation:
                self.holds.remove(hold)
                return hold
        return None

    def fail_next(self, code: str, *, operation: str | None = None, times: int = 1) -> None:
        """Answer the next ``times`` calls (of ``operation``, or any) with AWS error ``code``.

        ``LostResponse`` is special: the call takes effect, then the connection drops without an answer.
        """
        for _ in range(times):
            self.scripted_faults.append((operation, code))


@dataclass
class Hold:
    """A call held mid-flight (see ``Knobs.hold_next``)."""

    operation: str
    effect: bool
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float = 60.0) -> None:
        self.reached.set()
        self.released.wait(timeout)


class TokenBucket:
    """Calls per second per account; a call that finds the bucket empty is throttled."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._levels: dict[str, tuple[float, float]] = {}

    def take(self, account: str, tps: float) -> bool:
        now = self._clock()
        with self._lock:
            level, since = self._levels.get(account, (tps, now))
            level = min(tps, level + (now - since) * tps)
            if level < 1.0:
                self._levels[account] = (level, now)
                return False
            self._levels[account] = (level - 1.0, now)
            return True


class FaultSource:
    """Decides which calls fail: scripted faults first, then random ones at ``fault_rate``."""

    def __init__(self, knobs: Knobs) -> None:
        self._knobs = knobs
        self._lock = threading.Lock()
        self._random = random.Random(knobs.seed)
        self._seed = knobs.seed

    def next_fault(self, operation: str) -> str | None:
        with self._lock:
            if self._knobs.seed != self._seed:
                self._seed = self._knobs.seed
                self._random = random.Random(self._seed)
            faults = self._knobs.scripted_faults
            for index, (wanted, code) in enumerate(faults):
                if wanted is None or wanted == operation:
                    del faults[index]
                    return code
            if self._knobs.fault_rate > 0 and self._random.random() < self._knobs.fault_rate:
                return "InternalServerException"
            return None


@dataclass
class CallStats:
    """What the emulator was asked and how it answered, for tests and benchmarks."""

    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    replayed: Counter[str] = field(default_factory=Counter)  # answered from token memory, without acting
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, operation: str, error_code: str | None) -> None:
        with self._lock:
            self.calls[operation] += 1
            if error_code:
                self.errors[error_code] += 1

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.errors.clear()
            self.replayed.clear()

    @property
    def total(self) -> int:
        return sum(self.calls.values())
