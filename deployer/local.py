"""The embedded local cloud behind ``--local``: the emulator, in-process, with its data in the stack.

Its data lives in ``<stack dir>/.stack/local/``, so separate ``--local`` runs see the
same cloud: deploy, then deploy again, and the second plan has no changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deployer.emulator import Emulator, Knobs


def local_data_dir(stack_dir: Path) -> Path:
    return stack_dir / ".stack" / "local"


@contextmanager
def local_cloud(stack_dir: Path, private_delay_s: float = 0.0) -> Iterator[str]:
    """Start the emulator on a free loopback port; yields its endpoint URL."""
    with Emulator(Knobs(private_delay_s=private_delay_s), data_dir=local_data_dir(stack_dir)) as emulator:
        yield emulator.endpoint
