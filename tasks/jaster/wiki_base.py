"""The Wikipedia Annotated Corpus (ku-nlp/WikipediaAnnotatedCorpus), read the way llm-jp-eval
v1.4.1's `wiki/` processors read it: shared by wiki_reading, wiki_ner, wiki_dependency, wiki_pas
and wiki_coreference.

Upstream's processors take the document ids of each split from the corpus's `id/{train,dev,test}.id`
and each document from `knp/<first 8 characters of the id>/<id>.knp` (KNP format), parse it with
rhoknp's `Document.from_knp`, turn each document into one sample (input: the document's text,
output: the task's linearised annotation), take the documents of a split in the order of their
file names (sorted ids, each id once), and drop a sample whose output is blank. No shuffling.

jeval downloads the corpus as the GitHub archive of its release tag (one file; llm-jp-eval v1.4.1
fetches the same files one by one from raw.githubusercontent.com at that tag, later llm-jp-eval
releases the tag's archive) and reads the same paths inside it.

Established from llm-jp-eval's source excerpts: the tag (`WAC_VERSION`: every excerpt of the
processors in the `llm_jp_eval.jaster` package, which v1.4.1 has, says v1.1.2; v1.1.0 appears only
in excerpts of the older `llm_jp_eval.datasets` package, some of which already say v1.1.2), the
per-document files and id lists, rhoknp as the parser, and that the helper turning a base phrase
into text lives in the shared base module. From llm-jp-eval's test excerpts: which tasks restore
the parenthesised parts into their input (wiki_ner, wiki_pas) and which leave them out (the
others). The helper's rule (`base_phrase_text`), the sorted order and the blank-output filter are
jeval's best knowledge of upstream, not read from it. GitHub serves the archive without a pinned
checksum, so it is unpinned (recorded at first download). Licence: CC BY-SA 4.0, as the corpus
states for its Wikipedia-derived text (not re-checked where this was written).
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from jeval.errors import JevalError
from jeval.source_status import GITHUB_UNPINNED
from jeval.task import Source
from jeval.tasks.jaster.protocol import SPLITS, Example, JasterTask, Splits

if TYPE_CHECKING:
    from rhoknp import BasePhrase, Document, Sentence

WAC_TAG = "v1.1.2"
LICENCE = "CC BY-SA 4.0 (Wikipedia Annotated Corpus, ku-nlp)"
ARCHIVE = Source(f"https://github.com/ku-nlp/WikipediaAnnotatedCorpus/archive/refs/tags/{WAC_TAG}.zip", "", LICENCE,
                 status=GITHUB_UNPINNED)
PARENTHESIS_COMMENT = "括弧始"
"""The comment KNP files of the corpus give a parenthesised part split off into its own sentence."""
PARENTHESIS = re.compile(r"括弧始:(?P<open>\S+) 括弧終:(?P<close>\S+) 括弧位置:(?P<offset>\d+)")
FUNCTION_POS = ("助詞", "特殊", "判定詞")
"""Parts of speech trimmed from both ends of a mention's text."""

Converter = Callable[["Document"], Example]


@contextmanager
def _quiet_rhoknp() -> Iterator[None]:
    """rhoknp warns about every cross-sentence tag it cannot resolve; upstream silences it too."""
    logger = logging.getLogger("rhoknp")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def parse_knp(where: str, text: str) -> Document:
    from rhoknp import Document

    try:
        with _quiet_rhoknp():
            document = Document.from_knp(text)
            if not document.sentences:
                raise ValueError("no sentence")
            for sentence in document.sentences:
                sentence.phrases  # noqa: B018 (a document without dependency analysis fails here)
            return document
    except (ValueError, AssertionError, KeyError, IndexError, AttributeError, TypeError) as e:
        raise JevalError(f"{where}: not a readable KNP document ({type(e).__name__}: {e})") from None


def _archive_root(names: list[str], path: Path) -> str:
    roots = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
    if len(roots) != 1:
        raise JevalError(f"{path}: expected the corpus archive's single top-level folder, found {sorted(roots)}")
    return roots.pop()


