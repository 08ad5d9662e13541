"""Bad manifests: exit 1 with file, line, path and fix; no AWS call; state untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.support import PROFILE_NAMES

GOOD = """\
version: 1
name: bad-inputs
globals:
  - name: region
    value: us-east-1
resources:
  - name: crm
    type: AWS::AppFlow::ConnectorProfile
    props:
      - name: ConnectorProfileName
        value: crm-profile
      - name: ConnectionMode
        value: Public
      - name: ConnectorType
        value: Salesforce
      - name: ConnectorProfileConfig
        value:
          ConnectorProfileProperties:
            Salesforce:
              InstanceUrl: https://acme.my.salesforce.com
              isSandboxEnvironment: false
          ConnectorProfileCredentials:
            Salesforce:
              AccessToken: '{{ Token }}'
"""

SECOND = """\
  - name: other
    type: AWS::AppFlow::ConnectorProfile
    depends_on: [crm]
    props:
      - name: ConnectorProfileName
        value: other-profile
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
              ClientSecret: '{{ Token }}'
"""

CASES = [
    ("typo-in-property", GOOD.replace("InstanceUrl:", "InstanceURL:"),
     "stack.yaml:20 resources[0].props.ConnectorProfileConfig.ConnectorProfileProperties.Salesforce.InstanceURL: "
     "unknown property; did you mean 'InstanceUrl'?"),
    ("wrong-type", GOOD.replace("isSandboxEnvironment: false", "isSandboxEnvironment: maybe"),
     "stack.yaml:21 resources[0].props.ConnectorProfileConfig.ConnectorProfileProperties.Salesforce"
     '.isSandboxEnvironment: expected true or false, got string: "maybe"; use true or false'),
    ("bad-enum", GOOD.replace("value: Public", "value: Sideways"),
     'stack.yaml:13 resources[0].props.ConnectionMode: "Sideways" is not an allowed value; allowed: Public, Private'),
    ("undefined-variable", GOOD.replace("'{{ Token }}'", "'{{ Tokn }}'"),
     "stack.yaml:24 resources[0].props.ConnectorProfileConfig.ConnectorProfileCredentials.Salesforce.AccessToken: "
     "undefined variable 'Tokn'; pass it with -e Tokn=..., a --var-file, environments/<env>.yaml or STACK_VAR_Tokn"),
    ("yaml-syntax-error", GOOD.replace("      - name: ConnectionMode\n", "      - name: ConnectionMode\n   bad: [\n"),
     "stack.yaml:13: YAML syntax error:"),
    ("cycle", GOOD.replace("    type: AWS::AppFlow::ConnectorProfile\n",
                           "    type: AWS::AppFlow::ConnectorProfile\n    depends_on: [other]\n", 1) + SECOND,
     "stack.yaml:7 resources[0]: dependency cycle: crm -> other -> crm; remove one of these dependencies"),
    ("wrong-connector-block", GOOD.replace("          ConnectorProfileProperties:\n            Salesforce:",
                                           "          ConnectorProfileProperties:\n            Zendesk:"),
     "stack.yaml:19 resources[0].props.ConnectorProfileConfig.ConnectorProfileProperties.Zendesk: block does not "
     "match connector type 'Salesforce'; use the 'Salesforce' block, or change the connector type to 'Zendesk'"),
    ("missing-required", GOOD.replace("      - name: ConnectionMode\n        value: Public\n", ""),
     "stack.yaml:7 resources[0].props.ConnectionMode: required property is missing; add ConnectionMode"),
    ("label-on-salesforce",
     GOOD.replace("      - name: ConnectorType\n", "      - name: ConnectorLabel\n        value: x\n"
                                                  "      - name: ConnectorType\n"),
     'stack.yaml:15 resources[0].props.ConnectorLabel: only allowed with connector type \'CustomConnector\': "x"; '
     "remove ConnectorLabel"),
    ("duplicate-profile-name", GOOD + SECOND.replace("other-profile", "crm-profile"),
     "stack.yaml:30 resources[1].props.ConnectorProfileName: profile name 'crm-profile' is also used by 'crm'"),
    ("unknown-dependency", GOOD.replace("    type: AWS::AppFlow::ConnectorProfile\n",
                                        "    type: AWS::AppFlow::ConnectorProfile\n    depends_on: [ghost]\n"),
     "stack.yaml:7 resources[0]: depends on 'ghost', which is not a resource of this stack"),
    ("unknown-resource-key", GOOD.replace("    props:\n", "    prop:\n    props:\n", 1),
     "stack.yaml:9 resources[0].prop: unknown resource key; did you mean 'props'?"),
    ("read-only-property", GOOD.replace("      - name: ConnectorType\n",
                                        "      - name: CredentialsArn\n        value: arn:aws:x\n"
                                        "      - name: ConnectorType\n"),
     "stack.yaml:15 resources[0].props.CredentialsArn: read-only: AWS sets it; remove it; "
     "read it as resources.crm.CredentialsArn"),
    ("credential-value-is-redacted",
     GOOD.replace("AccessToken: '{{ Token }}'", "AccessToken: 'super-secret-token x'"),
     "stack.yaml:24 resources[0].props.ConnectorProfileConfig.ConnectorProfileCredentials.Salesforce.AccessToken: "
     "(sensitive) does not match the required pattern; the whole value must match \\S+"),
    ("unicode-profile-name", GOOD.replace("value: crm-profile", "value: café-名前"),
     'stack.yaml:11 resources[0].props.ConnectorProfileName: "caf\\u00e9-\\u540d\\u524d" does not match the '
     "required pattern; the whole value must match [\\w/!@#+=.-]+, where \\w is A-Z, a-z, 0-9 or _"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_manifest_is_reported_and_nothing_is_called(
    text: str, expected: str, against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "stack.yaml").write_text(text)
    state = stack / ".stack" / "state" / "dev.json"
    state.parent.mkdir(parents=True)
    state.write_text("{\"untouched\": true}")
    monkeypatch.chdir(tmp_path)
    for command in ("validate", "plan", "deploy", "destroy"):
        extra = ["--auto-approve"] if command in ("deploy", "destroy") else []
        code = main([command, "stack", "-e", "Token=super-secret-token", *extra])
        out, err = capsys.readouterr()
        assert code == 1, (command, out, err)
        assert f"stack/{expected}" in err, err
        assert "Traceback" not in err
        assert "super-secret-token" not in out + err
    assert against_emulator.stats.total == 0
    assert state.read_text() == "{\"untouched\": true}"


@pytest.mark.parametrize(("name", "accepted"), [c[1:] for c in PROFILE_NAMES], ids=[c[0] for c in PROFILE_NAMES])
def test_profile_names_follow_the_api_pattern_dialect(against_emulator: Emulator, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str], name: str,
                                                      accepted: bool) -> None:
    """The same table as the emulator's (tests/emulator/test_validation.py): \\w is ASCII, as in ECMAScript."""
    (tmp_path / "stack.yaml").write_text(GOOD.replace("value: crm-profile", f"value: '{name}'"))
    code = main(["validate", str(tmp_path), "-e", "Token=t"])
    err = capsys.readouterr().err
    if accepted:
        assert code == 0, err
    else:
        assert code == 1
        assert "stack.yaml:11 resources[0].props.ConnectorProfileName: " in err
        assert "does not match the required pattern" in err
    assert against_emulator.stats.total == 0


