"""Reading corpus files: JSON Lines with a `text` field (and optionally `lang`), or plain text.

A `.jsonl`/`.json` file holds one document per line; any other file is one plain-text document
(the sliding window covers its length). A record's own `lang` wins over the file's `--lang`;
with neither the language is `und` (undetermined, as in BCP 47).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from jeval.errors import JevalError

UNDETERMINED = "und"


@dataclass(frozen=True)
class Document:
    corpus: str
    index: int
    text: str
    lang: str

    @property
    def key(self) -> str:
        return f"{self.corpus}:{self.index}"


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    lang: str | None = None

    @property
    def name(self) -> str:
        return self.path.name


def corpus_files(paths: tuple[str, ...], langs: tuple[str, ...]) -> list[CorpusFile]:
    """Pair `--corpus` files with `--lang` values: none, one for all, or one per file."""
    if not paths:
        raise JevalError("the ppl task needs --corpus FILE[,FILE...] (JSON Lines with a `text` field, or plain text)")
    if len(langs) not in (0, 1, len(paths)):
        raise JevalError(f"--lang gives {len(langs)} languages for {len(paths)} corpus files; "
                         "give one, or one per file")
    chosen = langs * len(paths) if len(langs) == 1 else langs or (None,) * len(paths)
    files = [CorpusFile(Path(p), lang) for p, lang in zip(paths, chosen, strict=True)]
    names = [f.name for f in files]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise JevalError(f"corpus files must have distinct names (results are reported by name): {', '.join(repeated)}")
    return files


def read_corpus(file: CorpusFile) -> list[Document]:
    try:
        text = file.path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JevalError(f"--corpus {file.path}: file not found") from None
    except UnicodeDecodeError as e:
        raise JevalError(f"--corpus {file.path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise JevalError(f"--corpus {file.path}: cannot read ({e.strerror})") from None
    default = file.lang or UNDETERMINED
    if file.path.suffix.lower() not in (".jsonl", ".json"):
        return [Document(file.name, 0, text, default)]
    docs: list[Document] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise JevalError(f"--corpus {file.path}, line {number}: not JSON ({e.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise JevalError(f"--corpus {file.path}, line {number}: expected an object with a string `text` field")
        lang = record.get("lang") or default
        docs.append(Document(file.name, len(docs), record["text"], str(lang)))
    if not docs:
        raise JevalError(f"--corpus {file.path}: no documents")
    return docs
