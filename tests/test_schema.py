"""The JSON Schema of stack.yaml: every example passes it, every structural mistake fails it and `stack validate`."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from deployer.cli import main
from deployer.manifest import stack_schema

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "manifests").glob("*/stack.yaml"))
BAD = sorted((Path(__file__).parent / "fixtures" / "bad_manifests").glob("*.yaml"))


def test_the_schema_is_a_valid_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(stack_schema())


@pytest.mark.parametrize("manifest", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_every_example_follows_the_schema_and_says_so(manifest: Path) -> None:
    jsonschema.validate(yaml.safe_load(manifest.read_text()), stack_schema())
    assert manifest.read_text().startswith("# yaml-language-server: $schema=../../deployer/data/stack.schema.json\n")


@pytest.mark.parametrize("manifest", BAD, ids=[p.stem for p in BAD])
def test_structural_mistakes_fail_the_schema_and_validate(manifest: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load(manifest.read_text()), stack_schema())
    (tmp_path / "stack.yaml").write_text(manifest.read_text())
    assert main(["validate", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path}/stack.yaml:" in err and "Traceback" not in err

