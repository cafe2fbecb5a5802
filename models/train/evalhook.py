"""Evaluation during training: `jeval run` on saved checkpoints, in child processes.

Training does not wait for an evaluation. When the trainer saves checkpoint N (and N is a
multiple of `eval.every`), the servable files of that checkpoint are hard-linked into
`eval/step-N/model` (so checkpoint rotation cannot delete them under a running evaluation) and
`jeval run --model eval/step-N/model --tasks ...` starts as a subprocess. Finished evaluations
are appended to `eval_curve.jsonl` (step, each task's first metric, results path) as they are
noticed; `finish` waits for the rest at the end of training.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from transformers import TrainerCallback

from jeval.models.train.checkpoints import MARKER
from jeval.models.train.config import EvalConfig
from jeval.models.train.logs import append_jsonl

log = logging.getLogger(__name__)

SERVABLE = (".safetensors", ".json", ".model", ".jinja", ".txt")


def servable_copy(checkpoint: Path, target: Path) -> Path:
    """The weights, configs and tokenizer files of a trainer checkpoint (not its optimizer)."""
    target.mkdir(parents=True, exist_ok=True)
    for f in checkpoint.iterdir():
        if f.is_file() and f.suffix in SERVABLE and f.name not in ("trainer_state.json", MARKER):
            dest = target / f.name
            if dest.exists():
                dest.unlink()
            try:
                os.link(f, dest)
            except OSError:
                shutil.copy2(f, dest)
    return target


def first_metrics(results: dict) -> dict[str, float]:
    """Each task's first metric, plus every metric a task breaks down by language or corpus
    (`loss` and `loss,lang=ja`, ...), so a `ppl` evaluation gives one validation-loss curve per language."""
    scores = {}
    for task, info in results.get("tasks", {}).items():
        numeric = {k: v for k, v in info.get("metrics", {}).items() if isinstance(v, int | float)}
        broken_down = {name.split(",", 1)[0] for name in numeric if "=" in name.partition(",")[2]}
        keep = broken_down | set(list(numeric)[:1])
        scores.update({f"{task}/{name}": value for name, value in numeric.items()
                       if name.split(",", 1)[0] in keep})
    return scores


@dataclass
class Evaluation:
    step: int
    process: subprocess.Popen
    results_dir: Path
    """Where `jeval run` writes this evaluation's run folders (`<name>-<fingerprint>/step-N/`)."""
    log_path: Path


@dataclass
class EvalHook(TrainerCallback):
    config: EvalConfig
    out: Path
    running: list[Evaluation] = field(default_factory=list)

    @property
    def curve_path(self) -> Path:
        return self.out / "eval_curve.jsonl"

    def start(self, step: int, checkpoint: Path) -> Evaluation:
        base = self.out / "eval" / f"step-{step}"
        model = servable_copy(checkpoint, base / "model")
        log_path = base / "jeval-run.log"
        cmd = [sys.executable, "-m", "jeval", "run", "--model", str(model), "--tasks", ",".join(self.config.tasks),
               "--output", str(base / "results"), "--name", "model", "--run-id", f"step-{step}", *self.config.args]
        log.info("evaluating step %d in the background: %s", step, " ".join(cmd))
        with log_path.open("w") as f:
            proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        evaluation = Evaluation(step, proc, base / "results", log_path)
        self.running.append(evaluation)
        return evaluation

    def collect(self, wait: bool = False) -> None:
        for evaluation in list(self.running):
            if wait:
                evaluation.process.wait()
            if evaluation.process.poll() is None:
                continue
            self.running.remove(evaluation)
            record = {"step": evaluation.step, "returncode": evaluation.process.returncode}
            found = sorted(evaluation.results_dir.glob(f"*/step-{evaluation.step}/results.json"))
            results_file = found[0] if found else evaluation.results_dir / "missing"
            if evaluation.process.returncode == 0 and results_file.is_file():
                results = json.loads(results_file.read_text(encoding="utf-8"))
                record.update(scores=first_metrics(results), results=str(results_file))
                log.info("step %d evaluated: %s", evaluation.step, record["scores"])
            else:
                tail = evaluation.log_path.read_text(errors="replace").strip().splitlines()[-1:] or [""]
                record["error"] = tail[0]
                log.error("evaluation of step %d failed (%s); see %s", evaluation.step, tail[0], evaluation.log_path)
            append_jsonl(self.curve_path, record)

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return control
        self.collect()
        if self.config.every and state.global_step % self.config.every == 0:
            self.start(state.global_step, Path(args.output_dir) / f"checkpoint-{state.global_step}")
        return control

    def finish(self) -> None:
        self.collect(wait=True)
