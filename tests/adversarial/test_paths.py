"""Paths stay inside the stack, and command-line values are what they claim to be.

An environment name becomes part of file names and S3 keys, so it is one plain word; files found by
convention (environments/*.yaml, stack.yaml) may not lead out of the stack directory, while a file the
user names on the command line may be anywhere; a broken manifest with --local leaves no local cloud
behind; numeric options refuse nan and inf. Each case: exit 64 for a usage error, else 1 with the file
named; no traceback, no AWS call, nothing written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.adversarial.test_yaml import ENV_FILE, STACK, STATE, TIMEOUT_S, write_stack

OUTSIDE_SECRET = "outside-secret-value"
ENV_RULE = "is not an environment name: use letters, digits, '-' and '_' (at most 64), as it names files in the " \
           "stack directory"


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (links as where they point), to show that nothing was written."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(root))] = os.readlink(path).encode()
        elif path.is_file():
            found[str(path.relative_to(root))] = path.read_bytes()
    return found


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid stack at ``tmp_path/stack`` with dev and prod environments, and ``tmp_path/outside``, a directory
    beside it that holds a variables file a hostile stack would like to read."""
    written = write_stack(tmp_path, {"stack/environments/prod.yaml": ENV_FILE})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.yaml").write_text(f"Token: {OUTSIDE_SECRET}\n")
    monkeypatch.chdir(tmp_path)
    return written


# Environment names --------------------------------------------------------------------------------