def read_documents(path: Path) -> dict[str, list[tuple[str, Document]]]:
    """Each split's documents, in sorted id order, parsed."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise JevalError(f"{path}: not a readable zip archive ({e})") from None
    with archive:
        names = archive.namelist()
        root = _archive_root(names, path)
        present = set(names)
        splits: dict[str, list[tuple[str, Document]]] = {}
        for split in SPLITS:
            id_member = f"{root}/id/{split}.id"
            if id_member not in present:
                raise JevalError(f"{path}: the archive has no id/{split}.id (the corpus's list of {split} documents)")
            try:
                ids = archive.read(id_member).decode("utf-8").split()
            except UnicodeDecodeError as e:
                raise JevalError(f"{path}:{id_member}: not UTF-8 text ({e.reason})") from None
            documents = []
            for doc_id in sorted(set(ids)):
                member = f"{root}/knp/{doc_id[:8]}/{doc_id}.knp"
                if member not in present:
                    raise JevalError(f"{path}: id/{split}.id lists document {doc_id}, but the archive has no "
                                     f"knp/{doc_id[:8]}/{doc_id}.knp")
                where = f"{path}:{member}"
                try:
                    text = archive.read(member).decode("utf-8")
                except UnicodeDecodeError as e:
                    raise JevalError(f"{where}: not UTF-8 text ({e.reason})") from None
                documents.append((doc_id, parse_knp(where, text)))
            splits[split] = documents
    return splits


def convert_documents(files: dict[str, Path], convert: Converter) -> Splits:
    """One sample per document, a sample with a blank output dropped."""
    splits: Splits = {}
    for split, documents in read_documents(files[ARCHIVE.url]).items():
        samples = []
        for doc_id, document in documents:
            try:
                with _quiet_rhoknp():
                    sample = convert(document)
            except (ValueError, AssertionError, KeyError, IndexError, AttributeError) as e:
                raise JevalError(f"{files[ARCHIVE.url]}: document {doc_id} cannot be converted "
                                 f"({type(e).__name__}: {e})") from None
            if sample.output.strip():
                samples.append(sample)
        splits[split] = samples
    return splits


def is_parenthesis(sentence: Sentence) -> bool:
    return PARENTHESIS_COMMENT in sentence.misc_comment


def main_sentences(document: Document) -> list[Sentence]:
    """The document's sentences without the parenthesised parts the corpus splits off (what
    reading, dependency and coreference take as their text)."""
    return [s for s in document.sentences if not is_parenthesis(s)]


def restored_text(document: Document) -> str:
    """The document's text with each split-off parenthesised part back in its sentence.

    The corpus counts a part's offset (括弧位置) in its sentence as restored so far: the parts that
    come before it in the file are back in, brackets included (KNP's parenthesis merge inserts them
    one after the other, in file order). In v1.1.2 the parts of a sentence come left to right and,
    counted so, every offset lies within its sentence; counted in the sentence's own text, 437 of
    the 684 second or later parts would fall inside a word or (251) beyond the sentence's end."""
    texts: list[str] = []
    inserts: list[list[tuple[int, str]]] = []
    for sentence in document.sentences:
        if not is_parenthesis(sentence):
            texts.append(sentence.text)
            inserts.append([])
            continue
        match = PARENTHESIS.search(sentence.misc_comment)
        if match is None or not texts:
            raise ValueError(f"sentence {sentence.sid}: parenthesised part without a position "
                             f"({sentence.misc_comment!r}) or without a sentence before it")
        inserts[-1].append((int(match["offset"]), f"{match['open']}{sentence.text}{match['close']}"))
    restored = []
    for text, parts in zip(texts, inserts, strict=True):
        for offset, part in parts:
            text = text[:offset] + part + text[offset:]
        restored.append(text)
    return "".join(restored)


def main_document(document: Document) -> Document:
    """A document of the main sentences only, re-read so that its predicate-argument and
    coreference tags resolve among them (tags pointing into a dropped sentence are lost)."""
    from rhoknp import Document

    return Document.from_knp("".join(s.to_knp() for s in main_sentences(document)))


def _dependents(base_phrase: BasePhrase) -> list[BasePhrase]:
    found = [base_phrase]
    for child in base_phrase.children:
        found += _dependents(child)
    return found


def base_phrase_text(base_phrase: BasePhrase) -> str:
    """A mention's text: the base phrase together with the neighbouring base phrases of its
    phrase (文節) that depend on it, directly or not (contiguous runs on each side), with
    particles, symbols and copulas trimmed from both ends (untrimmed if nothing would be left)."""
    siblings = base_phrase.phrase.base_phrases
    anchor = siblings.index(base_phrase)
    dependents = _dependents(base_phrase)
    start = anchor
    while start > 0 and siblings[start - 1] in dependents:
        start -= 1
    end = anchor + 1
    while end < len(siblings) and siblings[end] in dependents:
        end += 1
    morphemes = [m for bp in siblings[start:end] for m in bp.morphemes]
    first, last = 0, len(morphemes)
    while first < last and morphemes[first].pos in FUNCTION_POS:
        first += 1
    while last > first and morphemes[last - 1].pos in FUNCTION_POS:
        last -= 1
    kept = morphemes[first:last] or morphemes
    return "".join(m.text for m in kept)


def wiki_task(name: str, module: str, build_splits: Callable[[dict[str, Path]], Splits]) -> JasterTask:
    """A wiki_* dataset: FA, built from the corpus archive by `build_splits`."""
    return JasterTask(name=name, category="FA", module=module, raw_sources=(ARCHIVE,), build_splits=build_splits,
                      licence_note=f"Wikipedia Annotated Corpus: {LICENCE}")
