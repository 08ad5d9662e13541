"""Paths into nested values (mapping keys and list indexes), and how they are written for people."""

from __future__ import annotations

KeyPath = tuple["str | int", ...]


def format_path(path: KeyPath) -> str:
    """``("a", "b", 0, "c")`` -> ``a.b[0].c``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
