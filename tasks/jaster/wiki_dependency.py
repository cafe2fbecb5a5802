"""wiki_dependency: dependencies between the phrases (文節) of the Wikipedia Annotated Corpus's
documents, built as llm-jp-eval v1.4.1 builds them (see wiki_base for the corpus, splits and
filtering).

Input: the text of the document's sentences, the parenthesised parts the corpus splits off into
their own sentences left out. Output: one line `<phrase> -> <head phrase>` per phrase that has a
head, in document order, each phrase with its full surface text (particles and punctuation
included), lines joined by a newline.

Confirmed from llm-jp-eval's test excerpts: the samples of wiki00280639 and wiki00132787 (input
without the parenthesised parts, `<phrase> -> <head>` lines with full phrase texts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jeval.tasks.jaster.protocol import Example, Splits
from jeval.tasks.jaster.wiki_base import convert_documents, main_sentences, wiki_task

if TYPE_CHECKING:
    from pathlib import Path

    from rhoknp import Document

ARROW = " -> "


def convert(document: Document) -> Example:
    sentences = main_sentences(document)
    pairs = [f"{phrase.text}{ARROW}{phrase.parent.text}"
             for sentence in sentences for phrase in sentence.phrases if phrase.parent is not None]
    return Example("".join(s.text for s in sentences), "\n".join(pairs))


def build_splits(files: dict[str, Path]) -> Splits:
    return convert_documents(files, convert)


TASK = wiki_task("wiki_dependency", "wiki/dependency", build_splits)
