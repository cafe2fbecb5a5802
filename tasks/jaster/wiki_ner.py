"""wiki_ner: the named entities of the Wikipedia Annotated Corpus's documents, built as llm-jp-eval
v1.4.1 builds them (see wiki_base for the corpus, splits and filtering).

Input: the document's text with its parentheses restored: each parenthesised part that the corpus
splits off into its own sentence (comment `括弧始:<open> 括弧終:<close> 括弧位置:<offset>`) goes
back, between its brackets, at its offset into the sentence before it. Output: every named entity
of the document in document order (those of the parenthesised parts included) as
`<text>（<category name>）`, joined by a space. Under llm-jp-eval's prompt text the category names
come from the table in its processor (`NE_CATEGORY_TO_TEXT`, keyed by rhoknp's
`NamedEntityCategory`), read from its source like the instruction; under jeval's own protocol
they are the IREX category names (own_text.NE_NAMES). An entity whose category the table does
not name (OPTIONAL) is left out.

Confirmed from llm-jp-eval's source and test excerpts: the table's place and its first seven
names; the samples of wiki00280639 and wiki00132787 (parentheses restored in the input, entities
inside them listed after those of their sentence, a space between entities, OPTIONAL absent). Where a
sentence has several parenthesised parts, each goes back in file order at its offset counted in
the text restored so far (as the corpus counts it: see wiki_base.restored_text); whether
llm-jp-eval's processor body does the same could not be read here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from jeval.errors import JevalError
from jeval.tasks.jaster.own_text import NE_NAMES
from jeval.tasks.jaster.protocol import Example, Splits
from jeval.tasks.jaster.upstream import processor_source, read_class_mapping
from jeval.tasks.jaster.wiki_base import convert_documents, restored_text, wiki_task

if TYPE_CHECKING:
    from rhoknp import Document

NAME = "wiki_ner"
MODULE = "wiki/ner"
TABLE_NAMES = ("NE_CATEGORY_TO_TEXT", "_NE_CATEGORY_TO_TEXT")
SEPARATOR = " "


def category_names(processor: Path) -> dict[str, str]:
    table = read_class_mapping(processor, NAME, TABLE_NAMES)
    if not all(isinstance(v, str) for v in table.values()):
        raise JevalError(f"{processor}: {NAME}'s category names must be strings")
    return {k: str(v) for k, v in table.items()}


def build_splits(files: dict[str, Path]) -> Splits:
    """With llm-jp-eval's prompt text, the category names of its processor's table; with jeval's
    own, the IREX names of own_text.NE_NAMES."""
    processor = files.get(processor_source(MODULE).url)
    names = category_names(processor) if processor is not None else dict(NE_NAMES)

    def convert(document: Document) -> Example:
        entities = [f"{ne.text}（{names[ne.category.value]}）"
                    for ne in document.named_entities if ne.category.value in names]
        return Example(restored_text(document), SEPARATOR.join(entities))

    return convert_documents(files, convert)


TASK = wiki_task(NAME, MODULE, build_splits)
