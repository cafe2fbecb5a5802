"""chABSA (aspect-based sentiment in Japanese securities reports), built as llm-jp-eval v1.4.1
builds it.

Every `chABSA-dataset/*.json` document of the release zip, in file-name order, contributes its
sentences that have at least one opinion: input `文章：{sentence}`, output one
`{target} {polarity}` line per opinion in annotation order. The sentences are shuffled with
seed 42 and cut 80/10/10 into train, dev and test (chABSA has no official split).

The release zip is gone from the address chABSA's README and llm-jp-eval give; there is no other
official copy. A user who has the zip supplies it through a mirror folder (see UNAVAILABLE).
"""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path, PurePosixPath

from jeval.errors import JevalError
from jeval.source_status import SourceStatus
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits

URL = "https://s3-ap-northeast-1.amazonaws.com/dev.tech-sketch.jp/chakki/public/chABSA-dataset.zip"
FOLDER = "chABSA-dataset"
UNAVAILABLE = (
    "chABSA's release zip is no longer served upstream; if you have chABSA-dataset.zip, put it at "
    "MIRROR/s3-ap-northeast-1.amazonaws.com/dev.tech-sketch.jp/chakki/public/chABSA-dataset.zip and run "
    "`jeval data prepare chabsa --mirror MIRROR`, or prepare chabsa from llm-jp-eval's own files with --jaster-dir"
)
ZIP = Source(URL, "", "CC BY 4.0 (chABSA-dataset, TIS Inc.)", unavailable=UNAVAILABLE,
             status=SourceStatus("dead", "not checked", "the address chABSA's README and llm-jp-eval give no longer "
                                                        "serves the zip, and there is no other official copy"))
SEED = 42


def _documents(path: Path) -> list[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted(n for n in archive.namelist()
                           if PurePosixPath(n).parent == PurePosixPath(FOLDER) and n.endswith(".json"))
            return [(n, archive.read(n)) for n in names]
    except zipfile.BadZipFile as e:
        raise JevalError(f"{path}: not a readable zip file ({e})") from None


def _sentence_examples(where: str, data: bytes) -> list[Example]:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise JevalError(f"{where}: not valid UTF-8 JSON ({e})") from None
    sentences = document.get("sentences") if isinstance(document, dict) else None
    if not isinstance(sentences, list):
        raise JevalError(f"{where}: expected an object with a 'sentences' list")
    examples = []
    for i, sentence in enumerate(sentences):
        text = sentence.get("sentence") if isinstance(sentence, dict) else None
        opinions = sentence.get("opinions") if isinstance(sentence, dict) else None
        if not isinstance(text, str) or not isinstance(opinions, list):
            raise JevalError(f"{where}: sentence {i} needs a string 'sentence' and an 'opinions' list")
        lines = []
        for j, opinion in enumerate(opinions):
            if not (isinstance(opinion, dict) and isinstance(opinion.get("target"), str)
                    and isinstance(opinion.get("polarity"), str)):
                raise JevalError(f"{where}: sentence {i}, opinion {j} needs string 'target' and 'polarity'")
            lines.append(f"{opinion['target']} {opinion['polarity']}")
        if lines:
            examples.append(Example(f"文章：{text}", "\n".join(lines)))
    return examples


def build_splits(files: dict[str, Path]) -> Splits:
    path = files[ZIP.url]
    documents = _documents(path)
    if not documents:
        raise JevalError(f"{path}: no {FOLDER}/*.json documents in the zip")
    examples = [e for name, data in documents for e in _sentence_examples(f"{path}:{name}", data)]
    random.Random(SEED).shuffle(examples)
    n = len(examples)
    return {"train": examples[:int(n * 0.8)], "dev": examples[int(n * 0.8):int(n * 0.9)],
            "test": examples[int(n * 0.9):]}


TASKS = [JasterTask(name="chabsa", category="EL", module="chabsa", raw_sources=(ZIP,), build_splits=build_splits,
                    upstream_gone=UNAVAILABLE)]
