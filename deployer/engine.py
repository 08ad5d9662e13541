"""The engine: runs the pipeline for one stack and environment, from files to applied state.

    load_manifest -> build_context -> validate_stack -> (state, reconcile, live read) -> build_plan -> apply_plan

It owns the edges the core modules do not touch: the state backend and its lock, the
AWS clients (or the embedded local cloud) and the provider. It returns values; the
CLI decides how they look.
"""

from __future__ import annotations

import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deployer.apply import ApplyHooks, ApplyResult, apply_plan
from deployer.aws import AwsSettings, Clients
from deployer.backends import open_backend
from deployer.convert import cfn_name
from deployer.digest import stack_digest
from deployer.drift import Drift, find_drift
from deployer.errors import StackError, StateError
from deployer.invocation import Invocation
from deployer.kinds import is_native
from deployer.local import local_cloud, local_data_dir
from deployer.lock import LockedError, LockInfo, LockStore, acquire, force_unlock, release
from deployer.manifest import (
    RESOURCE_NAME,
    STACK_FILES,
    Manifest,
    check_env_name,
    find_stack_file,
    load_manifest,
)
from deployer.plan import Action, LiveIndex, Plan, build_plan
from deployer.providers.routing import Providers
from deployer.reconcile import reconcile
from deployer.render import (
    Inputs,
    StackContext,
    Unknown,
    build_context,
    check_environment,
    render_outputs,
    variable_sources,
)
from deployer.resolvers import Resolvers
from deployer.retry import RetryPolicy
from deployer.secrets import SENSITIVE
from deployer.state import Intent, ResourceState, StackState, StateRecorder, now
from deployer.taint import sensitive_variables
from deployer.validate import Desired, DesiredStack, contains_unknown, desire, validate_stack


@dataclass(frozen=True)
class Options:
    inputs: Inputs = field(default_factory=Inputs)
    state_location: str | None = None  # a file or s3://BUCKET/PREFIX; None: the manifest's, else the default
    aws: AwsSettings = field(default_factory=AwsSettings)
    local: bool = False
    parallelism: int = 10
    max_attempts: int | None = None  # None: the manifest's retries, else the default policy
    max_wait: float | None = None
    adopt: bool = False
    lock_timeout: float = 0.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)


@dataclass(frozen=True)
class Planned:
    plan: Plan
    desired: DesiredStack
    state: StackState
    recovered: tuple[str, ...] = ()  # how intents of an interrupted run were resolved
    digest: str = ""  # of the manifest, templates, variables files and non-secret variables (digest.py)
    resumable: dict[str, Intent] = field(default_factory=dict)  # interrupted calls to make again, same token


def git_commit(directory: Path) -> str | None:
    """The checked-out commit of the repository holding ``directory``, when there is one."""
    return _git(directory, "rev-parse", "HEAD")


def git_dirty(top: Path, paths: Sequence[Path], *, ignore: Sequence[Path] = ()) -> bool:
    """Whether any of ``paths`` (files or directories) in the Git checkout at ``top`` differs from the checked-out
    commit: modified, staged, deleted, or untracked and not ignored. Paths outside the checkout, and ``ignore``
    (the stack's own .stack directory: state and local cloud data), do not count."""
    top = top.resolve()
    inside = [p.resolve() for p in paths if p.resolve().is_relative_to(top)]
    if not inside:
        return False
    specs = [p.relative_to(top).as_posix() or "." for p in inside]
    specs += [f":(exclude){p.resolve().relative_to(top).as_posix()}" for p in ignore if p.resolve().is_relative_to(top)]
    answer = _git(top, "status", "--porcelain", "--untracked-files=all", "--", *specs)
    return bool(answer)


def git_toplevel(directory: Path) -> Path | None:
    """The top-level directory of the Git checkout holding ``directory``, when there is one."""
    found = _git(directory, "rev-parse", "--show-toplevel")
    return Path(found) if found else None


