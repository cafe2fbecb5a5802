"""How an in-process engine runs (`--device`, `--dtype`, `--batch-size`, `--threads`), told
without importing torch, so that a run whose answers are all cached stays cheap."""

from __future__ import annotations

from dataclasses import dataclass

from jeval.errors import JevalError
from jeval.models.batching import BatchSize

DTYPE_NAMES = ("auto", "float32", "float16", "bfloat16")


@dataclass(frozen=True)
class LocalSettings:
    device: str | None = None
    """None: the first CUDA device where there is one, else the CPU."""
    dtype: str = "auto"
    """`auto`: the dtype the checkpoint's config names (float32 where it names none)."""
    batch_size: BatchSize = "auto"
    threads: int | None = None
    """torch's intra-op threads (None: every core this process may use)."""

    def __post_init__(self) -> None:
        if self.dtype not in DTYPE_NAMES:
            raise JevalError(f"--dtype must be one of {', '.join(DTYPE_NAMES)}, got {self.dtype!r}")
        if self.threads is not None and self.threads < 1:
            raise JevalError(f"--threads must be 1 or more, got {self.threads}")
        if self.batch_size != "auto" and self.batch_size < 1:
            raise JevalError(f"--batch-size must be a positive whole number or auto, got {self.batch_size}")
