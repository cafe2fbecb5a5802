"""`jeval train`: the runs a config chains through `model.init` first, then the mode's trainer."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.models.train.config import TrainConfig, init_config, is_config_path, with_overrides

log = logging.getLogger(__name__)

INIT_FOLDER = "init"
"""Where a run keeps the model that `model.init: CONFIG.yaml` trains for it (`OUT/init/`)."""


def train(config: TrainConfig, out: Path, resume: str | None = None, stop_at_step: int | None = None,
          name: str = "custom", init_max_steps: int | None = None) -> dict:
    """Train `config` into `out` and return the run's summary. A `model.init` that names a config
    is trained first (scaled to `init_max_steps` when given, as `--max-steps` asks)."""
    if is_config_path(config.model.init):
        config = _continue_from_init(config, out, resume, init_max_steps)
    if config.mode == "pretrain":
        from jeval.models.train.pretrain import pretrain

        return pretrain(config, out, resume=resume, stop_at_step=stop_at_step, name=name)
    from jeval.models.train.sft import finetune

    return finetune(config, out, resume=resume, stop_at_step=stop_at_step, name=name)


def _continue_from_init(config: TrainConfig, out: Path, resume: str | None, max_steps: int | None) -> TrainConfig:
    """`config` continuing from the model its `model.init` config trains into OUT/init: trained
    now, resumed there (with --resume) or, when a finished run of the same config is there, reused."""
    from jeval.models.train.presets import with_max_steps

    source = Path(config.model.init)
    chained = with_max_steps(init_config(config), max_steps)
    folder = (out / INIT_FOLDER).absolute()
    if is_config_path(chained.model.init):
        chained = _continue_from_init(chained, folder, resume, max_steps)
    finished = _finished_config(folder)
    wanted = _comparable(chained)
    if finished is None:
        log.info("model.init: training %s into %s first", source.name, folder)
        train(chained, folder, resume="auto" if resume else None, name=source.stem)
    elif finished == wanted:
        log.info("model.init: %s already holds the finished run of %s; continuing from it", folder, source.name)
    else:
        raise JevalError(f"model.init: {folder} holds a model trained from another config than {source.name} "
                         "(or with other --max-steps); choose another --out or delete that folder")
    return with_overrides(config, **{"model.init": str(folder)})


def _finished_config(folder: Path) -> Any:
    """The config of the finished run in `folder` (its summary says it was not stopped early and
    its checkpoint is there), or None."""
    summary_path = folder / "jeval_train.json"
    if not summary_path.is_file() or not (folder / "config.json").is_file():
        return None
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    return None if summary.get("stopped_early") else summary.get("config")


def _comparable(config: TrainConfig) -> Any:
    """The config as a run's summary records it (JSON types)."""
    from jeval.models.train.pretrain import _jsonable

    return json.loads(json.dumps(_jsonable(asdict(config)), ensure_ascii=False))
