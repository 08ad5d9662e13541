"""Declared variables (``variables:``): defaults, sensitivity, and constraints checked before any call."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.cli import main

STACK = """\
name: declared
variables:
  - name: Env
    default: dev
    allowed_values: [dev, prod]
  - name: Prefix
    allowed_pattern: '[a-z][a-z0-9-]*'
    min_length: 3
    max_length: 12
  - name: Count
    default: 2
    min_value: 1
    max_value: 5
  - name: Token
    sensitive: true
    min_length: 8
resources:
  - name: bucket
    type: AWS::S3::Bucket
    props:
      - name: BucketName
        value: '{{ Prefix }}-{{ Env }}-{{ Count }}'
      - name: Tags
        value: [{Key: token, Value: '{{ Token }}'}]
"""


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    (tmp_path / "stack.yaml").write_text(STACK)
    return tmp_path


@pytest.mark.parametrize(
    ("values", "line", "message"),
    [
        (["Env=qa"], 3, 'variables.Env: "qa" (from -e) is not an allowed value; allowed: dev, prod'),
        (["Prefix=Web"], 6, 'variables.Prefix: "Web" (from -e) does not match allowed_pattern; the whole value must '
                            "match [a-z][a-z0-9-]*"),
        (["Prefix=ab"], 6, 'variables.Prefix: "ab" (from -e) is shorter than min_length 3; use at least 3 characters'),
        (["Prefix=abcdefghijklm"], 6, 'variables.Prefix: "abcdefghijklm" (from -e) is longer than max_length 12; use '
                                      "at most 12 characters"),
        (["Count=9"], 10, 'variables.Count: "9" (from -e) is above max_value 5; use 5 or less'),
        (["Token=short"], 14, "variables.Token: (sensitive) (from -e) is shorter than min_length 8; use at least 8 "
                              "characters"),
    ],
    ids=["allowed-values", "pattern", "min-length", "max-length", "max-value", "sensitive-hidden"],
)
def test_a_value_that_breaks_its_declaration_is_located(stack: Path, values: list[str], line: int, message: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    given = {"Prefix": "web", "Token": "long-enough-token", **dict(v.split("=", 1) for v in values)}
    args = [part for name, value in given.items() for part in ("-e", f"{name}={value}")]
    assert main(["validate", str(stack), *args]) == 1
    err = capsys.readouterr().err
    assert f"{stack / 'stack.yaml'}:{line} {message}" in err
    assert '"short"' not in err  # a sensitive value is never shown


def test_declared_defaults_and_sensitivity(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(stack), "-e", "Prefix=web", "-e", "Token=long-enough-token"]) == 0
    out = capsys.readouterr().out
    assert "web-dev-2" in out  # the defaults
    assert "long-enough-token" not in out  # declared sensitive


def test_a_broken_declaration_is_located(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (stack / "stack.yaml").write_text(STACK.replace("    min_value: 1\n", "    min_value: one\n    maxvalue: 5\n"))
    assert main(["validate", str(stack), "-e", "Prefix=web", "-e", "Token=long-enough-token"]) == 1
    err = capsys.readouterr().err
    assert "variables[2].min_value: min_value must be a number" in err
    assert "variables[2].maxvalue: unknown key; did you mean 'max_value'?" in err
