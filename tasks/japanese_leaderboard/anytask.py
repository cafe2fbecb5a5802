"""`lm-eval:<task or group>`: any lm-eval task installed (or found in --lm-eval-include folders),
run through the same bridge, backends, cache and results schema as the japanese_leaderboard tasks.

lm-eval loads such a task's data itself (often from the Hugging Face hub), so nothing is prepared
by `jeval data prepare`; the data fingerprint recorded is lm-eval's own hash of the evaluated
documents. A group is one jeval task: its aggregate metrics (where lm-eval computes them) and
each member's metrics under `subtasks`; the samples of every member go to one samples file with
a `subtask` field.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.models.model import CAPABLE
from jeval.task import Harness, HarnessContext, HarnessTask, PlannedTask, TaskArg, TaskOutcome, TaskSpec
from jeval.tasks.japanese_leaderboard.version import lm_eval_version

log = logging.getLogger(__name__)

PREFIX = "lm-eval:"
OFFLINE_HINT = ("offline? set HF_DATASETS_OFFLINE=1 with the dataset already in the local Hugging Face datasets "
                "cache (HF_DATASETS_CACHE), or give a task config whose dataset_path/data_files point at local "
                "files with --lm-eval-include DIR")


NETWORK = re.compile(r"connect|offline|hub|http|timed? ?out|resolve|reach", re.I)
"""What a failure to fetch data looks like in the errors of datasets and huggingface_hub."""


def _short(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


def open_manager(names: list[str], include: tuple[str, ...]) -> Any:
    """lm-eval's task index: only the --lm-eval-include folders when they hold every name asked
    for (indexing lm-eval's own thousands of configs takes tens of seconds), else those and lm-eval's."""
    from lm_eval.tasks import TaskManager

    for folder in include:
        if not Path(folder).is_dir():
            raise JevalError(f"--lm-eval-include {folder}: not a folder")
    if include:
        own = TaskManager(include_path=list(include), include_defaults=False)
        if all(n in own.all_tasks for n in names):
            return own
    manager = TaskManager(include_path=list(include) or None, include_defaults=True)
    unknown = [n for n in names if n not in manager.all_tasks]
    if unknown:
        hints = [f"{n!r} (did you mean {', '.join(close)}?)"
                 if (close := difflib.get_close_matches(n, manager.all_tasks, n=3)) else repr(n) for n in unknown]
        raise JevalError(f"lm-eval {lm_eval_version()} knows no task, group or tag {', '.join(hints)}; "
                         "`lm_eval ls tasks` lists them (add folders of your own configs with --lm-eval-include)")
    return manager


def load_tasks(manager: Any, name: str) -> dict[str, Any]:
    """Build one task or group (this is where lm-eval fetches its data) or say which task failed and why."""
    try:
        return manager.load([name])
    except JevalError:
        raise
    except Exception as e:
        what = f"{type(e).__name__}: {_short(e)}"
        if NETWORK.search(what):
            raise JevalError(f"lm-eval:{name}: its data could not be loaded ({what}); {OFFLINE_HINT}") from None
        raise JevalError(f"lm-eval:{name}: lm-eval could not build the task ({what}); check its config "
                         "(`lm_eval ls tasks` shows where it lives)") from None


def _metrics(found: dict[str, Any]) -> dict[str, Any]:
    """lm-eval's `metric,filter` keys, stderr after the values."""
    from jeval.tasks.japanese_leaderboard.evaluate import _number

    keys = [k for k in found if "," in k]
    ordered = [k for k in keys if "_stderr" not in k] + [k for k in keys if "_stderr" in k]
    return {k: _number(found[k]) for k in ordered}


def _shots(n_shot: dict[str, Any], name: str, members: list[str]) -> Any:
    """The task's few-shot count, or each member's where a group's members differ."""
    counts = {n_shot.get(m) for m in members}
    return n_shot.get(name, counts.pop() if len(counts) == 1 else {m: n_shot.get(m) for m in members})


def task_hashes(samples: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """lm-eval's hash of each task's evaluated documents, prompts and targets, as its results files
    record it (`task_hashes`: its evaluation tracker adds them when it saves; `evaluate` returns none)."""
    from lm_eval.utils import hash_string

    return {name: hash_string("".join(s["doc_hash"] + s["prompt_hash"] + s["target_hash"] for s in rows))
            for name, rows in samples.items()}


def _fingerprint(hashes: dict[str, Any], members: list[str]) -> str:
    joined = ";".join(f"{m}:{hashes.get(m, '')}" for m in sorted(members))
    return hashlib.sha256(joined.encode()).hexdigest()


def _refusal(context: HarnessContext, task: str) -> JevalError | None:
    """The error for log-likelihood requests the model cannot give (known only once lm-eval has
    loaded the task), or None where it can or may."""
    if "loglikelihood" in context.model.capabilities:
        return None
    return JevalError(f"{task} need log-likelihoods, which the {context.model.identity.engine} engine cannot give; "
                      f"use {CAPABLE}")


def _constant(label: str) -> Callable[[Any], str]:
    """Every request of this task is counted under its jeval name."""
    return lambda request: label


class AnyTaskHarness(Harness):
    """The planned `lm-eval:` tasks of a run, one lm-eval evaluation each (lm-eval refuses a
    task that is asked for twice, alone and in a group); answers are shared through the cache."""

    name = "lm-eval/any"

    async def evaluate(self, planned: list[PlannedTask], context: HarnessContext) -> dict[str, TaskOutcome]:
        import asyncio

        from jeval.tasks.japanese_leaderboard.bridge import JevalLM
        from jeval.tasks.japanese_leaderboard.evaluate import asked_gen_kwargs, asked_shots, run_lm_eval, shared_limit

        tasks = [p.task for p in planned if isinstance(p.task, AnyLmEvalTask)]
        names = [t.lm_eval_name for t in tasks]
        limit = shared_limit(planned)
        gen = asked_gen_kwargs(planned)
        include = tuple(str(f) for p in planned for f in p.args.get("include", ()))
        manager = await asyncio.to_thread(open_manager, names, tuple(dict.fromkeys(include)))
        loaded = {}
        for name in names:
            loaded[name] = await asyncio.to_thread(load_tasks, manager, name)
        folded = {}
        for p, task in zip(planned, tasks, strict=True):
            name = task.lm_eval_name
            label = task.spec.name
            lm = JevalLM(context.model, context.executor, asyncio.get_running_loop(), [label],
                         _constant(label), _refusal(context, label), seed=context.seed, gen=gen)
            out = await run_lm_eval(lm, _roots(name, loaded[name]), manager, limit, asked_shots(planned), gen)
            folded[label] = fold_run(p, name, list(loaded[name]["tasks"]), out, lm.counts)
        return folded


def _roots(name: str, found: dict[str, Any]) -> list[Any]:
    """The built task or group object for `name` (a tag: its tasks), for lm-eval's evaluation."""
    if name in found["groups"]:
        return [found["groups"][name]]
    if name in found["tasks"]:
        return [found["tasks"][name]]
    return list(found["tasks"].values())


def fold_run(p: PlannedTask, name: str, members: list[str], out: dict[str, Any], counts: dict[str, int]
             ) -> TaskOutcome:
    from jeval.tasks.japanese_leaderboard.evaluate import _plain, fold_samples, with_overrides

    samples = []
    for member in members:
        for row in fold_samples(out["samples"].get(member, [])):
            key = f"{member}:{row['key']}" if len(members) > 1 else row["key"]
            samples.append({**row, "key": key, "subtask": member})
    configs = {m: out["configs"].get(m, {}) for m in members}
    return TaskOutcome(
        _metrics(out["results"].get(name, {})),
        samples,
        sum(out["n-samples"].get(m, {}).get("effective", 0) for m in members),
        hashlib.sha256(json.dumps(_plain(configs), sort_keys=True).encode()).hexdigest(),
        with_overrides(_plain({m: {"output_type": c.get("output_type"), "generation_kwargs": c.get("generation_kwargs")}
                               for m, c in configs.items()}), p),
        shots=_shots(out.get("n-shot", {}), name, members),
        data_fingerprint=_fingerprint(task_hashes(out["samples"]), members),
        data_sources=_plain([{"task": m, "dataset_path": c.get("dataset_path"), "dataset_name": c.get("dataset_name"),
                              "dataset_kwargs": c.get("dataset_kwargs")} for m, c in configs.items()]),
        extra={"subtasks": {m: _metrics(out["results"].get(m, {})) for m in members if m != name},
               "lm_eval": _plain({"version": lm_eval_version(), "task": name,
                                  "task_versions": {m: out.get("versions", {}).get(m) for m in members},
                                  "requests": dict(counts)})},
    )


HARNESS = AnyTaskHarness()


def _folder(text: str) -> Path:
    folder = Path(text).expanduser()
    if not folder.is_dir():
        raise ValueError(f"{text}: not a folder")
    return folder


INCLUDE = TaskArg("include", "a folder of extra lm-eval task configs (lm-eval's --include_path); repeatable",
                  _folder, repeated=True)


@dataclass(frozen=True)
class AnyLmEvalTask(HarnessTask):
    """A task named `lm-eval:<name>` on the command line; lm-eval finds and runs it."""

    lm_eval_name: str
    applies_gen_kwargs = True

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(f"{PREFIX}{self.lm_eval_name}", "LM-EVAL", f"lm-eval-{lm_eval_version()}/{self.lm_eval_name}",
                        "lm-eval", default_shots=0, args=(INCLUDE,), prepared=False, column_group="lm-eval")

    @property
    def harness(self) -> Harness:
        return HARNESS

    def run_inputs(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """No prepared data: lm-eval loads it; the fingerprint comes from lm-eval's document hashes."""
        return {"data_fingerprint": "", "sources": []}


def any_task(name: str) -> AnyLmEvalTask:
    task = name[len(PREFIX):].strip()
    if not task:
        raise JevalError(f"{name!r}: give an lm-eval task or group after {PREFIX} (e.g. {PREFIX}hellaswag)")
    return AnyLmEvalTask(task)
