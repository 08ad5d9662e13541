from __future__ import annotations

from typing import Any

import pytest

from deployer.providers.cloudcontrol.pointers import (
    display_path,
    escape,
    property_segments,
    to_pointer,
    unescape,
    without,
)


@pytest.mark.parametrize(
    ("segment", "escaped"),
    [
        pytest.param("Tags", "Tags", id="plain"),
        pytest.param("a/b", "a~1b", id="slash"),
        pytest.param("a~b", "a~0b", id="tilde"),
        pytest.param("~1", "~01", id="tilde-one-not-a-slash"),
    ],
)
def test_escape_round_trip(segment: str, escaped: str) -> None:
    assert escape(segment) == escaped
    assert unescape(escaped) == segment


@pytest.mark.parametrize(
    ("pointer", "segments"),
    [
        pytest.param("/properties/BucketName", ("BucketName",), id="top-level"),
        pytest.param("/properties/Rules/*/Transition", ("Rules", "*", "Transition"), id="wildcard"),
        pytest.param("/properties/a~1b~0c", ("a/b~c",), id="escaped"),
        pytest.param("/definitions/X", (), id="outside-properties"),
    ],
)
def test_property_segments(pointer: str, segments: tuple[str, ...]) -> None:
    assert property_segments(pointer) == segments


def test_to_pointer_and_display_path() -> None:
    assert to_pointer(["VersioningConfiguration", "Status"]) == "/VersioningConfiguration/Status"
    assert to_pointer(["a/b", 0]) == "/a~1b/0"
    assert display_path(("Rules", "*", "Transition")) == "Rules[*].Transition"


@pytest.mark.parametrize(
    ("value", "pointers", "expected"),
    [
        pytest.param({"A": 1, "B": 2}, [("A",)], {"B": 2}, id="top-level"),
        pytest.param({"A": {"B": 1, "C": 2}}, [("A", "B")], {"A": {"C": 2}}, id="nested"),
        pytest.param({"A": [{"B": 1}, {"C": 2}]}, [("A", "*", "B")], {"A": [{}, {"C": 2}]}, id="every-item"),
        pytest.param({"A": "scalar"}, [("A", "B"), ("Z",)], {"A": "scalar"}, id="absent-or-not-an-object"),
    ],
)
def test_without(value: dict[str, Any], pointers: list[tuple[str, ...]], expected: dict[str, Any]) -> None:
    assert without(value, pointers) == expected
