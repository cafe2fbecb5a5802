"""Run planned lm-eval tasks as `lm_eval.simple_evaluate` does, on the run's model and executor, and
fold lm-eval's results and per-sample logs into jeval's task outcomes."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any

from jeval.errors import JevalError
from jeval.overrides import GenKwargs
from jeval.task import Harness, HarnessContext, PlannedTask, TaskOutcome
from jeval.tasks.japanese_leaderboard.diagnostics import number_diagnostics
from jeval.tasks.japanese_leaderboard.render import lm_eval_version, render_all, render_folder

log = logging.getLogger(__name__)


def _number(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return None if value == "N/A" else value


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def fold_metrics(found: dict[str, Any], primary: str) -> dict[str, Any]:
    """lm-eval's `metric,filter` keys as they are, the task's main metric first."""
    metrics = {k: _number(v) for k, v in found.items() if "," in k}
    if primary not in metrics:
        raise JevalError(f"lm-eval reported no {primary!r} (it reported {', '.join(metrics) or 'nothing'})")
    return {primary: metrics.pop(primary), **metrics}


def fold_samples(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for s in sorted(rows, key=lambda r: r["doc_id"]):
        arguments = [list(a) if isinstance(a, list | tuple) else a for a in s.get("arguments", [])]
        first = arguments[0] if arguments else None
        prompt = first[0] if isinstance(first, list) and first else first
        extra = {k: v for k, v in s.items()
                 if k not in ("doc_id", "doc", "target", "arguments", "resps", "filtered_resps")}
        out.append(_plain({"key": str(s["doc_id"]), "prompt": prompt, "target": s.get("target"), **extra,
                           "resps": s.get("resps"), "filtered_resps": s.get("filtered_resps"),
                           "arguments": arguments, "doc": s.get("doc")}))
    return out


def shared_limit(planned: list[PlannedTask]) -> int | None:
    limits = {p.limit for p in planned}
    if len(limits) > 1:
        raise JevalError("lm-eval tasks of one run share one --limit")
    return limits.pop()


def asked_shots(planned: list[PlannedTask]) -> int | None:
    """The --shots given for these tasks (None: each task's own few-shot count, lm-eval's)."""
    return planned[0].shots_asked if planned else None


def asked_gen_kwargs(planned: list[PlannedTask]) -> GenKwargs | None:
    """The run's --gen-kwargs, as planning recorded them for the generation tasks among these (one
    run, one set; None: not given, or no task generates)."""
    found = next((p.overrides["gen_kwargs"] for p in planned if "gen_kwargs" in p.overrides), None)
    return GenKwargs.from_record(found) if found is not None else None


def with_overrides(decoding: dict[str, Any], p: PlannedTask) -> dict[str, Any]:
    """A task's decoding record, with what --gen-kwargs changed in it (as jeval's own tasks record it)."""
    return {**decoding, "overrides": dict(p.overrides)} if p.overrides else decoding


def evaluate_tasks(lm: Any, tasks: list[Any], manager: Any, limit: int | None, shots: int | None,
                   gen: GenKwargs | None = None) -> dict[str, Any]:
    """What `lm_eval.simple_evaluate` does for a model object that is already built (lm-eval
    0.4.13, the pinned version): its seeds, its task-config overrides (`--num_fewshot`,
    `--gen_kwargs`) and its `evaluate` call, with the same arguments. Left out is what it adds to
    the results afterwards, which jeval does not read: the git hash, the environment report (it runs
    `pip list` and more: about 0.7 s a call) and the tokenizer report. `gen` (the run's
    --gen-kwargs) updates the generation tasks' generation_kwargs. tests/test_lmeval_evaluate.py
    holds this equal to `simple_evaluate` on everything jeval reads."""
    import random

    import numpy as np
    from lm_eval.defaults import DEFAULT_OTHER_SEED, DEFAULT_RANDOM_SEED
    from lm_eval.evaluator import evaluate
    from lm_eval.utils import set_torch_seed

    random.seed(DEFAULT_RANDOM_SEED)
    np.random.seed(DEFAULT_OTHER_SEED)
    set_torch_seed(DEFAULT_OTHER_SEED)
    loaded = manager.load(tasks)
    for task in loaded["tasks"].values():
        if gen is not None and task.get_config("output_type") == "generate_until":
            task.set_config(key="generation_kwargs", value=gen.lm_eval(), update=True)
        if shots is not None and task.get_config("num_fewshot") != 0:
            task.set_config(key="num_fewshot", value=shots)
        elif shots is None and task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=DEFAULT_OTHER_SEED)
    out = evaluate(lm=lm, task_dict=loaded, limit=limit, bootstrap_iters=100000, log_samples=True,
                   fewshot_as_multiturn=True, verbosity=None)
    if out is None:
        raise JevalError("lm-eval returned no results")
    return dict(out)


async def run_lm_eval(lm: Any, tasks: list[Any], manager: Any, limit: int | None, shots: int | None,
                      gen: GenKwargs | None = None) -> dict[str, Any]:
    """`evaluate_tasks` off the event loop (the model interface sends its requests back onto the loop)."""
    return await asyncio.to_thread(evaluate_tasks, lm, tasks, manager, limit, shots, gen)


class LmEvalHarness(Harness):
    """Evaluates every planned japanese_leaderboard task of a run in one lm-eval evaluation."""

    name = "lm-eval/japanese_leaderboard"

    async def evaluate(self, planned: list[PlannedTask], context: HarnessContext) -> dict[str, TaskOutcome]:
        from lm_eval.tasks import TaskManager

        from jeval.tasks.japanese_leaderboard.bridge import JevalLM
        from jeval.tasks.japanese_leaderboard.tasks import LmEvalTask

        tasks = [p.task for p in planned if isinstance(p.task, LmEvalTask)]
        names = [t.spec.name for t in tasks]
        ll_tasks = [t.spec.name for t in tasks if t.loglikelihood]
        folder = render_folder(context.data_dir)
        rendered = render_all(context.data_dir)
        limit = shared_limit(planned)
        gen = asked_gen_kwargs(planned)
        lm = JevalLM(context.model, context.executor, asyncio.get_running_loop(), ll_tasks,
                     lambda request: str(getattr(request, "task_name", "") or ""), seed=context.seed, gen=gen)
        manager = TaskManager(include_path=str(folder), include_defaults=False)
        out = await run_lm_eval(lm, names, manager, limit, asked_shots(planned), gen)
        folded = {}
        for p, task in zip(planned, tasks, strict=True):
            name = task.spec.name
            task_config = out["configs"].get(name, {})
            metrics = fold_metrics(out["results"][name], task.primary)
            rows = fold_samples(out["samples"][name])
            if task.number_answer_filter is not None:
                diagnostics, rows = number_diagnostics(rows, task.number_answer_filter)
                metrics.update(diagnostics)
            folded[name] = TaskOutcome(
                metrics, rows, out["n-samples"][name]["effective"], rendered[name].prompt_fingerprint,
                with_overrides(_plain({"output_type": task_config.get("output_type"),
                                       "generation_kwargs": task_config.get("generation_kwargs"),
                                       "max_gen_toks_default": 256}), p),
                shots=out.get("n-shot", {}).get(name, p.shots),
                extra={"lm_eval": _plain({"version": lm_eval_version(),
                                          "task_version": out.get("versions", {}).get(name),
                                          "config_file": str(folder / f"{name}.yaml"), "requests": dict(lm.counts)})})
        return folded


HARNESS = LmEvalHarness()
