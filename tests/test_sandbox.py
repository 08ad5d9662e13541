"""Manifests cannot run code, read files or read the environment: each attempt is refused before any AWS call."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.cli import main
from deployer.emulator import Emulator

STACK = """\
version: 1
name: sandboxed
globals:
  - name: region
    value: us-east-1
resources:
  - name: crm
{extra}    props:
      - name: ConnectorProfileName
        value: {name}
      - name: ConnectionMode
        value: Public
      - name: ConnectorType
        value: Zendesk
      - name: ConnectorProfileConfig
        value:
          ConnectorProfileProperties:
            Zendesk:
              InstanceUrl: https://acme.zendesk.com
          ConnectorProfileCredentials:
            Zendesk:
              ClientId: id
              ClientSecret: secret-value
"""

ATTEMPTS = [
    ("cycler-globals", "'{{ cycler.__init__.__globals__.os.environ }}'", "not allowed in a template"),
    ("joiner", "'{{ joiner().__init__.__globals__ }}'", "undefined variable 'joiner'"),
    ("namespace", "'{{ namespace().__init__.__globals__ }}'", "undefined variable 'namespace'"),
    ("lipsum-globals", "'{{ lipsum.__globals__[\"os\"].popen(\"id\").read() }}'", "undefined variable 'lipsum'"),
    ("class-mro-subclasses", "'{{ \"\".__class__.__mro__[1].__subclasses__() }}'",
     "not allowed in a template: access to attribute '__class__' of 'str' object is unsafe"),
    ("range-globals", "'{{ range.__init__.__globals__ }}'",
     "not allowed in a template: access to attribute '__init__' of 'function' object is unsafe"),
    ("self-reference", "'x{{ self.__init__.__globals__ }}'", "not allowed in a template"),
    ("environment-variable", "'{{ AWS_SECRET_ACCESS_KEY }}'", "undefined variable 'AWS_SECRET_ACCESS_KEY'"),
    ("environment-under-vars", "'{{ vars.AWS_SECRET_ACCESS_KEY }}'", "undefined name 'AWS_SECRET_ACCESS_KEY'"),
    ("include-a-file", "'{% include \"/etc/passwd\" %}'", "template error"),
    ("import-a-file", "'{% import \"/etc/passwd\" as p %}x'", "template error"),
]


@pytest.mark.parametrize(("expression", "message"), [a[1:] for a in ATTEMPTS], ids=[a[0] for a in ATTEMPTS])
def test_escape_attempts_are_refused(expression: str, message: str, against_emulator: Emulator, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stack.yaml").write_text(STACK.format(extra="", name=expression))
    assert main(["deploy", str(tmp_path), "--auto-approve"]) == 1
    out, err = capsys.readouterr()
    assert "stack.yaml:10 resources[0].props.ConnectorProfileName: " in err
    assert message in err
    assert "test-secret" not in out + err  # the AWS secret key in this test's environment
    assert "root:" not in out + err
    assert against_emulator.stats.total == 0


@pytest.mark.parametrize("template", ["../../../etc/passwd", "/etc/passwd", "sub/../../outside.yaml"])
def test_templates_outside_the_stack_and_library_are_refused(template: str, against_emulator: Emulator,
                                                             tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "outside.yaml").write_text("props: []\n")
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "stack.yaml").write_text(STACK.format(extra=f"    template: {template}\n", name="crm"))
    assert main(["plan", str(stack)]) == 1
    err = capsys.readouterr().err
    assert f"resources[0].template: template path '{template}' leaves the stack directory and the templates/ " \
           "library" in err
    assert against_emulator.stats.total == 0


def test_a_credential_change_alone_plans_an_update_marked_sensitive(against_emulator: Emulator, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stack.yaml").write_text(STACK.format(extra="", name="crm"))
    assert main(["deploy", str(tmp_path), "--auto-approve"]) == 0
    (tmp_path / "stack.yaml").write_text(STACK.format(extra="", name="crm").replace("secret-value", "rotated-value"))
    capsys.readouterr()
    assert main(["plan", str(tmp_path), "--detailed-exitcode"]) == 2
    out = capsys.readouterr().out
    assert "~ crm [crm in us-east-1] will be updated in place" in out
    assert "ConnectorProfileConfig.ConnectorProfileCredentials: (sensitive value changed)" in out
    assert "Plan: 0 to create, 1 to update" in out
    assert "rotated-value" not in out and "secret-value" not in out


def test_declared_sensitive_variables_are_hidden_wherever_they_are_used(
        against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "sensitive: [TenantUrl]\n" + STACK.format(extra="", name="crm").replace(
        "https://acme.zendesk.com", "'{{ TenantUrl }}'")
    (tmp_path / "stack.yaml").write_text(text)
    assert main(["deploy", str(tmp_path), "--auto-approve", "-e", "TenantUrl=https://hidden-tenant.zendesk.com",
                 "--debug"]) == 0
    assert main(["render", str(tmp_path), "-e", "TenantUrl=https://hidden-tenant.zendesk.com"]) == 0
    out, err = capsys.readouterr()
    assert "hidden-tenant" not in out + err
    assert "InstanceUrl: (sensitive)" in out
    assert "hidden-tenant" not in (tmp_path / ".stack" / "state" / "dev.json").read_text()
