"""The ``stack`` command: parses arguments, runs one command, prints, exits.

The only module that prints or chooses an exit code. Exit codes: 0 success,
1 error (a problem in the stack, AWS or state), 2 changes present
(``plan --detailed-exitcode``), 64 usage error.
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from deployer import __version__
from deployer.errors import ManifestError, StackError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_USAGE = 64


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 64 so they never look like 'changes present'."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stack",
        description="Deploy AWS resources from Jinja-templated YAML stacks with CloudFormation property names.",
    )
    parser.add_argument("--version", action="version", version=f"stack {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    _add_emulator(commands)
    return parser


def _add_emulator(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    emulator = commands.add_parser(
        "emulator",
        help="run the local AppFlow service until interrupted",
        description="Run the local AppFlow emulator. Point boto3, the AWS CLI or stack at it with "
        "AWS_ENDPOINT_URL_APPFLOW=<the printed URL>.",
    )
    emulator.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    emulator.add_argument("--port", type=_non_negative_int, default=4590, help="port; 0 picks a free one (default 4590)")
    emulator.add_argument("--data", type=Path, metavar="DIR", help="keep state in DIR/appflow.sqlite3 (default: memory)")
    emulator.add_argument("--latency-ms", type=_non_negative_float, default=0.0, help="added to every call")
    emulator.add_argument("--tps", type=_positive_float, help="calls per second per account before ThrottlingException")
    emulator.add_argument("--fault-rate", type=_rate, default=0.0, help="share of calls answered with a 500 (0..1)")
    emulator.add_argument("--seed", type=int, help="seed for --fault-rate, for reproducible runs")
    emulator.add_argument("--quota", type=_non_negative_int, default=100, help="profiles per account and region")
    emulator.add_argument("--account-id", default="123456789012", help="the account the emulator acts as")
    emulator.add_argument("--private-delay", type=_non_negative_float, default=1.0, metavar="SECONDS",
                          help="how long a Private profile stays PENDING (default 1)")
    emulator.set_defaults(run=_run_emulator)


def _run_emulator(args: argparse.Namespace) -> int:
    from deployer.emulator import Emulator, Knobs

    knobs = Knobs(
        latency_ms=args.latency_ms,
        tps=args.tps,
        fault_rate=args.fault_rate,
        seed=args.seed,
        quota=args.quota,
        account_id=args.account_id,
        private_delay_s=args.private_delay,
    )
    try:
        emulator = Emulator(knobs, data_dir=args.data, host=args.host, port=args.port)
    except OSError as error:
        raise StackError(f"cannot listen on {args.host}:{args.port}: {error.strerror}; pick another --port") from None
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print(f"AppFlow emulator listening on {emulator.endpoint}", flush=True)
    print(f"  export AWS_ENDPOINT_URL_APPFLOW={emulator.endpoint}", flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except ManifestError as error:
        print(error.render(), file=sys.stderr)
        print(f"Error: {error}", file=sys.stderr)
        if getattr(args, "debug", False):
            traceback.print_exc()
        return EXIT_ERROR
    except StackError as error:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_ERROR
