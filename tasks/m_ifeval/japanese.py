"""The language tools M-IFEval's Japanese checks count with, used as upstream uses them.

Three checks depend on third-party libraries, and their verdicts move with those libraries, so
they are pinned in pyproject.toml exactly as M-IFEval's requirements.txt pins them:

- words are the surfaces of Janome 0.5.0 tokens (its built-in IPADIC), used by the keyword,
  forbidden-word and nominal-ending (体言止め) checks;
- sentences are counted by ja_sentence_segmenter 0.0.2 with the pipeline M-IFEval builds;
- the response language is what langdetect 1.0.9 detects.

Each resource is loaded once per process on first use (Janome's dictionary and langdetect's
profiles take a moment).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

from ja_sentence_segmenter.common.pipeline import make_pipeline
from ja_sentence_segmenter.concatenate.simple_concatenator import concatenate_matching
from ja_sentence_segmenter.normalize.neologd_normalizer import normalize
from ja_sentence_segmenter.split.simple_splitter import split_newline, split_punctuation
from janome.tokenizer import Tokenizer  # type: ignore[import-untyped]
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory  # type: ignore[import-untyped]
from langdetect.lang_detect_exception import LangDetectException  # type: ignore[import-untyped]

# The seed langdetect's sampling starts from. Upstream leaves it unset (a fresh random seed per
# call), so a short or mixed-language text may get different verdicts run to run; jeval fixes it
# so that a verdict is reproducible.
LANGDETECT_SEED = 0


@dataclass(frozen=True)
class Token:
    """One Janome token: its surface and its part of speech (`名詞,一般,*,*` and the like)."""

    surface: str
    part_of_speech: str


@functools.cache
def _tokenizer() -> Tokenizer:
    return Tokenizer()


def tokens(text: str) -> list[Token]:
    """`text` split into morphemes by Janome with its defaults, as upstream tokenizes."""
    return [Token(t.surface, t.part_of_speech) for t in _tokenizer().tokenize(text)]


def words(text: str) -> list[str]:
    """The surfaces of `text`'s Janome tokens: what upstream treats as the response's words."""
    return [t.surface for t in tokens(text)]


def _concatenate_after_no(lines: Iterator[str]) -> Generator[str, None, None]:
    # A line that ends in the particle の is joined to the next line (no separator).
    yield from concatenate_matching(lines, former_matching_rule=r"^(?P<result>.+)(の)$", remove_former_matched=False)


def _split_at_sentence_ends(lines: Iterator[str]) -> Generator[str, None, None]:
    # Split after 。 ! ? (half-width: the normalizer has already folded ！ ？ into them); a
    # punctuation mark inside 「...」 or half-width (...) does not split.
    yield from split_punctuation(lines, punctuations=r"。!?")


@functools.cache
def _sentence_segmenter() -> Callable[..., Generator[str, None, None]]:
    return make_pipeline(normalize, split_newline, _concatenate_after_no, _split_at_sentence_ends)


def count_sentences(text: str) -> int:
    """The number of sentences in `text`, counted as upstream counts them:

    1. neologd-style normalization of the whole text (stripped; full-width ASCII, ！ ？ become
       half-width, half-width katakana and ｡ become full-width, spaces between Japanese
       characters removed);
    2. one piece per line (`str.splitlines`); blank lines give nothing, but a line holding only
       spaces is a sentence;
    3. a line ending in の is joined to the next one;
    4. each piece split after every 。 ! ? that is not inside 「」 or (); empty pieces drop.

    So a heading or a list item without a final 。 counts as a sentence of its own.
    """
    return sum(1 for _ in _sentence_segmenter()(text))


@functools.cache
def _language_detectors() -> DetectorFactory:
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(LANGDETECT_SEED)
    return factory


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code langdetect gives `text` (`zh-cn`, `zh-tw` for Chinese), or None when
    langdetect finds nothing to judge by (no letters), which upstream counts as followed."""
    detector = _language_detectors().create()
    detector.append(text)
    try:
        return str(detector.detect())
    except LangDetectException:
        return None
