"""The outputs of `harborgen diff`: text for a terminal, Markdown for a PR comment, JSON for tools."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from ..untrusted import markdown_text, shown
from .diff import CLUSTER, Change, Report, Step
from .impacts import Action
from .semantic import Delta

# What each action of the plan tells the operator to run.
ACTION_TEXT = {
    Action.APPLY: "apply.sh",
    Action.RELOAD_SYSTEMD: "apply.sh (reloads systemd)",
    Action.RUN_DATABASE_SQL: "apply.sh (runs create-database.sql)",
    Action.REWRITE_HBA: "apply.sh (rewrites the Harbor lines of pg_hba.conf and reloads PostgreSQL)",
    Action.RESTART_REDIS: "apply.sh, then restart Redis (every node's sessions and queued jobs wait)",
    Action.SET_SENTINEL: "apply.sh (gives the settings to the running sentinel with SENTINEL SET: nothing restarts, "
                         "and a seeded sentinel's file stays its own)",
    Action.RESTART_DATABASE: "apply.sh, then systemctl restart mariadb (this Galera member leaves and rejoins by IST; "
                             "one member at a time, each once the last is Synced again)",
    Action.RELOAD_PATRONI: "apply.sh (reloads Patroni: PostgreSQL keeps running; a setting that needs a restart shows "
                           "as pending in patronictl list, for a patronictl restart one member at a time)",
    Action.EDIT_PATRONI_CONFIG: "apply.sh (on the leader, patronictl edit-config writes the cluster's settings to etcd; "
                                "every member takes them within loop_wait, nothing restarts)",
    Action.RESTART_ETCD: "apply.sh (restarts this etcd member: the others keep the majority; one member at a time)",
    Action.RELOAD_BALANCER: "apply.sh (nginx -t on the new site, then a graceful reload: transfers in flight finish)",
    Action.REPLACE_BALANCER: "apply.sh (run-nginx.sh replaces the nginx container: transfers in flight are cut)",
    Action.RELOAD_KEEPALIVED: "apply.sh (reloads keepalived: the floating address stays where it is)",
    Action.REINSTALL: "apply.sh, then install-harbor.sh",
    Action.REMOUNT: "stop Harbor, unmount CephFS, apply.sh, then install-harbor.sh",
    Action.BOOTSTRAP_CEPH: "ceph/bootstrap-cephfs.sh",
    Action.CREATE_CEPH_CLIENT: "ceph/bootstrap-cephfs.sh (creates the client; add its key to the secrets)",
    Action.CREATE_CEPH_DIRECTORIES: "ceph/bootstrap-cephfs.sh (creates the directories the nodes mount)",
    Action.RETIRE: "stop Harbor there (docker-compose down) and retire the machine",
}


def code(text: str) -> str:
    """Text as a Markdown code span, whatever backticks it holds (it reads well in a terminal too)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _value(value: str) -> str:
    return "(empty)" if value == "" else code(value)


def _keyed(delta: Delta) -> str:
    key = code(delta.key)
    if delta.new is None:
        return f"{key} removed (was {_value(delta.old or '')})"
    if delta.old is None:
        return f"{key} added: {_value(delta.new)}"
    return f"{key} {_value(delta.old)} → {_value(delta.new)}"


def _nginx(delta: Delta) -> str:
    if delta.old is not None and delta.new is not None:
        return f"{delta.key}: {code(delta.old)} → {code(delta.new)}"
    return f"{delta.key}: - {code(delta.old)}" if delta.new is None else f"{delta.key}: + {code(delta.new)}"


def _sql(delta: Delta) -> str:
    return f"- {code(delta.old)}" if delta.new is None else f"+ {code(delta.new)}"


# How the changes of each kind of file read (the kinds of generator/review/semantic.py's DIFFERS).
PHRASES: dict[str, Callable[[Delta], str]] = {
    "yaml": _keyed,
    "env": _keyed,
    "ini": _keyed,
    "values": _keyed,
    "install": _keyed,
    "nginx": _nginx,
    "sql": _sql,
    "secret": lambda delta: f"holds secret {code(delta.new or '')} (was {code(delta.old or '')})",
    "text": lambda delta: f"{delta.new} line(s) added, {delta.old} removed",
    "file": lambda delta: "added" if delta.old is None else "removed",
}


def detail(change: Change) -> str:
    return PHRASES[change.kind](change.delta)


def _nodes(nodes: tuple[str, ...]) -> str:
    return ", ".join(nodes)


def _step_text(step: Step) -> str:
    status = " (new)" if step.new else " (removed)" if step.removed else ""
    effect = "Harbor restarts there" if step.restarts_harbor else "no Harbor restart"
    if step.new:
        effect = "Harbor starts there for the first time" if step.restarts_harbor else "first install"
    if step.removed:
        effect = "after the load balancer no longer sends it traffic"
    return f"{step.node}{status} [{', '.join(step.roles)}]: {'; '.join(ACTION_TEXT[action] for action in step.actions)} — {effect}"


