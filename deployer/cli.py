"""The ``stack`` command: parses arguments, runs one command, prints, exits.

The only module that prints or chooses an exit code. Exit codes: 0 success,
1 error (a problem in the stack, AWS or state), 2 changes present
(``plan --detailed-exitcode``), 64 usage error.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from deployer import __version__
from deployer.apply import ApplyResult, Outcome
from deployer.aws import AwsSettings
from deployer.errors import ManifestError, StackError
from deployer.plan import Action, Change, Plan
from deployer.render import Inputs
from deployer.secrets import SECRETS

if TYPE_CHECKING:
    from deployer.engine import Engine, Options, Planned

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_USAGE = 64


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 64 so they never look like 'changes present'."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _number(kind: type, low: float | None = None, high: float | None = None, *, strict: bool = False
            ) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):  # float() takes 'nan' and 'inf', which no comparison below would refuse
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if low is not None and (value <= low if strict else value < low):
            raise argparse.ArgumentTypeError(f"must be {'greater than' if strict else 'at least'} {low:g}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}")
        return value

    return parse


def _env_name(text: str) -> str:
    from deployer.manifest import check_env_name

    try:
        return check_env_name(text)  # the same object back: a _Default stays one
    except StackError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


class _Default(str):
    """An option's default, told apart from the same value given on the command line."""


OUTPUTS = ("text", "json", "markdown")
RENDER_OUTPUTS = (*OUTPUTS, "cloudformation", "cloudformation-json")


