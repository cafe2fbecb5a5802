"""From the task names on the command line to planned tasks: settings resolved, arguments checked,
data located, provenance read, prompts built (for the items that will be asked only).

Everything that can be wrong with the user's request is found here, before a model is loaded or a
server started: unknown tasks, variants and arguments, unprepared or malformed data, a capability
the engine lacks (see jeval.models.engines.check_capabilities).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jeval.data.prepare import data_fingerprint, file_checksums, load_manifest, prepare_again, unreadable
from jeval.errors import JevalError, Unavailable
from jeval.overrides import Overrides, unreached
from jeval.provenance import base_protocol, prompt_source, protocol_with_source
from jeval.task import GenerationTask, HarnessTask, PlannedTask, Request, Suite, Task, TaskInputs

log = logging.getLogger(__name__)

TaskArgs = Mapping[str, Mapping[str, Sequence[str]]]
"""Raw `--task-arg` values: family -> argument -> the values given (in order)."""


def item_limit(task: Task, limit: int | None) -> int | None:
    """How many test items to ask: --limit N, -1 for all, else the task's default, else all."""
    if limit == -1:
        return None
    return limit if limit is not None else task.spec.default_limit


def first_items(requests: Sequence[Request], limit: int | None) -> tuple[Request, ...]:
    """The requests of the first `limit` items. A task lists an item's samples together (pass@k):
    a request whose `sample` is above 0 goes with the item before it."""
    if limit is None:
        return tuple(requests)
    kept: list[Request] = []
    items = 0
    for request in requests:
        items += request.sample == 0
        if items > limit:
            break
        kept.append(request)
    return tuple(kept)


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


def check_unchanged(name: str, task_dir: Path, manifest: Mapping[str, Any]) -> None:
    """The prepared files must be the ones `jeval data prepare` wrote: results carry the recorded
    data fingerprint, so an edited file would be scored under a fingerprint it does not have."""
    found = data_fingerprint(task_dir)
    recorded = manifest.get("data_fingerprint")
    if found == recorded:
        return
    which = ""
    if isinstance(manifest.get("files"), Mapping):
        now, then = file_checksums(task_dir), manifest["files"]
        changed = sorted(str(task_dir / f) for f in set(now) | set(then) if now.get(f) != then.get(f))
        damaged = next((why for f in changed if (why := unreadable(Path(f))) is not None), None)
        if damaged is not None:
            raise JevalError(f"{damaged}: the prepared data of {name} is damaged; {prepare_again(name)}")
        which = f": {', '.join(changed)}" if changed else ""
    raise JevalError(f"{name}: the prepared files in {task_dir} changed after `jeval data prepare` wrote them"
                     f"{which} (data fingerprint {str(recorded)[:12]} recorded, {found[:12]} found); "
                     f"{prepare_again(name)}")


def choose_shots(task: Task, task_dir: Path, shots: int | None) -> int:
    """The few-shot count: --shots N, else the task's default; a task whose prepared data has no
    few-shot examples runs zero-shot by default and cannot be asked for more."""
    spec = task.spec
    chosen = spec.default_shots if shots is None else shots
    available = task.max_shots(task_dir) if isinstance(task, GenerationTask) and chosen > 0 else None
    if available is None or chosen <= available:
        return chosen
    if shots is None and available == 0:
        log.warning("%s: no train split was prepared, so it runs zero-shot (its default is %d-shot)",
                    spec.name, spec.default_shots)
        return 0
    items = "1 item" if available == 1 else f"{available} items"
    why = "no train split was prepared" if available == 0 else f"the prepared train split has {items}"
    raise Unavailable(f"{spec.name}: {chosen} shots asked for, but {why}"
                      + (" (it runs zero-shot only)" if available == 0 else ""))


NO_OVERRIDES = Overrides()
REASONING_MARK = "/reasoning"
"""Ends the protocol of a generation task whose answers are read after a thinking block, with a
thinking budget: a different condition from answering directly (as chain-of-thought is), so never
one column with it."""


def plan_task(task: Task, *, data_dir: Path, shots: int | None, limit: int | None, variant: str | None,
              args: TaskArgs, reasoning: bool = False, overrides: Overrides = NO_OVERRIDES) -> PlannedTask:
    spec = task.spec
    if variant is not None and variant not in spec.variants:
        offered = ", ".join(spec.variants) or "none"
        raise JevalError(f"task {spec.name!r} has no prompt variant {variant!r} (it offers: {offered})")
    parsed = parse_args(task, args)
    manifest = load_manifest(task, data_dir) if spec.prepared else task.run_inputs(parsed)
    if spec.prepared and manifest is not None:
        check_unchanged(spec.name, data_dir / spec.name, manifest)
    if manifest is None:
        manifest = {"data_fingerprint": "", "sources": []}
    if variant in spec.reasoning_variants:
        if shots:
            raise JevalError(f"{spec.name}: prompt variant {variant!r} is zero-shot (a reasoning model thinks "
                             f"instead of reading examples); drop --shots {shots}")
        chosen_shots = 0
    elif spec.prepared:
        chosen_shots = choose_shots(task, data_dir / spec.name, shots)
    else:
        chosen_shots = spec.default_shots if shots is None else shots
    source = prompt_source(manifest)
    chosen_limit = item_limit(task, limit)
    requests: tuple[Request, ...] = ()
    fingerprint, protocol = "", task.protocol_for(parsed)
    if isinstance(task, GenerationTask):
        built = task.requests(TaskInputs(data_dir / spec.name, chosen_shots, chosen_limit, variant, parsed))
        requests, fingerprint = first_items(built.requests, chosen_limit), built.prompt_fingerprint
        protocol = built.protocol or spec.protocol
        if reasoning and not protocol.endswith(REASONING_MARK):
            protocol += REASONING_MARK
        if overrides:
            requests = overrides.apply_all(requests)
            protocol += overrides.suffix()
    bridged = (overrides.gen is not None and isinstance(task, HarnessTask) and task.applies_gen_kwargs
               and bridged_generation(task))
    if bridged:
        protocol += overrides.suffix()
    return PlannedTask(task, chosen_shots, chosen_limit, variant, protocol_with_source(protocol, source), manifest,
                       parsed, requests, fingerprint, source, shots,
                       overrides.record() if overrides and (isinstance(task, GenerationTask) or bridged) else {})


