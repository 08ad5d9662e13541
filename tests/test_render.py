from __future__ import annotations

from pathlib import Path

import pytest

from deployer.errors import ManifestError
from deployer.manifest import load_manifest
from deployer.render import Inputs, Unknown, build_context, render_resource

STACK = """\
version: 1
name: rendered
globals:
  - name: region
    value: '{{ Region }}'
  - name: prefix
    value: '{{ stack_name }}-{{ region }}'
resources:
  - name: first
    props:
      - name: Text
        value: '{{ prefix }}/{{ Name }}'
      - name: Flag
        value: '{{ Flag }}'
      - name: Unset
        value: '{{ Missing | default(none) }}'
      - name: ByEnv
        values:
          prod: {value: P}
          default: {value: D}
      - name: Number
        value: '{{ Port }}'
  - name: second
    if: "{{ stack_env == 'prod' }}"
    props:
      - name: Upstream
        value: '{{ resources.first.ConnectorProfileArn }}'
"""


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    (tmp_path / "stack.yaml").write_text(STACK)
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "dev.yaml").write_text(
        "Region: eu-west-1\nName: from-env-file\nFlag: true\nPort: 443\n")
    return tmp_path


def _render(stack: Path, **inputs: object) -> dict[str, object]:
    manifest = load_manifest(stack)
    context = build_context(manifest, Inputs(**{"environ": {}, **inputs}))  # type: ignore[arg-type]
    return render_resource(context.active[0], context, {}).props


def test_types_survive_and_globals_see_earlier_globals(stack: Path) -> None:
    props = _render(stack)
    assert props == {"Text": "rendered-eu-west-1/from-env-file", "Flag": True, "Unset": None, "ByEnv": "D",
                     "Number": 443}


def test_variable_precedence(stack: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    var_file = tmp_path_factory.mktemp("vars") / "vars.yaml"
    var_file.write_text("Name: from-var-file\n")
    assert _render(stack, environ={"STACK_VAR_Name": "from-environ"})["Text"] == "rendered-eu-west-1/from-environ"
    assert _render(stack, environ={"STACK_VAR_Name": "from-environ"}, var_files=(var_file,))["Text"].endswith(
        "from-var-file")
    assert _render(stack, var_files=(var_file,), cli_vars={"Name": "from-cli"})["Text"].endswith("from-cli")


def test_environment_selects_values_and_conditions(stack: Path) -> None:
    (stack / "environments" / "prod.yaml").write_text((stack / "environments" / "dev.yaml").read_text())
    manifest = load_manifest(stack)
    assert [s.name for s in build_context(manifest, Inputs(env="dev", environ={})).active] == ["first"]
    context = build_context(manifest, Inputs(env="prod", environ={}))
    assert [s.name for s in context.active] == ["first", "second"]
    assert render_resource(context.active[0], context, {}).props["ByEnv"] == "P"
    upstream = render_resource(context.active[1], context, {}).props["Upstream"]
    assert upstream == Unknown("resources.first.ConnectorProfileArn")
    known = render_resource(context.active[1], context, {"first": {"ConnectorProfileArn": "arn:x"}})
    assert known.props["Upstream"] == "arn:x"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("'{{ NoSuchName }}'", "undefined variable 'NoSuchName'"),
        ("'{{ vars.NoSuchName }}'", "undefined name 'NoSuchName'"),
        ("'{{ Name.__class__ }}'", "not allowed in a template: access to attribute '__class__'"),
        ("'x{{ Name.__class__.__mro__ }}'", "not allowed in a template: access to attribute '__class__'"),
        ("'{% for %}'", "template syntax error"),
    ],
    ids=["undefined", "undefined-under-vars", "dunder", "dunder-chain", "syntax"],
)
def test_template_errors_name_the_place(stack: Path, template: str, message: str) -> None:
    (stack / "stack.yaml").write_text(STACK.replace("'{{ prefix }}/{{ Name }}'", template))
    with pytest.raises(ManifestError) as raised:
        _render(stack)
    [problem] = raised.value.diagnostics
    assert (problem.file.endswith("stack.yaml"), problem.line, problem.path) == (True, 12, "resources[0].props.Text")
    assert message in problem.message


def test_sandbox_refuses_unsafe_calls(stack: Path) -> None:
    (stack / "stack.yaml").write_text(STACK.replace("'{{ prefix }}/{{ Name }}'", "'{{ vars.clear() }}'"))
    with pytest.raises(ManifestError) as raised:
        _render(stack)
    assert "not allowed in a template" in raised.value.diagnostics[0].message
