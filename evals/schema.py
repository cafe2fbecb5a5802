"""The results schema: what a `jeval run` results.json holds, and the one reader of it.

Version 2 (`"schema": "jeval-results/2"`), written by this jeval:

- `model`: `name` (for people), `fingerprint` (what tells models apart), `identity_basis`
  ("weights", "served metadata" or "model id"), `served_id`, `revision`, `path`, `engine`.
- `backend`: the engine as it ran (kind, engine, command, whether a server was started).
- `tasks.<name>`: `protocol` (with a prompt-source suffix where the prompt text was not
  upstream's, see jeval.provenance), `prompt_source`, `category`, `shots`, `n_samples`, `limit`,
  `metrics`, `primary_metric`, data and prompt fingerprints, data sources, decoding, tokens, and
  the request counts of the task; family-specific fields beside them. Every score in `metrics` has
  its standard error beside it as `<metric>_stderr` (lm-eval's `acc_stderr,none` for `acc,none`;
  null where it cannot be had), and `stderr` says how each was estimated (jeval.stderr).
- `summaries.<suite>`: each suite's score (Jaster AVG and categories, the JGLUE mean), computed
  once by the plugin that declares the suite, with `AVG_stderr` (and `categories_stderr`).
- `command_line`, `versions` (jeval's with its git commit, Python's, the libraries'), `hardware`,
  `seed`: how the run was made (jeval.run_metadata).
- `columns`: the leaderboard cells the plugins declare for this run (label, group, value on the
  column's scale, protocol, shots, the tasks behind it). The leaderboard reads these and nothing
  else, so a new task appears there without any edit to the leaderboard.

Version 1 files (written before the schema was versioned) are read by upgrading them: their
columns are derived by the same plugin declarations, their display name is kept, and their
fingerprint becomes part of their identity as it was recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jeval.task import ColumnValue, finite

SCHEMA = "jeval-results/2"


@dataclass(frozen=True)
class RunResults:
    """A run's results.json as downstream code reads it, whatever version wrote it."""

    path: Path
    schema: str
    run_id: str
    created: str
    model: str
    fingerprint: str
    identity_basis: str
    tasks: Mapping[str, Mapping[str, Any]]
    summaries: Mapping[str, Mapping[str, Any]]
    columns: tuple[ColumnValue, ...]


def number_or_none(value: Any) -> bool:
    """A JSON number or null (booleans are not numbers)."""
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def check_run(data: Mapping[str, Any]) -> str | None:
    """Why this run results.json cannot be used, or None when it can."""
    if not isinstance(data.get("run_id"), str) or not data["run_id"]:
        return "`run_id` is missing or not a string"
    model = data.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str) or not model["name"]:
        return "`model.name` is missing or not a string"
    if not isinstance(data.get("tasks"), dict):
        return "`tasks` is not an object"
    for name, task in data["tasks"].items():
        if not isinstance(task, dict) or not isinstance(task.get("protocol"), str) \
                or not isinstance(task.get("metrics"), dict):
            return f"task {name!r} has no `protocol` string or no `metrics` object"
    summaries = data.get("summaries", {})
    if not isinstance(summaries, dict):
        return "`summaries` is not an object"
    for name, summary in summaries.items():
        if not isinstance(summary, dict) or not isinstance(summary.get("protocol"), str) \
                or not number_or_none(summary.get("AVG")) or not isinstance(summary.get("categories"), dict):
            return f"summary {name!r} has no `protocol`, numeric `AVG` or `categories` object"
        if not all(number_or_none(v) for v in summary["categories"].values()):
            return f"summary {name!r} has a category score that is not a number"
    schema = data.get("schema", "jeval-results/1")
    if schema not in ("jeval-results/1", SCHEMA):
        return f"written as {schema!r}, which this jeval cannot read (upgrade jeval)"
    if schema == SCHEMA and not isinstance(data.get("columns"), list):
        return "`columns` is not a list"
    return None


def _column(data: Mapping[str, Any]) -> ColumnValue:
    notes = tuple((str(n[0]), str(n[1])) for n in data.get("notes", []) if isinstance(n, list | tuple) and len(n) == 2)
    shots = data.get("shots")
    return ColumnValue(str(data["label"]), str(data["group"]), finite(data.get("value")), data.get("kind", "score"),
                       int(data.get("order", 0)), str(data.get("protocol", "")),
                       None if shots is None else str(shots), tuple(str(t) for t in data.get("tasks", [])), notes,
                       data.get("hidden_unless"))


