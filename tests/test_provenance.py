"""Where a deployment came from: the Git commit, and whether the stack's files had uncommitted changes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.test_reliability import write_stack

SECRET = ["-e", "Secret=provenance-secret-1"]


def git(repo: Path, *arguments: str) -> str:
    return subprocess.run(["git", *arguments], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(against_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Git repository with the stack at stacks/app, reading templates/mode.yaml at the top; all committed."""
    for name in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{name}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{name}_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
    top = tmp_path / "repo"
    stack = write_stack(top / "stacks" / "app", 2)
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace(
        "'{{ stack_name }}-p", "'{{ stack_name }}-{{ stack_env }}-p").replace(
        "  - name: p00\n    type: AWS::AppFlow::ConnectorProfile\n",
        "  - name: p00\n    type: AWS::AppFlow::ConnectorProfile\n    template: mode.yaml\n"))
    (top / "templates").mkdir()
    (top / "templates" / "mode.yaml").write_text("props:\n  - name: ConnectorLabel\n    value: null\n")
    (top / "README.md").write_text("notes\n")
    git(top, "init", "-q")
    git(top, "add", ".")
    git(top, "commit", "-q", "-m", "first")
    return top


def deployment(stack: Path, env: str = "dev") -> dict[str, Any]:
    return dict(json.loads((stack / ".stack" / "state" / f"{env}.json").read_text())["deployment"])


def deploy(stack: Path, env: str = "dev") -> dict[str, Any]:
    assert main(["deploy", str(stack), "--auto-approve", "--env", env, *SECRET]) == 0
    return deployment(stack, env)


@pytest.mark.parametrize(
    ("change", "dirty"),
    [
        (None, False),
        (("stacks/app/stack.yaml", "# edited\n"), True),
        (("templates/mode.yaml", "# edited\n"), True),  # a template the stack reads, outside its directory
        (("stacks/app/environments/dev.yaml", "Team: crm\n"), True),  # a new file, not yet added
        (("README.md", "# edited\n"), False),  # the rest of the repository does not count
        (("stacks/app/.stack/local/notes", "x\n"), False),  # the stack's state and local data do not count
    ],
    ids=["clean", "manifest", "template", "untracked", "elsewhere", "dot-stack"],
)
def test_a_deployment_records_its_commit_and_whether_the_stack_was_dirty(
        change: tuple[str, str] | None, dirty: bool, repo: Path) -> None:
    if change is not None:
        path = repo / change[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as file:
            file.write(change[1])
    recorded = deploy(repo / "stacks" / "app")
    assert recorded["commit"] == git(repo, "rev-parse", "HEAD")
    assert recorded["dirty"] is dirty


def test_outside_git_the_commit_is_none(against_emulator: Emulator, tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "plain", 1)
    recorded = deploy(stack)
    assert recorded["commit"] is None and "dirty" not in recorded


def test_a_promotion_refusal_names_both_commits(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = repo / "stacks" / "app"
    first = git(repo, "rev-parse", "HEAD")
    deploy(stack, "staging")
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace("p00.zendesk", "p00-new.zendesk"))
    git(repo, "commit", "-q", "-am", "second")
    second = git(repo, "rev-parse", "HEAD")
    capsys.readouterr()
    assert main(["promote", str(stack), "--from", "staging", "--to", "prod", "--auto-approve", *SECRET]) == 1
    err = capsys.readouterr().err
    assert (f"cannot promote: environment 'staging' was last deployed from another version of the manifest, its "
            f"templates or its variables (commit {first[:12]}, digest sha256:") in err
    assert f"; now commit {second[:12]}, digest sha256:" in err
    assert f"deploy it first with `stack deploy {stack} --env staging`" in err

    (repo / "templates" / "mode.yaml").write_text("props: []\n")  # uncommitted, and a new digest
    assert main(["promote", str(stack), "--from", "staging", "--to", "prod", "--auto-approve", *SECRET]) == 1
    assert f"; now commit {second[:12]} with uncommitted changes, digest sha256:" in capsys.readouterr().err

    deploy(stack, "staging")  # from the dirty tree
    assert main(["promote", str(stack), "--from", "staging", "--to", "prod", "--auto-approve", *SECRET]) == 0
    promoted = deployment(stack, "prod")
    assert promoted["promoted_from"]["commit"] == second and promoted["promoted_from"]["dirty"] is True
    assert promoted["commit"] == second and promoted["dirty"] is True
