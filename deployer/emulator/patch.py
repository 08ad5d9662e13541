"""RFC 6902 JSON Patch, as Cloud Control's UpdateResource takes it, and JSON Pointer (RFC 6901) helpers.

``apply_patch`` returns a patched copy or raises ``PatchError``; the document passed in is never changed.
Schema pointers (``/properties/Tags/*/Key``, ``*`` for every item of an array) address a resource model
with ``model_parts``, ``values_at`` and ``drop_at``.
The project does not depend on the ``jsonpatch`` package, and the six operations are short.
"""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    """A patch that is malformed or does not apply to the document."""


def pointer_parts(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"'{pointer}' is not a JSON pointer")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def apply_patch(document: Any, patch: Any) -> Any:
    if not isinstance(patch, list):
        raise PatchError("a patch document is a JSON array of operations")
    result = copy.deepcopy(document)
    for index, operation in enumerate(patch):
        if not isinstance(operation, dict) or not isinstance(operation.get("path"), str):
            raise PatchError(f"operation {index} needs 'op' and a 'path'")
        result = _apply(result, operation)
    return result


def _apply(document: Any, operation: dict[str, Any]) -> Any:
    op, path = operation.get("op"), pointer_parts(operation["path"])
    if op in ("add", "replace", "test") and "value" not in operation:
        raise PatchError(f"'{op}' at '{operation['path']}' needs a 'value'")
    if op == "add":
        return _add(document, path, copy.deepcopy(operation["value"]))
    if op == "remove":
        return _remove(document, path)[0]
    if op == "replace":
        _get(document, path)
        return _add(_remove(document, path)[0], path, copy.deepcopy(operation["value"]))
    if op in ("move", "copy"):
        source = pointer_parts(str(operation.get("from", "")))
        if op == "move" and path[: len(source)] == source and path != source:
            raise PatchError(f"cannot move '{operation.get('from')}' into itself")
        value = copy.deepcopy(_get(document, source))
        if op == "move":
            document = _remove(document, source)[0]
        return _add(document, path, value)
    if op == "test":
        if _get(document, path) != operation["value"]:
            raise PatchError(f"test failed at '{operation['path']}'")
        return document
    raise PatchError(f"unknown operation {op!r}")


def _get(document: Any, path: list[str]) -> Any:
    for part in path:
        if isinstance(document, dict) and part in document:
            document = document[part]
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            raise PatchError(f"'/{'/'.join(path)}' does not exist")
    return document


def _add(document: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _get(document, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and (last == "-" or (last.isdigit() and int(last) <= len(parent))):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        raise PatchError(f"cannot add at '/{'/'.join(path)}'")
    return document


def _remove(document: Any, path: list[str]) -> tuple[Any, Any]:
    if not path:
        return None, document
    parent = _get(document, path[:-1])
    _get(document, path)
    removed = parent.pop(path[-1] if isinstance(parent, dict) else int(path[-1]))
    return document, removed


def model_parts(pointer: str) -> list[str]:
    """A schema pointer's steps into the model: ``/properties/A/B`` is ``["A", "B"]``."""
    parts = pointer_parts(pointer)
    return parts[1:] if parts[:1] == ["properties"] else parts


def values_at(value: Any, pointer: str) -> list[Any]:
    """The values at a schema pointer (``*`` for every item of an array); none where it leads nowhere."""
    found = [value]
    for part in model_parts(pointer):
        step: list[Any] = []
        for item in found:
            if part == "*" and isinstance(item, list):
                step += item
            elif isinstance(item, dict) and part in item:
                step.append(item[part])
        found = step
    return found


def drop_at(value: Any, parts: list[str]) -> None:
    """Removes what ``parts`` (from ``model_parts``) lead to, in place."""
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict) and not rest:
        value.pop(head, None)
    elif isinstance(value, dict) and head in value:
        drop_at(value[head], rest)
    elif isinstance(value, list) and head == "*":
        for item in value:
            drop_at(item, rest)
