"""Cloud Control benchmarks, against the local emulator on loopback: `python benchmarks/cloudcontrol.py`.

Prints a table and writes benchmarks/CLOUDCONTROL_RESULTS.md with the machine's details. Not part of
the test run. Needs the project installed (`pip install -e .`). In the emulator every call takes the
latency knob, and a Cloud Control request stays IN_PROGRESS for HANDLER_ROUND_TRIPS latencies.

1. Deploy of a copy of manifests/redshift-pipeline at 50 ms per call: the apply phase (first
   change_started to last change_finished) against the critical path of the stack's dependency
   graph, each resource weighted by its own create time in the same run. Then a no-op plan of it.
2. No-op plan of 100 Cloud Control resources at 20 ms per call: AWS calls, and time against
   100/8 reads in flight × latency on top of the fixed startup (a plan of 1 resource). Then the
   same 100 split over three types, and the parts of the time measured in-process.
"""

from __future__ import annotations

import json
import math
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from run import calls_of, environment, machine, stack  # benchmarks/run.py, beside this file

from deployer.aws import AwsSettings, Clients
from deployer.emulator import Emulator, Knobs
from deployer.emulator.cloudcontrol import HANDLER_ROUND_TRIPS
from deployer.engine import Options, validate_offline
from deployer.providers.cloudcontrol.provider import READ_WORKERS, CloudControlProvider

HERE = Path(__file__).resolve().parent
PIPELINE = HERE.parent / "manifests" / "redshift-pipeline"
REPEATS = 3  # plans are timed this many times; the median is reported
BUCKET = """\
  - name: b{i:03d}
    type: AWS::S3::Bucket
    props:
      - name: BucketName
        value: ccbench-{tag}-b{i:03d}
"""
ROLE = """\
  - name: r{i:03d}
    type: AWS::IAM::Role
    props:
      - name: RoleName
        value: ccbench-{tag}-r{i:03d}
      - name: AssumeRolePolicyDocument
        value:
          Version: '2012-10-17'
          Statement:
            - {{Effect: Allow, Principal: {{Service: [redshift.amazonaws.com]}}, Action: 'sts:AssumeRole'}}
"""
KEY = """\
  - name: k{i:03d}
    type: AWS::KMS::Key
    props:
      - name: Description
        value: ccbench {tag} key {i:03d}
"""


def cc_environment(endpoint: str) -> dict[str, str]:
    return environment(endpoint, AWS_ENDPOINT_URL_CLOUDCONTROL=endpoint)


def write_resources(directory: Path, templates: list[str], count: int, tag: str) -> Path:
    """``count`` resources, the templates taken in turn."""
    directory.mkdir(parents=True, exist_ok=True)
    head = f"version: 1\nname: ccbench-{tag}\nglobals:\n  - name: region\n    value: us-east-1\nresources:\n"
    body = "".join(templates[i % len(templates)].format(i=i, tag=tag) for i in range(count))
    (directory / "stack.yaml").write_text(head + body)
    return directory


def events_of(output: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def critical_path(depends_on: dict[str, frozenset[str]], seconds: dict[str, float]) -> tuple[float, list[str]]:
    """The longest chain of the dependency graph, each resource weighing its own seconds; root first."""
    best: dict[str, tuple[float, list[str]]] = {}

    def longest(name: str) -> tuple[float, list[str]]:
        if name not in best:
            before = max((longest(d) for d in depends_on.get(name, ())), default=(0.0, []))
            best[name] = (before[0] + seconds[name], [*before[1], name])
        return best[name]

    return max(longest(name) for name in depends_on)


def profiled(directory: Path, env: dict[str, str], work: Path) -> dict[str, float]:
    """A no-op plan under cProfile: wall seconds, and the cumulative seconds of its parts. Only the main thread
    is profiled; it waits in the read pool, so the read's cumulative time is its wall time."""
    out = work / f"{directory.name}.prof"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "deployer", "plan",
                           str(directory), "--detailed-exitcode"], env=env, capture_output=True, text=True,
                          timeout=600)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"profiled plan of {directory} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]

    def cumulative(file_suffix: str, function: str) -> float:
        return sum(row[3] for (file, _, name), row in stats.items() if file.endswith(file_suffix) and name == function)

    return {"wall_s": wall, "read_s": cumulative("deployer/engine.py", "_read_live"),
            "engine_plan_s": cumulative("deployer/engine.py", "plan"),
            "load_stack_s": cumulative("deployer/engine.py", "load_stack"),
            "cfnlint_import_s": cumulative("cfnlint/__init__.py", "<module>"),
            "main_s": cumulative("deployer/cli.py", "main")}