def read_run(path: Path, data: Mapping[str, Any]) -> RunResults:
    """A checked results.json (see `check_run`) as RunResults; version 1 is upgraded."""
    model = data["model"]
    schema = str(data.get("schema", "jeval-results/1"))
    tasks = data["tasks"]
    summaries = data.get("summaries", {})
    if schema == SCHEMA:
        columns = tuple(_column(c) for c in data["columns"])
    else:
        tasks, summaries = upgrade_v1(tasks, summaries)
        columns = tuple(derive_columns(tasks, summaries))
    fingerprint = str(model.get("fingerprint") or f"unknown:{model['name']}")
    return RunResults(path, schema, data["run_id"], str(data.get("created", "")), model["name"], fingerprint,
                      str(model.get("identity_basis", "weights" if fingerprint.startswith("sha256:") else "model id")),
                      tasks, summaries, columns)


def upgrade_v1(tasks: Mapping[str, Mapping[str, Any]], summaries: Mapping[str, Mapping[str, Any]]
               ) -> tuple[dict[str, dict[str, Any]], dict[str, Mapping[str, Any]]]:
    """Version 1 task results as version 2 reads them: a primary metric, and where their data came
    partly from a mirror's own checksums (which could be the prompt text's files: version 1 did not
    say), the protocol marked `+unverified-prompts`; suite summaries recomputed from them by the
    plugins, as a run would."""
    from jeval.provenance import SUFFIXES
    from jeval.registry import load_registry

    upgraded: dict[str, dict[str, Any]] = {}
    for name, task in tasks.items():
        protocol = str(task["protocol"])
        if task.get("data_checksums_from_mirror") and not any(protocol.endswith(s) for s in SUFFIXES.values()):
            protocol += SUFFIXES["unverified"]
        upgraded[name] = {**task, "protocol": protocol,
                          "primary_metric": task.get("primary_metric") or _first_metric(task["metrics"])}
    recomputed: dict[str, Mapping[str, Any]] = {}
    for name, suite in load_registry().suites.items():
        summary = suite.summarize(upgraded)
        if summary is not None:
            recomputed[name] = summary
    return upgraded, recomputed or dict(summaries)


def _first_metric(metrics: Mapping[str, Any]) -> str | None:
    return next((k for k, v in metrics.items() if k != "unavailable" and not isinstance(v, dict)), None)


def derive_columns(tasks: Mapping[str, Mapping[str, Any]], summaries: Mapping[str, Mapping[str, Any]]
                   ) -> list[ColumnValue]:
    """The leaderboard cells the plugins declare for these task results and suite summaries, with
    each cell's protocol and shots filled in (a task's own; for a suite, its summary's protocol
    and its members' shots). A task no installed plugin knows (an old file's) keeps a column of its
    primary metric, in the group "other", rather than vanishing."""
    from jeval.registry import load_registry

    registry = load_registry()
    out: list[ColumnValue] = []
    for name, result in tasks.items():
        task = registry.find(name)
        primary = result.get("primary_metric")
        declared = task.columns(result) if task is not None else [
            ColumnValue(name, "other", finite(result.get("metrics", {}).get(primary)) if isinstance(primary, str)
                        else None, tasks=(name,))]
        out.extend(_filled(column, str(result.get("protocol", "")), shots_label([(name, result)]), tasks)
                   for column in declared)
    for name, summary in summaries.items():
        suite = registry.suites.get(name)
        if suite is None:
            continue
        members = [(m, tasks[m]) for m in suite.members if m in tasks]
        out.extend(_filled(column, str(summary.get("protocol", "")), shots_label(members), tasks)
                   for column in suite.columns(summary, tasks))
    return out


FAILED_NOTE = "some items failed (refused by the server or longer than the model's context) and count as empty answers"


def _filled(column: ColumnValue, protocol: str, shots: str | None,
            tasks: Mapping[str, Mapping[str, Any]] | None = None) -> ColumnValue:
    """The column with its protocol and shots, and a note where any of its tasks lost items."""
    from dataclasses import replace

    lost = [f"{name}: {tasks[name]['failed_items']['count']} of {tasks[name].get('n_samples')}"
            for name in column.tasks if tasks and name in tasks and tasks[name].get("failed_items")]
    notes = (*column.notes, (FAILED_NOTE, "; ".join(lost))) if lost else column.notes
    return replace(column, protocol=column.protocol or protocol,
                   shots=column.shots if column.shots is not None else shots, notes=notes)


def shots_label(results: list[tuple[str, Mapping[str, Any]]]) -> str | None:
    """The few-shot count behind a column: "4"; where members differ, the most common count and the
    exceptions ("4; 0 for mbpp, xlsum_ja" is llm-jp-eval's default Jaster run)."""
    counts: dict[str, list[str]] = {}
    for name, r in results:
        shots = r.get("shots")
        if shots is None:
            continue
        counts.setdefault(str(shots) if not isinstance(shots, dict) else "per subtask", []).append(name)
    if not counts:
        return None
    ordered = sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    main = ordered[0][0]
    if len(ordered) == 1:
        return main
    rest = "; ".join(f"{value} for {', '.join(sorted(names))}" for value, names in ordered[1:])
    return f"{main}; {rest}"
