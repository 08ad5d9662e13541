"""Reading YAML files with the line of every value, so every problem can point at its line.

``load_yaml`` returns plain Python values (dicts, lists, scalars) and a map from
each value's path (keys and list indexes) to its 1-based line. Duplicate keys and
YAML syntax errors become ``ManifestError`` diagnostics, never a silent overwrite.

Every file is untrusted input (a pull request can change any of them), so reading one is
bounded before anything is built: its size (``MAX_FILE_BYTES``), the values it stands for
once its aliases are expanded (``MAX_VALUES``, which stops "billion laughs" alias bombs),
and how deep it nests (``MAX_DEPTH``, which keeps the recursive steps after it far from
Python's recursion limit). Characters YAML does not allow (NUL and other control
characters), bytes that are not UTF-8, tags without a constructor and values Python cannot
hold are diagnostics with their line, like any other mistake in the file.
"""

from __future__ import annotations

import re
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


# The limits on one YAML file (README, Security). A real stack is far below each: AWS's soft quota is 100
# connector profiles per account, a profile takes about 40 values and half a KiB of YAML, and this project's
# largest benchmark stack, 10,000 profiles, is 5 MiB, 390,000 values and 8 levels deep.
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_VALUES = 1_000_000  # every key and value, counted again each time an alias repeats it
MAX_DEPTH = 64  # nested mappings and lists

# What YAML allows in a file (YAML 1.1, 5.1 "Character Set", as libyaml reads it): no NUL, no other C0 or C1
# control characters except tab, line feed, carriage return and NEL
_NOT_YAML = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def load_yaml(path: Path, display: str) -> YamlDoc:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)  # never more: the path may be /dev/zero or a growing log
    except OSError as error:
        raise ManifestError([Diagnostic(display, None, "", f"cannot read the file: {error.strerror}")]) from None
    if len(data) > MAX_FILE_BYTES:
        raise ManifestError([Diagnostic(display, data.count(b"\n") + 1, "",
                                        f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB, the limit for "
                                        "a YAML file", "split the stack, or check that this is the file you meant")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ManifestError([Diagnostic(display, line, "", f"the file is not UTF-8 text (byte "
                                        f"0x{data[error.start]:02x})", "save it as UTF-8")]) from None
    return parse_yaml(text.replace("\r\n", "\n").replace("\r", "\n"), display)  # as text mode reads it


# libyaml's parser when PyYAML has it (its wheels do): the same nodes and line marks, many times faster
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, display: str) -> YamlDoc:
    bad = _NOT_YAML.search(text)
    if bad:
        raise ManifestError([Diagnostic(display, text.count("\n", 0, bad.start()) + 1, "",
                                        f"the character U+{ord(bad.group()):04X} is not allowed in YAML",
                                        "remove it; is this a text file?")])
    loader = _Loader(text)
    try:
        _check_bounds(_Loader(text), display)  # before any node is built
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        raise ManifestError([_syntax_problem(error, display)]) from None
    except yaml.YAMLError as error:  # the reader's, which it marks with an offset only; the text was checked above
        raise ManifestError([Diagnostic(display, None, "", f"YAML error: {error}")]) from None
    finally:
        loader.dispose()
    if node is None:
        return YamlDoc(display, None, {})
    builder = _Builder(display, loader)
    data = builder.build(node, ())
    if builder.problems:
        raise ManifestError(builder.problems)
    return YamlDoc(display, data, builder.lines)


def _syntax_problem(error: yaml.MarkedYAMLError, display: str) -> Diagnostic:
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark else None
    problem = error.problem or str(error)
    return Diagnostic(display, line, "", f"YAML syntax error: {problem}",
                      "check the indentation there, and quote values that start with '{{' or contain ': '")


@dataclass
class _Open:
    """A mapping or list whose end the bounds check has not reached yet."""

    anchor: str | None
    first: int  # values counted before it
    depth: int  # its own nesting level, 1 for the document's top
    deepest: int  # the deepest level inside it so far


def _check_bounds(loader: Any, display: str) -> None:
    """Refuse a file that would stand for more than ``MAX_VALUES`` values or ``MAX_DEPTH`` levels, counting
    what each alias repeats, from the parser's events alone: no node is built and no alias expanded, so
    the check is as cheap as reading the file, whatever the file is."""
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values it stands for, levels it adds)
    opened: list[_Open] = []
    total = 0

    def refuse(event: Any, message: str, fix: str) -> None:
        raise ManifestError([Diagnostic(display, event.start_mark.line + 1, "", message, fix)])

    try:
        while not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()
            if type(event) is yaml.ScalarEvent:  # most events; checked first, the cheapest way
                total += 1
                if event.anchor is not None:
                    anchors[event.anchor] = (1, 0)
                if total > MAX_VALUES:
                    refuse(event, f"more than {MAX_VALUES:,} values in one file", "split the stack into several")
            elif isinstance(event, yaml.CollectionStartEvent):
                total += 1
                opened.append(_Open(event.anchor, total - 1, len(opened) + 1, len(opened) + 1))
                if len(opened) > MAX_DEPTH:
                    refuse(event, f"nested more than {MAX_DEPTH} levels deep",
                           "a stack needs about 10; write the value with fewer levels")
                if total > MAX_VALUES:
                    refuse(event, f"more than {MAX_VALUES:,} values in one file", "split the stack into several")
            elif isinstance(event, yaml.CollectionEndEvent):
                done = opened.pop()
                if done.anchor is not None:
                    anchors[done.anchor] = (total - done.first, done.deepest - done.depth + 1)
                if opened:
                    opened[-1].deepest = max(opened[-1].deepest, done.deepest)
            elif isinstance(event, yaml.AliasEvent):
                if any(o.anchor == event.anchor for o in opened):
                    refuse(event, f"the alias *{event.anchor} is inside the value it stands for (a cycle)",
                           "an alias may only repeat a value that ends before it")
                values, levels = anchors.get(event.anchor or "", (1, 0))  # an unknown anchor is the composer's
                total += values
                if total > MAX_VALUES:
                    refuse(event, f"the alias *{event.anchor} repeats {values:,} values, which takes the file past "
                           f"{MAX_VALUES:,} values", "write the values out, or repeat smaller blocks fewer times")
                if opened and len(opened) + levels > MAX_DEPTH:
                    refuse(event, f"the alias *{event.anchor} nests the file more than {MAX_DEPTH} levels deep",
                           "a stack needs about 10; write the value with fewer levels")
                if opened:
                    opened[-1].deepest = max(opened[-1].deepest, len(opened) + levels)
            elif isinstance(event, yaml.DocumentStartEvent):
                anchors = {}
    finally:
        loader.dispose()