BAD_NAMES = {
    "dot-dot-path": "../../outside/x",
    "parent": "..",
    "current": ".",
    "slash": "a/b",
    "absolute": "/tmp/x",
    "backslash": "a\\b",
    "space": "my env",
    "newline": "dev\n",
    "empty": "",
    "non-ascii-letter": "dév",
    "65-characters": "e" * 65,
    "glob": "*",
}
COMMANDS = {
    "validate": ["validate", "stack", "--env", "{}"],
    "render": ["render", "stack", "--env", "{}"],
    "plan": ["plan", "stack", "--env", "{}"],
    "deploy": ["deploy", "stack", "--auto-approve", "--env", "{}"],
    "destroy": ["destroy", "stack", "--auto-approve", "--env", "{}"],
    "drift": ["drift", "stack", "--env", "{}"],
    "envs": ["envs", "stack", "--env", "{}"],
    "state-list": ["state", "list", "stack", "--env", "{}"],
    "state-rm": ["state", "rm", "stack", "crm", "--env", "{}"],
    "plan-local": ["plan", "stack", "--local", "--env", "{}"],
    "promote-to": ["promote", "stack", "--from", "dev", "--to", "{}", "--auto-approve"],
    "promote-from": ["promote", "stack", "--from", "{}", "--to", "prod", "--auto-approve"],
}


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
@pytest.mark.parametrize("argv", list(COMMANDS.values()), ids=list(COMMANDS))
def test_an_environment_name_that_is_not_a_plain_word_is_a_usage_error(
    argv: list[str], name: str, stack: Path, against_emulator: Emulator, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = tree(tmp_path)
    with pytest.raises(SystemExit) as raised:
        main([name if part == "{}" else part for part in argv])
    err = capsys.readouterr().err
    assert raised.value.code == 64, err
    assert f"{name!r} {ENV_RULE}" in err
    assert "Traceback" not in err
    assert against_emulator.stats.total == 0
    assert tree(tmp_path) == before


@pytest.mark.parametrize("name", ["prod-eu_1", "A1", "e" * 64], ids=["dash-underscore", "capitals", "64-characters"])
def test_a_plain_word_is_an_environment_name(name: str, stack: Path, aws_env: None,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (stack / "environments" / f"{name}.yaml").write_text(ENV_FILE)
    assert main(["validate", "stack", "--env", name]) == 0, capsys.readouterr().err


def test_a_saved_plan_cannot_name_a_path_as_its_environment(stack: Path, against_emulator: Emulator,
                                                            tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (stack / ".stack" / "state" / "dev.json").unlink()  # a plan needs a readable state, or none
    assert main(["plan", "stack", "-o", "plan.json"]) == 0
    document = json.loads((tmp_path / "plan.json").read_text())
    document["saved_plan"]["env"] = "../../outside/x"
    (tmp_path / "plan.json").write_text(json.dumps(document))
    calls, before = against_emulator.stats.total, tree(tmp_path)
    capsys.readouterr()

    assert main(["apply", "plan.json"]) == 1
    err = capsys.readouterr().err
    assert f"Error: plan.json: '../../outside/x' {ENV_RULE}" in err
    assert "Traceback" not in err
    assert against_emulator.stats.total == calls
    assert tree(tmp_path) == before


# Files found by convention ------------------------------------------------------------------------


def _link(path: Path, target: Path) -> None:
    if path.exists() or path.is_symlink():
        if path.is_dir() and not path.is_symlink():
            for child in path.iterdir():
                child.unlink()
            path.rmdir()
        else:
            path.unlink()
    path.symlink_to(target)


# id -> (link to make under tmp_path, where it points, extra arguments, the error)
LEAVING: dict[str, tuple[str, str, list[str], str]] = {
    "environment-file": ("stack/environments/staging.yaml", "outside/x.yaml", ["--env", "staging"],
                         "stack/environments/staging.yaml: leads out of the stack directory (to {outside}/x.yaml); "
                         "an environment file must be inside it; copy the file into environments/, or pass it with "
                         "--var-file"),
    "environment-file-through-dot-dot": ("stack/environments/dev.yaml", "../../outside/x.yaml", [],
                                         "stack/environments/dev.yaml: leads out of the stack directory"),
    "default-environment-file": ("stack/environments/default.yaml", "outside/x.yaml", [],
                                 "stack/environments/default.yaml: leads out of the stack directory"),
    "environments-directory": ("stack/environments", "outside", ["--env", "x"],
                               ".yaml: leads out of the stack directory (to {outside}/"),
    "stack-file": ("stack/stack.yaml", "outside/stack.yaml", [],
                   "stack/stack.yaml: leads out of the stack directory (to {outside}/stack.yaml); the stack file "
                   "must be inside it; copy the file into the directory, or pass its path instead"),
}


@pytest.mark.parametrize(("link", "target", "extra", "expected"), list(LEAVING.values()), ids=list(LEAVING))
def test_a_file_found_by_convention_may_not_lead_out_of_the_stack(
    link: str, target: str, extra: list[str], expected: str, stack: Path, against_emulator: Emulator,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "outside" / "stack.yaml").write_text(STACK)
    _link(tmp_path / link, target if target.startswith("..") else tmp_path / target)
    before = tree(tmp_path)
    for command in (["validate"], ["plan"], ["deploy", "--auto-approve"], ["envs"]):
        code = main([command[0], "stack", *command[1:], *extra])
        out, err = capsys.readouterr()
        assert code == 1, (command, out, err)
        assert expected.format(outside=tmp_path / "outside") in err, (command, err)
        assert OUTSIDE_SECRET not in out + err
        assert "Traceback" not in out + err
    assert against_emulator.stats.total == 0
    assert tree(tmp_path) == before
    assert (stack / ".stack" / "state" / "dev.json").read_text() == STATE


def test_a_template_may_not_lead_out_of_the_stack_either(stack: Path, aws_env: None, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "outside" / "t.yaml").write_text("props:\n  - name: ConnectionMode\n    value: Public\n")
    (stack / "t.yaml").symlink_to(tmp_path / "outside" / "t.yaml")
    (stack / "stack.yaml").write_text(STACK.replace("    props:\n", "    template: t.yaml\n    props:\n", 1))
    assert main(["validate", "stack"]) == 1
    assert "stack/stack.yaml:9 resources[0].template: template 't.yaml' not found" in capsys.readouterr().err


# id -> (what to set up under tmp_path: link or file -> target, the command line)
NAMED: dict[str, tuple[dict[str, str], list[str]]] = {
    "var-file-outside-the-stack": ({}, ["validate", "stack", "--var-file", "outside/x.yaml"]),
    "stack-file-outside-named-by-its-path": ({}, ["validate", "outside/stack.yaml", "-e", "Token=t"]),
    "environment-file-linked-inside-the-stack": ({"stack/environments/dev.yaml": "../shared/dev.yaml"},
                                                 ["validate", "stack"]),
}


@pytest.mark.parametrize(("links", "argv"), list(NAMED.values()), ids=list(NAMED))
def test_a_file_the_user_names_or_that_stays_inside_is_read(
    links: dict[str, str], argv: list[str], stack: Path, aws_env: None, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "outside" / "stack.yaml").write_text(STACK)
    (stack / "shared").mkdir()
    (stack / "shared" / "dev.yaml").write_text(ENV_FILE)
    for link, target in links.items():
        _link(tmp_path / link, Path(target))
    assert main(argv) == 0, capsys.readouterr().err


# --local and a broken manifest ----------------------------------------------------------------------

BROKEN = {
    "undefined-variable": ("'{{ Token }}'", "'{{ Tokn }}'", "undefined variable 'Tokn'"),
    "bad-property": ("value: Public", "value: Sideways", '"Sideways" is not an allowed value'),
}
LOCAL_COMMANDS = {
    "validate": ["validate"], "render": ["render"], "plan": ["plan"], "deploy": ["deploy", "--auto-approve"],
    "destroy": ["destroy", "--auto-approve"], "promote": ["promote", "--from", "dev", "--to", "prod"],
}


@pytest.mark.parametrize("broken", list(BROKEN.values()), ids=list(BROKEN))
@pytest.mark.parametrize("command", list(LOCAL_COMMANDS.values()), ids=list(LOCAL_COMMANDS))
def test_a_broken_manifest_leaves_no_local_cloud_behind(
    command: list[str], broken: tuple[str, str, str], stack: Path, aws_env: None, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old, new, expected = broken
    (stack / "stack.yaml").write_text(STACK.replace(old, new))
    code = main([command[0], "stack", "--local", *command[1:]])
    out, err = capsys.readouterr()
    assert code == 1, (out, err)
    assert expected in err or "no state at" in err, err  # promote reads --from's state first
    assert "Traceback" not in out + err
    assert not (stack / ".stack" / "local").exists()


def test_the_local_cloud_starts_when_it_is_first_called(stack: Path, aws_env: None,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "stack", "--local", "--detailed-exitcode"]) == 2, capsys.readouterr().err
    assert (stack / ".stack" / "local" / "appflow.sqlite3").is_file()


# Numbers on the command line ------------------------------------------------------------------------

NUMBERS = {
    "lock-timeout-nan": (["plan", "stack", "--lock-timeout", "nan"], "argument --lock-timeout: 'nan' is not a "
                         "finite number"),
    "lock-timeout-inf": (["deploy", "stack", "--lock-timeout", "inf"], "argument --lock-timeout: 'inf' is not a "
                         "finite number"),
    "lock-timeout-minus-inf": (["deploy", "stack", "--lock-timeout=-inf"], "'-inf' is not a finite number"),
    "lock-timeout-negative": (["deploy", "stack", "--lock-timeout=-1"], "argument --lock-timeout: must be at least 0"),
    "lock-timeout-nan-in-apply": (["apply", "plan.json", "--lock-timeout", "NaN"], "'NaN' is not a finite number"),
    "max-wait-nan": (["plan", "stack", "--max-wait", "nan"], "argument --max-wait: 'nan' is not a finite number"),
    "max-wait-infinity": (["plan", "stack", "--max-wait", "Infinity"], "'Infinity' is not a finite number"),
    "max-attempts-nan": (["plan", "stack", "--max-attempts", "nan"], "argument --max-attempts: 'nan' is not a "
                         "number"),
    "max-attempts-inf": (["plan", "stack", "--max-attempts", "inf"], "'inf' is not a number"),
    "parallelism-inf": (["deploy", "stack", "--parallelism", "inf"], "argument --parallelism: 'inf' is not a number"),
    "parallelism-in-apply": (["apply", "plan.json", "--parallelism", "nan"], "'nan' is not a number"),
    "parallelism-in-promote": (["promote", "stack", "--from", "dev", "--to", "prod", "--parallelism", "inf"],
                               "'inf' is not a number"),
    "emulator-latency-nan": (["emulator", "--latency-ms", "nan"], "argument --latency-ms: 'nan' is not a finite "
                             "number"),
    "emulator-latency-inf": (["emulator", "--latency-ms", "inf"], "'inf' is not a finite number"),
    "emulator-fault-rate-nan": (["emulator", "--fault-rate", "nan"], "argument --fault-rate: 'nan' is not a finite "
                                "number"),
    "emulator-tps-nan": (["emulator", "--tps", "nan"], "argument --tps: 'nan' is not a finite number"),
    "emulator-tps-inf": (["emulator", "--tps", "inf"], "'inf' is not a finite number"),
    "emulator-private-delay-nan": (["emulator", "--private-delay", "nan"], "argument --private-delay: 'nan' is not "
                                   "a finite number"),
    "emulator-private-delay-inf": (["emulator", "--private-delay", "inf"], "'inf' is not a finite number"),
    "emulator-quota-inf": (["emulator", "--quota", "inf"], "argument --quota: 'inf' is not a number"),
    "emulator-port-nan": (["emulator", "--port", "nan"], "argument --port: 'nan' is not a number"),
}


@pytest.mark.parametrize(("argv", "expected"), list(NUMBERS.values()), ids=list(NUMBERS))
def test_a_number_that_is_not_finite_is_a_usage_error(argv: list[str], expected: str, stack: Path,
                                                      against_emulator: Emulator, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(tmp_path)
    if argv[0] == "emulator":  # taken, it would serve until stopped: in a process of its own, with a deadline
        done = subprocess.run([sys.executable, "-m", "deployer", *argv, "--port", "0"], capture_output=True,
                              text=True, timeout=TIMEOUT_S)
        code, err = done.returncode, done.stderr
    else:
        with pytest.raises(SystemExit) as raised:
            main(argv)
        code, err = raised.value.code, capsys.readouterr().err
    assert code == 64, err
    assert expected in err
    assert "Traceback" not in err
    assert against_emulator.stats.total == 0
    assert tree(tmp_path) == before
