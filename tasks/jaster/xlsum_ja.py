"""XL-Sum Japanese, built as llm-jp-eval v1.4.1 builds xlsum_ja.

The Japanese archive of XL-Sum 2.0 (`japanese_XLSum_v2.0.tar.bz2` on Hugging Face
csebuetnlp/xlsum) holds `japanese_{train,val,test}.jsonl`, one article per line with `id`, `url`,
`title`, `summary` and `text`. XL-Sum's own split is kept (val is dev), in file order; each article
becomes `text` → `summary`, and an article whose text is longer than MAX_CHAR_LENGTH characters
is left out of every split (llm-jp-eval's `max_char_length`, introduced in its pull request #103
so that a zero-shot prompt fits a model's context).

Licence: CC BY-NC-SA 4.0 (non-commercial), so the suite runs it only when named (suite.OPT_IN).

Uncertainties: the value 2048 of `max_char_length` is jeval's best knowledge of llm-jp-eval's
processor, whose body could not be read where this was written (the filter's existence and its
application to all three splits are documented in that processor's docstring). Hugging Face serves
the archive from a moving branch, so it is unpinned (kept on first download, recorded).
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path, PurePosixPath

from jeval.errors import JevalError
from jeval.source_status import NOT_CHECKED
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits

ARCHIVE = Source("https://huggingface.co/datasets/csebuetnlp/xlsum/resolve/main/data/japanese_XLSum_v2.0.tar.bz2", "",
                 "CC BY-NC-SA 4.0 (XL-Sum, BBC articles)", status=NOT_CHECKED)
MAX_CHAR_LENGTH = 2048
SPLIT_FILES = {"train": "japanese_train.jsonl", "dev": "japanese_val.jsonl", "test": "japanese_test.jsonl"}


def _articles(where: str, data: bytes) -> list[Example]:
    examples = []
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise JevalError(f"{where}: not UTF-8 text ({e.reason})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise JevalError(f"{where}:{n}: not valid JSON ({e.msg})") from None
        if not (isinstance(record, dict) and isinstance(record.get("text"), str)
                and isinstance(record.get("summary"), str)):
            raise JevalError(f"{where}:{n}: an article needs string 'text' and 'summary'")
        if len(record["text"]) <= MAX_CHAR_LENGTH:
            examples.append(Example(record["text"], record["summary"]))
    return examples


def read_archive(path: Path) -> Splits:
    try:
        with tarfile.open(path, "r:*") as archive:
            members = {PurePosixPath(m.name).name: m for m in archive.getmembers() if m.isfile()}
            missing = [name for name in SPLIT_FILES.values() if name not in members]
            if missing:
                raise JevalError(f"{path}: the archive lacks {', '.join(missing)}; not XL-Sum's Japanese archive")
            splits = {}
            for split, name in SPLIT_FILES.items():
                handle = archive.extractfile(members[name])
                assert handle is not None
                splits[split] = _articles(f"{path}:{members[name].name}", handle.read())
    except (tarfile.TarError, EOFError, OSError) as e:
        raise JevalError(f"{path}: not a readable tar archive ({e})") from None
    return splits


def build_splits(files: dict[str, Path]) -> Splits:
    return read_archive(files[ARCHIVE.url])


TASKS = [JasterTask(
    name="xlsum_ja",
    category="SUM",
    module="xlsum_ja",
    raw_sources=(ARCHIVE,),
    build_splits=build_splits,
    licence_note="XL-Sum: CC BY-NC-SA 4.0 (non-commercial)",
)]
