"""Trainer checkpoints that are whole or absent.

The HF Trainer writes `checkpoint-N/` file by file, in place: a run killed during a save leaves a
folder that looks like the newest checkpoint and is not (no optimizer state, a truncated
safetensors file, no trainer_state.json), and resuming from it crashes. Here each checkpoint is
written under `checkpoints/.partial/checkpoint-N/`; when every file is written and synced, a
completion marker listing each file and its size is written last, and the folder is renamed to
`checkpoints/checkpoint-N` (one atomic rename on the same file system). A kill at any point leaves
either the complete checkpoint or nothing under that name. Resuming takes the newest checkpoint
whose marker is there and whose files match it, and names each one it skips.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from transformers import Trainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

log = logging.getLogger(__name__)

MARKER = "jeval_checkpoint_complete.json"
"""Written last into a checkpoint: {"step": N, "files": {relative path: size in bytes}}."""
STAGING = ".partial"
"""Under the checkpoints folder: checkpoints being written (anything left there was interrupted)."""


def step_of(folder: Path) -> int | None:
    """N for a folder named checkpoint-N, else None."""
    prefix, _, number = folder.name.rpartition("-")
    return int(number) if prefix == PREFIX_CHECKPOINT_DIR and number.isdigit() else None


def checkpoint_folders(folder: Path) -> list[Path]:
    """The checkpoint-N folders under `folder`, newest (highest N) first."""
    if not folder.is_dir():
        return []
    found = [(step, path) for path in folder.iterdir() if path.is_dir() and (step := step_of(path)) is not None]
    return [path for _, path in sorted(found, reverse=True)]


def incompleteness(checkpoint: Path) -> str | None:
    """Why `checkpoint` is not a complete one (None: it is): its marker is missing or unreadable, or
    a file the marker lists is missing or has another size."""
    try:
        marker = json.loads((checkpoint / MARKER).read_text(encoding="utf-8"))
        files = marker["files"]
        if not isinstance(files, dict):
            raise TypeError(files)
    except FileNotFoundError:
        return f"no {MARKER}: its save was interrupted"
    except (OSError, ValueError, KeyError, TypeError):
        return f"{MARKER} is unreadable"
    for name, size in files.items():
        path = checkpoint / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != size:
            return f"{name} has {path.stat().st_size} bytes, its save wrote {size}"
    return None


def newest_complete(folder: Path) -> Path | None:
    """The newest complete checkpoint under `folder`; every newer incomplete one is logged as skipped."""
    staging = folder / STAGING
    if staging.is_dir():
        for left in sorted(staging.iterdir()):
            log.warning("ignoring %s: a checkpoint save that was interrupted (cleared at the next save)", left)
    for checkpoint in checkpoint_folders(folder):
        problem = incompleteness(checkpoint)
        if problem is None:
            return checkpoint
        log.warning("skipping incomplete checkpoint %s (%s)", checkpoint, problem)
    return None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def seal(staged: Path, step: int) -> None:
    """Sync every file of `staged` to disk, then write the completion marker (synced too)."""
    files = {}
    for path in sorted(p for p in staged.rglob("*") if p.is_file()):
        _fsync(path)
        files[path.relative_to(staged).as_posix()] = path.stat().st_size
    marker = staged / MARKER
    marker.write_text(json.dumps({"step": step, "files": files}, indent=1) + "\n", encoding="utf-8")
    _fsync(marker)
    _fsync(staged)


def publish(staged: Path, final: Path) -> None:
    """Rename the sealed `staged` folder to `final`. A folder already there (the same step saved
    again after resuming from an older checkpoint) is moved aside first and then deleted."""
    aside = staged.with_name(staged.name + ".replaced")
    if final.exists():
        shutil.rmtree(aside, ignore_errors=True)
        final.rename(aside)
    staged.rename(final)
    _fsync(final.parent)
    shutil.rmtree(aside, ignore_errors=True)


class AtomicCheckpoints(Trainer):
    """A Trainer (or TRL trainer, as the first base before it) whose checkpoints are written to
    `.partial/` and renamed into place when complete (see the module's docstring).

    `checkpoint_extras()` gives files that belong to the checkpoint and are written into it before
    it is sealed (the pre-training data offset)."""

    _staging_root: str | None = None

    def checkpoint_extras(self) -> dict[str, str]:
        return {}

    def _get_output_dir(self, trial: Any) -> str:
        """While a checkpoint is being saved, the Trainer's own code writes it under `.partial/`."""
        if self._staging_root is not None:
            return self._staging_root
        return super()._get_output_dir(trial)

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        run_dir = Path(self._get_output_dir(trial))
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        staging_root = run_dir / STAGING
        if self.args.should_save:
            shutil.rmtree(staging_root, ignore_errors=True)  # whatever an interrupted save left
        self.accelerator.wait_for_everyone()
        self._staging_root = str(staging_root)
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging_root = None
        self.accelerator.wait_for_everyone()  # every process has written its part
        if self.args.should_save:
            staged = staging_root / name
            for file_name, text in self.checkpoint_extras().items():
                (staged / file_name).write_text(text, encoding="utf-8")
            seal(staged, self.state.global_step)
            publish(staged, run_dir / name)
            shutil.rmtree(staging_root, ignore_errors=True)
            rotate_checkpoints(output_dir=str(run_dir), save_total_limit=self.args.save_total_limit,
                               best_model_checkpoint=self.state.best_model_checkpoint, use_mtime=True)
        self.accelerator.wait_for_everyone()  # the checkpoint is in place before anyone goes on
