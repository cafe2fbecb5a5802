"""The training config: typed sections, loaded from YAML (or a preset) and validated up front.

Everything a user can get wrong (a value of the wrong type or out of range, a corpus that is not
there, mixture ratios that do not sum to 1, a stage naming an unknown source, an unknown key) is
one `JevalError` naming the key, raised by `load_config` before anything is created or loaded.
Types and ranges are declared on the fields (`Annotated[int, AT_LEAST_ONE]`, see `conform`) and
checked for presets and command-line overrides too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import yaml

from jeval.errors import JevalError
from jeval.models.train.conform import (
    AT_LEAST_ONE,
    BELOW_ONE,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    Bound,
    Yaml12Floats,
    check_fields,
    conform,
    hints,
    shown,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Section = TypeVar("_Section", bound="DataclassInstance")

RATIO_TOLERANCE = 1e-6
SOURCE_FORMATS = ("text", "jsonl", "chat", "jaster", "preference", "builtin")
CONFIG_SUFFIXES = (".yaml", ".yml")


def is_config_path(init: str) -> bool:
    """Whether `model.init` names a training config to train first (rather than a checkpoint)."""
    return init.lower().endswith(CONFIG_SUFFIXES)


@dataclass(frozen=True)
class SourceConfig:
    """One corpus. `text`: plain text, one document per blank-line-separated block; `jsonl`: one
    JSON object per line with the document under `text_field`; `chat`: JSON Lines of
    `{"messages": [...]}` rendered with the chat template; `jaster`: a prepared Jaster split
    (llm-jp-eval's evaluation JSON) rendered as zero-shot prompt + answer; `preference`: JSON
    Lines of `{"prompt", "chosen", "rejected"}` (DPO); `builtin`: the project's own tiny corpus."""

    name: str
    paths: tuple[Path, ...]
    format: str = "jsonl"
    text_field: str = "text"


@dataclass(frozen=True)
class StageConfig:
    """A curriculum stage: `steps` optimizer steps drawing sequences from `mixture` (source name
    to share of tokens), with its own linear warm-up at the start of the stage."""

    name: str
    steps: Annotated[int, AT_LEAST_ONE]
    mixture: dict[str, Annotated[float, NON_NEGATIVE]]
    warmup_steps: Annotated[int, NON_NEGATIVE] = 0


@dataclass(frozen=True)
class ModelConfig:
    init: str = "scratch"
    """`scratch` for a new Llama, a Hugging Face checkpoint folder to continue from, or a training
    config (a `.yaml` file) whose model to continue from: that run is trained first, into
    `OUT/init/` (and reused there when it is already finished), so that an example chain such as
    pretrain -> SFT -> DPO runs from one command."""
    hidden_size: Annotated[int, AT_LEAST_ONE] = 128
    intermediate_size: Annotated[int, AT_LEAST_ONE] = 384
    num_layers: Annotated[int, AT_LEAST_ONE] = 4
    num_heads: Annotated[int, AT_LEAST_ONE] = 2
    max_position_embeddings: Annotated[int, AT_LEAST_ONE] = 2048
    init_std: Annotated[float, POSITIVE] = 0.02


@dataclass(frozen=True)
class TokenizerConfig:
    source: str = "auto"
    """`train` (SentencePiece BPE with byte fallback on the sources), a folder to reuse, or `auto`:
    the tokenizer of `model.init` when that is a checkpoint, else `train`."""
    vocab_size: Annotated[int, AT_LEAST_ONE] = 4000
    mecab: bool = False
    """Pre-segment training text with MeCab (fugashi): no piece crosses a morpheme boundary."""
    extend_vocab: Annotated[int, NON_NEGATIVE] = 0
    """With a reused tokenizer: learn up to this many new pieces from the sources and add them,
    initialising their embeddings from the old pieces they replace."""


@dataclass(frozen=True)
class OptimConfig:
    seq_len: Annotated[int, Bound(8)] = 256
    batch_size: Annotated[int, AT_LEAST_ONE] = 16
    grad_accum: Annotated[int, AT_LEAST_ONE] = 1
    lr: Annotated[float, POSITIVE] = 3e-3
    min_lr_ratio: Annotated[float, FRACTION] = 0.1
    """The cosine schedule's floor, as a fraction of `lr`."""
    weight_decay: Annotated[float, NON_NEGATIVE] = 0.1
    beta1: Annotated[float, BELOW_ONE] = 0.9
    beta2: Annotated[float, BELOW_ONE] = 0.95
    max_grad_norm: Annotated[float, NON_NEGATIVE] = 1.0
    """0: no clipping."""
    bf16: Literal["auto", True, False] = "auto"
    max_steps: Annotated[int, NON_NEGATIVE] = 0
    """SFT and DPO only (pre-training takes its length from the stages)."""
    warmup_steps: Annotated[int, NON_NEGATIVE] = 0
    """SFT and DPO only (pre-training stages have their own)."""


@dataclass(frozen=True)
class SpikeGuardConfig:
    """A step whose loss exceeds `factor` times the mean of the last `window` steps is a spike
    (after `min_steps` steps). `skip` drops that step's update; `rollback` restores the last
    checkpoint and skips the data seen since it."""

    action: Literal["off", "skip", "rollback"] = "off"
    factor: Annotated[float, Bound(1, open_low=True)] = 2.0
    window: Annotated[int, AT_LEAST_ONE] = 20
    min_steps: Annotated[int, NON_NEGATIVE] = 10
    max_rollbacks: Annotated[int, NON_NEGATIVE] = 3


@dataclass(frozen=True)
class EvalConfig:
    tasks: tuple[str, ...] = ()
    every: Annotated[int, NON_NEGATIVE] = 0
    args: tuple[str, ...] = ()
    """Extra arguments for `jeval run` (e.g. `--backend local --limit 50`)."""


@dataclass(frozen=True)
class LoraConfig:
    r: Annotated[int, NON_NEGATIVE] = 0
    alpha: Annotated[int, AT_LEAST_ONE] = 16
    dropout: Annotated[float, BELOW_ONE] = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    merge: bool = True
    """Merge the adapters into the weights at the end, so the checkpoint serves as it is."""


@dataclass(frozen=True)
class TrainConfig:
    mode: Literal["pretrain", "sft", "dpo"] = "pretrain"
    seed: Annotated[int, SEED] = 0
    sources: tuple[SourceConfig, ...] = ()
    stages: tuple[StageConfig, ...] = ()
    model: ModelConfig = field(default_factory=ModelConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    spike_guard: SpikeGuardConfig = field(default_factory=SpikeGuardConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    save_every: Annotated[int, NON_NEGATIVE] = 0
    save_total_limit: Annotated[int, NON_NEGATIVE] = 3
    """0: keep every checkpoint."""
    log_every: Annotated[int, NON_NEGATIVE] = 10
    dpo_beta: Annotated[float, POSITIVE] = 0.1

    @property
    def total_steps(self) -> int:
        if self.mode == "pretrain":
            return sum(s.steps for s in self.stages)
        return self.optim.max_steps

    def stage_starts(self) -> list[int]:
        starts, step = [], 0
        for stage in self.stages:
            starts.append(step)
            step += stage.steps
        return starts


def _section(cls: type[_Section], raw: Any, where: str, prefix: str = "",
             **converters: Callable[[Any], Any]) -> _Section:
    """A config section from its YAML mapping: each value checked against its field's type and
    bounds (or given to its converter), unknown and missing keys refused."""
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise JevalError(f"{where}: expected a mapping (key: value lines), got {shown(raw)}")
    fields = dataclasses.fields(cls)
    known = {f.name for f in fields}
    unknown = sorted(set(map(str, raw)) - known)
    if unknown:
        raise JevalError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    missing = [f.name for f in fields if f.name not in raw and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise JevalError(f"{where}: needs {', '.join(missing)}")
    types = hints(cls)
    values = {k: converters[k](v) if k in converters else conform(v, types[k], f"{prefix}{k}")
              for k, v in raw.items()}
    return cls(**values)


def _sources(raw: Any, base: Path) -> tuple[SourceConfig, ...]:
    if not isinstance(raw, dict) or not raw:
        raise JevalError(f"sources: expected a mapping of source name to {{path, format}}, got {shown(raw)}")
    out = []
    for name, spec in raw.items():
        where = f"sources.{name}"
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict):
            raise JevalError(f"{where}: expected a path or {{path: ..., format: ...}}, got {shown(spec)}")
        spec = dict(spec)
        key = "path" if "path" in spec else "paths"
        paths = spec.pop("path", spec.pop("paths", None))
        if spec.get("format") == "builtin":
            paths = paths or []
        if paths is None:
            raise JevalError(f"{where}: needs a path")
        paths = [paths] if isinstance(paths, str) else paths
        if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
            raise JevalError(f"{where}.{key}: expected a path (a string) or a list of paths, got {shown(paths)}")
        resolved = tuple((base / p) if not Path(p).is_absolute() else Path(p) for p in paths)
        out.append(_section(SourceConfig, {"name": str(name), "paths": resolved, **spec}, where, f"{where}."))
    return tuple(out)


def _stages(raw: Any) -> tuple[StageConfig, ...]:
    if not isinstance(raw, list):
        raise JevalError(f"stages: expected a list of {{name, steps, mixture, warmup_steps}}, got {shown(raw)}")
    stages = []
    for i, spec in enumerate(raw):
        if not isinstance(spec, dict):
            raise JevalError(f"stages[{i}]: expected a mapping, got {shown(spec)}")
        spec = {"name": f"stage{i + 1}", **spec}
        stages.append(_section(StageConfig, spec, f"stages[{i}] ({spec['name']})", f"stages[{i}]."))
    return tuple(stages)


def _path_like(base: Path, key: str) -> Callable[[Any], Any]:
    """A path relative to the config file made absolute; the keywords (scratch, train, auto) kept."""
    def convert(value: Any) -> Any:
        if not isinstance(value, str) or not value:
            raise JevalError(f"{key}: expected a path (a string), got {shown(value)}")
        if value not in ("scratch", "train", "auto") and not Path(value).is_absolute():
            return str(base / value)
        return value
    return convert


def _strings(key: str) -> Callable[[Any], tuple[str, ...]]:
    """A list of names, or one comma-separated string of them."""
    def convert(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if value is None:
            return ()
        if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, str | int | float)
                                              for v in value):
            raise JevalError(f"{key}: expected a list of strings (or one comma-separated string), got {shown(value)}")
        return tuple(str(v) for v in value)
    return convert


def from_dict(raw: dict[str, Any], base: Path = Path(".")) -> TrainConfig:
    """Build and validate a config from parsed YAML; relative paths are taken from `base`."""
    if not isinstance(raw, dict):
        raise JevalError(f"training config: expected a mapping at the top level, got {shown(raw)}")
    raw = dict(raw)
    sections: dict[str, Callable[[Any], Any]] = {
        "model": lambda v: _section(ModelConfig, v, "model", "model.", init=_path_like(base, "model.init")),
        "tokenizer": lambda v: _section(TokenizerConfig, v, "tokenizer", "tokenizer.",
                                        source=_path_like(base, "tokenizer.source")),
        "optim": lambda v: _section(OptimConfig, v, "optim", "optim."),
        "spike_guard": lambda v: _section(SpikeGuardConfig, v, "spike_guard", "spike_guard."),
        "eval": lambda v: _section(EvalConfig, v, "eval", "eval.", tasks=_strings("eval.tasks"),
                                   args=_strings("eval.args")),
        "lora": lambda v: _section(LoraConfig, v, "lora", "lora.", target_modules=_strings("lora.target_modules")),
        "sources": lambda v: _sources(v, base),
        "stages": _stages,
    }
    config = _section(TrainConfig, raw, "training config", "", **sections)
    validate(config)
    return config


def validate(config: TrainConfig) -> None:
    """Types and ranges of every field, then what the fields must agree on."""
    check_fields(config)
    if not config.sources:
        raise JevalError("training config: no sources; give at least one corpus under `sources`")
    for source in config.sources:
        if source.format not in SOURCE_FORMATS:
            raise JevalError(f"sources.{source.name}: unknown format {source.format!r}; "
                             f"one of {', '.join(SOURCE_FORMATS)}")
        if source.format != "builtin" and not source.paths:
            raise JevalError(f"sources.{source.name}: needs a path")
        for path in source.paths:
            if not path.exists():
                raise JevalError(f"sources.{source.name}: corpus file {path} does not exist")
    names = {s.name for s in config.sources}
    if config.mode == "pretrain":
        if not config.stages:
            raise JevalError("pre-training needs at least one stage under `stages` (steps and mixture)")
        for stage in config.stages:
            where = f"stages ({stage.name})"
            if not stage.mixture:
                raise JevalError(f"{where}: mixture must map source names to token ratios")
            unknown = sorted(set(stage.mixture) - names)
            if unknown:
                raise JevalError(f"{where}: mixture names unknown source(s) {', '.join(unknown)}; "
                                 f"sources are {', '.join(sorted(names))}")
            total = sum(stage.mixture.values())
            if not math.isclose(total, 1.0, abs_tol=RATIO_TOLERANCE):
                raise JevalError(f"{where}: mixture ratios sum to {total:g}, not 1")
            if stage.warmup_steps > stage.steps:
                raise JevalError(f"{where}: warmup_steps must be between 0 and the stage's steps")
    elif config.stages:
        raise JevalError(f"{config.mode}: stages apply to pre-training; give optim.max_steps instead")
    elif config.optim.max_steps < 1:
        raise JevalError(f"{config.mode}: set optim.max_steps (a positive number of optimizer steps)")
    if config.mode == "dpo" and not any(s.format == "preference" for s in config.sources):
        raise JevalError("dpo needs a source with format: preference ({prompt, chosen, rejected} lines)")
    trains = (config.tokenizer.source == "train"
              or (config.tokenizer.source == "auto" and config.model.init == "scratch"))
    if trains and config.tokenizer.extend_vocab:
        raise JevalError("tokenizer.extend_vocab applies to a reused tokenizer (tokenizer.source: a folder, "
                         "or model.init: a checkpoint)")
    if config.tokenizer.source not in ("train", "auto") and not Path(config.tokenizer.source).is_dir():
        raise JevalError(f"tokenizer.source: {config.tokenizer.source} is not a folder (or use `train`)")
    if config.mode != "pretrain" and config.spike_guard.action != "off":
        raise JevalError("spike_guard applies to pre-training only; set spike_guard.action: off for sft/dpo")
    if is_config_path(config.model.init):
        if not Path(config.model.init).is_file():
            raise JevalError(f"model.init: training config {config.model.init} does not exist")
    elif config.model.init != "scratch" and not (Path(config.model.init) / "config.json").is_file():
        raise JevalError(f"model.init: {config.model.init} is not a Hugging Face checkpoint folder (no config.json) "
                         "or a training config (.yaml)")
    if config.model.hidden_size % config.model.num_heads:
        raise JevalError("model.hidden_size must be a multiple of model.num_heads")
    if config.eval.tasks and config.eval.every < 1:
        raise JevalError("eval.every must be a positive number of steps when eval.tasks is set")
    if config.eval.every and not config.save_every:
        raise JevalError("eval.every needs save_every (the hook evaluates saved checkpoints)")
    if config.eval.every and config.save_every and config.eval.every % config.save_every:
        raise JevalError("eval.every must be a multiple of save_every")
    if config.spike_guard.action == "rollback" and not config.save_every:
        raise JevalError("spike_guard.action rollback needs save_every (it rolls back to the last checkpoint)")


def load_config(path: Path, chain: tuple[Path, ...] = ()) -> TrainConfig:
    """A config file, checked with the configs its `model.init` chains (`chain`: the files that
    led here)."""
    if not path.is_file():
        raise JevalError(f"training config {path} does not exist")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=Yaml12Floats)
    except yaml.YAMLError as e:
        raise JevalError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    config = from_dict(raw, base=path.parent)
    if is_config_path(config.model.init):
        init_config(config, (*chain, path))
    return config


def init_config(config: TrainConfig, chain: tuple[Path, ...] = ()) -> TrainConfig:
    """The config that `model.init` names, loaded and checked; an error in it names the file, and a
    chain that comes back to a config already in it is refused."""
    path = Path(config.model.init)
    if path.resolve() in {p.resolve() for p in chain}:
        trail = " -> ".join(p.name for p in (*chain, path))
        raise JevalError(f"model.init: {trail} comes back to a config already in the chain")
    try:
        return load_config(path, chain)
    except JevalError as e:
        if str(e).startswith("model.init: "):
            raise
        raise JevalError(f"model.init ({path.name}): {e}") from None


def with_overrides(config: TrainConfig, **changes: Any) -> TrainConfig:
    """A copy with top-level or dotted (`optim.lr`) fields changed, validated again."""
    nested: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, value in changes.items():
        if value is None:
            continue
        section, _, name = key.partition(".")
        if name:
            nested.setdefault(section, {})[name] = value
        else:
            top[key] = value
    for section, values in nested.items():
        top[section] = dataclasses.replace(getattr(config, section), **values)
    config = dataclasses.replace(config, **top)
    validate(config)
    return config