def _common(outputs: tuple[str, ...] = OUTPUTS) -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument("stack_dir", type=Path, metavar="STACK_DIR", help="directory holding stack.yaml")
    common.add_argument("--env", type=_env_name, default=_Default("dev"), help="environment to work on (default: dev)")
    common.add_argument("-e", "--var", dest="vars", type=_key_value, action="append", default=[],
                        metavar="KEY=VALUE", help="set a variable (repeatable; wins over every other source)")
    common.add_argument("--var-file", dest="var_files", type=Path, action="append", default=[], metavar="FILE",
                        help="YAML file of variables (repeatable)")
    common.add_argument("--local", action="store_true",
                        help="use the embedded local cloud (data in STACK_DIR/.stack/local), no AWS account needed")
    common.add_argument("--state", metavar="LOCATION",
                        help="state file or s3://BUCKET/PREFIX (also STACK_STATE, or state: in the manifest; "
                        "default: STACK_DIR/.stack/state/ENV.json; with --local, in .stack/local)")
    common.add_argument("--region", help="region for resources whose manifest names none")
    common.add_argument("--profile", help="AWS profile to use")
    template = "; cloudformation, cloudformation-json: a CloudFormation template" if outputs != OUTPUTS else ""
    common.add_argument("--output", choices=outputs, default="text",
                        help=f"output format (markdown: for pull-request comments, plan and drift{template})")
    common.add_argument("--no-color", action="store_true", help="no colour (also: NO_COLOR set)")
    common.add_argument("--debug", action="store_true", help="show tracebacks and the AWS calls made")
    common.add_argument("--max-attempts", type=_number(int, 1), metavar="N",
                        help="attempts per AWS call for throttling and server errors (default 8; manifest: retries)")
    common.add_argument("--max-wait", type=_number(float, 0), metavar="SECONDS",
                        help="longest wait between attempts (default 20; manifest: retries)")
    common.add_argument("--lock-timeout", type=_number(float, 0), default=0.0, metavar="SECONDS",
                        help="wait this long for another run's lock instead of failing at once")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stack",
        description="Deploy AWS resources from Jinja-templated YAML stacks with CloudFormation property names.",
        epilog="Exit codes: 0 success, 1 error, 2 changes present (plan --detailed-exitcode), 64 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"stack {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    common = _common()

    validate = commands.add_parser("validate", parents=[common], help="check the stack; makes no network call")
    validate.set_defaults(run=_run_validate)

    render = commands.add_parser("render", parents=[_common(RENDER_OUTPUTS)],
                                 help="show the rendered resources, CloudFormation and API shape, credentials redacted")
    render.set_defaults(run=_run_render)

    plan = commands.add_parser("plan", parents=[common], help="show what deploy would change")
    plan.add_argument("--detailed-exitcode", action="store_true",
                      help="exit 0 when there are no changes, 2 when there are, 1 on error")
    plan.add_argument("-o", "--out", type=Path, metavar="FILE", help="save the plan for `stack apply FILE`")
    plan.add_argument("--adopt", action="store_true",
                      help="show what deploy --adopt would do with profiles that exist in AWS but not in state")
    plan.set_defaults(run=_run_plan)

    apply = commands.add_parser("apply", help="apply a saved plan, exactly as reviewed")
    apply.add_argument("plan_file", type=Path, metavar="PLAN_FILE")
    apply.add_argument("-e", "--var", dest="vars", type=_key_value, action="append", default=[],
                       metavar="KEY=VALUE", help="sensitive variables, supplied again (they are not in the plan)")
    apply.add_argument("--var-file", dest="var_files", type=Path, action="append", default=[], metavar="FILE")
    apply.add_argument("--state", metavar="LOCATION",
                       help="state file or s3://BUCKET/PREFIX, instead of the plan's (also STACK_STATE)")
    apply.add_argument("--parallelism", type=_number(int, 1), default=10, metavar="N")
    for flag in ("--debug", "--no-color"):
        apply.add_argument(flag, action="store_true")
    apply.add_argument("--output", choices=("text", "json"), default="text")
    apply.add_argument("--lock-timeout", type=_number(float, 0), default=0.0, metavar="SECONDS")
    apply.set_defaults(run=_run_apply)

    drift = commands.add_parser("drift", parents=[common],
                                help="compare AWS with what was last applied; exit 0 none, 2 drift, 1 error")
    drift.set_defaults(run=_run_drift)

    output = commands.add_parser("output", parents=[common],
                                 help="the outputs the last apply recorded (all, or NAME); like terraform output")
    output.add_argument("name", nargs="?", metavar="NAME", help="one output")
    output.add_argument("--raw", action="store_true", help="NAME's value alone, as text, for shell use")
    output.set_defaults(run=_run_output)

    envs = commands.add_parser("envs", parents=[common], help="list environments and where each value comes from")
    envs.set_defaults(run=_run_envs)

    promote = commands.add_parser("promote", parents=[common],
                                  help="deploy to --to what --from runs, if --from is current, undrifted and healthy")
    promote.add_argument("--from", dest="source", type=_env_name, required=True, metavar="ENV")
    promote.add_argument("--to", dest="target", type=_env_name, required=True, metavar="ENV")
    promote.add_argument("--auto-approve", action="store_true", help="apply without asking")
    promote.add_argument("--parallelism", type=_number(int, 1), default=10, metavar="N")
    promote.set_defaults(run=_run_promote)

    deploy = commands.add_parser("deploy", parents=[common], help="plan, confirm, apply")
    deploy.add_argument("--auto-approve", action="store_true", help="apply without asking")
    deploy.add_argument("--parallelism", type=_number(int, 1), default=10, metavar="N",
                        help="resources applied at once (default 10)")
    deploy.add_argument("--adopt", action="store_true",
                        help="take over profiles that exist in AWS with a name the stack wants but are not in state")
    deploy.set_defaults(run=_run_deploy)

    destroy = commands.add_parser("destroy", parents=[common], help="delete what this stack's state owns")
    destroy.add_argument("--auto-approve", action="store_true", help="destroy without asking")
    destroy.add_argument("--parallelism", type=_number(int, 1), default=10, metavar="N", help=argparse.SUPPRESS)
    destroy.set_defaults(run=_run_destroy)

    skeleton = commands.add_parser("skeleton", help="print a ready-to-fill manifest for a resource type")
    skeleton.add_argument("type", metavar="TYPE",
                          help="a CloudFormation type (AWS::S3::Bucket) or StackQL id (aws.s3.buckets); "
                               "--connector is for AWS::AppFlow::ConnectorProfile")
    skeleton.add_argument("--connector", action="append", default=[], metavar="NAME",
                          help="a resource for this connector (e.g. Salesforce); repeatable")
    skeleton.set_defaults(run=_run_skeleton)

    convert = commands.add_parser("convert", help="write a stack.yaml from a CloudFormation template or a "
                                                  "stackql-deploy project")
    convert.add_argument("source", type=Path, metavar="SOURCE",
                         help="a template file, a directory with template.yaml/json, or a stackql-deploy project")
    convert.add_argument("-o", "--out", type=Path, metavar="DIR",
                         help="write DIR/stack.yaml and DIR/environments/*.yaml (never over a file); without it "
                              "the stack.yaml goes to stdout")
    convert.set_defaults(run=_run_convert)

    init = commands.add_parser("init", help="start a stack: stack.yaml, environments/dev.yaml and .gitignore in DIR")
    init.add_argument("stack_dir", type=Path, metavar="DIR", help="directory of the new stack (created if needed)")
    init.add_argument("--connector", action="append", default=[], metavar="NAME",
                      help="a resource for this connector (e.g. Salesforce); repeatable, as for skeleton")
    init.set_defaults(run=_run_init)

    types = commands.add_parser("types", help="list the CloudFormation resource types the registry knows")
    types.add_argument("text", nargs="?", default="", metavar="TEXT", help="only types containing TEXT (any case)")
    types.add_argument("--region", default="us-east-1", help="the region whose types to list (default: us-east-1)")
    types.set_defaults(run=_run_types)

    _add_state(commands, common)
    _add_emulator(commands)
    return parser


def _add_state(commands: argparse._SubParsersAction, common: _Parser) -> None:  # type: ignore[type-arg]
    state = commands.add_parser("state", help="inspect and change the recorded state")
    actions = state.add_subparsers(dest="state_command", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    listed = actions.add_parser("list", parents=[common], help="the resources in state")
    listed.set_defaults(run=_run_state_list)
    show = actions.add_parser("show", parents=[common], help="resources, exports and history (never secrets)")
    show.set_defaults(run=_run_state_show)
    remove = actions.add_parser("rm", parents=[common], help="forget a resource; it stays in AWS")
    remove.add_argument("resource", metavar="RESOURCE")
    remove.set_defaults(run=_run_state_rm)
    moved = actions.add_parser("mv", parents=[common],
                               help="rename a resource in state, after renaming it in the manifest; AWS is untouched")
    moved.add_argument("old", metavar="OLD")
    moved.add_argument("new", metavar="NEW")
    moved.set_defaults(run=_run_state_mv)
    imported = actions.add_parser("import", parents=[common], help="record an existing profile as RESOURCE")
    imported.add_argument("resource", metavar="RESOURCE")
    imported.add_argument("name_or_arn", metavar="NAME_OR_ARN")
    imported.set_defaults(run=_run_state_import)
    pull = actions.add_parser("pull", parents=[common], help="print the stored state (JSON)")
    pull.set_defaults(run=_run_state_pull)
    push = actions.add_parser("push", parents=[common], help="replace the stored state with FILE")
    push.add_argument("file", type=Path, metavar="FILE")
    push.add_argument("--force", action="store_true", help="even if FILE is older or of another lineage")
    push.set_defaults(run=_run_state_push)
    migrate = actions.add_parser("migrate", parents=[common], help="copy the state to another location")
    migrate.add_argument("--to", required=True, metavar="LOCATION", help="a file or s3://BUCKET/PREFIX")
    migrate.add_argument("--force", action="store_true", help="replace a state already there")
    migrate.set_defaults(run=_run_state_migrate)
    restore = actions.add_parser("restore", parents=[common],
                                 help="put ENV.json.backup back in place of a missing or unreadable state file")
    restore.add_argument("--force", action="store_true",
                         help="replace a readable state too (it is kept beside it)")
    restore.set_defaults(run=_run_state_restore)
    unlock = actions.add_parser("unlock", parents=[common], help="release a lock left by a run that is gone")
    unlock.add_argument("lock_id", metavar="LOCK_ID")
    unlock.set_defaults(run=_run_state_unlock)


def _add_emulator(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    emulator = commands.add_parser(
        "emulator",
        help="run the local AppFlow and Cloud Control service until interrupted",
        description="Run the local AppFlow and Cloud Control emulator (one port serves both). Point boto3, the "
        "AWS CLI or stack at it with AWS_ENDPOINT_URL_APPFLOW and AWS_ENDPOINT_URL_CLOUDCONTROL=<the printed URL>.",
    )
    emulator.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    emulator.add_argument("--port", type=_number(int, 0, 65535), default=4590,
                          help="port; 0 picks a free one (default 4590)")
    emulator.add_argument("--data", type=Path, metavar="DIR",
                          help="keep state in DIR/appflow.sqlite3 (default: in memory)")
    emulator.add_argument("--latency-ms", type=_number(float, 0), default=0.0, help="added to every call")
    emulator.add_argument("--tps", type=_number(float, 0, strict=True),
                          help="calls per second per account before ThrottlingException")
    emulator.add_argument("--fault-rate", type=_number(float, 0, 1), default=0.0,
                          help="share of calls answered with a 500 (0..1)")
    emulator.add_argument("--seed", type=int, help="seed for --fault-rate, for reproducible runs")
    emulator.add_argument("--quota", type=_number(int, 0), default=100, help="profiles per account and region")
    emulator.add_argument("--account-id", default="123456789012", help="the account the emulator acts as")
    emulator.add_argument("--private-delay", type=_number(float, 0), default=1.0, metavar="SECONDS",
                          help="how long a Private profile stays PENDING (default 1)")
    emulator.set_defaults(run=_run_emulator)


# Commands ---------------------------------------------------------------------------------------


def _options(args: argparse.Namespace) -> Options:
    from deployer.engine import Options

    inputs = Inputs(env=args.env, cli_vars=dict(args.vars), var_files=tuple(args.var_files), environ=dict(os.environ),
                    # offline commands (validate, render) see the region as the AWS ones do; those use their session's
                    default_region=args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    aws = AwsSettings(profile=args.profile, region=args.region)
    return Options(inputs=inputs, state_location=args.state or os.environ.get("STACK_STATE"), aws=aws,
                   local=args.local,
                   parallelism=getattr(args, "parallelism", 10), max_attempts=args.max_attempts,
                   max_wait=args.max_wait, adopt=getattr(args, "adopt", False), lock_timeout=args.lock_timeout)


def _run_validate(args: argparse.Namespace) -> int:
    from deployer.engine import validate_offline

    desired = validate_offline(args.stack_dir, _options(args))
    count = len(desired.resources)
    if args.output == "json":
        import json

        print(json.dumps({"valid": True, "env": args.env, "resources": [d.name for d in desired.resources]}))
    else:
        print(f"Stack '{desired.context.manifest.name}' is valid: {count} resource{'s' if count != 1 else ''} "
              f"in environment '{args.env}'.")
    return EXIT_OK


def _run_render(args: argparse.Namespace) -> int:
    from deployer.engine import validate_offline
    from deployer.views import rendered_json, rendered_yaml

    desired = validate_offline(args.stack_dir, _options(args))
    if args.output in ("cloudformation", "cloudformation-json"):
        from deployer.cloudformation import build_template, template_json, template_yaml

        template = build_template(desired)
        print(template_json(template) if args.output == "cloudformation-json" else template_yaml(template), end="")
        return EXIT_OK
    print(rendered_json(desired) if args.output == "json" else rendered_yaml(desired), end="")
    return EXIT_OK


def _run_plan(args: argparse.Namespace) -> int:
    from deployer.engine import Engine, blocked_message

    with Engine(args.stack_dir, _options(args)) as engine:
        planned = engine.plan()
        _debug_calls(args, engine.calls)
        print(_plan_view(args, planned.plan, dict(engine.calls)))
        if planned.plan.blocked:
            raise StackError(blocked_message(planned.plan))
        if args.out:
            _save_plan(args, engine, planned)
    if args.detailed_exitcode and planned.plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def _plan_view(args: argparse.Namespace, plan: Plan, calls: dict[str, int] | None = None) -> str:
    from deployer.views import plan_json, plan_markdown, plan_text

    if args.output == "json":
        return plan_json(plan, calls=calls)
    if args.output == "markdown":
        return plan_markdown(plan)
    return plan_text(plan, color=_color(args, sys.stdout))


def _save_plan(args: argparse.Namespace, engine: Engine, planned: Planned) -> None:
    import json

    from deployer.digest import digest_sources, public_variables
    from deployer.engine import git_toplevel, stack_root
    from deployer.saved_plan import make_saved_plan, path_under, portable_location, write_saved_plan
    from deployer.views import plan_json

    if planned.recovered:
        raise StackError("an interrupted run left work to recover; run "
                         f"{engine.invocation.command('deploy', renders=True)} (or plan without -o) first"
                         + engine.invocation.withheld())
    stack_dir = args.stack_dir.resolve()
    bases = [base for base in (git_toplevel(stack_root(stack_dir)), Path.cwd()) if base is not None]
    context = planned.desired.context
    saved = make_saved_plan(planned.plan, planned.state, stack_dir=stack_dir, stack_path=path_under(stack_dir, bases),
                            state_location=portable_location(engine.options.state_location), digest=planned.digest,
                            sources=digest_sources(context, args.var_files), variables=public_variables(context),
                            local=args.local, adopt=args.adopt)
    write_saved_plan(saved, json.loads(plan_json(planned.plan)), args.out)
    print(f"Saved the plan to {args.out}. Apply exactly it with {engine.invocation.apply_command(str(args.out))}"
          + engine.invocation.withheld(), file=sys.stderr)


def _run_apply(args: argparse.Namespace) -> int:
    with _event_stream(args) as events:
        return _apply_saved(args, events)


def _apply_saved(args: argparse.Namespace, events: _Events | None) -> int:
    from deployer.digest import digest_sources
    from deployer.engine import Engine, Options, git_toplevel
    from deployer.saved_plan import find_stack, read_saved_plan, staleness
    from deployer.views import plan_text

    human = sys.stderr if events else sys.stdout
    saved = read_saved_plan(args.plan_file)
    here = Path.cwd()
    stack_dir = find_stack(saved, [base for base in (git_toplevel(here), here) if base is not None])
    inputs = Inputs(env=saved.env, cli_vars={**saved.variables, **dict(args.vars)}, var_files=tuple(args.var_files),
                    environ=dict(os.environ))
    location = args.state or os.environ.get("STACK_STATE") or saved.state_location
    options = Options(inputs=inputs, state_location=location, parallelism=args.parallelism,
                      lock_timeout=args.lock_timeout, local=saved.local, adopt=saved.adopt)
    with Engine(stack_dir, options) as engine, engine.locked("apply"):
        planned = engine.plan()
        reasons = staleness(saved, planned.plan, state=planned.state,
                            sources=digest_sources(planned.desired.context, args.var_files))
        if planned.recovered:
            reasons.append("an interrupted run left work that was recovered since")
        if reasons:
            raise StackError(f"{args.plan_file} is stale, nothing was applied: " + "; ".join(reasons) +
                             ". Plan again and review the new plan")
        if events:
            events.plan(planned.plan)
        print(plan_text(planned.plan, color=_color(args, human)), file=human)
        result = _carry_out(engine, planned, events, human)
        _debug_calls(args, engine.calls)
    return _finish(result, events, human)


def _run_drift(args: argparse.Namespace) -> int:
    from deployer.engine import Engine
    from deployer.views import drift_view

    with Engine(args.stack_dir, _options(args)) as engine:
        state, drifted = engine.drift()
        _debug_calls(args, engine.calls)
    print(drift_view(state, drifted, args.output))
    return EXIT_CHANGES if drifted else EXIT_OK


def _run_envs(args: argparse.Namespace) -> int:
    from deployer.engine import environments_of
    from deployer.views import envs_text

    listed = environments_of(args.stack_dir, _options(args), check_env=not isinstance(args.env, _Default))
    print(envs_text(listed, json_output=args.output == "json"))
    return EXIT_OK


def _run_promote(args: argparse.Namespace) -> int:
    with _event_stream(args) as events:
        return _promote(args, events)


def _promote(args: argparse.Namespace, events: _Events | None) -> int:
    from dataclasses import replace

    from deployer.engine import Engine, load_stack

    load_stack(args.stack_dir, args.target)  # an unknown --to is reported before --from is read
    options = _options(args)
    source = replace(options, inputs=replace(options.inputs, env=args.source))
    with Engine(args.stack_dir, source) as engine:
        state, _ = engine.check_promotable()
    deployed = state.deployment  # what the source runs: its digest is the one the manifest has now
    provenance = {"env": args.source, "digest": deployed.get("digest"), "commit": deployed.get("commit")}
    if "dirty" in deployed:
        provenance["dirty"] = deployed["dirty"]
    args.env = args.target
    return _apply(args, destroy=False, promoted_from=provenance, events=events)


def _run_deploy(args: argparse.Namespace) -> int:
    with _event_stream(args) as events:
        return _apply(args, destroy=False, events=events)


def _run_destroy(args: argparse.Namespace) -> int:
    with _event_stream(args) as events:
        return _apply(args, destroy=True, events=events)


def _apply(args: argparse.Namespace, *, destroy: bool, promoted_from: dict[str, Any] | None = None,
           events: _Events | None = None) -> int:
    """Plan, show, confirm, apply. With ``events`` (--output json) stdout gets JSON Lines only and the human
    text (plan, progress, summary) goes to stderr."""
    from deployer.engine import Engine, blocked_message, validate_offline
    from deployer.views import plan_text

    verb = "destroy" if destroy else "deploy"
    human = sys.stderr if events else sys.stdout
    validate_offline(args.stack_dir, _options(args))  # a broken manifest neither locks nor calls
    with Engine(args.stack_dir, _options(args)) as engine:
        with engine.locked(verb) as taken_over:
            if taken_over is not None:
                warning = f"took over a lock whose run is gone: {taken_over.describe()}"
                print(f"Warning: {warning}", file=sys.stderr)
                if events:
                    events.emit("warning", message=warning)
            planned = engine.plan(destroying=destroy, record_recovery=True)
            for note in planned.recovered:
                print(f"Recovered: {note}", file=sys.stderr)
                if events:
                    events.emit("recovered", message=note)
            if events:
                events.plan(planned.plan)
                print(plan_text(planned.plan, color=_color(args, human)), file=human)
            else:
                print(_plan_view(args, planned.plan))
            if planned.plan.blocked:
                raise StackError(blocked_message(planned.plan) + "; nothing was applied")
            if not planned.plan.has_changes:
                result = engine.apply(planned, promoted_from=promoted_from)  # records state-only updates
                _debug_calls(args, engine.calls)
                if events:
                    events.summary(result)
                return EXIT_OK
            if promoted_from:
                rerun = engine.invocation.command("promote", "--from", promoted_from["env"], "--to", args.target,
                                                  "--auto-approve", renders=True)
            else:
                rerun = engine.invocation.command(verb, "--auto-approve", renders=True)
            if not args.auto_approve and not _confirm(verb, rerun + engine.invocation.withheld(), human):
                if events:
                    events.emit("error", message=f"{verb} cancelled; nothing was changed")
                return EXIT_ERROR
            started = time.perf_counter()
            result = _carry_out(engine, planned, events, human, promoted_from=promoted_from)
            if args.debug:
                print(f"debug: apply took {time.perf_counter() - started:.2f} s", file=sys.stderr)
            _debug_calls(args, engine.calls)
    return _finish(result, events, human)


def _carry_out(engine: Engine, planned: Planned, events: _Events | None, human: TextIO, *,
               promoted_from: dict[str, Any] | None = None) -> ApplyResult:
    progress = _Progress(human, sum(c.action is not Action.NOOP for c in planned.plan.changes))
    if events:
        events.progress = progress
    result = engine.apply(planned, hooks=events or progress, promoted_from=promoted_from)
    progress.close()
    return result


def _finish(result: ApplyResult, events: _Events | None, human: TextIO) -> int:
    from deployer.views import apply_summary

    print(apply_summary(result), file=human)
    for outcome in result.failed:
        print(f"Error: {outcome.resource}: {outcome.message}", file=sys.stderr)
    if events:
        events.summary(result)
    return EXIT_ERROR if result.failed else EXIT_OK


def _run_convert(args: argparse.Namespace) -> int:
    from deployer.manifest import TEMPLATE_FILES
    from deployer.sources import write_converted

    source: Path = args.source
    if (source / "stackql_manifest.yml").is_file():
        from deployer.stackql import convert_stackql

        converted = convert_stackql(source)
    elif source.is_file() or any((source / name).is_file() for name in TEMPLATE_FILES):
        from deployer.cfn_template import convert_template

        converted = convert_template(source)  # a template file, or the directory holding one
    else:
        raise StackError(f"{source}: no CloudFormation template ({', '.join(TEMPLATE_FILES)}) and no "
                         "stackql-deploy project (stackql_manifest.yml) here; pass the template file or the project "
                         "directory")
    for line in converted.report:
        print(f"Note: {line}", file=sys.stderr)
    if args.out is None:
        print(converted.stack_yaml, end="")
        for env in sorted(converted.environments):
            print(f"Note: environments/{env}.yaml is written only with -o DIR", file=sys.stderr)
        return EXIT_OK
    for path in write_converted(converted, args.out):
        print(f"Wrote {path}")
    print(f"Next: `stack validate {args.out}`, then `stack plan {args.out}`.")
    return EXIT_OK


def _run_output(args: argparse.Namespace) -> int:
    from deployer.engine import Engine
    from deployer.views import outputs_view

    with Engine(args.stack_dir, _options(args)) as engine:
        state = engine.state()
    outputs = state.outputs
    if args.name is not None and args.name not in outputs:
        known = ", ".join(sorted(outputs)) or "none"
        raise StackError(f"no output '{args.name}' in environment '{state.env}' (recorded: {known}); outputs are "
                         "recorded at each deploy from the manifest's outputs:")
    if args.raw:
        if args.name is None:
            raise StackError("--raw needs an output NAME")
        entry = outputs[args.name]
        if entry.get("sensitive"):
            raise StackError(f"output '{args.name}' is sensitive: stack keeps no copy of its value")
        value = entry.get("value")
        print(value if isinstance(value, str) else json.dumps(value))
        return EXIT_OK
    shown = {args.name: outputs[args.name]} if args.name is not None else outputs
    text = outputs_view(shown, json_output=args.output == "json")
    if text:
        print(text)
    return EXIT_OK


def _run_state_list(args: argparse.Namespace) -> int:
    from deployer.engine import Engine
    from deployer.views import state_list_view

    with Engine(args.stack_dir, _options(args)) as engine:
        state = engine.state()
    listed = state_list_view(state, json_output=args.output == "json")
    if listed:
        print(listed)
    return EXIT_OK


def _run_state_show(args: argparse.Namespace) -> int:
    from deployer.engine import Engine
    from deployer.views import state_text

    with Engine(args.stack_dir, _options(args)) as engine:
        state = engine.state()
        print(state_text(state, engine.backend.location, json_output=args.output == "json"))
    return EXIT_OK


def _run_state_rm(args: argparse.Namespace) -> int:
    from deployer.engine import Engine

    with Engine(args.stack_dir, _options(args)) as engine:
        engine.state()  # no state is reported before the lock is taken, so nothing is created
        with engine.locked("state rm"):
            removed = engine.remove_from_state(args.resource)
    print(f"Removed {args.resource} from state; {removed.identifier} stays in AWS.")
    return EXIT_OK


def _run_state_mv(args: argparse.Namespace) -> int:
    from deployer.engine import Engine

    with Engine(args.stack_dir, _options(args)) as engine, engine.locked("state mv"):
        moved = engine.move_in_state(args.old, args.new)
    print(f"Moved {args.old} to {args.new} in state ({moved.identifier} in AWS is unchanged).")
    return EXIT_OK


def _run_state_import(args: argparse.Namespace) -> int:
    from deployer.engine import Engine

    with Engine(args.stack_dir, _options(args)) as engine, engine.locked("state import"):
        record = engine.import_resource(args.resource, args.name_or_arn)
    from deployer.kinds import is_native

    unread = "Its credentials" if is_native(record.type) else "Its write-only properties"
    print(f"Imported {record.identifier} as {args.resource}. {unread} cannot be read from AWS: the next "
          "deploy sets them from the manifest.")
    return EXIT_OK


def _run_state_pull(args: argparse.Namespace) -> int:
    from deployer.engine import Engine

    with Engine(args.stack_dir, _options(args)) as engine:
        state = engine.backend.read()
    if state is None:
        raise StackError(f"there is no state at {engine.backend.location}")
    print(state.to_json(), end="")
    return EXIT_OK


def _run_state_push(args: argparse.Namespace) -> int:
    from deployer.engine import Engine

    try:
        text = args.file.read_bytes()  # from_json says what is wrong with bytes that are not a state
    except OSError as error:
        raise StackError(f"{args.file}: cannot read it: {error.strerror}") from None
    with Engine(args.stack_dir, _options(args)) as engine, engine.locked("state push"):
        written = engine.push(text, str(args.file), force=args.force)
        location = engine.backend.location
    print(f"Pushed {args.file} to {location} (serial {written.serial}).")
    return EXIT_OK


def _run_state_migrate(args: argparse.Namespace) -> int:
    from deployer.engine import Engine

    with Engine(args.stack_dir, _options(args)) as engine, engine.locked("state migrate"):
        written, location = engine.migrate(args.to, force=args.force)
        source = engine.backend.location
    print(f"Copied the state from {source} to {location} (serial {written.serial}). From now on pass "
          f"--state {args.to} (or set STACK_STATE, or state: in the manifest); the old copy at {source} was left "
          "as it was.")
    return EXIT_OK


def _run_state_restore(args: argparse.Namespace) -> int:
    from deployer.engine import Engine

    with Engine(args.stack_dir, _options(args)) as engine, engine.locked("state restore"):
        restored, kept = engine.restore(force=args.force)
        location = engine.backend.location
    aside = f" The file that was there is kept as {kept}." if kept else ""
    print(f"Restored {location} from its backup (serial {restored.serial}, lineage {restored.lineage}).{aside} "
          f"Run {engine.invocation.command('plan', renders=True)} to see what it makes of AWS: a profile created by "
          "the last run may show as blocked (import it or deploy --adopt, as the plan says)."
          + engine.invocation.withheld())
    return EXIT_OK


def _run_state_unlock(args: argparse.Namespace) -> int:
    from deployer.engine import Engine

    with Engine(args.stack_dir, _options(args)) as engine:
        holder = engine.unlock(args.lock_id)
    print(f"Released {holder.describe()}.")
    return EXIT_OK


def _confirm(verb: str, rerun: str, stream: TextIO) -> bool:
    """Ask on the terminal, the question on ``stream`` (stderr when stdout is JSON Lines); ``rerun``: the same
    command with --auto-approve."""
    if not sys.stdin.isatty():
        raise StackError(f"no terminal to confirm the {verb}: review the plan, then run again with --auto-approve: "
                         f"{rerun}")
    print(f"\nDo you want to {verb}? Only 'yes' will be accepted: ", end="", file=stream, flush=True)
    answer = input()
    if answer.strip() != "yes":
        print(f"{verb.capitalize()} cancelled; nothing was changed.", file=stream)
        return False
    return True


@contextmanager
def _event_stream(args: argparse.Namespace) -> Iterator[_Events | None]:
    """With --output json, deploy, destroy, apply and promote write JSON Lines only on stdout (the human text goes
    to stderr); a run that stops on an error ends with an ``error`` event."""
    if args.output != "json":
        yield None
        return
    events = _Events(sys.stdout)
    try:
        yield events
    except StackError as error:
        problems = [d.render() for d in error.diagnostics] if isinstance(error, ManifestError) else []
        events.emit("error", message=str(error), **({"problems": problems} if problems else {}))
        raise


class _Events:
    """Apply's events as JSON Lines on ``stream`` (see ``views.event_line`` and the README's table), each passed on
    to ``progress``, the human lines. Workers report concurrently; one write per line keeps lines whole, and a
    closed output never stops the apply."""

    def __init__(self, stream: TextIO) -> None:
        self.stream: TextIO | None = stream
        self.progress: _Progress | None = None
        self._lock = threading.Lock()
        self._resources: dict[str, str] = {}  # profile name -> resource, for retries (which know the name)

    def emit(self, kind: str, **fields: Any) -> None:
        from datetime import datetime, timezone

        from deployer.views import event_line

        line = event_line(kind, datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **fields)
        with self._lock:
            if self.stream is None:
                return
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except OSError:
                self.stream = None

    def plan(self, plan: Plan) -> None:
        from deployer.views import plan_document

        self._resources = {c.identifier: c.resource for c in plan.changes if c.identifier}
        self.emit("plan", plan=plan_document(plan))

    def started(self, change: Change) -> None:
        from deployer.views import change_fields

        if change.action is not Action.NOOP:
            self.emit("change_started", **change_fields(change))
        if self.progress:
            self.progress.started(change)

    def finished(self, outcome: Outcome) -> None:
        from deployer.views import outcome_fields

        if outcome.action is not Action.NOOP:
            self.emit("change_finished", **outcome_fields(outcome))
        if self.progress:
            self.progress.finished(outcome)

    def retried(self, operation: str, identifier: str, attempt: int) -> None:
        self.emit("retry", resource=self._resources.get(identifier), identifier=identifier, operation=operation,
                  attempt=attempt)
        if self.progress:
            self.progress.retried(operation, identifier, attempt)

    def summary(self, result: ApplyResult) -> None:
        from deployer.views import summary_fields

        self.emit("summary", **summary_fields(result))


class _Progress:
    """Apply's progress. On a terminal, a live status line (done/total, what is running, retries) above
    which each finished resource is printed; otherwise (CI) one timestamped line per resource.
    A closed output (``| head``) never stops the apply."""

    def __init__(self, stream: TextIO, total: int = 0) -> None:
        self.stream: TextIO | None = stream
        self._lock = threading.Lock()
        self._live = stream.isatty()
        self._total = total
        self._done = 0
        self._running: list[str] = []
        self._retries = 0

    def _write(self, text: str) -> None:
        if self.stream is None:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError:
            self.stream = None

    def _line(self, text: str) -> None:
        with self._lock:  # workers report concurrently; one write per line keeps lines whole
            clear = "\r\x1b[2K" if self._live else ""
            self._write(f"{clear}{_clock()} {text}\n")
            if self._live:
                running = ", ".join(self._running[:4]) + (" ..." if len(self._running) > 4 else "")
                self._write(f"[{self._done}/{self._total}] running: {running or '-'}; retries: {self._retries}")

    def started(self, change: Change) -> None:
        if change.action is not Action.NOOP:
            self._running.append(change.resource)
            self._line(f"{change.resource}: {change.action.value} started")

    def finished(self, outcome: Outcome) -> None:
        from deployer.views import outcome_line

        if outcome.action is not Action.NOOP:
            if outcome.resource in self._running:
                self._running.remove(outcome.resource)
            self._done += 1
            self._line(outcome_line(outcome))

    def retried(self, operation: str, resource: str, attempt: int) -> None:
        self._retries += 1
        if not self._live:
            self._line(f"{resource}: {operation} attempt {attempt} failed, retrying")

    def close(self) -> None:
        if self._live:
            with self._lock:
                self._write("\r\x1b[2K")


def _clock() -> str:
    from datetime import datetime

    return datetime.now().strftime("%H:%M:%S")


def _run_skeleton(args: argparse.Namespace) -> int:
    from deployer.skeleton import skeleton

    print(skeleton(args.type, args.connector), end="")
    return EXIT_OK


def _run_init(args: argparse.Namespace) -> int:
    from deployer.scaffold import ENV_FILE, scaffold, write_scaffold

    written = write_scaffold(args.stack_dir, scaffold(args.stack_dir.resolve().name, args.connector))
    print(f"Created {', '.join(str(path) for path in written)}.")
    print(f"Next: fill in {args.stack_dir / ENV_FILE}, then run `stack validate {args.stack_dir}`.")
    return EXIT_OK


def _run_types(args: argparse.Namespace) -> int:
    from deployer.registry import type_names, type_schema

    names = [name for name in type_names(args.region) if args.text.lower() in name.lower()]
    if not names:
        raise StackError(f"no resource type contains {args.text!r}")
    width = max(len(name) for name in names)
    refused = 0
    for name in names:
        found = type_schema(name, args.region)
        refused += not found.provisionable
        print(name if found.provisionable else f"{name:<{width}}  not provisionable: {found.why_not}")
    print(f"{len(names)} type{'s' if len(names) != 1 else ''}, {refused} not provisionable through Cloud Control. "
          "Deploying these types is not wired in yet: stack deploys AWS::AppFlow::ConnectorProfile.")
    return EXIT_OK


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
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"AppFlow and Cloud Control emulator listening on {emulator.endpoint}", flush=True)
    print(f"  export AWS_ENDPOINT_URL_APPFLOW={emulator.endpoint}", flush=True)
    print(f"  export AWS_ENDPOINT_URL_CLOUDCONTROL={emulator.endpoint}", flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)  # Ctrl-C (or SIGTERM) is how the emulator is meant to stop
    finally:
        emulator.stop()
    return EXIT_OK


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _color(args: argparse.Namespace, stream: TextIO) -> bool:
    return not args.no_color and "NO_COLOR" not in os.environ and stream.isatty()


def _debug_calls(args: argparse.Namespace, calls: dict[str, int] | object) -> None:
    if getattr(args, "debug", False) and isinstance(calls, dict):
        listed = ", ".join(f"{name} {count}" for name, count in sorted(calls.items())) or "none"
        print(f"debug: AWS calls: {sum(calls.values())} ({listed})", file=sys.stderr)


class _Scrubbed(io.TextIOBase):
    """An output stream that never lets a registered secret through (see ``deployer.secrets``)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(SECRETS.scrub(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()


def main(argv: Sequence[str] | None = None) -> int:
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Scrubbed(out), _Scrubbed(err)  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = out, err


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except ManifestError as error:
        print(error.render(), file=sys.stderr)
        print(f"Error: {error}; nothing was called or changed.", file=sys.stderr)
        if getattr(args, "debug", False):
            traceback.print_exc()
        return EXIT_ERROR
    except StackError as error:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (| head); say nothing more, and keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