@dataclass(frozen=True)
class Plan:
    tasks: list[PlannedTask]
    skipped: dict[str, str]
    """Members of a group named on the command line that cannot run, and why."""


def plan(tasks: Sequence[Task], *, data_dir: Path, shots: int | None, limit: int | None, variant: str | None,
         args: TaskArgs, named: Collection[str] | None = None, require_all: bool = False,
         suites: Sequence[Suite] = (), reasoning: bool = False, overrides: Overrides = NO_OVERRIDES) -> Plan:
    """Plan every task. A task named by itself that cannot run (`Unavailable`) is an error; a
    member of a named group is skipped with its reason, unless `require_all`. `named` holds the
    tasks named by themselves (None: all of them). With `reasoning`, generation tasks' protocols
    end in REASONING_MARK; with `overrides` (--gen-kwargs, --system-prompt), their requests change
    and their protocols end in its suffix (jeval.overrides)."""
    if shots is not None and shots < 0:
        raise JevalError(f"--shots must be 0 or more, got {shots}")
    if limit is not None and limit < 1 and limit != -1:
        raise JevalError(f"--limit must be 1 or more, or -1 for every item, got {limit}")
    check_families(tasks, args)
    planned, skipped = [], {}
    for task in tasks:
        try:
            planned.append(plan_task(task, data_dir=data_dir, shots=shots, limit=limit, variant=variant, args=args,
                                     reasoning=reasoning, overrides=overrides))
        except Unavailable as e:
            if require_all or named is None or task.spec.name in named:
                raise
            skipped[task.spec.name] = " ".join(str(e).split())
    if not planned:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped.items())
        raise JevalError(f"no task of this run can run ({reasons})")
    check_suites(planned, suites)
    check_overrides(planned, overrides)
    return Plan(planned, skipped)


LIKELIHOOD_NEEDS = frozenset({"loglikelihood", "token_logprobs"})


def bridged_generation(task: Task) -> bool:
    """A task evaluated by a harness of its own (lm-eval) that may ask the model to generate."""
    return isinstance(task, HarnessTask) and not task.spec.needs & LIKELIHOOD_NEEDS


def check_overrides(planned: Sequence[PlannedTask], overrides: Overrides) -> None:
    """Refuse overrides that would not reach a task they should (jeval.overrides.unreached); say
    which tasks they leave alone because those are scored by log-likelihoods."""
    if not overrides:
        return
    generating: dict[str, bool] = {}
    completion, bridged, unapplied = [], [], []
    for p in planned:
        name, task = p.task.spec.name, p.task
        generating[name] = isinstance(task, GenerationTask) or bridged_generation(task)
        if isinstance(task, GenerationTask) and any(not r.is_chat for r in p.requests):
            completion.append(name)
        elif isinstance(task, HarnessTask) and bridged_generation(task):
            bridged.append(name)
            if not task.applies_gen_kwargs:
                unapplied.append(name)
    unreached(overrides, generating, completion, bridged, unapplied)
    unchanged = [name for name, asked in generating.items() if not asked]
    if unchanged and not any(generating.values()):
        log.warning("--gen-kwargs/--system-prompt change nothing in this run: its tasks (%s) are scored by "
                    "log-likelihoods, not generated", ", ".join(unchanged))
    elif unchanged:
        log.info("--gen-kwargs/--system-prompt leave %s as they are (scored by log-likelihoods)", ", ".join(unchanged))


def check_suites(planned: Sequence[PlannedTask], suites: Sequence[Suite]) -> None:
    """A suite's score is over one protocol: its members in one run must share it (Jaster under
    jeval's own text and under llm-jp-eval's, or two variants, are never averaged). Members that
    differ only in provenance suffixes share it; the suite's score then carries every suffix."""
    for suite in suites:
        by_protocol: dict[str, list[str]] = {}
        for p in planned:
            if p.task.spec.name in suite.members:
                by_protocol.setdefault(base_protocol(p.protocol), []).append(p.task.spec.name)
        if len(by_protocol) > 1:
            found = "; ".join(f"{protocol}: {', '.join(names)}" for protocol, names in sorted(by_protocol.items()))
            raise JevalError(f"the {suite.name} datasets of this run were prepared under different protocols "
                             f"({found}); their scores are never averaged together: prepare them alike "
                             "(`jeval data prepare`) or run them separately")
