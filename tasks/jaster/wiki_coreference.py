"""wiki_coreference: coreference clusters of the Wikipedia Annotated Corpus's documents, built as
llm-jp-eval v1.4.1 builds them (see wiki_base for the corpus, splits and filtering).

Input: the text of the document's sentences, the parenthesised parts the corpus splits off into
their own sentences left out (the document is re-read without them, so links into them are
gone). Output: one line per cluster: the base phrases that refer to exactly the same set of
entities (rhoknp's `base_phrase.entities`, which coreference tags and argument tags give) form a
cluster, clusters in the order of their first base phrase, a cluster of one left out; each line
is its mentions' texts in document order (wiki_base.base_phrase_text), joined by a space.

Confirmed from llm-jp-eval's test excerpts: the sample of wiki00280639 (input without its
parenthesised part, output `アメリカ アメリカ合衆国` and `アメリカ議会図書館 国立図書館` on two
lines), and that wiki00132787's input leaves its parenthesised parts out. Grouping by identical entity
sets and the rest are jeval's best knowledge of the processor body, which could not be read here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jeval.tasks.jaster.protocol import Example, Splits
from jeval.tasks.jaster.wiki_base import base_phrase_text, convert_documents, main_document, wiki_task

if TYPE_CHECKING:
    from pathlib import Path

    from rhoknp import BasePhrase, Document


def convert(document: Document) -> Example:
    main = main_document(document)
    clusters: dict[tuple[int, ...], list[BasePhrase]] = {}
    for base_phrase in main.base_phrases:
        if base_phrase.entities:
            key = tuple(sorted(entity.eid for entity in base_phrase.entities))
            clusters.setdefault(key, []).append(base_phrase)
    lines = [" ".join(base_phrase_text(bp) for bp in sorted(members, key=lambda bp: bp.global_index))
             for members in clusters.values() if len(members) > 1]
    return Example(main.text, "\n".join(lines))


def build_splits(files: dict[str, Path]) -> Splits:
    return convert_documents(files, convert)


TASK = wiki_task("wiki_coreference", "wiki/coreference", build_splits)
