"""ALT (Asian Language Treebank) Japanese-English parallel corpus, built as llm-jp-eval v1.4.1
builds alt-e-to-j and alt-j-to-e.

`data_en.txt` and `data_ja.txt` of the 2019-12-06 release hold `SNT.{article}.{sentence}\\t{text}`
lines (lines without a tab carry no sentence and are skipped; texts are stripped). ALT's official
split lists (`URL-{train,dev,test}.txt`, `URL.{article}\\t{wikinews url}`) decide which articles go
to which split. In each split, articles in list order, sentences in the English file's order, a
sentence becomes a pair when both languages have it and the two texts together are shorter than
500 characters. alt-e-to-j asks English to Japanese, alt-j-to-e the reverse. No shuffle.

Established from llm-jp-eval's source (v1.3.0's processor, which v1.4.1 keeps to the best of
jeval's knowledge). NICT serves the files without a pinned version, so they are unpinned.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

from jeval.errors import JevalError
from jeval.source_status import NOT_CHECKED
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits

BASE = "https://www2.nict.go.jp/astrec-att/member/mutiyama/ALT"
RELEASE = "ALT-Parallel-Corpus-20191206"
LICENSE = "CC BY 4.0 (ALT Parallel Corpus, NICT)"
CORPUS = Source(f"{BASE}/{RELEASE}.zip", "", LICENSE, status=NOT_CHECKED)
SPLIT_LISTS = {split: Source(f"{BASE}/URL-{split}.txt", "", LICENSE, status=NOT_CHECKED)
               for split in ("train", "dev", "test")}
MAX_PAIR_CHARS = 500

Sentences = dict[str, dict[str, str]]


def _lines(where: str, data: bytes) -> list[str]:
    try:
        return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").readlines()
    except UnicodeDecodeError as e:
        raise JevalError(f"{where}: not UTF-8 text ({e.reason})") from None


def _read_member(path: Path, member: str) -> bytes:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)
    except zipfile.BadZipFile as e:
        raise JevalError(f"{path}: not a readable zip file ({e})") from None
    except KeyError:
        raise JevalError(f"{path}: the zip has no {member}") from None


def read_sentences(where: str, data: bytes) -> Sentences:
    sentences: Sentences = {}
    for n, line in enumerate(_lines(where, data), 1):
        if "\t" not in line:
            continue
        fields = line.split("\t")
        tag = fields[0].split(".")
        if len(fields) != 2 or len(tag) != 3:
            raise JevalError(f"{where}:{n}: expected 'SNT.ARTICLE.SENTENCE<TAB>text'")
        sentences.setdefault(tag[1], {})[tag[2]] = fields[1].strip()
    return sentences


def read_split_list(path: Path) -> list[str]:
    articles = []
    for n, line in enumerate(_lines(str(path), path.read_bytes()), 1):
        fields = line.split("\t")
        tag = fields[0].split(".")
        if len(fields) != 2 or len(tag) != 2:
            raise JevalError(f"{path}:{n}: expected 'URL.ARTICLE<TAB>url'")
        articles.append(tag[1])
    return articles


def sentence_pairs(files: dict[str, Path]) -> dict[str, list[tuple[str, str]]]:
    """(English, Japanese) pairs of each split."""
    path = files[CORPUS.url]
    en = read_sentences(f"{path}:{RELEASE}/data_en.txt", _read_member(path, f"{RELEASE}/data_en.txt"))
    ja = read_sentences(f"{path}:{RELEASE}/data_ja.txt", _read_member(path, f"{RELEASE}/data_ja.txt"))
    pairs = {}
    for split, source in SPLIT_LISTS.items():
        pairs[split] = [
            (en_text, ja[article][sentence])
            for article in read_split_list(files[source.url]) if article in en
            for sentence, en_text in en[article].items()
            if sentence in ja.get(article, {}) and len(ja[article][sentence]) + len(en_text) < MAX_PAIR_CHARS
        ]
    return pairs


def _builder(english_to_japanese: bool) -> Callable[[dict[str, Path]], Splits]:
    def build_splits(files: dict[str, Path]) -> Splits:
        return {
            split: [Example(en, ja) if english_to_japanese else Example(ja, en) for en, ja in pairs]
            for split, pairs in sentence_pairs(files).items()
        }
    return build_splits


SOURCES = (CORPUS, *SPLIT_LISTS.values())
TASKS = [
    JasterTask(name="alt-e-to-j", category="MT", module="alt", raw_sources=SOURCES, build_splits=_builder(True)),
    JasterTask(name="alt-j-to-e", category="MT", module="alt", raw_sources=SOURCES, build_splits=_builder(False)),
]
