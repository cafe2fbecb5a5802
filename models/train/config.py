"""The training config: typed sections, loaded from YAML (or a preset) and validated up front.

Everything a user can get wrong (a corpus that is not there, mixture ratios that do not sum to
1, a stage naming an unknown source, an unknown key) is a `JevalError` raised by `load_config`,
before any tokenizer or model is built.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import yaml

from jeval.errors import JevalError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Section = TypeVar("_Section", bound="DataclassInstance")

RATIO_TOLERANCE = 1e-6
SOURCE_FORMATS = ("text", "jsonl", "chat", "jaster", "preference", "builtin")


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
    steps: int
    mixture: dict[str, float]
    warmup_steps: int = 0


@dataclass(frozen=True)
class ModelConfig:
    init: str = "scratch"
    """`scratch` for a new Llama, or a Hugging Face checkpoint folder to continue from."""
    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 4
    num_heads: int = 2
    max_position_embeddings: int = 2048
    init_std: float = 0.02


@dataclass(frozen=True)
class TokenizerConfig:
    source: str = "auto"
    """`train` (SentencePiece BPE with byte fallback on the sources), a folder to reuse, or `auto`:
    the tokenizer of `model.init` when that is a checkpoint, else `train`."""
    vocab_size: int = 4000
    mecab: bool = False
    """Pre-segment training text with MeCab (fugashi): no piece crosses a morpheme boundary."""
    extend_vocab: int = 0
    """With a reused tokenizer: learn up to this many new pieces from the sources and add them,
    initialising their embeddings from the old pieces they replace."""


@dataclass(frozen=True)
class OptimConfig:
    seq_len: int = 256
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    """The cosine schedule's floor, as a fraction of `lr`."""
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    max_grad_norm: float = 1.0
    bf16: Literal["auto", True, False] = "auto"
    max_steps: int = 0
    """SFT and DPO only (pre-training takes its length from the stages)."""
    warmup_steps: int = 0
    """SFT and DPO only (pre-training stages have their own)."""


@dataclass(frozen=True)
class SpikeGuardConfig:
    """A step whose loss exceeds `factor` times the mean of the last `window` steps is a spike
    (after `min_steps` steps). `skip` drops that step's update; `rollback` restores the last
    checkpoint and skips the data seen since it."""

    action: Literal["off", "skip", "rollback"] = "off"
    factor: float = 2.0
    window: int = 20
    min_steps: int = 10
    max_rollbacks: int = 3


@dataclass(frozen=True)
class EvalConfig:
    tasks: tuple[str, ...] = ()
    every: int = 0
    args: tuple[str, ...] = ()
    """Extra arguments for `jeval run` (e.g. `--backend local --limit 50`)."""


@dataclass(frozen=True)
class LoraConfig:
    r: int = 0
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    merge: bool = True
    """Merge the adapters into the weights at the end, so the checkpoint serves as it is."""


@dataclass(frozen=True)
class TrainConfig:
    mode: Literal["pretrain", "sft", "dpo"] = "pretrain"
    seed: int = 0
    sources: tuple[SourceConfig, ...] = ()
    stages: tuple[StageConfig, ...] = ()
    model: ModelConfig = field(default_factory=ModelConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    spike_guard: SpikeGuardConfig = field(default_factory=SpikeGuardConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    save_every: int = 0
    save_total_limit: int = 3
    log_every: int = 10
    dpo_beta: float = 0.1

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


def _section(cls: type[_Section], raw: Any, where: str, **converters: Callable[[Any], Any]) -> _Section:
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise JevalError(f"{where}: expected a mapping, got {type(raw).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise JevalError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values = {k: converters[k](v) if k in converters else v for k, v in raw.items()}
    try:
        return cls(**values)
    except TypeError as e:
        raise JevalError(f"{where}: {e}") from None


def _sources(raw: Any, base: Path) -> tuple[SourceConfig, ...]:
    if not isinstance(raw, dict) or not raw:
        raise JevalError("sources: expected a mapping of source name to {path, format}")
    out = []
    for name, spec in raw.items():
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict):
            raise JevalError(f"sources.{name}: expected {{path: ..., format: ...}}")
        spec = dict(spec)
        paths = spec.pop("path", spec.pop("paths", None))
        if spec.get("format") == "builtin":
            paths = paths or []
        if paths is None:
            raise JevalError(f"sources.{name}: needs a path")
        paths = [paths] if isinstance(paths, str) else list(paths)
        resolved = tuple((base / p) if not Path(p).is_absolute() else Path(p) for p in paths)
        out.append(_section(SourceConfig, {"name": str(name), "paths": resolved, **spec}, f"sources.{name}"))
    return tuple(out)


def _stages(raw: Any) -> tuple[StageConfig, ...]:
    if not isinstance(raw, list):
        raise JevalError("stages: expected a list of {name, steps, mixture, warmup_steps}")
    stages = []
    for i, spec in enumerate(raw):
        if not isinstance(spec, dict):
            raise JevalError(f"stages[{i}]: expected a mapping")
        spec = {"name": f"stage{i + 1}", **spec}
        stages.append(_section(StageConfig, spec, f"stages[{i}] ({spec['name']})"))
    return tuple(stages)


def _path_like(base: Path) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, str) and value not in ("scratch", "train", "auto") and not Path(value).is_absolute():
            return str(base / value)
        return value
    return convert


def from_dict(raw: dict[str, Any], base: Path = Path(".")) -> TrainConfig:
    """Build and validate a config from parsed YAML; relative paths are taken from `base`."""
    if not isinstance(raw, dict):
        raise JevalError("training config: expected a mapping at the top level")
    raw = dict(raw)
    sections = {
        "model": lambda v: _section(ModelConfig, v, "model", init=_path_like(base)),
        "tokenizer": lambda v: _section(TokenizerConfig, v, "tokenizer", source=_path_like(base)),
        "optim": lambda v: _section(OptimConfig, v, "optim"),
        "spike_guard": lambda v: _section(SpikeGuardConfig, v, "spike_guard"),
        "eval": lambda v: _section(EvalConfig, v, "eval", tasks=_strings, args=_strings),
        "lora": lambda v: _section(LoraConfig, v, "lora", target_modules=_strings),
        "sources": lambda v: _sources(v, base),
        "stages": _stages,
    }
    config = _section(TrainConfig, raw, "training config", **sections)
    validate(config)
    return config


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value or ())