def _git(directory: Path, *arguments: str) -> str | None:
    try:
        answer = subprocess.run(["git", *arguments], cwd=directory, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return answer.stdout.strip() if answer.returncode == 0 else None


def invocation_of(stack_dir: Path, options: Options, manifest: Manifest) -> Invocation:
    """This run's command line, for hints: the stack directory as given and the options that matter."""
    inputs = options.inputs
    variables = tuple((k, v) for k, v in inputs.cli_vars.items() if isinstance(v, str))  # a saved plan's are typed
    return Invocation(stack_dir=str(stack_dir), env=inputs.env, state=options.state_location, local=options.local,
                      region=options.aws.region, profile=options.aws.profile,
                      var_files=tuple(str(p) for p in inputs.var_files), variables=variables,
                      secret=sensitive_variables(manifest, inputs.cli_vars))


def source_version(stack_dir: Path, manifest: Manifest, var_files: Sequence[Path]) -> dict[str, Any]:
    """Where the stack's files come from in Git: the checked-out ``commit`` (None outside a checkout) and whether
    any of them has uncommitted changes (``dirty``). The files are the stack directory (its manifest and
    environments/, less .stack/), the templates it reads and the --var-files, wherever they are in the checkout;
    changes elsewhere in the repository do not count."""
    root = stack_root(stack_dir)
    commit = git_commit(root)
    if commit is None:
        return {"commit": None}
    top = git_toplevel(root)
    dirty = git_dirty(top, [root, *manifest.files, *var_files], ignore=[root / ".stack"]) if top else False
    return {"commit": commit, "dirty": dirty}


def describe_version(version: Mapping[str, Any]) -> str:
    """``commit 1a2b3c4d5e6f with uncommitted changes, digest sha256:...``, for messages."""
    commit = version.get("commit")
    parts = []
    if commit:
        parts.append(f"commit {commit[:12]}" + (" with uncommitted changes" if version.get("dirty") else ""))
    parts.append(f"digest {version.get('digest')}")
    return ", ".join(parts)


def stack_root(stack_dir: Path) -> Path:
    return find_stack_file(stack_dir).parent


def state_location(stack_dir: Path, options: Options, manifest: Manifest) -> str:
    """--state or STACK_STATE, else the manifest's ``state:``, else ``.stack/state/ENV.json`` (with ``--local``,
    the local cloud's own, so the two never mix)."""
    if options.state_location:
        return options.state_location
    if manifest.state and not options.local:
        return manifest.state
    base = local_data_dir(stack_root(stack_dir)) if options.local else stack_root(stack_dir) / ".stack"
    return str(base / "state" / f"{options.inputs.env}.json")


def load_stack(stack_dir: Path, env: str) -> Manifest:
    """The manifest, for an environment the stack knows: an unknown --env is reported before anything else."""
    check_env_name(env)  # the CLI checks it too; here for every other way in (a saved plan, the API)
    manifest = load_manifest(stack_dir)
    check_environment(manifest, env)
    return manifest


def validate_offline(stack_dir: Path, options: Options) -> DesiredStack:
    """Everything that can be checked without a network call (another stack's outputs are not read)."""
    manifest = load_stack(stack_dir, options.inputs.env)
    return validate_stack(build_context(manifest, options.inputs,
                                        {**Resolvers(None, None).names(), "stack_output": unread_output,
                                         "import_value": unread_import}))


def unread_import(export: str) -> Unknown:
    """``import_value()`` offline."""
    return Unknown(f"import_value('{export}')")


def unread_output(path: str, name: str, env: str | None = None) -> Unknown:
    """``stack_output()`` offline: a value known once the other stack's state is read."""
    return Unknown(f"stack_output('{path}', '{name}'" + (f", env='{env}')" if env else ")"))


class Engine:
    """One stack and environment, with its clients, state and lock; use it as a context manager."""

    def __init__(self, stack_dir: Path, options: Options) -> None:
        self.stack_dir = stack_dir
        self.options = options
        self._exit = ExitStack()
        self.clients: Clients | None = None
        self._hooks: ApplyHooks | None = None
        self.outputs_read: dict[tuple[str, str], dict[str, Any]] = {}  # (stack path, env) -> its outputs

    def __enter__(self) -> Engine:
        manifest = load_stack(self.stack_dir, self.options.inputs.env)  # before the local cloud or a client starts
        root = stack_root(self.stack_dir)
        # the local cloud writes its data into the stack directory: it starts at the first AppFlow call, so a
        # run that stops before one (a manifest that does not render) leaves no .stack/local behind
        start_local = (lambda: self._exit.enter_context(local_cloud(root))) if self.options.local else None
        self.clients = Clients(self.options.aws, local_cloud=start_local)
        location = state_location(self.stack_dir, self.options, manifest)
        self.invocation = invocation_of(self.stack_dir, self.options, manifest)
        self.backend = open_backend(location, stack=manifest.name, env=self.options.inputs.env,
                                    client_for=self.clients.client, region=self.clients.default_region,
                                    restore_command=self.invocation.command("state restore"))
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    @property
    def calls(self) -> dict[str, int]:
        return dict(self.clients.calls) if self.clients else {}

    @contextmanager
    def locked(self, operation: str) -> Iterator[LockInfo | None]:
        """Hold the stack's lock; yields the dead holder whose lock was taken over, if any."""
        lock, taken_over = self._acquire(self.backend.lock, operation, self.invocation)
        try:
            yield taken_over
        finally:
            release(self.backend.lock, lock)

    def _acquire(self, store: LockStore, operation: str, invocation: Invocation) -> tuple[LockInfo, LockInfo | None]:
        try:
            return acquire(store, operation, self.options.lock_timeout, sleep=self.options.sleep)
        except LockedError as error:
            raise LockedError(error.holder, error.waited,
                              unlock=invocation.command("state unlock", error.holder.lock_id)) from None

    def _context(self) -> tuple[Manifest, StackContext, Providers]:
        manifest = load_manifest(self.stack_dir)
        assert self.clients is not None
        inputs = replace(self.options.inputs, default_region=self.clients.default_region)
        resolvers = Resolvers(self.clients.client, inputs.default_region)
        context = build_context(manifest, inputs, {**resolvers.names(), "stack_output": self.stack_output,
                                                   "import_value": self.import_value})
        resolvers.region = context.region  # the stack's region, once its globals are known
        return manifest, context, Providers(self.clients, self._retry(manifest))

    def stack_output(self, path: str, name: str, env: str | None = None) -> Any:
        """``{{ stack_output('../network', 'VpcId') }}``: an output another stack recorded at its last apply, read
        from its state (same environment unless ``env``; its own state location: its manifest's ``state:``, or
        the default, or the local cloud's with --local). Every stack read is noted for the plan."""
        env = env or self.options.inputs.env
        key = (str(path), env)
        if key not in self.outputs_read:
            self.outputs_read[key] = self._outputs_of(str(path), env)
        outputs = self.outputs_read[key]
        what = f"stack_output('{path}', '{name}')"
        if name not in outputs:
            known = ", ".join(sorted(outputs)) or "none"
            raise StackError(f"{what}: the stack at {path} has no output '{name}' in environment '{env}' (its "
                             f"outputs: {known}); add it to that stack's outputs: and deploy it")
        entry = outputs[name]
        if entry.get("sensitive"):
            raise StackError(f"{what}: the output is sensitive, and stack keeps no copy of a sensitive value; read "
                             "it where it comes from (a secret() or a variable)")
        return entry.get("value")

    def import_value(self, export: str) -> Any:
        """``{{ import_value('reports-BucketArn') }}`` (a template's ``Fn::ImportValue``): the output exported under
        that name by one of the stacks beside this one (the directories next to it), in the same environment."""
        env = self.options.inputs.env
        root = stack_root(self.stack_dir).resolve()
        found: list[tuple[str, str]] = []
        for other in sorted(p for p in root.parent.iterdir() if p.is_dir() and p.resolve() != root):
            if not any((other / name).is_file() for name in STACK_FILES):
                continue
            path = f"../{other.name}"
            try:
                outputs = self.outputs_read.get((path, env)) or self._outputs_of(path, env)
            except StackError:
                continue  # not deployed in this environment: it exports nothing
            for name, entry in outputs.items():
                if entry.get("export") == export:
                    self.outputs_read[(path, env)] = outputs
                    found.append((path, name))
        if len(found) != 1:
            why = "no stack beside this one exports it" if not found else "several stacks export it: " + ", ".join(
                f"{path} ({name})" for path, name in found)
            raise StackError(f"import_value('{export}'): {why} in environment '{env}' (looked in {root.parent}); "
                             "deploy the stack that exports it, or read its output with stack_output()")
        return self.stack_output(*found[0])

    def _outputs_of(self, path: str, env: str) -> dict[str, Any]:
        other = (stack_root(self.stack_dir) / path).resolve()
        what = f"stack_output('{path}', ...)"
        try:
            manifest = load_manifest(other)
        except StackError as error:
            raise StackError(f"{what}: no stack at {other}: {str(error).splitlines()[0]}") from None
        options = replace(self.options, state_location=None, inputs=replace(self.options.inputs, env=env))
        location = state_location(other, options, manifest)
        assert self.clients is not None
        backend = open_backend(location, stack=manifest.name, env=env, client_for=self.clients.client,
                               region=self.clients.default_region)
        state = backend.read()
        if state is None or not state.resources:
            raise StackError(f"{what}: stack '{manifest.name}' has nothing deployed in environment '{env}' (no state "
                             f"at {location}); deploy it first")
        return dict(state.outputs)

    def _retry(self, manifest: Manifest) -> RetryPolicy:
        default = RetryPolicy()
        attempts = self.options.max_attempts or manifest.retries.get("max_attempts") or default.max_attempts
        wait = self.options.max_wait if self.options.max_wait is not None else manifest.retries.get(
            "max_wait", default.max_wait)
        return RetryPolicy(max_attempts=int(attempts), max_wait=float(wait), sleep=self.options.sleep,
                           on_retry=self._retried)

    def _retried(self, operation: str, resource: str, attempt: int) -> None:
        hooks = self._hooks
        if hooks is not None and hasattr(hooks, "retried"):
            hooks.retried(operation, resource, attempt)

    def read_state(self, manifest: Manifest, *, required: bool = False) -> StackState:
        """The stored state; when there is none, a new one, or with ``required`` an error (drift, promotion and
        the state commands must never take a mistyped --env or --state for an empty stack)."""
        state = self.backend.read()
        if state is None:
            if required:
                raise StateError(f"no state at {self.backend.location}; deploy first "
                                 f"({self.invocation.command('deploy', renders=True)}) or check --state/--env"
                                 + self.invocation.withheld())
            return StackState.new(manifest.name, self.options.inputs.env)
        if state.stack != manifest.name or state.env != self.options.inputs.env:
            raise StackError(f"{self.backend.location} holds the state of stack '{state.stack}' environment "
                             f"'{state.env}', not '{manifest.name}' '{self.options.inputs.env}'; pass the right "
                             "--state or --env")
        return state

    def plan(self, *, destroying: bool = False, record_recovery: bool = False) -> Planned:
        """Validate (before any AWS call), read live state in batches, resolve interrupted runs, and plan."""
        manifest, context, self.provider = self._context()
        desired = validate_stack(context)  # before state or AWS: a broken manifest touches nothing
        state = self.read_state(manifest)
        exports = state.exports()
        if any(d.has_unknowns for d in desired.resources):
            desired = validate_stack(context, exports)  # exports of resources that already exist
        if destroying:
            desired = DesiredStack(replace(context, active=()), (), {})
        _require_regions(desired)
        state = self._resume_requests(state, record=record_recovery)
        live = self._read_live(desired.resources, state)
        reconciled = reconcile(state, live)
        state = reconciled.state
        if reconciled.notes and record_recovery:
            state = self.backend.write(state)
        plan = build_plan(desired, state, live, invocation=self.invocation, destroying=destroying,
                          adopt=self.options.adopt)
        while True:  # a resource made anew has new attributes: what reads them is known only after apply
            renewed = {c.resource for c in plan.changes if c.action in (Action.CREATE, Action.REPLACE)} & set(exports)
            if not renewed or destroying:
                break
            exports = {name: values for name, values in exports.items() if name not in renewed}
            desired = validate_stack(context, exports)
            plan = build_plan(desired, state, live, invocation=self.invocation, adopt=self.options.adopt)
        plan = replace(plan, reads=tuple(sorted(self.outputs_read)))
        return Planned(plan, desired, state, reconciled.notes, stack_digest(context, self.options.inputs.var_files),
                       reconciled.resumable)

    def _read_live(self, desired: tuple[Desired, ...], state: StackState) -> LiveIndex:
        wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
        for item in desired:
            if isinstance(item.identifier, str):
                wanted[(item.type, item.region or "")].add(item.identifier)
        for resource in state.resources.values():
            wanted[(resource.type, resource.region)].add(resource.identifier)
        for intent in state.pending.values():
            if intent.identifier:
                wanted[(intent.type, intent.region)].add(intent.identifier)
        return self.provider.read_all(wanted)

    def _resume_requests(self, state: StackState, *, record: bool) -> StackState:
        """Cloud Control creates an interrupted run left with a request token but no identifier yet: wait for
        each request (AWS goes on with it after a crash) and note the identifier it gave, or drop the intent
        when the request failed. Then reconciling finds the resource by its identifier like any other."""
        pending = dict(state.pending)
        for name, intent in sorted(state.pending.items()):
            if is_native(intent.type) or intent.operation != "create" or intent.identifier or not intent.request_token:
                continue
            event = self.provider.cloud.resume(intent.type, intent.region, intent.request_token)
            if event.get("OperationStatus") == "SUCCESS" and event.get("Identifier"):
                pending[name] = replace(intent, identifier=str(event["Identifier"]))
            else:
                del pending[name]  # the request failed: nothing was made
        if pending == state.pending:
            return state
        state = replace(state, pending=pending)
        return self.backend.write(state) if record else state

    def apply(self, planned: Planned, hooks: ApplyHooks | None = None, *,
              promoted_from: dict[str, Any] | None = None) -> ApplyResult:
        if planned.plan.blocked:
            raise StackError(blocked_message(planned.plan) + "; nothing was applied")
        recorder = StateRecorder(self.backend, planned.state)
        context = planned.desired.context

        def resolve(desired: Desired, exports: Mapping[str, Mapping[str, Any]]) -> Desired:
            return desire(desired.spec, context, exports, desired.depends_on)

        self._hooks = hooks
        try:
            result = apply_plan(planned.plan, providers=self.provider, recorder=recorder, resolve=resolve,
                                parallelism=self.options.parallelism, hooks=hooks, resumable=planned.resumable)
        finally:
            self._hooks = None
        recorder.note_outputs(recorded_outputs(context, recorder.state, destroyed=not planned.desired.resources))
        if planned.plan.has_changes or promoted_from or recorder.state.deployment.get("digest") != planned.digest:
            deployment: dict[str, Any] = {
                "digest": planned.digest,
                **source_version(self.stack_dir, context.manifest, self.options.inputs.var_files), "at": now(),
                "failed": sorted(o.resource for o in result.failed),
                "destroyed": not planned.desired.resources,
            }
            if promoted_from:
                deployment["promoted_from"] = promoted_from
            recorder.note_deployment(deployment)
        return result

    def drift(self) -> tuple[StackState, list[Drift]]:
        state, drifted, _ = self._drift()
        return state, drifted

    def _drift(self) -> tuple[StackState, list[Drift], StackContext]:
        state = self.state()  # first: without state there is nothing to compare, and nothing to call
        _, context, self.provider = self._context()
        live = self._read_live((), state)
        return state, find_drift(state, live), context

    def check_promotable(self) -> tuple[StackState, dict[str, Any]]:
        """The source side of a promotion: deployed from what the manifest is now, no drift, nothing failed.
        Returns the state and the version now (``digest``, ``commit``, ``dirty``)."""
        state, drifted, context = self._drift()
        env = self.options.inputs.env
        deployment = state.deployment
        var_files = self.options.inputs.var_files
        version = {"digest": stack_digest(context, var_files),
                   **source_version(self.stack_dir, context.manifest, var_files)}
        problems = []
        if not state.resources or not deployment or deployment.get("destroyed"):
            problems.append(f"environment '{env}' has nothing deployed; deploy it first with "
                            f"{self.invocation.command('deploy', renders=True)}")
        elif deployment.get("digest") != version["digest"]:
            problems.append(f"environment '{env}' was last deployed from another version of the manifest, its "
                            f"templates or its variables ({describe_version(deployment)}; now "
                            f"{describe_version(version)}); deploy it first with "
                            f"{self.invocation.command('deploy', renders=True)}")
        if drifted:
            problems.append(f"environment '{env}' has drifted: " + ", ".join(d.resource for d in drifted) +
                            f" (see {self.invocation.command('drift', renders=True)})")
        if deployment.get("failed") or state.pending:
            failed = sorted(set(deployment.get("failed", [])) | set(state.pending))
            problems.append(f"environment '{env}' has resources whose last deploy did not finish: "
                            + ", ".join(failed))
        if problems:
            raise StackError("cannot promote: " + "; ".join(problems) + self.invocation.withheld())
        return state, version

    # State commands ------------------------------------------------------------------------------

    def state(self) -> StackState:
        return self.read_state(load_manifest(self.stack_dir), required=True)

    def remove_from_state(self, resource: str) -> ResourceState:
        state = self.state()
        if resource not in state.resources:
            raise StackError(f"'{resource}' is not in the state; {self.invocation.command('state list')} shows what is")
        recorder = StateRecorder(self.backend, state)
        removed = state.resources[resource]
        recorder.forget(resource, f"removed from state by `stack state rm` (still in AWS: {removed.identifier})")
        return removed

    def move_in_state(self, old: str, new: str) -> ResourceState:
        """Rename a resource in state (after renaming it in the manifest); AWS is not touched."""
        manifest = load_manifest(self.stack_dir)
        state = self.read_state(manifest)
        if old not in state.resources:
            raise StackError(f"'{old}' is not in the state; {self.invocation.command('state list')} shows what is")
        if new in state.resources:
            raise StackError(f"'{new}' is already in the state (as {state.resources[new].identifier}); remove it "
                             f"with {self.invocation.command('state rm', new)} first if it is the wrong one")
        if not RESOURCE_NAME.match(new):
            raise StackError(f"'{new}' is not a valid resource name: use letters, digits and underscores, starting "
                             "with a letter")
        if state.pending:
            raise StackError("an interrupted run left work to recover (" + ", ".join(sorted(state.pending)) +
                             f"); run {self.invocation.command('deploy', renders=True)} first"
                             + self.invocation.withheld())
        StateRecorder(self.backend, state).move(((old, new),))
        return replace(state.resources[old], name=new)

    def import_resource(self, resource: str, name_or_arn: str) -> ResourceState:
        """Record an existing profile as ``resource``: what AWS says, credentials unknown until the next deploy."""
        manifest, context, self.provider = self._context()
        desired = validate_stack(context)
        target = next((d for d in desired.resources if d.name == resource), None)
        if target is None:
            raise StackError(f"'{resource}' is not a resource of this stack in environment "
                             f"'{self.options.inputs.env}'; import needs the resource in the manifest first")
        state = self.read_state(manifest)
        if resource in state.resources:
            raise StackError(f"'{resource}' is already in the state as {state.resources[resource].identifier}; "
                             f"remove it with {self.invocation.command('state rm', resource)} first")
        native = is_native(target.type)
        arn = name_or_arn.startswith("arn:") and native  # a Cloud Control identifier may be an ARN itself
        name = name_or_arn.rsplit("/", 1)[-1] if arn else name_or_arn
        region = (name_or_arn.split(":")[3] if arn else None) or target.region or ""
        owner = next((r.name for r in state.resources.values()
                      if (r.type, r.identifier, r.region) == (target.type, name, region)), None)
        if owner is not None:
            raise StackError(f"'{name}' is already in the state as {owner}; a profile belongs to one resource: "
                             f"rename it with {self.invocation.command('state mv', owner, resource)}, or remove it "
                             f"with {self.invocation.command('state rm', owner)} first")
        found = self.provider.read(target.type, region, [name]).get(name)
        if found is None:
            what = "connector profile named" if native else f"{target.type} with the identifier"
            raise StackError(f"no {what} '{name}' in {region}")
        for member, label in (("connectorType", "connector type"), ("connectorLabel", "connector label")):
            theirs, ours = found.properties.get(member), target.request.get(member)
            if native and theirs != ours and (member == "connectorType" or theirs or ours):
                raise StackError(f"'{name}' is a {theirs} connector profile; {resource} in the manifest is {ours}: "
                                 f"import a profile of the same {label}, or change {cfn_name(member)} in the "
                                 "manifest")
        record = ResourceState(name=resource, type=target.type, identifier=name, region=region, arn=found.arn,
                               applied=state.protect(dict(found.properties)), credentials_fingerprint=None,
                               exports=dict(found.exports), depends_on=tuple(sorted(target.depends_on)),
                               retain=target.spec.retain, prevent_destroy=target.prevent_destroy,
                               created_at=now(), updated_at=now())
        StateRecorder(self.backend, state).record(record, f"imported {name}")
        return record

    def push(self, text: str | bytes, source: str, *, force: bool) -> StackState:
        """Replace the stored state with ``text``: refuses an older serial or another lineage unless ``force``."""
        manifest = load_manifest(self.stack_dir)
        pushed = StackState.from_json(text, source)
        if (pushed.stack, pushed.env) != (manifest.name, self.options.inputs.env):
            raise StackError(f"{source} is the state of stack '{pushed.stack}' environment '{pushed.env}', not "
                             f"'{manifest.name}' '{self.options.inputs.env}'")
        current = self.backend.read()
        if current is not None and not force:
            if current.lineage != pushed.lineage:
                raise StackError(f"{source} has lineage {pushed.lineage}, the stored state {current.lineage}: they "
                                 "are different states; pass --force to replace it anyway")
            if pushed.serial <= current.serial:
                raise StackError(f"{source} has serial {pushed.serial}, not newer than the stored {current.serial}; "
                                 "pass --force to replace it anyway")
        return self.backend.write(pushed.with_event("*", f"pushed from {source}"), force=force)

    def migrate(self, to: str, *, force: bool) -> tuple[StackState, str]:
        """Copy the state to another location; the old copy is left where it was."""
        manifest = load_manifest(self.stack_dir)
        assert self.clients is not None
        target = open_backend(to, stack=manifest.name, env=self.options.inputs.env, client_for=self.clients.client,
                              region=self.clients.default_region)
        state = self.backend.read()
        if state is None:
            raise StackError(f"there is no state at {self.backend.location} to migrate")
        lock, _ = self._acquire(target.lock, "state migrate", replace(self.invocation, state=to))
        try:
            if target.read() is not None and not force:
                raise StackError(f"{target.location} already holds a state; pass --force to replace it")
            moved = state.with_event("*", f"migrated from {self.backend.location}")
            return target.write(moved, force=force), target.location
        finally:
            release(target.lock, lock)

    def restore(self, *, force: bool) -> tuple[StackState, str | None]:
        """Put the state's previous version back (a local file's ``.backup``); call it holding the lock."""
        manifest = load_manifest(self.stack_dir)
        return self.backend.restore(stack=manifest.name, env=self.options.inputs.env, force=force)

    def unlock(self, lock_id: str) -> LockInfo:
        return force_unlock(self.backend.lock, lock_id)


def recorded_outputs(context: StackContext, state: StackState, *, destroyed: bool) -> dict[str, dict[str, Any]]:
    """The outputs to record after an apply, from the exports state now holds. A value not known (its resource
    failed) keeps what the last apply recorded; a sensitive value, or one computed from a secret, is kept as a
    fingerprint only."""
    if destroyed:
        return {}
    values = render_outputs(context, state.exports())
    recorded: dict[str, dict[str, Any]] = {}
    for spec in context.manifest.outputs:
        value = values[spec.name]
        if value is None:
            continue  # not set in this environment (CloudFormation: an output whose Condition is false)
        if contains_unknown(value):
            if spec.name in state.outputs:
                recorded[spec.name] = state.outputs[spec.name]
            continue
        entry: dict[str, Any] = {"value": state.protect(value)}
        if spec.sensitive or entry["value"] != value:
            entry = {"value": f"{SENSITIVE} {state.fingerprint(value)}", "sensitive": True}
        if spec.description:
            entry["description"] = spec.description
        if spec.export:
            entry["export"] = spec.export
        recorded[spec.name] = entry
    return recorded


def blocked_message(plan: Plan) -> str:
    """Why nothing can be applied; the how-to of each blocked resource is in the plan shown above it."""
    names = ", ".join(f"'{c.resource}'" for c in plan.blocked)
    verb = "is" if len(plan.blocked) == 1 else "are"
    return f"the plan cannot be applied as it is: {names} {verb} blocked (see ! in the plan)"


def _require_regions(desired: DesiredStack) -> None:
    missing = [d.name for d in desired.resources if not d.region]
    if missing:
        raise StackError(f"no AWS region for {', '.join(missing)}: set the 'region' global in the manifest, "
                         "pass --region, or set AWS_REGION")


def environments_of(stack_dir: Path, options: Options, *, check_env: bool = True
                    ) -> dict[str, dict[str, tuple[Any, str]]]:
    """Every environment of the stack (its environments/*.yaml), and each variable's value and source.
    ``check_env``: the options' environment was asked for, so it must be one the stack knows."""
    manifest = load_stack(stack_dir, options.inputs.env) if check_env else load_manifest(stack_dir)
    folder = manifest.stack_dir / "environments"
    names = sorted(p.stem for p in folder.glob("*.yaml") if p.stem != "default") if folder.is_dir() else []
    found = {}
    for env in names or [options.inputs.env]:
        sources = variable_sources(manifest, replace(options.inputs, env=env))
        sensitive = sensitive_variables(manifest, sources)  # by the same rules as render
        found[env] = {k: ("(sensitive)" if k in sensitive else v, where) for k, (v, where) in sorted(sources.items())}
    return found
