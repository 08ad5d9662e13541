"""How results look: plans, rendered resources and apply summaries as text, JSON or YAML.

Functions here return strings; the CLI prints them. Credentials are redacted
before anything is formatted.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from deployer.apply import ApplyResult, Outcome, Status
from deployer.drift import Drift
from deployer.plan import Action, Change, Plan, PropertyChange
from deployer.redact import redact
from deployer.secrets import SENSITIVE
from deployer.state import StackState
from deployer.validate import DesiredStack

PLAN_FORMAT_VERSION = 1

_SYMBOLS = {
    Action.CREATE: ("+", "32", "will be created"),
    Action.UPDATE: ("~", "33", "will be updated in place"),
    Action.REPLACE: ("-/+", "35", "must be replaced"),
    Action.DELETE: ("-", "31", "will be deleted"),
    Action.FORGET: ("-", "36", "will be forgotten (left in AWS)"),
    Action.BLOCKED: ("!", "31", "cannot be applied as it is"),
    Action.NOOP: (" ", "0", "is up to date"),
}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color and code != "0" else text


def plan_text(plan: Plan, *, color: bool = False, show_unchanged: bool = False) -> str:
    lines = [f"Stack {plan.stack}, environment {plan.env}:", ""]
    for path, env in plan.reads:
        lines.append(f"  < reads the outputs of the stack at {path}, environment {env} (stack_output)")
    if plan.reads:
        lines.append("")
    for change in plan.changes:
        if change.action is Action.NOOP and not change.moved_from and not show_unchanged:
            continue
        symbol, code, verb = _SYMBOLS[change.action]
        if change.action is Action.NOOP and change.moved_from:
            symbol, code, verb = ">", "36", f"has moved from '{change.moved_from}' (state only, nothing in AWS)"
        where = f" [{change.identifier} in {change.region}]" if change.identifier else ""
        lines.append(_paint(f"  {symbol} {change.resource}{where} {verb}", code, color))
        for reason in change.reasons:
            lines.append(f"      # {reason}")
        if change.blocker:
            lines.append(_paint(f"      ! to go ahead: {change.blocker}", "31", color))
        for prop in change.properties:
            lines.append(f"      {_property_line(prop, created=change.action is Action.CREATE)}")
    if not plan.has_changes:
        lines.append("No changes. AWS matches the stack.")
    lines += ["", "Plan: " + plan_summary_text(plan)]
    return "\n".join(lines)


def plan_summary_text(plan: Plan) -> str:
    counts = plan.summary()
    moved = f"{len(plan.moves)} moved, " if plan.moves else ""
    blocked = f", {counts['blocked']} blocked" if counts["blocked"] else ""
    return (f"{counts['create']} to create, {counts['update']} to update, {counts['replace']} to replace, "
            f"{counts['delete']} to delete, {counts['forget']} to forget, {moved}{counts['no-op']} unchanged"
            f"{blocked}.")


def _property_line(prop: PropertyChange, *, created: bool = False) -> str:
    """``path: after`` for a property a create sets, ``path: before -> after`` for a change."""
    if prop.sensitive:
        return f"{prop.path}: {SENSITIVE if created else '(sensitive value changed)'}"
    after = json.dumps(prop.after, default=str)
    text = f"{prop.path}: {after}" if prop.before is None else f"{prop.path}: {json.dumps(prop.before)} -> {after}"
    return text + (" (forces replacement)" if prop.forces_replacement else "")


def plan_json(plan: Plan, *, calls: dict[str, int] | None = None) -> str:
    return json.dumps(plan_document(plan, calls=calls), indent=2, default=str)


def plan_document(plan: Plan, *, calls: dict[str, int] | None = None) -> dict[str, Any]:
    """The plan as ``plan --output json`` shows it (``format_version`` 1)."""
    document: dict[str, Any] = {
        "format_version": PLAN_FORMAT_VERSION,
        "stack": plan.stack,
        "env": plan.env,
        "reads_outputs_of": [{"stack": path, "env": env} for path, env in plan.reads],
        "changes": [
            {
                "resource": c.resource,
                "type": c.type,
                "action": c.action.value,
                "reasons": list(c.reasons),
                "blocker": c.blocker or None,
                "moved_from": c.moved_from or None,
                "identifier": c.identifier,
                "region": c.region,
                "properties": [
                    {"path": p.path, "before": None if p.sensitive else redact(p.before),
                     "after": None if p.sensitive else redact(p.after), "sensitive": p.sensitive,
                     "forces_replacement": p.forces_replacement}
                    for p in c.properties
                ],
            }
            for c in plan.changes
        ],
        "summary": plan.summary(),
    }
    if calls is not None:
        document["aws_calls"] = dict(calls)
    return document


def rendered_yaml(stack: DesiredStack) -> str:
    documents = []
    for desired in stack.resources:
        documents.append({
            "name": desired.name,
            "type": desired.type,
            "region": desired.region,
            "depends_on": sorted(desired.depends_on),
            "props": redact(_without_unset(desired.properties)),
            "api_request": redact(desired.request),
        })
    return yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)


def _without_unset(value: Any) -> Any:
    """The props less what is not set (null, "", and blocks left empty)."""
    if isinstance(value, dict):
        kept = {k: _without_unset(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", {}, [])}
    if isinstance(value, list):
        return [v for v in (_without_unset(i) for i in value) if v not in (None, "", {}, [])]
    return value


def rendered_json(stack: DesiredStack) -> str:
    return json.dumps([yaml.safe_load(doc) for doc in rendered_yaml(stack).split("---\n") if doc.strip()], indent=2)


def outcome_line(outcome: Outcome) -> str:
    mark = {Status.DONE: "ok", Status.FAILED: "FAILED", Status.SKIPPED: "skipped"}[outcome.status]
    return f"{outcome.resource}: {outcome.action.value} {mark}" + (f" - {outcome.message}" if outcome.message else "")


# Events of deploy, destroy, apply and promote with --output json: one JSON object per line (JSON Lines). Each
# has "type", "format_version" and "time"; the README's "Events" table lists the types and their fields. Adding a
# type or a field keeps the version; renaming or removing one, or changing a meaning, raises it.
EVENT_FORMAT_VERSION = 1


def event_line(kind: str, time: str, **fields: Any) -> str:
    """One event as one line of JSON (no newline in it: strings are escaped)."""
    return json.dumps({"type": kind, "format_version": EVENT_FORMAT_VERSION, "time": time, **fields},
                      default=str, separators=(",", ":"))


def change_fields(change: Change) -> dict[str, Any]:
    return {"resource": change.resource, "action": change.action.value, "identifier": change.identifier,
            "region": change.region}


def outcome_fields(outcome: Outcome) -> dict[str, Any]:
    return {"resource": outcome.resource, "action": outcome.action.value, "outcome": outcome.status.value,
            "message": outcome.message}


def summary_fields(result: ApplyResult) -> dict[str, Any]:
    """The counts and failures of an apply, for the ``summary`` event."""
    done = [o for o in result.outcomes if o.status is Status.DONE]
    counts = {"changed": sum(o.action is not Action.NOOP for o in done),
              "unchanged": sum(o.action is Action.NOOP for o in done),
              "failed": sum(o.status is Status.FAILED for o in result.outcomes),
              "skipped": sum(o.status is Status.SKIPPED for o in result.outcomes)}
    return {"counts": counts, "failures": [outcome_fields(o) for o in result.failed]}


def apply_summary(result: ApplyResult) -> str:
    done = [o for o in result.outcomes if o.status is Status.DONE and o.action is not Action.NOOP]
    parts = [f"{len(done)} changed"]
    if result.moved:
        parts.append(f"{len(result.moved)} moved")
    failed = result.count(Status.FAILED)
    skipped = result.count(Status.SKIPPED)
    if failed:
        parts.append(f"{failed} failed")
    if skipped:
        parts.append(f"{skipped} skipped")
    return "Apply finished: " + ", ".join(parts) + "."


def state_text(state: StackState, location: str, *, json_output: bool = False) -> str:
    """What state holds, for people: never the fingerprint key; fingerprints only as present or not."""
    resources = {
        name: {
            "type": r.type, "identifier": r.identifier, "region": r.region, "arn": r.arn, "exports": r.exports,
            "depends_on": list(r.depends_on), "deletion_policy": "Retain" if r.retain else "Delete",
            "prevent_destroy": r.prevent_destroy,
            "credentials": "fingerprint recorded" if r.credentials_fingerprint else "unknown",
            "created_at": r.created_at, "updated_at": r.updated_at,
        }
        for name, r in sorted(state.resources.items())
    }
    document = {
        "stack": state.stack, "env": state.env, "location": location, "serial": state.serial,
        "lineage": state.lineage, "deployment": state.deployment, "resources": resources,
        "pending": {name: {"operation": i.operation, "identifier": i.identifier, "started": i.started}
                    for name, i in sorted(state.pending.items())},
        "history": [{"serial": e.serial, "time": e.time, "resource": e.resource, "event": e.event}
                    for e in state.history],
    }
    if json_output:
        return json.dumps(document, indent=2, default=str)
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False).rstrip()


def plan_markdown(plan: Plan) -> str:
    """For a pull-request comment: a summary table, then a collapsible section per changing resource."""
    counts = plan.summary()
    lines = [f"### Plan for `{plan.stack}` in `{plan.env}`", ""]
    if not plan.has_changes:
        lines += ["No changes. AWS matches the stack.", ""]
    lines += ["| action | count |", "|---|---|"]
    lines += [f"| {action} | {count} |" for action, count in counts.items() if count]
    if plan.moves:
        lines.append(f"| moved (state only) | {len(plan.moves)} |")
    lines += ["", "| resource | action | profile | why |", "|---|---|---|---|"]
    for change in plan.changes:
        if change.action is Action.NOOP and not change.moved_from:
            continue
        symbol = _SYMBOLS[change.action][0]
        action = f"`{symbol}` {change.action.value}"
        if any(p.forces_replacement for p in change.properties):
            action += " (**forces replacement**)"
        lines.append(f"| `{change.resource}` | {action} | `{change.identifier or ''}` | "
                     f"{'; '.join(change.reasons)} |")
    for change in plan.changes:
        if change.action is Action.NOOP:
            continue
        lines += ["", f"<details><summary><code>{change.resource}</code>: {change.action.value}</summary>", ""]
        if change.blocker:
            lines += [f"> **Blocked:** {change.blocker}", ""]
        lines += ["```diff"]
        if change.action in (Action.DELETE, Action.FORGET):
            lines.append(f"- ConnectorProfileName: {json.dumps(change.identifier)}")
        created = change.action is Action.CREATE
        for prop in change.properties:
            mark = "!" if prop.forces_replacement else ("+" if created or (prop.before is None and not prop.sensitive)
                                                        else "~")
            lines.append(f"{mark} {_property_line(prop, created=created)}")
        lines += ["```", "", "</details>"]
    return "\n".join(lines)


def drift_view(state: StackState, drifted: list[Drift], output: str) -> str:
    if output == "json":
        return json.dumps({
            "format_version": 1, "stack": state.stack, "env": state.env, "drifted": bool(drifted),
            "resources": [
                {"resource": d.resource, "identifier": d.identifier, "deleted": d.deleted,
                 "properties": [{"path": p.path, "applied": None if p.sensitive else p.before,
                                 "live": None if p.sensitive else p.after, "sensitive": p.sensitive}
                                for p in d.properties]}
                for d in drifted
            ],
            "credentials_checked": False,
        }, indent=2, default=str)
    if output == "markdown":
        return _drift_markdown(state, drifted)
    lines = [f"Drift of stack {state.stack}, environment {state.env} ({len(state.resources)} resources checked):"]
    for item in drifted:
        if item.deleted:
            lines.append(f"  - {item.resource} [{item.identifier}] no longer exists in AWS")
            continue
        lines.append(f"  ~ {item.resource} [{item.identifier}] changed outside this stack:")
        for prop in item.properties:
            if prop.sensitive:
                lines.append(f"      {prop.path}: (sensitive value changed)")
                continue
            before, after = json.dumps(prop.before, default=str), json.dumps(prop.after, default=str)
            lines.append(f"      {prop.path}: {before} (last applied) -> {after} (AWS)")
    if not drifted:
        lines.append("No drift: AWS matches what was last applied.")
    lines.append("Credentials cannot be checked: AWS never returns them.")
    return "\n".join(lines)


def _drift_markdown(state: StackState, drifted: list[Drift]) -> str:
    """For an issue or a pull-request comment: a table of drifted resources, then each one's properties."""
    lines = [f"### Drift of `{state.stack}` in `{state.env}`", "",
             f"{len(state.resources)} resource{'s' if len(state.resources) != 1 else ''} checked, "
             f"{len(drifted)} drifted.", ""]
    if not drifted:
        lines += ["No drift: AWS matches what was last applied.", ""]
    else:
        lines += ["| resource | profile | drift |", "|---|---|---|"]
        for item in drifted:
            what = ("no longer exists in AWS" if item.deleted else
                    "changed outside this stack: " + ", ".join(f"`{p.path}`" for p in item.properties))
            lines.append(f"| `{item.resource}` | `{item.identifier}` | {what} |")
        for item in drifted:
            if item.deleted:
                continue
            lines += ["", f"<details><summary><code>{item.resource}</code>: changed outside this stack</summary>", "",
                      "```diff"]
            for prop in item.properties:
                if prop.sensitive:
                    lines.append(f"~ {prop.path}: (sensitive value changed)")
                    continue
                before, after = json.dumps(prop.before, default=str), json.dumps(prop.after, default=str)
                lines.append(f"~ {prop.path}: {before} (last applied) -> {after} (AWS)")
            lines += ["```", "", "</details>"]
        lines.append("")
    lines.append("Credentials cannot be checked: AWS never returns them.")
    return "\n".join(lines)


