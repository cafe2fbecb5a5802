"""wiki_pas: predicate-argument structures of the Wikipedia Annotated Corpus's documents, built as
llm-jp-eval v1.4.1 builds them (see wiki_base for the corpus, splits and filtering).

Input: the document's text with its parentheses restored (as wiki_ner's; wiki_base.restored_text).
Output: one line per predicate of the document that has at least one argument, in document order:
the predicate's text, then for each case of ガ, デ, ト, ニ, ヘ, ヲ, カラ, ガ２, マデ, ヨリ (in this
order) each argument annotated for it as ` <case>：<argument>`; lines joined by a newline.
Arguments are those tagged directly (rhoknp's `get_arguments(case, relax=False)`) and written in
the text (exophora such as 不特定:人 left out); an argument inside the predicate's own phrase (文節)
is left out. Predicate and argument texts are mention texts (wiki_base.base_phrase_text: the base
phrase with its dependents in the same phrase, particles, symbols and copulas trimmed).

Confirmed from llm-jp-eval's test excerpts: the sample of wiki00280639 (input with its parenthesis
restored, output `国立図書館 ガ：アメリカ議会図書館`), and the `述語 ガ：項` form of upstream's
instruction. The case list, the argument selection and the texts beyond that sample are jeval's
best knowledge of the processor body, which could not be read here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from jeval.tasks.jaster.protocol import Example, Splits
from jeval.tasks.jaster.wiki_base import base_phrase_text, convert_documents, restored_text, wiki_task

if TYPE_CHECKING:
    from pathlib import Path

    from rhoknp import Document

CASES = ("ガ", "デ", "ト", "ニ", "ヘ", "ヲ", "カラ", "ガ２", "マデ", "ヨリ")
CASE_MARK = "："


def convert(document: Document) -> Example:
    from rhoknp.cohesion import EndophoraArgument

    lines = []
    for pas in document.pas_list:
        predicate = pas.predicate.base_phrase
        arguments = ""
        for case in CASES:
            for argument in pas.get_arguments(case, relax=False):
                if not isinstance(argument, EndophoraArgument) or argument.base_phrase.phrase == predicate.phrase:
                    continue
                arguments += f" {case}{CASE_MARK}{base_phrase_text(argument.base_phrase)}"
        if arguments:
            lines.append(base_phrase_text(predicate) + arguments)
    return Example(restored_text(document), "\n".join(lines))


def build_splits(files: dict[str, Path]) -> Splits:
    return convert_documents(files, convert)


TASK = wiki_task("wiki_pas", "wiki/pas", build_splits)
