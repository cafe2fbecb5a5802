"""From the task names on the command line to planned tasks: settings resolved, arguments checked,
data located, provenance read, prompts built (for the items that will be asked only).

Everything that can be wrong with the user's request is found here, before a model is loaded or a
server started: unknown tasks, variants and arguments, unprepared or malformed data, a capability
the engine lacks (see jeval.models.engines.check_capabilities).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jeval.data.prepare import load_manifest
from jeval.errors import JevalError
from jeval.provenance import prompt_source, protocol_with_source
from jeval.task import GenerationTask, PlannedTask, Request, Task, TaskInputs

TaskArgs = Mapping[str, Mapping[str, Sequence[str]]]
"""Raw `--task-arg` values: family -> argument -> the values given (in order)."""


def item_limit(task: Task, limit: int | None) -> int | None:
    """How many test items to ask: --limit N, -1 for all, else the task's default, else all."""
    if limit == -1:
        return None
    return limit if limit is not None else task.spec.default_limit


def parse_args(task: Task, given: TaskArgs) -> dict[str, Any]:
    """The task's arguments, parsed by their declarations; an unknown one is an error."""
    raw = given.get(task.spec.family, {})
    out: dict[str, Any] = {}
    for name, values in raw.items():
        declared = task.spec.arg(name)
        try:
            if declared.repeated:
                out[name] = tuple(declared.parse(v.strip()) for value in values for v in value.split(",") if v.strip())
            else:
                out[name] = declared.parse(values[-1])
        except (TypeError, ValueError) as e:
            raise JevalError(f"--task-arg {task.spec.family}.{name}: {' '.join(str(e).split())}") from None
    return out


def check_families(tasks: Sequence[Task], given: TaskArgs) -> None:
    families = {t.spec.family for t in tasks}
    unknown = [f for f in given if f not in families]
    if unknown:
        raise JevalError(f"--task-arg {unknown[0]}.…: no task of family {unknown[0]!r} is in this run "
                         f"(families here: {', '.join(sorted(families))})")


def plan_task(task: Task, *, data_dir: Path, shots: int | None, limit: int | None, variant: str | None,
              args: TaskArgs) -> PlannedTask:
    spec = task.spec
    chosen_shots = spec.default_shots if shots is None else shots
    if variant is not None and variant not in spec.variants:
        offered = ", ".join(spec.variants) or "none"
        raise JevalError(f"task {spec.name!r} has no prompt variant {variant!r} (it offers: {offered})")
    parsed = parse_args(task, args)
    manifest = load_manifest(task, data_dir) if spec.prepared else task.run_inputs(parsed)
    if manifest is None:
        manifest = {"data_fingerprint": "", "sources": []}
    source = prompt_source(manifest)
    chosen_limit = item_limit(task, limit)
    requests: tuple[Request, ...] = ()
    fingerprint, protocol = "", spec.protocol
    if isinstance(task, GenerationTask):
        built = task.requests(TaskInputs(data_dir / spec.name, chosen_shots, chosen_limit, variant, parsed))
        requests, fingerprint = tuple(built.requests[:chosen_limit]), built.prompt_fingerprint
        protocol = built.protocol or spec.protocol
    return PlannedTask(task, chosen_shots, chosen_limit, variant, protocol_with_source(protocol, source), manifest,
                       parsed, requests, fingerprint, source, shots)


def plan(tasks: Sequence[Task], *, data_dir: Path, shots: int | None, limit: int | None, variant: str | None,
         args: TaskArgs) -> list[PlannedTask]:
    if shots is not None and shots < 0:
        raise JevalError(f"--shots must be 0 or more, got {shots}")
    if limit is not None and limit < 1 and limit != -1:
        raise JevalError(f"--limit must be 1 or more, or -1 for every item, got {limit}")
    check_families(tasks, args)
    return [plan_task(t, data_dir=data_dir, shots=shots, limit=limit, variant=variant, args=args) for t in tasks]