def state_list_view(state: StackState, *, json_output: bool = False) -> str:
    """``stack state list``: each resource with its type, identifier, region and ARN."""
    if json_output:
        return json.dumps({
            "format_version": 1, "stack": state.stack, "env": state.env,
            "resources": [{"resource": name, "type": r.type, "identifier": r.identifier, "region": r.region,
                           "arn": r.arn or None} for name, r in sorted(state.resources.items())],
        }, indent=2)
    return "\n".join(f"{name}\t{r.type}\t{r.identifier}\t{r.region}" for name, r in sorted(state.resources.items()))


def envs_text(environments: dict[str, dict[str, tuple[Any, str]]], *, json_output: bool = False) -> str:
    if json_output:
        return json.dumps({env: {k: {"value": v, "from": where} for k, (v, where) in values.items()}
                           for env, values in environments.items()}, indent=2, default=str)
    lines = []
    for env, values in environments.items():
        lines.append(f"{env}:")
        for name, (value, where) in values.items():
            lines.append(f"  {name} = {json.dumps(value, default=str)}  ({where})")
        if not values:
            lines.append("  (no variables)")
    return "\n".join(lines)


def outputs_view(outputs: dict[str, dict[str, Any]], *, json_output: bool) -> str:
    """``stack output``: ``NAME = value`` lines (strings as they are, other values as JSON), or a JSON object;
    a sensitive output shows no value."""
    if json_output:
        return json.dumps({name: {"value": None if entry.get("sensitive") else entry.get("value"),
                                  "sensitive": bool(entry.get("sensitive")),
                                  "description": entry.get("description"), "export": entry.get("export")}
                           for name, entry in sorted(outputs.items())}, indent=2)
    lines = []
    for name, entry in sorted(outputs.items()):
        value = entry.get("value")
        shown = SENSITIVE if entry.get("sensitive") else (value if isinstance(value, str) else json.dumps(value))
        lines.append(f"{name} = {shown}")
    return "\n".join(lines)