def as_text(report: Report, *, unfold: bool = False, color: bool = False) -> str:
    def head(text: str) -> str:
        return f"\033[1m{text}\033[0m" if color else text

    if report.empty:
        return f"{report.base} → {report.new}: no change in any bundle\n"
    out = [head(f"{report.base} → {report.new}")]
    if report.topology:
        out += ["", head("Topology")] + [f"  {line}" for line in report.topology]
    if report.review:
        out += ["", head("Review")] + [f"  ! {shown(line)}" for line in report.review]
    for node, files in report.added.items():
        out.append(f"  + bundle {node}/: {len(files)} files: {', '.join(files)}")
    for node, files in report.removed.items():
        out.append(f"  - bundle {node}/: {len(files)} files go")
    if report.changes:
        out += ["", head("Changes")]
        out += [f"  {_nodes(change.nodes)}: {change.artifact}: {detail(change)}" for change in report.changes]
    if unfold and report.files:
        for file in report.files:
            out += ["", f"  {_nodes(file.nodes)}: {file.artifact}"] + [f"    {line}" for line in file.lines]
    elif report.files:
        out.append("  (scripts and RUNBOOK changes folded: --unfold shows the unified diffs)")
    if report.plan:
        out += ["", head("Plan")] + [f"  {number}. {_step_text(step)}" for number, step in enumerate(report.plan, 1)]
    if report.warnings:
        out += ["", head("Warnings")] + [f"  ! {warning}" for warning in report.warnings]
    return "\n".join(out) + "\n"


def as_markdown(report: Report) -> str:
    if report.empty:
        return f"**harborgen diff** `{report.base}` → `{report.new}`: no change in any bundle.\n"
    out = [f"### harborgen diff: `{report.base}` → `{report.new}`", ""]
    if report.topology:
        out += [f"- {line}" for line in report.topology] + [""]
    if report.review:
        out += [f"- ⚠️ {markdown_text(line)}" for line in report.review] + [""]
    out += ["| node | artifact | change |", "| --- | --- | --- |"]
    out += [f"| {node} | *(new bundle, {len(files)} files)* | added |" for node, files in report.added.items()]
    out += [f"| {node} | *(bundle)* | removed |" for node in report.removed]
    seen = []
    for change in report.changes:
        row = (_nodes(change.nodes), change.artifact, change.kind)
        if row not in seen:
            seen.append(row)
    out += [f"| {nodes} | `{artifact}` | {kind} |" for nodes, artifact, kind in seen]
    if report.plan:
        out += ["", "**Plan**", ""] + [f"{number}. {_step_text(step)}" for number, step in enumerate(report.plan, 1)]
    if report.warnings:
        out += ["", "**Warnings**", ""] + [f"- ⚠️ {warning}" for warning in report.warnings]
    out += ["", "<details><summary>Details</summary>", ""]
    out += [f"- **{_nodes(change.nodes)}** `{change.artifact}`: {detail(change)}" for change in report.changes]
    for node, files in report.added.items():
        out.append(f"- **{node}** new bundle: {', '.join(f'`{file}`' for file in files)}")
    out += ["", "</details>"]
    for file in report.files:
        fence = _fence(file.lines)
        out += ["", f"<details><summary>{_nodes(file.nodes)}: <code>{file.artifact}</code></summary>", "", f"{fence}diff",
                *file.lines, fence, "", "</details>"]
    return "\n".join(out) + "\n"


def _fence(lines: tuple[str, ...]) -> str:
    """A code fence longer than any run of backticks in the lines (a RUNBOOK holds fences of its own)."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def as_json(report: Report) -> str:
    """The structure schema/diff-report.schema.json describes."""
    document = {
        "base": report.base,
        "new": report.new,
        "empty": report.empty,
        "topology": report.topology,
        "added_nodes": report.added,
        "removed_nodes": report.removed,
        "changes": [{"nodes": list(c.nodes), "artifact": c.artifact, "kind": c.kind, "detail": detail(c)} for c in report.changes],
        "text_diffs": [{"nodes": list(f.nodes), "artifact": f.artifact, "unified": list(f.lines)} for f in report.files],
        "plan": [
            {"node": s.node, "roles": list(s.roles), "actions": [ACTION_TEXT[action] for action in s.actions], "restarts_harbor": s.restarts_harbor,
             "remount": s.remount, "new": s.new, "removed": s.removed}
            for s in report.plan
        ],
        "warnings": report.warnings,
        "review": report.review,
        "cluster_files": CLUSTER,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


FORMATTERS: dict[str, Callable[..., str]] = {"text": as_text, "markdown": as_markdown, "json": as_json}