class _Builder:
    def __init__(self, display: str, loader: yaml.SafeLoader) -> None:
        self.display = display
        self.loader = loader
        self.lines: dict[YamlPath, int] = {}
        self.problems: list[Diagnostic] = []

    def build(self, node: yaml.Node, path: YamlPath) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if not isinstance(node, yaml.ScalarNode) and node.tag not in self.loader.yaml_constructors:
            # mappings and lists are built here, not by their tag's constructor: refuse the tags the scalars'
            # constructor would refuse, rather than ignore them
            self.problems.append(Diagnostic(self.display, node.start_mark.line + 1, format_path(path),
                                            f"could not determine a constructor for the tag {node.tag!r}",
                                            "remove the tag"))
            return None
        if isinstance(node, yaml.MappingNode):
            try:
                self.loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
            except yaml.MarkedYAMLError as error:  # << with something other than mappings
                self.problems.append(Diagnostic(self.display, _line(error, node), format_path(path),
                                                str(error.problem), "merge (<<:) a mapping or a list of mappings"))
                return None
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                known = len(self.problems)
                key = self.scalar(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
                if len(self.problems) > known:
                    continue
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
        assert isinstance(node, yaml.ScalarNode)
        return self.scalar(node, path)

    def scalar(self, node: yaml.ScalarNode, path: YamlPath) -> Any:
        """The value of a scalar; a tag without a constructor, or text its tag cannot hold (an integer of
        more digits than Python converts, a date that does not exist), is a problem at its line."""
        try:
            return self.loader.construct_object(node, deep=True)
        except Exception as error:  # noqa: BLE001 - whatever a constructor raises, the value is the user's mistake
            self.loader.recursive_objects.pop(node, None)  # left behind by the failed construction
            if isinstance(error, yaml.MarkedYAMLError):
                message = str(error.problem)
            else:
                kind = node.tag.rsplit(":", 1)[-1]
                message = f"the value is not a valid {kind}"  # not the value itself: it may be a secret
            self.problems.append(Diagnostic(self.display, node.start_mark.line + 1, format_path(path), message,
                                            "quote it to keep it as text"))
            return None


def _line(error: yaml.MarkedYAMLError, node: yaml.Node) -> int:
    mark = error.problem_mark or node.start_mark
    return int(mark.line) + 1
