"""The generation cache: every finished request is committed at once, so a killed run resumes.

A SQLite file in WAL mode; a row is keyed by SHA-256 of (model identity, request payload), where
the identity holds the weights' fingerprint and the engine with its version and settings (see
jeval.identity): answers of one model under vLLM are never served to a run under transformers,
nor answers of one checkpoint to another served under the same model id. Several runs may share
one file: SQLite serialises the writers.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.executor import payload_key
from jeval.identity import ModelIdentity

SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def cache_key(identity: ModelIdentity, payload: dict[str, Any]) -> str:
    return payload_key(identity.cache_identity(), payload)


def open_sqlite(path: Path, schema: str, what: str) -> sqlite3.Connection:
    """A SQLite file in WAL mode with autocommit, so that every write is durable the moment it
    returns and a killed process loses nothing already written; `what` names it in errors."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(path, timeout=60, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(schema)
    except sqlite3.DatabaseError as e:
        raise JevalError(f"{what} {path} cannot be opened ({e}); move it aside or pass --cache") from None
    return db


class GenerationCache:
    def __init__(self, path: Path):
        self._db = open_sqlite(path, SCHEMA, "generation cache")
        self.path = path

    def get(self, key: str) -> dict[str, Any] | None:
        """The answer stored under `key`; a row that does not read back as an answer counts as
        missing (it is asked again and overwritten)."""
        try:
            row = self._db.execute("SELECT response FROM generations WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as e:
            raise JevalError(f"generation cache {self.path} is damaged ({e}); move it aside and run again (its "
                             "answers are then asked anew), or pass --cache NEW_FILE") from None
        if row is None:
            return None
        try:
            found = json.loads(row[0])
        except (TypeError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def put(self, key: str, model: str, payload: dict[str, Any], response: dict[str, Any]) -> None:
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO generations (key, model, request, response, created) VALUES (?, ?, ?, ?, ?)",
                (key, model, json.dumps(payload, ensure_ascii=False), json.dumps(response, ensure_ascii=False),
                 time.time()),
            )
        except sqlite3.DatabaseError as e:
            raise JevalError(f"cannot write to the generation cache {self.path} ({e}); the answers written before "
                             "are kept: free disk space (or move a damaged file aside) and run again") from None

    def count(self, model: str | None = None) -> int:
        if model is None:
            row = self._db.execute("SELECT COUNT(*) FROM generations").fetchone()
        else:
            row = self._db.execute("SELECT COUNT(*) FROM generations WHERE model = ?", (model,)).fetchone()
        return int(row[0])

    def close(self) -> None:
        self._db.close()


@dataclass(frozen=True)
class GenerationStore:
    """The generation cache as the executor's answer store, for one model identity."""

    cache: GenerationCache
    identity: ModelIdentity

    def key(self, payload: dict[str, Any]) -> str:
        return cache_key(self.identity, payload)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.cache.get(key)

    def put(self, key: str, payload: dict[str, Any], response: dict[str, Any]) -> None:
        self.cache.put(key, self.identity.fingerprint, payload, response)
