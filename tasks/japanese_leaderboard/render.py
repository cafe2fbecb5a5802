"""The lm-eval task folder jeval runs and `jeval tasks path` prints.

jeval's configs (`lm_eval_tasks/*.yaml` in this package) are overlays: each names the lm-eval
config it builds on (`include: lm_eval:<path under lm_eval/tasks>`), its own task name, and the
prepared files it reads (`dataset_path: json`, `data_files` relative to the data dir). Rendering
merges each overlay onto lm-eval's own config from the installed lm-eval, as lm-eval merges an
`include`, makes the data paths absolute and points lm-eval's `!function`s at their modules, so
the prompts, few-shot counts, filters and metrics are lm-eval's own text and code, never copied
into jeval. Group configs are copied as they are.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from jeval.errors import JevalError
from jeval.io import atomic_write_text
from jeval.tasks.japanese_leaderboard.version import lm_eval_version

OVERLAYS = Path(str(files("jeval.tasks.japanese_leaderboard") / "lm_eval_tasks"))
UPSTREAM_PREFIX = "lm_eval:"
FOLDER = "lm-eval-tasks"


def lm_eval_tasks_root() -> Path:
    return Path(str(files("lm_eval") / "tasks"))


class FunctionRef(str):
    """A `!function module.name` reference, kept as text until lm-eval resolves it."""


def _loader(module_prefix: str) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def construct(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> FunctionRef:
        spec = str(loader.construct_scalar(node))
        return FunctionRef(f"{module_prefix}{spec}" if module_prefix else spec)

    Loader.add_constructor("!function", construct)
    return Loader


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(FunctionRef, lambda d, v: d.represent_scalar("!function", str(v)))


def _read(path: Path, module_prefix: str = "") -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_loader(module_prefix))
    except FileNotFoundError:
        raise JevalError(f"{path}: file not found (is lm-eval {lm_eval_version()} installed whole?)") from None
    except yaml.YAMLError as e:
        raise JevalError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise JevalError(f"{path}: expected a mapping")
    return data


def upstream_config(relative: str) -> dict[str, Any]:
    """lm-eval's own config at `lm_eval/tasks/<relative>`, its includes merged as lm-eval merges
    them and its `!function`s made importable by module path."""
    root = lm_eval_tasks_root()
    path = root / relative
    module = ".".join(("lm_eval", "tasks", *Path(relative).parent.parts)) + "."
    config = _read(path, module)
    includes = config.pop("include", [])
    merged: dict[str, Any] = {}
    for inc in includes if isinstance(includes, list) else [includes]:
        merged.update(upstream_config(str(Path(relative).parent / inc)))
    merged.update(config)
    return merged


@dataclass(frozen=True)
class Rendered:
    name: str
    config: dict[str, Any]

    @property
    def prompt_fingerprint(self) -> str:
        """SHA-256 of everything in the config but where its data lives."""
        kept = {k: v for k, v in self.config.items() if k != "dataset_kwargs"}
        return hashlib.sha256(json.dumps(kept, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def render_overlay(path: Path, data_dir: Path) -> Rendered:
    overlay = _read(path)
    include = overlay.pop("include", None)
    if include is None:
        return Rendered(path.stem, overlay)
    if not str(include).startswith(UPSTREAM_PREFIX):
        raise JevalError(f"{path}: include must name an lm-eval config as {UPSTREAM_PREFIX}<path>")
    config = upstream_config(str(include)[len(UPSTREAM_PREFIX):])
    config.pop("tag", None)
    config.update(overlay)
    data_files = config.get("dataset_kwargs", {}).get("data_files", {})
    config["dataset_kwargs"] = {"data_files": {split: str((data_dir / rel).resolve())
                                               for split, rel in data_files.items()}}
    return Rendered(config["task"], config)


def render_all(data_dir: Path) -> dict[str, Rendered]:
    return {r.name: r for r in (render_overlay(p, data_dir) for p in sorted(OVERLAYS.glob("*.yaml")))}


def render_folder(data_dir: Path) -> Path:
    """Write the rendered configs to `<data_dir>/lm-eval-tasks/` (each file atomically) and return it."""
    folder = data_dir / FOLDER
    rendered = render_all(data_dir)
    for name, r in rendered.items():
        text = (f"# Rendered by jeval from {OVERLAYS / (name + '.yaml')} on lm-eval {lm_eval_version()}; "
                "edit the overlay, not this file.\n")
        text += yaml.dump(r.config, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10**6)
        atomic_write_text(folder / f"{name}.yaml", text)
    wanted = {f"{n}.yaml" for n in rendered}
    for stale in folder.glob("*.yaml"):
        if stale.name not in wanted:
            stale.unlink()
    return folder
