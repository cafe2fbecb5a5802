"""Japanese-English Bilingual Corpus of Wikipedia's Kyoto Articles (WikiCorpus 2.01), built as
llm-jp-eval v1.4.1 builds wikicorpus-e-to-j and wikicorpus-j-to-e.

Each `.xml` article of the release tarball (read after `&` is escaped as `&amp;`, as llm-jp-eval
does, since the files carry bare ampersands) gives one pair per `<par>` paragraph: the texts of its
`<sen>` sentences that have both a `<j>` and an `<e type="check">` text, joined with spaces per
language; a paragraph whose two texts together reach 500 characters is dropped (a paragraph with
no such sentence gives an empty pair, kept as llm-jp-eval keeps it). The articles (not the
paragraphs) are shuffled with seed 42 and cut 80/10/10 into train, dev and test.

Established from llm-jp-eval's source (v1.3.0's processor, which v1.4.1 keeps to the best of
jeval's knowledge). One deliberate choice: llm-jp-eval lists the articles in `os.walk` order,
which depends on the file system it extracted to; jeval takes them in path order, so the split
is reproducible but may differ from a given llm-jp-eval run's. NICT serves the tarball without a
pinned version, so it is unpinned.
"""

from __future__ import annotations

import random
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from jeval.errors import JevalError
from jeval.source_status import NOT_CHECKED
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits

TARBALL = Source("https://alaginrc.nict.go.jp/WikiCorpus/src/wiki_corpus_2.01.tar.gz", "",
                 "CC BY-SA 3.0 (Wikipedia's Kyoto Articles bilingual corpus, NICT)", status=NOT_CHECKED)
SEED = 42
MAX_PAIR_CHARS = 500

Pair = tuple[str, str]


def article_pairs(where: str, data: bytes) -> list[Pair]:
    """(English, Japanese) paragraph pairs of one article."""
    try:
        root = ET.fromstring(data.decode("utf-8").replace("&", "&amp;"))
    except UnicodeDecodeError as e:
        raise JevalError(f"{where}: not UTF-8 text ({e.reason})") from None
    except ET.ParseError as e:
        raise JevalError(f"{where}: not well-formed XML ({e})") from None
    pairs = []
    for paragraph in root.findall("par"):
        ja_texts, en_texts = [], []
        for sentence in paragraph.findall("sen"):
            ja, en = sentence.find("j"), sentence.find("e[@type='check']")
            if ja is not None and en is not None and ja.text is not None and en.text is not None:
                ja_texts.append(ja.text)
                en_texts.append(en.text)
        ja_paragraph, en_paragraph = " ".join(ja_texts), " ".join(en_texts)
        if len(ja_paragraph) + len(en_paragraph) < MAX_PAIR_CHARS:
            pairs.append((en_paragraph, ja_paragraph))
    return pairs


def read_articles(path: Path) -> list[list[Pair]]:
    try:
        with tarfile.open(path, "r:*") as archive:
            members = sorted((m for m in archive.getmembers() if m.isfile() and m.name.endswith(".xml")),
                             key=lambda m: m.name)
            articles = []
            for member in members:
                handle = archive.extractfile(member)
                assert handle is not None
                articles.append(article_pairs(f"{path}:{member.name}", handle.read()))
    except (tarfile.TarError, EOFError, OSError) as e:
        raise JevalError(f"{path}: not a readable tar archive ({e})") from None
    if not articles:
        raise JevalError(f"{path}: no .xml articles in the archive")
    return articles


def _builder(english_to_japanese: bool) -> Callable[[dict[str, Path]], Splits]:
    def build_splits(files: dict[str, Path]) -> Splits:
        articles = read_articles(files[TARBALL.url])
        random.Random(SEED).shuffle(articles)
        n = len(articles)
        parts = {"train": articles[:int(n * 0.8)], "dev": articles[int(n * 0.8):int(n * 0.9)],
                 "test": articles[int(n * 0.9):]}
        return {
            split: [Example(en, ja) if english_to_japanese else Example(ja, en) for pairs in part for en, ja in pairs]
            for split, part in parts.items()
        }
    return build_splits


TASKS = [
    JasterTask(name="wikicorpus-e-to-j", category="MT", module="wikicorpus", raw_sources=(TARBALL,),
               build_splits=_builder(True)),
    JasterTask(name="wikicorpus-j-to-e", category="MT", module="wikicorpus", raw_sources=(TARBALL,),
               build_splits=_builder(False)),
]
