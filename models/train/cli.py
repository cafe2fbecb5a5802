"""`jeval train` arguments and command (kept light: the parser is built on every `jeval` call)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from jeval.errors import JevalError

if TYPE_CHECKING:
    from jeval.models.train.config import TrainConfig


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--preset", help="a named config (tiny); default tiny when no --config is given")
    which.add_argument("--config", type=Path, help="a training config YAML (see models/train/examples/)")
    p.add_argument("--out", type=Path, required=True, help="output folder: the final checkpoint, checkpoints/, logs")
    p.add_argument("--max-steps", type=int,
                   help="pre-training: scale the stages to this many steps; SFT/DPO: steps; also for the run a "
                        "model.init config chains (a quick trial of the whole chain)")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--resume", nargs="?", const="auto", metavar="CHECKPOINT",
                   help="continue from OUT/checkpoints' newest checkpoint (or the one given): weights, optimizer, "
                        "scheduler, data position and RNG")
    p.add_argument("--stop-at-step", type=int, metavar="K", help="save a checkpoint at step K and stop (resume later)")
    p.add_argument("--save-every", type=int, metavar="N", help="save a checkpoint every N steps")
    p.add_argument("--eval-tasks", help="jeval tasks to run on saved checkpoints, comma-separated (e.g. jaster)")
    p.add_argument("--eval-every", type=int, metavar="N", help="evaluate every N steps (a multiple of --save-every)")
    p.add_argument("--eval-arg", action="append", default=None, metavar="ARG",
                   help="passed to `jeval run` as it is; repeat (e.g. --eval-arg=--backend --eval-arg=local)")


def resolve_config(args: argparse.Namespace) -> tuple[TrainConfig, str]:
    from jeval.models.train.config import load_config, with_overrides
    from jeval.models.train.presets import preset, with_max_steps

    if args.config is not None:
        config, name = load_config(args.config), args.config.stem
    else:
        name = args.preset or "tiny"
        config = preset(name)
    config = with_max_steps(config, args.max_steps)
    eval_tasks = tuple(t.strip() for t in args.eval_tasks.split(",") if t.strip()) if args.eval_tasks else None
    save_every = args.save_every
    if args.eval_every and not save_every and not config.save_every:
        save_every = args.eval_every
    config = with_overrides(config, seed=args.seed, save_every=save_every, **{
        "eval.tasks": eval_tasks, "eval.every": args.eval_every,
        "eval.args": tuple(args.eval_arg) if args.eval_arg else None})
    if args.stop_at_step is not None and not 1 <= args.stop_at_step <= config.total_steps:
        raise JevalError(f"--stop-at-step must be between 1 and the run's {config.total_steps} steps")
    return config, name


def run_train(args: argparse.Namespace) -> int:
    config, name = resolve_config(args)
    from jeval.models.train.driver import train

    logging.getLogger("jeval.models.train").setLevel(logging.INFO)
    summary = train(config, args.out, resume=args.resume, stop_at_step=args.stop_at_step, name=name,
                    init_max_steps=args.max_steps)
    where = (f"stopped at step {summary['steps']}; checkpoints in {args.out / 'checkpoints'} (continue with --resume)"
             if summary["stopped_early"] else f"checkpoint: {args.out}")
    loss = summary["final_loss"] if summary["final_loss"] is not None else summary["train_loss"]
    final = f", final loss {loss:.3f}" if loss is not None else ""
    print(f"{where} ({summary['parameters']:,} parameters{final}, {summary['seconds']}s)")
    return 0
