"""Reading YAML files with the line of every value, so every problem can point at its line.

``load_yaml`` returns plain Python values (dicts, lists, scalars) and a map from
each value's path (keys and list indexes) to its 1-based line. Duplicate keys and
YAML syntax errors become ``ManifestError`` diagnostics, never a silent overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deployer.errors import Diagnostic, ManifestError
from deployer.paths import KeyPath, format_path

YamlPath = KeyPath


@dataclass(frozen=True)
class YamlDoc:
    """One parsed file: its data and where each value stands."""

    file: str
    data: Any
    lines: dict[YamlPath, int] = field(default_factory=dict)

    def line_of(self, path: YamlPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def load_yaml(path: Path, display: str) -> YamlDoc:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ManifestError([Diagnostic(display, None, "", f"cannot read the file: {error.strerror}")]) from None
    except UnicodeDecodeError:
        raise ManifestError([Diagnostic(display, None, "", "the file is not UTF-8 text")]) from None
    return parse_yaml(text, display)


# libyaml's parser when PyYAML has it (its wheels do): the same nodes and line marks, many times faster
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, display: str) -> YamlDoc:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        problem = error.problem or str(error)
        raise ManifestError(
            [Diagnostic(display, line, "", f"YAML syntax error: {problem}",
                        "check the indentation there, and quote values that start with '{{' or contain ': '")]
        ) from None
    finally:
        loader.dispose()
    if node is None:
        return YamlDoc(display, None, {})
    builder = _Builder(display, loader)
    data = builder.build(node, ())
    if builder.problems:
        raise ManifestError(builder.problems)
    return YamlDoc(display, data, builder.lines)


class _Builder:
    def __init__(self, display: str, loader: yaml.SafeLoader) -> None:
        self.display = display
        self.loader = loader
        self.lines: dict[YamlPath, int] = {}
        self.problems: list[Diagnostic] = []

    def build(self, node: yaml.Node, path: YamlPath) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if isinstance(key, float):
                    key = str(key)  # a key like 1.5 is text to us; paths hold names and indexes only
                if not isinstance(key, (str, int)):
                    self.problems.append(Diagnostic(self.display, line, format_path(path), "a key must be plain text",
                                                    "quote keys and values that contain '{{ }}'"))
                    continue
                if key in result:
                    self.problems.append(Diagnostic(self.display, line, format_path((*path, key)),
                                                    "duplicate key", "remove one of the two"))
                    continue
                result[key] = self.build(value_node, (*path, key))
                self.lines[(*path, key)] = line  # a block value starts below its key; point at the key
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)