def validate(config: TrainConfig) -> None:
    if config.mode not in ("pretrain", "sft", "dpo"):
        raise JevalError(f"mode must be pretrain, sft or dpo, got {config.mode!r}")
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
            if not isinstance(stage.steps, int) or stage.steps < 1:
                raise JevalError(f"{where}: steps must be a positive integer, got {stage.steps!r}")
            if not isinstance(stage.mixture, dict) or not stage.mixture:
                raise JevalError(f"{where}: mixture must map source names to token ratios")
            unknown = sorted(set(stage.mixture) - names)
            if unknown:
                raise JevalError(f"{where}: mixture names unknown source(s) {', '.join(unknown)}; "
                                 f"sources are {', '.join(sorted(names))}")
            if any(not isinstance(r, (int, float)) or r < 0 for r in stage.mixture.values()):
                raise JevalError(f"{where}: mixture ratios must be numbers >= 0")
            total = sum(stage.mixture.values())
            if not math.isclose(total, 1.0, abs_tol=RATIO_TOLERANCE):
                raise JevalError(f"{where}: mixture ratios sum to {total:g}, not 1")
            if stage.warmup_steps < 0 or stage.warmup_steps > stage.steps:
                raise JevalError(f"{where}: warmup_steps must be between 0 and the stage's steps")
    elif config.stages:
        raise JevalError(f"{config.mode}: stages apply to pre-training; give optim.max_steps instead")
    elif config.optim.max_steps < 1:
        raise JevalError(f"{config.mode}: set optim.max_steps (a positive number of optimizer steps)")
    if config.mode == "dpo" and not any(s.format == "preference" for s in config.sources):
        raise JevalError("dpo needs a source with format: preference ({prompt, chosen, rejected} lines)")
    o = config.optim
    if o.seq_len < 8 or o.batch_size < 1 or o.grad_accum < 1:
        raise JevalError("optim: seq_len must be >= 8, batch_size and grad_accum >= 1")
    if not 0 <= o.min_lr_ratio <= 1:
        raise JevalError(f"optim.min_lr_ratio must be between 0 and 1, got {o.min_lr_ratio}")
    trains = (config.tokenizer.source == "train"
              or (config.tokenizer.source == "auto" and config.model.init == "scratch"))
    if trains and config.tokenizer.extend_vocab:
        raise JevalError("tokenizer.extend_vocab applies to a reused tokenizer (tokenizer.source: a folder, "
                         "or model.init: a checkpoint)")
    if config.tokenizer.source not in ("train", "auto") and not Path(config.tokenizer.source).is_dir():
        raise JevalError(f"tokenizer.source: {config.tokenizer.source} is not a folder (or use `train`)")
    if config.mode != "pretrain" and config.spike_guard.action != "off":
        raise JevalError("spike_guard applies to pre-training only; set spike_guard.action: off for sft/dpo")
    if config.model.init != "scratch" and not (Path(config.model.init) / "config.json").is_file():
        raise JevalError(f"model.init: {config.model.init} is not a Hugging Face checkpoint folder (no config.json)")
    if config.model.hidden_size % config.model.num_heads:
        raise JevalError("model.hidden_size must be a multiple of model.num_heads")
    if config.eval.tasks and config.eval.every < 1:
        raise JevalError("eval.every must be a positive number of steps when eval.tasks is set")
    if config.eval.every and not config.save_every:
        raise JevalError("eval.every needs save_every (the hook evaluates saved checkpoints)")
    if config.eval.every and config.save_every and config.eval.every % config.save_every:
        raise JevalError("eval.every must be a multiple of save_every")
    if config.spike_guard.action not in ("off", "skip", "rollback"):
        raise JevalError("spike_guard.action must be off, skip or rollback")
    if config.spike_guard.action == "rollback" and not config.save_every:
        raise JevalError("spike_guard.action rollback needs save_every (it rolls back to the last checkpoint)")


def load_config(path: Path) -> TrainConfig:
    if not path.is_file():
        raise JevalError(f"training config {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise JevalError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    return from_dict(raw, base=path.parent)


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
