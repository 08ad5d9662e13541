"""Hostile YAML: every file a stack reads is bounded and every way it can be wrong is a located error.

Each case ends with exit code 1, a message naming the file and line, no traceback, no AWS call and the
state untouched. Cases that used to exhaust memory or time (alias bombs, huge or deeply nested files,
/dev/zero) run the CLI in a subprocess under a time limit and a 1 GiB address-space limit, so a
regression fails the test instead of hanging the machine.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from deployer.yamlfile import MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES

STACK = """\
version: 1
name: hostile-yaml
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
          ConnectorProfileCredentials:
            Salesforce:
              AccessToken: '{{ Token }}'
"""
ENV_FILE = "Token: yaml-test-token\n"
STATE = '{"untouched": true}'
TIMEOUT_S = 10  # a refused file takes well under a second; the bombs below ran until killed
MEMORY_BYTES = 1 << 30  # the bombs below reached 3 to 6 GB


def laughs(levels: int = 9, fan: int = 10) -> str:
    """The "billion laughs": a one-line flow mapping whose last list stands for fan**levels values."""
    parts = ["l0: &l0 [" + ", ".join(["lol"] * fan) + "]"]
    parts += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fan) + "]" for i in range(1, levels + 1)]
    return "{" + ", ".join(parts) + "}"


def merge_laughs(levels: int = 30) -> str:
    """The same through merge keys: each mapping merges the one before twice."""
    parts = ["m0: &m0 {a: 1, b: 2}"]
    parts += [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}" for i in range(1, levels + 1)]
    return "{" + ", ".join(parts) + "}"


def nested(levels: int, inner: str = "x") -> str:
    return "[" * levels + inner + "]" * levels


BOMB = laughs()
WITH_TEMPLATE = STACK.replace("    props:\n", "    template: bomb.yaml\n    props:\n", 1)
PROP_BOMB = STACK.replace("value: crm-profile", f"value: {BOMB}")

# id -> (files to write under tmp_path, extra arguments, the file as the message names it, its line, message)
# A file whose text holds BOMB is reported at BOMB's line.
DENIAL_OF_SERVICE: dict[str, tuple[dict[str, str], list[str], str, int | None, str]] = {
    "laughs-in-stack-yaml": ({"stack/stack.yaml": STACK + f"description: {BOMB}\n"}, [],
                             "stack/stack.yaml", None, "values, which takes the file past 1,000,000 values"),
    "laughs-in-a-prop-value": ({"stack/stack.yaml": PROP_BOMB}, [],
                               "stack/stack.yaml", None, "values, which takes the file past 1,000,000 values"),
    "laughs-in-globals": ({"stack/stack.yaml": STACK.replace("value: us-east-1", f"value: {BOMB}")}, [],
                          "stack/stack.yaml", None, "values, which takes the file past 1,000,000 values"),
    "laughs-in-a-template": ({"stack/stack.yaml": WITH_TEMPLATE,
                              "stack/templates/bomb.yaml": f"props:\n  - name: ConnectorLabel\n    value: {BOMB}\n"},
                             [], "stack/templates/bomb.yaml", None,
                             "values, which takes the file past 1,000,000 values"),
    "laughs-in-environments-dev-yaml": ({"stack/environments/dev.yaml": ENV_FILE + f"Laughs: {BOMB}\n"}, [],
                                        "stack/environments/dev.yaml", None,
                                        "values, which takes the file past 1,000,000 values"),
    "laughs-in-a-var-file": ({"vars.yaml": f"Laughs: {BOMB}\n"}, ["--var-file", "vars.yaml"],
                             "vars.yaml", None, "values, which takes the file past 1,000,000 values"),
    "laughs-through-merge-keys": ({"stack/environments/dev.yaml": ENV_FILE + f"Merged: {merge_laughs()}\n"}, [],
                                  "stack/environments/dev.yaml", None,
                                  "values, which takes the file past 1,000,000 values"),
    "alias-inside-itself": ({"vars.yaml": "Cycle: &c [1, *c]\n"}, ["--var-file", "vars.yaml"],
                            "vars.yaml", 1, "the alias *c is inside the value it stands for (a cycle); an alias "
                            "may only repeat a value that ends before it"),
    "alias-nests-too-deep": ({"vars.yaml": f"Deep: {{a: &a {nested(40)}, b: {nested(30, '*a')}}}\n"},
                             ["--var-file", "vars.yaml"], "vars.yaml", 1,
                             f"the alias *a nests the file more than {MAX_DEPTH} levels deep"),
    "flow-nesting": ({"stack/environments/dev.yaml": ENV_FILE + f"Deep: {nested(MAX_DEPTH + 1)}\n"}, [],
                     "stack/environments/dev.yaml", 2,
                     f"nested more than {MAX_DEPTH} levels deep; a stack needs about 10"),
    "block-nesting": ({"vars.yaml": "- " * 500 + "x\n"}, ["--var-file", "vars.yaml"],
                      "vars.yaml", 1, f"nested more than {MAX_DEPTH} levels deep"),
    "a-million-values": ({"stack/environments/dev.yaml": ENV_FILE + "Many: [" + "1," * MAX_VALUES + "]\n"}, [],
                         "stack/environments/dev.yaml", 2,
                         "more than 1,000,000 values in one file; split the stack into several"),
    "stack-yaml-over-8-MiB": ({"stack/stack.yaml": STACK + "# " + "x" * MAX_FILE_BYTES + "\n"}, [],
                              "stack/stack.yaml", STACK.count("\n") + 1,
                              "the file is larger than 8 MiB, the limit for a YAML file"),
    "var-file-over-8-MiB": ({"big.yaml": "Big: " + "x" * MAX_FILE_BYTES + "\n"}, ["--var-file", "big.yaml"],
                            "big.yaml", 1, "the file is larger than 8 MiB"),
    "dev-zero-as-var-file": ({}, ["--var-file", "/dev/zero"], "/dev/zero", 1, "the file is larger than 8 MiB"),
}


def write_stack(root: Path, files: dict[str, str | bytes]) -> Path:
    """The stack at ``root/stack`` (with ``files`` written over it) and a state that must stay as it is."""
    stack = root / "stack"
    defaults: dict[str, str | bytes] = {"stack/stack.yaml": STACK, "stack/environments/dev.yaml": ENV_FILE}
    for name, content in {**defaults, **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    state = stack / ".stack" / "state" / "dev.json"
    state.parent.mkdir(parents=True)
    state.write_text(STATE)
    return stack


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


@pytest.mark.parametrize(("files", "extra", "display", "line", "message"), list(DENIAL_OF_SERVICE.values()),
                         ids=list(DENIAL_OF_SERVICE))
def test_a_file_that_would_exhaust_memory_or_time_is_refused_at_its_line(
    files: dict[str, str], extra: list[str], display: str, line: int | None, message: str,
    against_emulator: Emulator, tmp_path: Path,
) -> None:
    stack = write_stack(tmp_path, files)
    if line is None:
        line = next(i for i, text in enumerate((tmp_path / display).read_text().splitlines(), 1) if BOMB in text
                    or "m0: &m0" in text)
    done = subprocess.run([sys.executable, "-m", "deployer", "plan", "stack", *extra], cwd=tmp_path,
                          capture_output=True, text=True, timeout=TIMEOUT_S, preexec_fn=_limits, env=dict(os.environ))
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"{display}:{line}: " in done.stderr, done.stderr[-2000:]
    assert message in done.stderr, done.stderr[-2000:]
    assert "Error: 1 problem in the stack; nothing was called or changed." in done.stderr
    assert "Traceback" not in done.stderr
    assert against_emulator.stats.total == 0
    assert (stack / ".stack" / "state" / "dev.json").read_text() == STATE


def _stack_with(old: str, new: str) -> dict[str, str | bytes]:
    assert old in STACK
    return {"stack/stack.yaml": STACK.replace(old, new, 1)}


LATIN1 = STACK.replace("name: hostile-yaml", "name: hostile-yaml\ndescription: café").encode("latin-1")

# id -> (files written over the stack, the message as printed, from the file on); each used to end in a
# traceback, or to be taken as it was (nan, inf)
LOCATED: dict[str, tuple[dict[str, str | bytes], str]] = {
    "unknown-tag": (_stack_with("value: Salesforce", "value: !foo Salesforce"),
                    "stack/stack.yaml:15 resources[0].props[2].value: could not determine a constructor for the tag "
                    "'!foo'; quote it to keep it as text"),
    "unknown-tag-on-a-mapping": (_stack_with("          ConnectorProfileProperties:\n",
                                             "          ConnectorProfileProperties: !foo\n"),
                                 "stack/stack.yaml:18 resources[0].props[3].value.ConnectorProfileProperties: could "
                                 "not determine a constructor for the tag '!foo'; remove the tag"),
    "python-tag": (_stack_with("value: Public", "value: !!python/object/apply:os.system [ls]"),
                   "stack/stack.yaml:13 resources[0].props[1].value: could not determine a constructor for the tag "
                   "'tag:yaml.org,2002:python/object/apply:os.system'; remove the tag"),
    "merge-key-with-a-scalar": (_stack_with("    props:\n", "    <<: 5\n    props:\n"),
                                "stack/stack.yaml:9 resources[0]: expected a mapping or list of mappings for "
                                "merging, but found scalar; merge (<<:) a mapping or a list of mappings"),
    "merge-key-with-a-list-of-scalars": (_stack_with("    props:\n", "    <<: [1, 2]\n    props:\n"),
                                         "stack/stack.yaml:9 resources[0]: expected a mapping for merging, but "
                                         "found scalar"),
    "5000-digit-integer": ({"stack/environments/dev.yaml": ENV_FILE + "Big: " + "9" * 5000 + "\n"},
                           "stack/environments/dev.yaml:2 Big: the value is not a valid int; quote it to keep it "
                           "as text"),
    "5000-digit-integer-in-stack-yaml": (_stack_with("value: crm-profile", "value: " + "1" * 5000),
                                         "stack/stack.yaml:11 resources[0].props[0].value: the value is not a "
                                         "valid int"),
    "date-that-does-not-exist": ({"stack/environments/dev.yaml": ENV_FILE + "When: 2024-02-31\n"},
                                 "stack/environments/dev.yaml:2 When: the value is not a valid timestamp"),
    "bool-tag-on-other-text": ({"stack/environments/dev.yaml": ENV_FILE + "Flag: !!bool maybe\n"},
                               "stack/environments/dev.yaml:2 Flag: the value is not a valid bool"),
    "non-text-key": ({"stack/environments/dev.yaml": ENV_FILE + "? [a, b]\n: c\n"},
                     "stack/environments/dev.yaml:2: a key must be plain text"),
    "nul-in-stack-yaml": (_stack_with("value: Public", "value: Pub\x00lic"),
                          "stack/stack.yaml:13: the character U+0000 is not allowed in YAML; remove it; is this a "
                          "text file?"),
    "escape-in-stack-yaml": (_stack_with("name: hostile-yaml", "name: hostile\x1b[31m-yaml"),
                             "stack/stack.yaml:2: the character U+001B is not allowed in YAML"),
    "c1-control-in-stack-yaml": (_stack_with("name: hostile-yaml", "name: hostile\x9b-yaml"),
                                 "stack/stack.yaml:2: the character U+009B is not allowed in YAML"),
    "bell-in-environment-file": ({"stack/environments/dev.yaml": ENV_FILE + "Bell: a\x07b\n"},
                                 "stack/environments/dev.yaml:2: the character U+0007 is not allowed in YAML"),
    "nul-in-environment-file": ({"stack/environments/dev.yaml": ENV_FILE + "Nul: a\x00b\n"},
                                "stack/environments/dev.yaml:2: the character U+0000 is not allowed in YAML"),
    "latin-1-stack-yaml": ({"stack/stack.yaml": LATIN1},
                           "stack/stack.yaml:3: the file is not UTF-8 text (byte 0xe9); save it as UTF-8"),
    "utf-16-environment-file": ({"stack/environments/dev.yaml": ENV_FILE.encode("utf-16")},
                                "stack/environments/dev.yaml:1: the file is not UTF-8 text (byte 0xff)"),
    "retries-max-wait-nan": (_stack_with("name: hostile-yaml\n", "name: hostile-yaml\nretries: {max_wait: .nan}\n"),
                             "stack/stack.yaml:3 retries.max_wait: nan is not allowed here"),
    "retries-max-wait-inf": (_stack_with("name: hostile-yaml\n", "name: hostile-yaml\nretries: {max_wait: .inf}\n"),
                             "stack/stack.yaml:3 retries.max_wait: inf is not allowed here"),
    "retries-max-attempts-400-digits": (_stack_with("name: hostile-yaml\n",
                                                    f"name: hostile-yaml\nretries: {{max_attempts: {'9' * 400}}}\n"),
                                        "stack/stack.yaml:3 retries.max_attempts: 999"),
    "two-documents": ({"stack/environments/dev.yaml": ENV_FILE + "---\nToken: again\n"},
                      "stack/environments/dev.yaml:2: YAML syntax error: but found another document"),
}


@pytest.mark.parametrize(("files", "expected"), list(LOCATED.values()), ids=list(LOCATED))
def test_hostile_yaml_is_a_located_problem(
    files: dict[str, str | bytes], expected: str, against_emulator: Emulator, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = write_stack(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    for command in ("validate", "plan", "deploy", "destroy"):
        extra = ["--auto-approve"] if command in ("deploy", "destroy") else []
        code = main([command, "stack", *extra])
        out, err = capsys.readouterr()
        assert code == 1, (command, out, err)
        assert expected in err, (command, err)
        assert "Traceback" not in out + err
    assert against_emulator.stats.total == 0
    assert (stack / ".stack" / "state" / "dev.json").read_text() == STATE


PROC_ENVIRON = Path("/proc/self/environ")

# id -> (the command line after the command, what the error says); reading the process's own environment
# must neither work nor print any of it
PROC: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "proc-self-as-stack-directory": (lambda _: ["/proc/self"],
                                     "/proc/self: no stack.yaml in this directory"),
    "proc-self-environ-as-stack-file": (lambda _: [str(PROC_ENVIRON)],
                                        "/proc/self/environ:1: the character U+0000 is not allowed in YAML"),
    "proc-self-environ-as-var-file": (lambda root: [str(root / "stack"), "--var-file", str(PROC_ENVIRON)],
                                      "/proc/self/environ:1: the character U+0000 is not allowed in YAML"),
}


@pytest.mark.skipif(not PROC_ENVIRON.exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize(("argv", "expected"), list(PROC.values()), ids=list(PROC))
def test_the_process_environment_is_not_a_stack(
    argv: Callable[[Path], list[str]], expected: str, against_emulator: Emulator, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = write_stack(tmp_path, {})
    for command in ("validate", "plan"):
        code = main([command, *argv(tmp_path)])
        out, err = capsys.readouterr()
        assert code == 1, (command, out, err)
        assert expected in err
        assert "Traceback" not in out + err
        assert "test-secret" not in out + err  # the AWS_SECRET_ACCESS_KEY the fixture put in the environment
    assert against_emulator.stats.total == 0
    assert (stack / ".stack" / "state" / "dev.json").read_text() == STATE


def test_the_largest_benchmark_stack_is_well_within_the_limits(tmp_path: Path) -> None:
    """10,000 profiles, 100 times AWS's soft quota: 5 MiB, 390,000 values, 8 levels."""
    import yaml

    from benchmarks.run import write_stack as write_benchmark_stack

    text = (write_benchmark_stack(tmp_path / "bench", 10_000) / "stack.yaml").read_text()
    values = depth = deepest = 0
    for event in yaml.parse(text, Loader=yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):
        if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
            values += 1
        depth += isinstance(event, yaml.CollectionStartEvent) - isinstance(event, yaml.CollectionEndEvent)
        deepest = max(deepest, depth)
    assert len(text) < MAX_FILE_BYTES * 0.7
    assert values < MAX_VALUES * 0.4
    assert deepest < MAX_DEPTH / 4


def test_aliases_within_the_bound_still_work(tmp_path: Path) -> None:
    """A real stack's anchors (a shared block repeated per resource) are far below the bound."""
    from deployer.yamlfile import parse_yaml

    text = "shared: &shared {a: 1, b: [x, y]}\nfirst: *shared\nsecond: {<<: *shared, c: 2}\n" + \
        f"many: {laughs(levels=4)}\n"  # l4 stands for 111,111 values
    doc = parse_yaml(text, "anchors.yaml")
    assert doc.data["first"] == {"a": 1, "b": ["x", "y"]}
    assert doc.data["second"] == {"a": 1, "b": ["x", "y"], "c": 2}
    assert len(doc.data["many"]["l4"]) == 10
    assert doc.line_of(("second", "c")) == 3
