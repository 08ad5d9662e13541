"""The engine: runs the pipeline for one stack and environment, from files to applied state.

    load_manifest -> build_context -> validate_stack -> (state, live read) -> build_plan -> apply_plan

It owns the edges the core modules do not touch: the state backend, the AWS
clients (or the embedded local cloud) and the provider. It returns values; the CLI
decides how they look.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deployer.apply import ApplyHooks, ApplyResult, apply_plan
from deployer.aws import LOCAL_REGION, AwsSettings, Clients
from deployer.errors import StackError
from deployer.local import local_cloud, local_data_dir
from deployer.manifest import Manifest, find_stack_file, load_manifest
from deployer.plan import LiveIndex, Plan, build_plan
from deployer.providers import Live
from deployer.providers.appflow import AppFlowProvider
from deployer.render import Inputs, StackContext, build_context
from deployer.state import LocalBackend, StackState, StateBackend, StateRecorder
from deployer.validate import Desired, DesiredStack, desire, validate_stack


@dataclass(frozen=True)
class Options:
    inputs: Inputs = field(default_factory=Inputs)
    state_path: Path | None = None
    aws: AwsSettings = field(default_factory=AwsSettings)
    local: bool = False
    parallelism: int = 10


@dataclass(frozen=True)
class Planned:
    plan: Plan
    desired: DesiredStack
    state: StackState


def stack_root(stack_dir: Path) -> Path:
    return find_stack_file(stack_dir).parent


def state_backend(stack_dir: Path, options: Options) -> StateBackend:
    """``.stack/state/ENV.json``; with ``--local``, the local cloud's own, so the two never mix."""
    base = local_data_dir(stack_root(stack_dir)) if options.local else stack_root(stack_dir) / ".stack"
    return LocalBackend(options.state_path or base / "state" / f"{options.inputs.env}.json")


def validate_offline(stack_dir: Path, options: Options) -> DesiredStack:
    """Everything that can be checked without a network call."""
    manifest = load_manifest(stack_dir)
    return validate_stack(build_context(manifest, options.inputs))


class Engine:
    """One stack and environment, with its clients and state; use it as a context manager."""

    def __init__(self, stack_dir: Path, options: Options) -> None:
        self.stack_dir = stack_dir
        self.options = options
        self._exit = ExitStack()
        self.clients: Clients | None = None

    def __enter__(self) -> Engine:
        settings = self.options.aws
        if self.options.local:
            endpoint = self._exit.enter_context(local_cloud(stack_root(self.stack_dir)))
            settings = replace(settings, endpoint_url=endpoint, profile=None,
                               region=settings.region or LOCAL_REGION)
        self.clients = Clients(settings)
        self.provider = AppFlowProvider(self.clients)
        self.backend = state_backend(self.stack_dir, self.options)
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    @property
    def calls(self) -> Mapping[str, int]:
        return dict(self.clients.calls) if self.clients else {}

    def _context(self) -> tuple[Manifest, StackContext]:
        manifest = load_manifest(self.stack_dir)
        assert self.clients is not None
        inputs = replace(self.options.inputs, default_region=self.clients.default_region)
        return manifest, build_context(manifest, inputs)

    def _state(self, manifest: Manifest) -> StackState:
        state = self.backend.read()
        if state is None:
            return StackState.new(manifest.name, self.options.inputs.env)
        if state.stack != manifest.name or state.env != self.options.inputs.env:
            raise StackError(f"{self.backend.location} holds the state of stack '{state.stack}' environment "
                             f"'{state.env}', not '{manifest.name}' '{self.options.inputs.env}'; pass the right "
                             "--state or --env")
        return state

    def plan(self) -> Planned:
        """Validate (before any AWS call), read live state in batches, and plan."""
        manifest, context = self._context()
        desired = validate_stack(context)  # before state or AWS: a broken manifest touches nothing
        state = self._state(manifest)
        if any(d.has_unknowns for d in desired.resources):
            desired = validate_stack(context, state.exports())  # exports of resources that already exist
        _require_regions(desired)
        live = self._read_live(desired.resources, state)
        return Planned(build_plan(desired, state, live), desired, state)

    def destroy_plan(self) -> Planned:
        manifest, context = self._context()
        validate_stack(context)  # a broken manifest destroys nothing either
        state = self._state(manifest)
        nothing = DesiredStack(replace(context, active=()), (), {})
        live = self._read_live((), state)
        plan = build_plan(nothing, state, live, destroying=True)
        return Planned(plan, nothing, state)

    def _read_live(self, desired: tuple[Desired, ...] | list[Desired], state: StackState) -> LiveIndex:
        wanted: dict[str, set[str]] = defaultdict(set)
        for item in desired:
            if isinstance(item.identifier, str):
                wanted[item.region or ""].add(item.identifier)
        for resource in state.resources.values():
            wanted[resource.region].add(resource.identifier)
        live: dict[tuple[str, str], Live] = {}
        for region, names in sorted(wanted.items()):
            for name, found in self.provider.read(region, sorted(names)).items():
                live[(region, name)] = found
        return live

    def apply(self, planned: Planned, hooks: ApplyHooks | None = None) -> ApplyResult:
        recorder = StateRecorder(self.backend, planned.state)
        context = planned.desired.context

        def resolve(desired: Desired, exports: Mapping[str, Mapping[str, Any]]) -> Desired:
            return desire(desired.spec, context, exports, desired.depends_on)

        return apply_plan(planned.plan, provider=self.provider, recorder=recorder, resolve=resolve,
                          parallelism=self.options.parallelism, hooks=hooks)


def _require_regions(desired: DesiredStack) -> None:
    missing = [d.name for d in desired.resources if not d.region]
    if missing:
        raise StackError(f"no AWS region for {', '.join(missing)}: set the 'region' global in the manifest, "
                         "pass --region, or set AWS_REGION")
