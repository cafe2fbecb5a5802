"""wiki_reading: the Wikipedia Annotated Corpus's documents and their readings in hiragana, built
as llm-jp-eval v1.4.1 builds them (see wiki_base for the corpus, splits and filtering).

Input: the text of the document's sentences, the parenthesised parts the corpus splits off into
their own sentences left out. Output: the concatenated readings of those sentences' morphemes.

The reading of a morpheme: the corpus's reading (the part before a `/` where it lists several);
a space reading on a morpheme that is not itself a space (the tail of a word read as a whole,
熟字訓) contributes nothing; a reading made only of upper-case Latin letters (an acronym left
unread by the corpus) is spelled out letter by letter in hiragana; anything else is kept as it is
(digits, punctuation, other Latin words).

Confirmed from llm-jp-eval's test excerpts: the sample of wiki00280639 (input アメリカ議会図書館は、
アメリカ合衆国の事実上の国立図書館。, output its hiragana reading with the punctuation kept), an
acronym (BSD) spelled out while a capitalised word (Computer) and full-width spaces stay as they
are. The letter names, the 熟字訓 rule and the multiple-reading rule are jeval's best knowledge of
the processor body, which could not be read here; the acronym rule is the narrowest rule that fits
the test excerpt.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from jeval.tasks.jaster.protocol import Example, Splits
from jeval.tasks.jaster.wiki_base import convert_documents, main_sentences, wiki_task

if TYPE_CHECKING:
    from pathlib import Path

    from rhoknp import Document, Morpheme

SPACES = (" ", "\u3000")
LETTER_NAMES = dict(zip(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    ("えー", "びー", "しー", "でぃー", "いー", "えふ", "じー", "えいち", "あい", "じぇー", "けー", "える", "えむ",
     "えぬ", "おー", "ぴー", "きゅー", "あーる", "えす", "てぃー", "ゆー", "ぶい", "だぶりゅー", "えっくす", "わい",
     "ぜっと"),
    strict=True,
))


def morpheme_reading(morpheme: Morpheme) -> str:
    reading = morpheme.reading
    if reading in SPACES and morpheme.text not in SPACES:
        return ""
    if "/" in reading.strip("/"):
        reading = reading.split("/")[0]
    letters = unicodedata.normalize("NFKC", reading)
    if letters and all(c in LETTER_NAMES for c in letters):
        return "".join(LETTER_NAMES[c] for c in letters)
    return reading


def convert(document: Document) -> Example:
    sentences = main_sentences(document)
    return Example("".join(s.text for s in sentences),
                   "".join(morpheme_reading(m) for s in sentences for m in s.morphemes))


def build_splits(files: dict[str, Path]) -> Splits:
    return convert_documents(files, convert)


TASK = wiki_task("wiki_reading", "wiki/reading", build_splits)
