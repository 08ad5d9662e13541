"""``stack init``: a stack directory that validates once its placeholders are filled, and never a file overwritten.

The variable names come from the skeleton (``deployer.skeleton``), so these tests read them from the
generated ``environments/dev.yaml`` instead of naming them. Every value given here fits every field the
connectors below ask for (their patterns are ``\\S+``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from deployer.cli import main
from deployer.skeleton import skeleton

VALUE = "https://acme.example.com"
PLACEHOLDER = re.compile(r"^# ([A-Za-z_][A-Za-z0-9_]*):", re.MULTILINE)


def placeholders(stack: Path) -> list[str]:
    return PLACEHOLDER.findall((stack / "environments" / "dev.yaml").read_text())


@pytest.mark.parametrize("connectors", [["Zendesk"], ["Salesforce", "Slack"]], ids=["one", "two"])
def test_a_new_stack_validates_once_its_placeholders_are_filled(connectors: list[str], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "crm"
    assert main(["init", str(stack), *[arg for c in connectors for arg in ("--connector", c)]]) == 0
    out = capsys.readouterr().out
    assert out == (f"Created {stack}/stack.yaml, {stack}/environments/dev.yaml, {stack}/.gitignore.\n"
                   f"Next: fill in {stack}/environments/dev.yaml, then run `stack validate {stack}`.\n")
    assert ".stack/" in (stack / ".gitignore").read_text().splitlines()
    assert yaml.safe_load((stack / "stack.yaml").read_text())["name"] == "crm"
    names = placeholders(stack)
    assert names and yaml.safe_load((stack / "environments" / "dev.yaml").read_text()) is None  # nothing made up

    assert main(["validate", str(stack)]) == 1  # every missing variable named at once, with its line
    err = capsys.readouterr().err
    assert [f"undefined variable '{name}'" in err for name in names] == [True] * len(names)
    assert f"Error: {len(names)} problem" in err

    assert main(["validate", str(stack), *[arg for name in names for arg in ("-e", f"{name}={VALUE}")]]) == 0
    env_file = stack / "environments" / "dev.yaml"
    env_file.write_text(PLACEHOLDER.sub(rf"\1: {VALUE}  #", env_file.read_text()))
    assert main(["validate", str(stack)]) == 0
    assert f"Stack 'crm' is valid: {len(connectors)} resource" in capsys.readouterr().out


def test_placeholders_name_where_they_are_used_and_which_are_secrets(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "s"), "--connector", "Zendesk"]) == 0
    lines = (tmp_path / "s" / "environments" / "dev.yaml").read_text().splitlines()
    instance = next(line for line in lines if "ConnectorProfileProperties.Zendesk." in line)
    secret = next(line for line in lines if "ConnectorProfileCredentials.Zendesk.ClientSecret" in line)
    assert instance.startswith("# ") and "secret" not in instance
    name = PLACEHOLDER.match(secret)
    assert name and f"a secret: better set as STACK_VAR_{name.group(1)} than written here" in secret


SKELETON_NAME = yaml.safe_load(skeleton("AWS::AppFlow::ConnectorProfile", ["Zendesk"]))["name"]


@pytest.mark.parametrize(("directory", "name"), [("crm", "crm"), ("true", "true"), ("2024", "2024"),
                                                 ("my stack", SKELETON_NAME)],
                         ids=["word", "yaml-bool", "yaml-int", "not-a-name"])
def test_the_stack_is_named_after_its_directory_when_the_name_can_be_one(directory: str, name: str,
                                                                          tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / directory), "--connector", "Zendesk"]) == 0
    assert yaml.safe_load((tmp_path / directory / "stack.yaml").read_text())["name"] == name


def test_init_overwrites_nothing_and_says_which_files_are_in_the_way(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "crm"
    stack.mkdir()
    (stack / ".gitignore").write_text("node_modules/\n")
    assert main(["init", str(stack)]) == 1
    assert capsys.readouterr().err == (f"Error: {stack}/.gitignore already exists; stack init writes nothing over an "
                                       "existing file (move it away, or choose another directory)\n")
    assert sorted(p.name for p in stack.iterdir()) == [".gitignore"]
    assert (stack / ".gitignore").read_text() == "node_modules/\n"

    (stack / ".gitignore").unlink()
    assert main(["init", str(stack)]) == 0
    before = {p: p.read_text() for p in stack.rglob("*") if p.is_file()}
    assert main(["init", str(stack), "--connector", "Slack"]) == 1
    assert f"{stack}/stack.yaml, {stack}/environments/dev.yaml, {stack}/.gitignore already exist;" in \
        capsys.readouterr().err
    assert {p: p.read_text() for p in stack.rglob("*") if p.is_file()} == before


def test_an_unknown_connector_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "crm"), "--connector", "Zendeks"]) == 1
    assert "Error: unknown connector 'Zendeks'" in capsys.readouterr().err
    assert not (tmp_path / "crm").exists()