def bench_pipeline(work: Path, latency_ms: float = 50) -> dict[str, object]:
    directory = work / "redshift-pipeline"
    shutil.copytree(PIPELINE, directory, ignore=shutil.ignore_patterns(".stack"))
    depends_on = validate_offline(directory, Options()).depends_on
    with Emulator(Knobs(latency_ms=latency_ms)) as emulator:
        env = cc_environment(emulator.endpoint)
        launched = time.time()
        command_s, done, _ = stack("deploy", str(directory), "--auto-approve", "--output", "json", "--debug", env=env)
        events = events_of(done.stdout)
        started = {e["resource"]: datetime.fromisoformat(e["time"]) for e in events if e["type"] == "change_started"}
        finished = {e["resource"]: datetime.fromisoformat(e["time"]) for e in events if e["type"] == "change_finished"}
        outcomes = {e["resource"]: e["outcome"] for e in events if e["type"] == "change_finished"}
        if set(outcomes.values()) != {"done"} or set(outcomes) != set(depends_on):
            raise RuntimeError(f"the pipeline did not deploy cleanly: {outcomes}")
        seconds = {name: (finished[name] - started[name]).total_seconds() for name in started}
        apply_s = (max(finished.values()) - min(started.values())).total_seconds()
        before_apply_s = min(started.values()).timestamp() - launched
        path_s, chain = critical_path(depends_on, seconds)
        deploy_calls = dict(emulator.stats.calls)
        emulator.stats.reset()
        noop = profiled(directory, env, work)
        noop_calls = dict(emulator.stats.calls)
    types = len(set(_types_of(done.stdout)))
    return {"latency_ms": latency_ms, "command_s": command_s, "apply_s": apply_s, "before_apply_s": before_apply_s,
            "path_s": path_s, "chain": chain, "seconds": seconds, "calls": calls_of(done.stderr),
            "deploy_calls": deploy_calls, "noop": noop, "noop_calls": noop_calls, "types": types}


def _types_of(output: str) -> list[str]:
    plan = next((e for e in events_of(output) if e["type"] == "plan"), {"plan": {"changes": []}})
    return [change["type"] for change in plan["plan"]["changes"]]


