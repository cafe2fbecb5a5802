"""Who a model is: what results, the generation cache and the leaderboard tell models apart by.

A model's identity is what produced its answers, in two parts:

- `fingerprint`: the weights. For a checkpoint folder, SHA-256 over its weights, config and
  tokenizer files. For a model behind a URL that jeval cannot see, the model id, the revision the
  user states (`--model-revision`) and what the server reports about the model (vLLM reports the
  weights' path and the context length), marked by `basis` as not a weight fingerprint.
- the engine: its name, version and the settings that change outputs (dtype, device, server
  arguments). The same weights under vLLM and under transformers give different answers, so the
  cache keys on both parts.

The display `name` is for people: `--name`, else the checkpoint folder's name (with its parent's
for generic names such as `checkpoint-1000`), else the model id; Unicode is kept and it is never
empty. Two different fingerprints are never merged, whatever their names.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Basis = Literal["weights", "served metadata", "model id"]
GENERIC_FOLDER = re.compile(r"^(checkpoint|ckpt|step|global_step|iter|epoch|final|model|hf|merged|last|best)"
                            r"([-_]?\d+)?$", re.IGNORECASE)
UNSAFE_IN_FOLDER = re.compile(r"[\s/\\:*?\"<>|\x00-\x1f]+")


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    fingerprint: str
    basis: Basis
    engine: str
    engine_version: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Engine settings that change outputs: dtype, device, server arguments."""
    served_id: str | None = None
    """The model id requests carry (for servers)."""
    revision: str | None = None
    path: str | None = None

    def cache_identity(self) -> str:
        """What keys this model's answers in the generation cache: weights and engine."""
        return json.dumps({"fingerprint": self.fingerprint, "engine": self.engine,
                           "engine_version": self.engine_version, "settings": dict(self.settings)},
                          sort_keys=True, ensure_ascii=False)

    @property
    def short(self) -> str:
        """A short form of the fingerprint, for folder names and to tell equal names apart."""
        digest = self.fingerprint.split(":", 1)[-1]
        if not re.fullmatch(r"[0-9a-f]{16,}", digest):
            digest = hashlib.sha256(self.fingerprint.encode()).hexdigest()
        return digest[:8]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "fingerprint": self.fingerprint, "identity_basis": self.basis,
                "served_id": self.served_id, "revision": self.revision, "path": self.path,
                "engine": {"name": self.engine, "version": self.engine_version, "settings": dict(self.settings)}}


def clean_name(name: str) -> str:
    """NFC, whitespace runs made single spaces, trimmed."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def checkpoint_name(path: Path) -> str:
    """A folder's name, with its parent's in front where the name alone says nothing
    (`run-a/checkpoint-1000`)."""
    resolved = path.expanduser().resolve()
    name = resolved.name
    if GENERIC_FOLDER.match(name) and resolved.parent.name:
        name = f"{resolved.parent.name}/{name}"
    return clean_name(name)


def display_name(given: str | None, *, checkpoint: Path | None = None, model_id: str | None = None,
                 fingerprint: str = "") -> str:
    """The model's name for people: never empty."""
    for candidate in (given, checkpoint_name(checkpoint) if checkpoint else None, _id_name(model_id)):
        if candidate and clean_name(candidate):
            return clean_name(candidate)
    return f"model-{hashlib.sha256(fingerprint.encode()).hexdigest()[:8]}"


def _id_name(model_id: str | None) -> str | None:
    if not model_id:
        return None
    path = Path(model_id)
    if path.is_absolute() or (path / "config.json").is_file():
        return checkpoint_name(path)
    return model_id


def folder_name(identity: ModelIdentity) -> str:
    """The results folder of a model: its name made safe for a file system (Unicode kept), and the
    fingerprint's short form, so two models never share a folder."""
    safe = UNSAFE_IN_FOLDER.sub("_", identity.name).strip("._") or "model"
    return f"{safe[:80]}-{identity.short}"


def endpoint_fingerprint(model_id: str, revision: str | None, reported: Mapping[str, Any]) -> str:
    """The identity of a model jeval knows only through a URL: its id, the stated revision and
    what the server reports about it, hashed."""
    blob = json.dumps({"model_id": model_id, "revision": revision, "reported": dict(reported)},
                      sort_keys=True, ensure_ascii=False)
    return "endpoint:" + hashlib.sha256(blob.encode()).hexdigest()
