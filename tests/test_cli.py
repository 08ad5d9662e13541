"""The ``stack`` command as a user runs it: a separate process, its output and exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support import appflow_client, full_create_request

REPO = Path(__file__).resolve().parent.parent


def _stack(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "deployer", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)  # type: ignore[call-overload]


def test_emulator_command_serves_until_interrupted(tmp_path: Path) -> None:
    process = _stack("emulator", "--port", "0", "--data", str(tmp_path), "--account-id", "111122223333")
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert first_line.startswith("AppFlow and Cloud Control emulator listening on http://127.0.0.1:")
        endpoint = first_line.rsplit(" ", 1)[1].strip()
        assert process.stdout.readline().strip() == f"export AWS_ENDPOINT_URL_APPFLOW={endpoint}"
        arn = appflow_client(endpoint).create_connector_profile(**full_create_request("Slack", "chat"))
        assert arn["connectorProfileArn"] == "arn:aws:appflow:us-east-1:111122223333:connectorprofile/chat"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    assert (tmp_path / "appflow.sqlite3").exists()


def test_emulator_rejects_bad_knobs_as_usage_errors() -> None:
    process = _stack("emulator", "--fault-rate", "1.5")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 64
    assert "--fault-rate: must be between 0 and 1" in stderr


def test_emulator_port_in_use_is_a_clear_error() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _stack("emulator", "--port", str(port), env={**os.environ, "PYTHONUNBUFFERED": "1"})
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in stderr
    assert "Traceback" not in stderr


class _Terminal(__import__("io").StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_live_on_a_terminal_and_plain_lines_otherwise() -> None:
    from deployer.apply import Outcome, Status
    from deployer.cli import _Progress
    from deployer.plan import Action, Change

    def run(stream: object) -> str:
        progress = _Progress(stream, total=2)  # type: ignore[arg-type]
        change = Change("a", "AWS::AppFlow::ConnectorProfile", Action.CREATE, (), "a", "us-east-1")
        progress.started(change)
        progress.retried("CreateConnectorProfile", "a", 1)
        progress.finished(Outcome("a", Action.CREATE, Status.DONE, "created a"))
        progress.close()
        return stream.getvalue()  # type: ignore[attr-defined]

    live = run(_Terminal())
    assert "[0/2] running: a; retries: 0" in live and "[1/2] running: -; retries: 1" in live
    assert "a: create ok - created a\n" in live
    plain = run(__import__("io").StringIO())
    assert "\r" not in plain and "[0/2]" not in plain
    assert " a: CreateConnectorProfile attempt 1 failed, retrying\n" in plain