def timed_plans(directory: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """The median wall and CPU seconds of REPEATS no-op plans, and the AWS calls the last one counted."""
    times, cpus, calls = [], [], -1
    for _ in range(REPEATS):
        before = _children_cpu()
        seconds, done, _ = stack("plan", str(directory), "--detailed-exitcode", "--debug", env=env)
        cpus.append(_children_cpu() - before)
        if done.returncode != 0:
            raise RuntimeError(f"plan of {directory} is not a no-op:\n{done.stdout[-2000:]}")
        times.append(seconds)
        calls = calls_of(done.stderr)
    return statistics.median(times), statistics.median(cpus), calls


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_noop(work: Path, count: int = 100, latency_ms: float = 20) -> dict[str, object]:
    one = write_resources(work / "one", [BUCKET], 1, "one")
    many = write_resources(work / "many", [BUCKET], count, "many")
    mixed = write_resources(work / "mixed", [BUCKET, ROLE, KEY], count, "mixed")
    with Emulator(Knobs(latency_ms=latency_ms)) as emulator:
        env = cc_environment(emulator.endpoint)
        for directory in (one, many, mixed):
            stack("deploy", str(directory), "--auto-approve", env=env)
        result: dict[str, object] = {"count": count, "latency_ms": latency_ms, "workers": READ_WORKERS}
        for name, directory in (("one", one), ("many", many), ("mixed", mixed)):
            emulator.stats.reset()
            median_s, cpu_s, calls = timed_plans(directory, env)
            result[name] = {"median_s": median_s, "cpu_s": cpu_s, "calls": calls,
                            "emulator_calls": dict(emulator.stats.calls)}
            result[f"{name}_profiled"] = profiled(directory, env, work)
        result["in_process"] = read_in_process(env, count)
    with Emulator(Knobs(latency_ms=0)) as emulator:
        stack("deploy", str(many), "--auto-approve", "--state", str(work / "zero.json"),
              env=cc_environment(emulator.endpoint))
        result["in_process_zero"] = read_in_process(cc_environment(emulator.endpoint), count)
    return result


def read_in_process(env: dict[str, str], count: int) -> dict[str, float]:
    """The provider's read of the 100 buckets in this process, client made beforehand: the read alone."""
    previous = dict(os.environ)
    os.environ.update(env)  # boto3 reads the endpoint and credentials from the environment
    try:
        identifiers = [f"ccbench-many-b{i:03d}" for i in range(count)]
        result: dict[str, float] = {}
        for workers in (1, READ_WORKERS):
            provider = CloudControlProvider(Clients(AwsSettings()), read_workers=workers)
            provider.read("AWS::S3::Bucket", "us-east-1", identifiers[:1])  # makes the client and a connection
            start = time.perf_counter()
            found = provider.read("AWS::S3::Bucket", "us-east-1", identifiers)
            result[f"workers_{workers}_s"] = time.perf_counter() - start
            assert len(found) == count, f"read {len(found)} of {count}"
        start = time.perf_counter()
        Clients(AwsSettings()).client("cloudcontrol", "us-east-1")
        result["client_s"] = time.perf_counter() - start
        return result
    finally:
        os.environ.clear()
        os.environ.update(previous)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="stack-ccbench-"))
    try:
        pipeline = bench_pipeline(work)
        noop = bench_noop(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = render(pipeline, noop)
    print(report)
    (HERE / "CLOUDCONTROL_RESULTS.md").write_text(report + "\n")


def yes(condition: bool) -> str:
    return "yes" if condition else "no"


def render(pipeline: dict, noop: dict) -> str:  # type: ignore[type-arg]
    p, L1 = pipeline, pipeline["latency_ms"] / 1000
    per = ", ".join(f"{name} {s:.2f}" for name, s in p["seconds"].items())
    ratio = p["apply_s"] / p["path_s"]
    L2, n, w = noop["latency_ms"] / 1000, noop["count"], noop["workers"]
    ideal = math.ceil(n / w) * L2  # rounds of reads × latency
    budget = 1.5 * n / w * L2
    startup = noop["one"]["median_s"] - L2  # a plan of 1 makes one read
    read_wall = noop["many"]["median_s"] - startup
    read_measured = noop["many_profiled"]["read_s"]
    mixed_read = noop["mixed_profiled"]["read_s"]
    calls_met = noop["many"]["calls"] == n and noop["many"]["emulator_calls"] == {"GetResource": n * REPEATS}
    lines = [
        "# Cloud Control benchmark results", "", f"Machine: {machine()}.", "",
        "Produced by `python benchmarks/cloudcontrol.py` against the local emulator; every number below is from "
        f"that run. A Cloud Control request stays IN_PROGRESS for {HANDLER_ROUND_TRIPS} latencies; plans are the "
        f"median of {REPEATS} runs.", "",
        "| # | benchmark | result | target | met |", "|---|---|---|---|---|",
        f"| 1 | deploy of redshift-pipeline at {p['latency_ms']:.0f} ms/call: apply phase vs critical path "
        f"({' → '.join(p['chain'])}) | apply {p['apply_s']:.2f} s, critical path {p['path_s']:.2f} s = "
        f"{ratio:.2f}×; whole command {p['command_s']:.2f} s | apply ≤ 1.2 × critical path | {yes(ratio <= 1.2)} |",
        f"| 1 | (same run) create time per resource, s | {per}; AWS calls {p['calls']} | — | — |",
        f"| 1 | (info) no-op plan of the pipeline, {p['types']} types, 6 resources | "
        f"{p['noop']['wall_s']:.2f} s (under cProfile), read phase {p['noop']['read_s']:.2f} s = "
        f"{p['noop']['read_s'] / L1:.1f} latencies; calls {p['noop_calls']} | — | — |",
        f"| 2 | AWS calls of a no-op plan of {n} `AWS::S3::Bucket` at {noop['latency_ms']:.0f} ms | "
        f"{noop['many']['calls']} ({noop['many']['emulator_calls']} for {REPEATS} plans) | "
        f"{n} GetResource | {yes(calls_met)} |",
        f"| 2 | fixed startup: plan of 1 bucket, less its one read | {startup:.2f} s "
        f"(plan {noop['one']['median_s']:.2f} s) | — | — |",
        f"| 2 | read phase of the plan of {n}: plan − startup | {noop['many']['median_s']:.2f} − {startup:.2f} = "
        f"{read_wall:.2f} s = {read_wall / (n / w * L2):.2f}× {n}/{w}×L ({n / w * L2:.3f} s) | ≤ 1.5× = {budget:.3f} s "
        f"| {yes(read_wall <= budget)} |",
        f"| 2 | read phase of the plan of {n}, measured (engine `_read_live`) | {read_measured:.2f} s = "
        f"{read_measured / (n / w * L2):.2f}× | ≤ 1.5× = {budget:.3f} s | {yes(read_measured <= budget)} |",
        f"| 2 | (info) same {n} split over S3 bucket / IAM role / KMS key: calls, read phase | "
        f"{noop['mixed']['calls']}, {mixed_read:.2f} s = {mixed_read / (n / w * L2):.2f}× (plan "
        f"{noop['mixed']['median_s']:.2f} s) | ≤ 1.5× = {budget:.3f} s | {yes(mixed_read <= budget)} |",
        "", "## Where a target is missed, and why", "",
    ]
    findings = ["", "## Other findings", ""]
    ip, zero = noop["in_process"], noop["in_process_zero"]
    many = noop["many_profiled"]
    one_read = noop["one_profiled"]["read_s"]
    cpu_per_resource = (noop["many"]["cpu_s"] - noop["one"]["cpu_s"]) / (n - 1)
    reads_only = many["read_s"] - one_read + L2  # the 100 reads, less the client and connection
    findings += [
        f"- **Critical path (1), met.** Each Cloud Control create costs CreateResource + {HANDLER_ROUND_TRIPS} "
        "latencies IN_PROGRESS (the poller sleeps to RetryAfter, then one GetResourceRequestStatus) + GetResource "
        "to read it back = "
        f"{HANDLER_ROUND_TRIPS + 3} × {p['latency_ms']:.0f} ms = {(HANDLER_ROUND_TRIPS + 3) * L1:.2f} s at best; the "
        f"measured creates ({per}) are within a few tens of ms of that, and the scheduler starts a dependant "
        f"within {max(0.0, p['apply_s'] - p['path_s']) * 1000:.0f} ms in total along the chain (apply − critical "
        f"path). The whole command ({p['command_s']:.2f} s) adds {p['command_s'] - p['apply_s']:.2f} s of "
        f"Python start, imports, validation and the plan's reads ({p['before_apply_s']:.2f} s before the first "
        "change starts), outside the target.",
    ]
    notes = [
        f"- **Read phase (2), {'met' if read_wall <= budget else 'missed'} by the plan − startup measure, "
        f"{'met' if read_measured <= budget else 'missed'} by the measured read.** "
        f"The ideal {n}/{w} × {noop['latency_ms']:.0f} ms = {n / w * L2:.3f} s (really "
        f"⌈{n}/{w}⌉ = {math.ceil(n / w)} rounds = {ideal:.2f} s). In this process, with the client made beforehand, "
        f"the provider reads the {n} in {ip[f'workers_{w}_s']:.2f} s with {w} workers and "
        f"{ip['workers_1_s']:.2f} s with 1 ({ip['workers_1_s'] / n * 1000:.1f} ms per call, so "
        f"{ip['workers_1_s'] / n * 1000 - noop['latency_ms']:.1f} ms on top of the latency); at 0 ms latency the {n} "
        f"reads take {zero[f'workers_{w}_s']:.2f} s: boto3 serialising, signing and parsing plus the emulator's "
        f"work, both here in one process on {os.cpu_count()} cores, under one GIL. "
        f"Making the cloudcontrol client costs {ip['client_s']:.2f} s, and in the CLI that happens inside the "
        f"first read (the read pool's first calls wait on it): measured `_read_live` {many['read_s']:.2f} s for {n}, "
        f"{one_read:.2f} s for the 1-bucket plan (client, connection, one call), so {reads_only:.2f} s "
        f"= {reads_only / (n / w * L2):.2f}× for the {n} reads themselves. "
        f"The plan process's CPU time is {noop['many']['cpu_s']:.2f} s for {n} against {noop['one']['cpu_s']:.2f} s "
        f"for 1, {cpu_per_resource * 1000:.1f} ms per resource (a GetResource built, signed, sent and parsed, then "
        f"the resource validated and diffed); the call's part of it runs in the read pool, where the GIL "
        f"serialises it across the {w} workers, so a round of {w} reads takes L plus up to {w} calls' CPU, not L. "
        f"The wall difference plan({n}) − plan(1) ({read_wall:.2f} s) also holds the per-resource work outside the "
        f"read (rendering, validating and diffing {n} resources: `engine.plan` {many['engine_plan_s']:.2f} s "
        f"in all, of which the read {many['read_s']:.2f} s).",
    ]
    findings += [
        f"- **Fixed startup.** {startup:.2f} s for a plan of 1: under cProfile, `load_stack` "
        f"{noop['one_profiled']['load_stack_s']:.2f} s, of which importing cfn-lint, the source of the type "
        f"schemas and regions (its package `__init__` pulls in its rules and sympy), "
        f"{noop['one_profiled']['cfnlint_import_s']:.2f} s.",
        f"- **Reads of many types share one pool.** Every Cloud Control read of a plan, whatever its type, goes "
        f"to one pool of {w} (`CloudControlProvider.read_many`; the first version of this benchmark found reads "
        f"serial across types, one pool per type). {n} buckets: "
        f"{many['read_s']:.2f} s; the same {n} as 34 buckets, 33 roles and 33 keys: {mixed_read:.2f} s. The "
        f"pipeline's no-op plan ({p['types']} types, 1 resource each) reads in {p['noop']['read_s']:.2f} s = "
        f"{p['noop']['read_s'] / L1:.1f} latencies of {p['latency_ms']:.0f} ms: the connector profile's batched "
        "read, then one round of Cloud Control reads, plus making the two clients.",
    ]
    return "\n".join(lines + notes + findings)


if __name__ == "__main__":
    main()
