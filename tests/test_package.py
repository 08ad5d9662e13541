"""The package works outside this checkout: a wheel carries the templates and the JSON Schemas.

The wheel is built from the repository (as ``pip install .`` builds it), installed with ``--target``
into a temporary directory, and run from an empty directory that holds only a copy of an example
stack using ``template:``. The interpreter runs with ``-S`` and the installed wheel first on
``PYTHONPATH``, so the editable install of the development environment (a ``.pth`` import hook in
site-packages) is never what gets imported; the dependencies come from site-packages, read as a plain
directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEMPLATED_EXAMPLES = sorted(path.parent for path in (REPO / "manifests").glob("*/stack.yaml")
                            if "template:" in path.read_text())


@pytest.fixture
def installed_wheel(tmp_path: Path) -> Path:
    """The directory the wheel was installed into (``pip install --no-deps --target``)."""
    build = tmp_path / "wheel"
    # A copy of the checkout (links kept as links), so the build's build/ and egg-info stay out of the repository
    # and no stale build/lib of an earlier build can slip into the wheel.
    source = build / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".stack", ".awscli"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    # --no-deps: nothing but the build backend is fetched (the same setuptools `pip install -e .` needs)
    built = subprocess.run([*pip, "wheel", "--no-deps", "-q", "-w", str(build / "dist"), str(source)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    wheels = list((build / "dist").glob("stack_deployer-*.whl"))
    assert len(wheels) == 1, wheels
    installed = subprocess.run([*pip, "install", "--no-deps", "-q", "--target", str(build / "site"), str(wheels[0])],
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    return build / "site"


def _files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.is_file())


def _python(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The venv's interpreter without site processing (no .pth hooks), the wheel first, then the dependencies."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("STACK_", "PYTHON"))}
    env["PYTHONPATH"] = os.pathsep.join([str(site), sysconfig.get_paths()["purelib"]])
    return subprocess.run([sys.executable, "-S", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def test_an_installed_wheel_validates_a_templated_stack_from_an_empty_directory(installed_wheel: Path,
                                                                                tmp_path: Path) -> None:
    assert TEMPLATED_EXAMPLES, "no example in manifests/ uses template:"
    for folder in ("data", "templates"):  # every data file and template of the checkout is in the wheel
        assert _files(installed_wheel / "deployer" / folder) == _files(REPO / "deployer" / folder), folder
    work = tmp_path / "work"
    work.mkdir()
    assert not any((parent / "templates").exists() for parent in [work, *work.parents]), \
        "a templates/ directory above the test's directory would hide whether the wheel carries them"

    imported = _python(installed_wheel, work, "-c", "import deployer; print(deployer.__file__)")
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()).parent == installed_wheel / "deployer"  # not the editable checkout

    for example in TEMPLATED_EXAMPLES:
        shutil.copytree(example, work / example.name)
        result = _python(installed_wheel, work, "-m", "deployer", "validate", example.name)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "is valid" in result.stdout

    # The control: without the wheel's templates the same run fails, so the pass above came from them.
    shutil.rmtree(installed_wheel / "deployer" / "templates")
    example = TEMPLATED_EXAMPLES[0]
    result = _python(installed_wheel, work, "-m", "deployer", "validate", example.name)
    assert result.returncode == 1
    assert "not found (looked in" in result.stderr
