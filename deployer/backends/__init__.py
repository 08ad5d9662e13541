"""State backends: where a stack's state and its lock live.

``LocalBackend`` keeps them in files (``STACK_DIR/.stack/state/ENV.json``);
``S3Backend`` in an S3 bucket (``s3://BUCKET/PREFIX/STACK/ENV.json``), for teams. Both
follow the same rules, checked by one conformance test suite: every write carries the
next serial and the same lineage, a write based on a state that changed since it was
read is refused (never a silent overwrite), and one lock per stack and environment.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from deployer.errors import StackError
from deployer.lock import LockStore
from deployer.state import StackState

ClientFor = Callable[[str, str], Any]  # (service, region) -> boto3 client


class StateBackend(Protocol):
    @property
    def location(self) -> str: ...

    @property
    def lock(self) -> LockStore: ...

    def read(self) -> StackState | None:
        """The stored state, or None when there is none yet."""
        ...

    def write(self, state: StackState, *, force: bool = False) -> StackState:
        """Store ``state`` with the next serial; refuses another lineage, an older serial (unless ``force``)
        and a lost race (always)."""
        ...

    def restore(self, *, stack: str, env: str, force: bool = False) -> tuple[StackState, str | None]:
        """Put the previous version back in place of a missing or unreadable state (``force``: of any state);
        returns it and where the replaced one was kept. A backend that cannot raises a StateError saying how."""
        ...


def open_backend(location: str | Path, *, stack: str, env: str, client_for: ClientFor | None,
                 region: str | None = None, restore_command: str = "") -> StateBackend:
    """The backend for ``location``: ``s3://BUCKET/PREFIX`` or a local file path. ``restore_command``: how the
    user runs ``stack state restore`` for this state, for a local state's messages."""
    from deployer.backends.local import LocalBackend
    from deployer.backends.s3 import S3Backend, parse_s3_url

    text = str(location)
    if text.startswith("s3://"):
        bucket, prefix = parse_s3_url(text)
        if client_for is None:
            raise StackError("S3 state needs AWS access; it cannot be used offline")
        return S3Backend(client_for, bucket, prefix, stack, env, region or "us-east-1")
    if "://" in text:
        raise StackError(f"unsupported state location '{text}': use a file path or s3://BUCKET/PREFIX")
    return LocalBackend(Path(text), restore_command=restore_command)