def test_every_problem_is_reported_at_once(against_emulator: Emulator, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    broken = GOOD.replace("InstanceUrl:", "InstanceURL:").replace("value: Public", "value: Sideways")
    (tmp_path / "stack.yaml").write_text(broken)
    assert main(["validate", str(tmp_path), "-e", "Token=t"]) == 1
    err = capsys.readouterr().err
    assert "unknown property; did you mean 'InstanceUrl'?" in err
    assert '"Sideways" is not an allowed value' in err
    assert "Error: 2 problems in the stack; nothing was called or changed." in err


def test_debug_shows_the_traceback(against_emulator: Emulator, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stack.yaml").write_text(GOOD.replace("InstanceUrl:", "InstanceURL:"))
    assert main(["validate", str(tmp_path), "-e", "Token=t", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_missing_stack_directory(aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope")]) == 1
    assert "nope: no such directory; pass the directory that holds stack.yaml" in capsys.readouterr().err


def test_usage_errors_exit_64(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["plan"])
    assert raised.value.code == 64
    with pytest.raises(SystemExit) as raised:
        main(["deploy", ".", "--parallelism", "0"])
    assert raised.value.code == 64


def test_an_export_name_that_shadows_a_variable_is_refused(against_emulator: Emulator, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    text = GOOD.replace("    props:\n", "    exports: [Token]\n    props:\n", 1)
    (tmp_path / "stack.yaml").write_text(text)
    assert main(["plan", str(tmp_path), "-e", "Token=t"]) == 1
    assert "resources[0].exports: export 'Token' has the name of a variable or global; rename the variable, " \
           "or use resources.crm.Token" in capsys.readouterr().err
    assert against_emulator.stats.total == 0
