"""M-IFEval's Japanese instructions (`ja:*` ids), one small class each, re-implemented from the
rules of lightblue-tech/M-IFEval (`instructions/ja_instructions.py` @ 0bc3143).

Each class is built from the instruction's keyword arguments (`from_args`, which rejects what
upstream would have replaced by a random value or crashed on; an instruction without arguments
inherits it from `NoArgs`) and answers one question,
`check(response) -> bool`, with upstream's verdict. Each `check` docstring states the rule as
upstream applies it, quirks included: jeval reproduces them, because the benchmark's published
numbers were computed with them.

Relations: `未満` means "fewer than" (count < n), `以上` means "at least" (count >= n).
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, Self, TypeVar

from jeval.errors import JevalError
from jeval.tasks.m_ifeval import japanese

T = TypeVar("T")
Relation = Literal["未満", "以上"]
RELATIONS: tuple[Relation, ...] = ("未満", "以上")

# The languages upstream can name in a response-language instruction (its LANGUAGE_CODES): any
# other code makes upstream fail while it builds the instruction's description.
LANGUAGE_CODES = frozenset(
    {
        "en", "es", "pt", "ar", "hi", "fr", "ru", "de", "ja", "it", "bn", "uk", "th", "ur", "ta",
        "te", "bg", "ko", "pl", "he", "fa", "vi", "ne", "sw", "kn", "mr", "gu", "pa", "ml", "fi",
    }
)

# Kanji as upstream matches them: the CJK Unified Ideographs block up to U+9FAF. Not 々 (U+3005),
# not Extension A or the compatibility ideographs.
KANJI = "\u4e00-\u9faf"


class BadInstructionArgs(JevalError):
    """An instruction's keyword arguments that upstream would not accept as given."""


class Instruction(Protocol):
    def check(self, response: str) -> bool: ...


def _compare(count: int, relation: Relation, threshold: int) -> bool:
    return count < threshold if relation == "未満" else count >= threshold


class Args:
    """An instruction's keyword arguments, read one by one with their types checked; `done()`
    rejects any that no reader asked for. None values count as absent (upstream's data files
    of other languages carry every key, unset ones as null)."""

    def __init__(self, kwargs: Mapping[str, Any], where: str) -> None:
        self._values = {name: value for name, value in kwargs.items() if value is not None}
        self._where = where
        self._read: set[str] = set()

    def _bad(self, message: str) -> BadInstructionArgs:
        return BadInstructionArgs(f"{self._where}: {message}")

    def _get(self, name: str) -> Any:
        self._read.add(name)
        if name not in self._values:
            raise self._bad(f"argument {name!r} is missing")
        return self._values[name]

    def count(self, name: str, minimum: int = 0) -> int:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._bad(f"argument {name!r} must be an integer >= {minimum}, got {value!r}")
        return value

    def text(self, name: str, *, non_empty: bool = False) -> str:
        value = self._get(name)
        if not isinstance(value, str) or (non_empty and not value.strip()):
            kind = "a non-empty string" if non_empty else "a string"
            raise self._bad(f"argument {name!r} must be {kind}, got {value!r}")
        return value

    def texts(self, name: str) -> tuple[str, ...]:
        value = self._get(name)
        if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) for v in value):
            raise self._bad(f"argument {name!r} must be a non-empty list of strings, got {value!r}")
        return tuple(value)

    def relation(self, name: str = "relation") -> Relation:
        value = self._get(name)
        for relation in RELATIONS:
            if value == relation:
                return relation
        raise self._bad(f"argument {name!r} must be '未満' (fewer than) or '以上' (at least), got {value!r}")

    def done(self) -> None:
        unknown = sorted(set(self._values) - self._read)
        if unknown:
            raise self._bad(f"unexpected argument(s) {', '.join(map(repr, unknown))}")

    def finish(self, instruction: T) -> T:
        """The instruction built from the arguments read, once `done()` finds no other."""
        self.done()
        return instruction

    def fail(self, message: str) -> BadInstructionArgs:
        return self._bad(message)


class NoArgs:
    """An instruction that takes no keyword arguments."""

    @classmethod
    def from_args(cls, args: Args) -> Self:
        return args.finish(cls())


# --- keywords ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeywordsExist:
    keywords: tuple[str, ...]

    @classmethod
    def from_args(cls, args: Args) -> KeywordsExist:
        return args.finish(cls(args.texts("keywords")))

    def check(self, response: str) -> bool:
        """Every keyword is the surface of some Janome token of the response. A keyword that
        Janome splits into several tokens (秘密の特訓) can therefore never be found."""
        found = set(japanese.words(response))
        return all(keyword in found for keyword in self.keywords)


@dataclass(frozen=True)
class KeywordFrequency:
    keyword: str
    frequency: int
    relation: Relation

    @classmethod
    def from_args(cls, args: Args) -> KeywordFrequency:
        keyword = args.text("keyword", non_empty=True).strip()
        return args.finish(cls(keyword, args.count("frequency"), args.relation()))

    def check(self, response: str) -> bool:
        """The number of Janome tokens whose surface is the (stripped) keyword, compared with
        `frequency` by `relation`."""
        occurrences = Counter(japanese.words(response))[self.keyword]
        return _compare(occurrences, self.relation, self.frequency)


@dataclass(frozen=True)
class ForbiddenWords:
    words: tuple[str, ...]

    @classmethod
    def from_args(cls, args: Args) -> ForbiddenWords:
        return args.finish(cls(args.texts("forbidden_words")))

    def check(self, response: str) -> bool:
        """No forbidden word is the surface of a Janome token of the response; a forbidden word
        inside a longer token (海 in 海外) does not count."""
        found = set(japanese.words(response))
        return not any(word in found for word in self.words)


@dataclass(frozen=True)
class LetterFrequency:
    letter: str
    frequency: int
    relation: Relation

    @classmethod
    def from_args(cls, args: Args) -> LetterFrequency:
        letter = args.text("letter")
        if len(letter) != 1 or not "ぁ" <= letter <= "ん":
            # Upstream silently draws a random hiragana instead.
            raise args.fail(f"argument 'letter' must be one hiragana (ぁ..ん), got {letter!r}")
        return args.finish(cls(letter, args.count("let_frequency"), args.relation("let_relation")))

    def check(self, response: str) -> bool:
        """Occurrences of the hiragana letter plus its katakana twin (code point + 0x60: し and
        シ) in the response, compared with `let_frequency` by `let_relation`."""
        letters = Counter(response)
        total = letters[self.letter] + letters[chr(ord(self.letter) + 0x60)]
        return _compare(total, self.relation, self.frequency)


# --- language and length ----------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseLanguage:
    language: str

    @classmethod
    def from_args(cls, args: Args) -> ResponseLanguage:
        language = args.text("language")
        if language not in LANGUAGE_CODES:
            raise args.fail(f"argument 'language' must be one of {' '.join(sorted(LANGUAGE_CODES))}, got {language!r}")
        return args.finish(cls(language))

    def check(self, response: str) -> bool:
        """langdetect's language for the whole response is `language`; a response langdetect
        cannot judge (no letters at all) counts as followed."""
        detected = japanese.detect_language(response)
        return detected is None or detected == self.language


@dataclass(frozen=True)
class NumberOfSentences:
    num_sentences: int
    relation: Relation

    @classmethod
    def from_args(cls, args: Args) -> NumberOfSentences:
        return args.finish(cls(args.count("num_sentences"), args.relation()))

    def check(self, response: str) -> bool:
        """The sentence count (see `japanese.count_sentences`: lines, then 。!? after
        normalization) compared with `num_sentences` by `relation`."""
        return _compare(japanese.count_sentences(response), self.relation, self.num_sentences)


@dataclass(frozen=True)
class NumberOfParagraphs:
    num_paragraphs: int

    @classmethod
    def from_args(cls, args: Args) -> NumberOfParagraphs:
        return args.finish(cls(args.count("num_paragraphs")))

    def check(self, response: str) -> bool:
        """Paragraphs are the pieces between `***` dividers (one optional white-space character
        on either side is part of the divider). An empty first or last piece is not counted, an
        empty piece in between fails the check; the count must equal `num_paragraphs`."""
        pieces = re.split(r"\s?\*\*\*\s?", response)
        count = len(pieces)
        for index, piece in enumerate(pieces):
            if not piece.strip():
                if index in (0, len(pieces) - 1):
                    count -= 1
                else:
                    return False
        return count == self.num_paragraphs


@dataclass(frozen=True)
class NumberOfLetters:
    num_letters: int
    relation: Relation

    @classmethod
    def from_args(cls, args: Args) -> NumberOfLetters:
        return args.finish(cls(args.count("num_letters"), args.relation()))

    def check(self, response: str) -> bool:
        """`len(response)` (code points, white space and line breaks included) compared with
        `num_letters` by `relation`."""
        return _compare(len(response), self.relation, self.num_letters)


@dataclass(frozen=True)
class NthParagraphFirstWord:
    num_paragraphs: int
    nth_paragraph: int
    first_word: str

    @classmethod
    def from_args(cls, args: Args) -> NthParagraphFirstWord:
        num_paragraphs = args.count("num_paragraphs")
        nth_paragraph = args.count("nth_paragraph", minimum=1)
        if nth_paragraph > num_paragraphs:
            # Upstream silently draws a random paragraph number instead.
            raise args.fail(f"argument 'nth_paragraph' ({nth_paragraph}) exceeds 'num_paragraphs' ({num_paragraphs})")
        return args.finish(cls(num_paragraphs, nth_paragraph, args.text("first_word").lower()))

    def check(self, response: str) -> bool:
        """Paragraphs are the pieces of the response split at every `\\n\\n`; the count is the
        number of non-blank pieces and must equal `num_paragraphs`. The nth piece is taken from
        the unfiltered split (so a blank piece before it shifts what "nth" means), must be
        non-blank, and after stripping and removing leading 「 and 『 must start with
        `first_word` (lowercased when the instruction is built: a Latin first word must be
        written in lower case)."""
        pieces = response.split("\n\n")
        count = sum(1 for piece in pieces if piece.strip())
        if self.nth_paragraph > count:
            return False
        paragraph = pieces[self.nth_paragraph - 1].strip()
        if not paragraph:
            return False
        paragraph = paragraph.lstrip("「").lstrip("『")
        return count == self.num_paragraphs and paragraph[: len(self.first_word)] == self.first_word


# --- detectable content and format ------------------------------------------------------------


@dataclass(frozen=True)
class Placeholders:
    num_placeholders: int

    @classmethod
    def from_args(cls, args: Args) -> Placeholders:
        return args.finish(cls(args.count("num_placeholders")))

    def check(self, response: str) -> bool:
        """At least `num_placeholders` half-width bracket pairs `[...]` (shortest match, within
        one line, may be empty)."""
        return len(re.findall(r"\[.*?\]", response)) >= self.num_placeholders


@dataclass(frozen=True)
class Postscript:
    marker: str

    @classmethod
    def from_args(cls, args: Args) -> Postscript:
        return args.finish(cls(args.text("postscript_marker").strip()))

    def check(self, response: str) -> bool:
        """The marker occurs anywhere in the response (not only at a line start), case ignored.
        The marker `P.S.` also matches `p. s.` (one optional space after each dot but the last)
        and `P.P.S` matches `p. p. s`; any other marker, `P.P.S.` with its final dot included,
        must occur literally."""
        if self.marker == "P.P.S":
            pattern = r"\s*p\.\s?p\.\s?s.*$"
        elif self.marker == "P.S.":
            pattern = r"\s*p\.\s?s\..*$"
        else:
            pattern = r"\s*" + re.escape(self.marker) + r".*$"
        return bool(re.findall(pattern, response, flags=re.IGNORECASE | re.MULTILINE))


@dataclass(frozen=True)
class BulletList:
    num_bullets: int

    @classmethod
    def from_args(cls, args: Args) -> BulletList:
        return args.finish(cls(args.count("num_bullets")))

    def check(self, response: str) -> bool:
        """Exactly `num_bullets` lines that start (after white space) with `・` followed by a
        character other than `・`; that character may be a line break, in which case the next
        line is taken as the item. Markdown `-` or `*` bullets do not count."""
        return len(re.findall(r"^\s*・[^・].*$", response, flags=re.MULTILINE)) == self.num_bullets


@dataclass(frozen=True)
class NumberedList:
    num_items: int

    @classmethod
    def from_args(cls, args: Args) -> NumberedList:
        return args.finish(cls(args.count("num_items")))

    def check(self, response: str) -> bool:
        """Exactly `num_items` lines that start (after white space) with digits, a half-width
        `.` and a white-space character (`1. `); nested numbered items count too."""
        return len(re.findall(r"^\s*\d+\.\s.*$", response, flags=re.MULTILINE)) == self.num_items


# The three answers a constrained-response instruction offers.
CONSTRAINED_RESPONSES = ("はい、そうです。", "いいえ、違います。", "どちらとも言えません。")


@dataclass(frozen=True)
class ConstrainedResponse(NoArgs):
    def check(self, response: str) -> bool:
        """One of はい、そうです。 / いいえ、違います。 / どちらとも言えません。 occurs anywhere in
        the response (with its punctuation exactly); anything else may surround it."""
        return any(option in response.strip() for option in CONSTRAINED_RESPONSES)


@dataclass(frozen=True)
class HighlightedSections:
    num_highlights: int

    @classmethod
    def from_args(cls, args: Args) -> HighlightedSections:
        return args.finish(cls(args.count("num_highlights")))

    def check(self, response: str) -> bool:
        """At least `num_highlights` spans `《...》` within one line, with no 《 》 inside and
        not blank."""
        spans = re.findall(r"《[^\n《》]*》", response)
        return sum(1 for span in spans if span.strip("《》").strip()) >= self.num_highlights


@dataclass(frozen=True)
class MultipleSections:
    splitter: str
    num_sections: int

    @classmethod
    def from_args(cls, args: Args) -> MultipleSections:
        return args.finish(cls(args.text("section_spliter").strip(), args.count("num_sections")))

    def check(self, response: str) -> bool:
        """At least `num_sections` section headers `第<digits><splitter>` (digits half- or
        full-width, e.g. 第1章 or 第１章; not kanji numerals) anywhere in the response: the
        number of pieces the response splits into at them, less one."""
        header = r"\s?第[\d\uFF10-\uFF19]+" + re.escape(self.splitter) + r"\s?"
        return len(re.split(header, response)) - 1 >= self.num_sections


@dataclass(frozen=True)
class JsonFormat(NoArgs):
    def check(self, response: str) -> bool:
        """The stripped response, with a leading ```json / ```Json / ```JSON / ``` fence and a
        trailing ``` removed (each prefix removal applied in turn, once) and stripped again,
        parses with Python's `json.loads` (which also takes NaN and Infinity)."""
        value = (
            response.strip()
            .removeprefix("```json")
            .removeprefix("```Json")
            .removeprefix("```JSON")
            .removeprefix("```")
            .removesuffix("```")
            .strip()
        )
        try:
            json.loads(value)
        except ValueError:
            return False
        return True


@dataclass(frozen=True)
class Title(NoArgs):
    def check(self, response: str) -> bool:
        """Some line holds `『...』` with something not blank inside (greedy within the line:
        `『a』と『b』` is one span), anywhere in the response."""
        spans = re.findall(r"『[^\n]+』", response)
        return any(span.lstrip("『").rstrip("』").strip() for span in spans)


# --- combination ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwoResponses(NoArgs):
    def check(self, response: str) -> bool:
        """Split at `******`: exactly two non-blank pieces that differ (after stripping); a
        blank piece is allowed only first or last."""
        pieces = response.split("******")
        answers = []
        for index, piece in enumerate(pieces):
            if piece.strip():
                answers.append(piece.strip())
            elif index not in (0, len(pieces) - 1):
                return False
        return len(answers) == 2 and answers[0] != answers[1]


@dataclass(frozen=True)
class RepeatPrompt:
    prompt_to_repeat: str

    @classmethod
    def from_args(cls, args: Args) -> RepeatPrompt:
        return args.finish(cls(args.text("prompt_to_repeat", non_empty=True)))

    def check(self, response: str) -> bool:
        """The stripped response starts with the stripped `prompt_to_repeat`, character for
        character."""
        return response.strip().startswith(self.prompt_to_repeat.strip())


# --- start and end ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EndPhrase:
    end_phrase: str

    @classmethod
    def from_args(cls, args: Args) -> EndPhrase:
        return args.finish(cls(args.text("end_phrase").strip()))

    def check(self, response: str) -> bool:
        """The response, stripped of white space and then of any 」 and 』 at either end, ends
        with `end_phrase` stripped the same way."""
        return response.strip().strip("」』").endswith(self.end_phrase.strip().strip("」』"))


@dataclass(frozen=True)
class Quotation(NoArgs):
    def check(self, response: str) -> bool:
        """The stripped response is longer than one character, starts with 「 and ends with 」
        (『』 and "" do not count)."""
        value = response.strip()
        return len(value) > 1 and value[0] == "「" and value[-1] == "」"


def _drop_quotes(text: str) -> str:
    # Quoted spans 「...」 and 『...』 (shortest, within one line) are left out of sentence checks.
    return re.sub(r"『.*?』", "", re.sub(r"「.*?」", "", text))


@dataclass(frozen=True)
class SentenceUnifiedEnd:
    ending: str

    @classmethod
    def from_args(cls, args: Args) -> SentenceUnifiedEnd:
        return args.finish(cls(args.text("ending")))

    def check(self, response: str) -> bool:
        """With quoted spans removed, the response is cut at every full-width 。 ！ ？ (not at
        line breaks, not at half-width ! ?); every non-empty piece must end with `ending`. So a
        heading without 。 joins the next sentence, and anything after the last 。 — even a
        line break — is a piece that fails."""
        pieces = re.split(r"[。！？]", _drop_quotes(response))
        return all(piece.endswith(self.ending) for piece in pieces if piece)


@dataclass(frozen=True)
class NominalEnding:
    count: int

    @classmethod
    def from_args(cls, args: Args) -> NominalEnding:
        return args.finish(cls(args.count("count")))

    def check(self, response: str) -> bool:
        """At least `count` 体言止め: with quoted spans removed, Janome tokens whose surface is a
        substring of 。！？ (one full-width 。 ！ or ？, or ！？) right after a token whose part
        of speech is a noun (名詞, including suffixes and numbers)."""
        tokens = japanese.tokens(_drop_quotes(response))
        endings = sum(
            1
            for before, token in itertools.pairwise(tokens)
            if token.surface in "。！？" and before.part_of_speech.startswith("名詞")
        )
        return endings >= self.count


# --- letters and punctuation ------------------------------------------------------------------


def _is_letter(char: str) -> bool:
    # Unicode categories L*: letters of any script, kanji, kana, and the marks ー ゝ ヽ (Lm).
    return unicodedata.category(char).startswith("L")


@dataclass(frozen=True)
class Furigana(NoArgs):
    def check(self, response: str) -> bool:
        """Every run of kanji (U+4E00..U+9FAF; 々 is not one) is followed at once by a reading
        in full-width parentheses holding only hiragana ぁ..ん (no ー, no katakana): 漢字（かんじ）."""
        runs = len(re.findall(f"[{KANJI}]+", response))
        with_reading = len(re.findall(f"[{KANJI}]+（[ぁ-ん]+）", response))
        return runs == with_reading


@dataclass(frozen=True)
class Kansuuji(NoArgs):
    def check(self, response: str) -> bool:
        """No digit at all: no character of Unicode category Nd (0-9, full-width ０-９, ...)."""
        return not re.search(r"\d", response)


@dataclass(frozen=True)
class NoKatakana(NoArgs):
    def check(self, response: str) -> bool:
        """No character in ァ..ヺ (U+30A1..U+30FA) nor half-width ｦ..ﾟ; the long-vowel mark ー
        and the middle dot ・ are allowed."""
        return not any("ァ" <= char <= "ヺ" or "ｦ" <= char <= "ﾟ" for char in response)


@dataclass(frozen=True)
class KatakanaOnly(NoArgs):
    def check(self, response: str) -> bool:
        """Every letter (Unicode category L*) is katakana ァ..ン (U+30A1..U+30F3: not ヴ ヵ ヶ),
        ー or half-width ｦ..ﾟ; anything that is not a letter (punctuation, digits, spaces,
        emoji) is ignored."""
        return all(
            "ァ" <= char <= "ン" or char in "ー・" or "ｦ" <= char <= "ﾟ" or not _is_letter(char) for char in response
        )


@dataclass(frozen=True)
class NoHiragana(NoArgs):
    def check(self, response: str) -> bool:
        """No character in ぁ..ゖ (U+3041..U+3096); the iteration marks ゝ ゞ are allowed."""
        return not any("ぁ" <= char <= "ゖ" for char in response)


@dataclass(frozen=True)
class HiraganaOnly(NoArgs):
    def check(self, response: str) -> bool:
        """Every letter (Unicode category L*) is hiragana ぁ..ん (U+3041..U+3093: not ゔ ゝ ゞ)
        or ー; anything that is not a letter is ignored. Kanji, katakana and Latin letters fail."""
        return all("ぁ" <= char <= "ん" or char == "ー" or not _is_letter(char) for char in response)


@dataclass(frozen=True)
class KanjiLimit:
    kanji_limit: int
    relation: Relation

    @classmethod
    def from_args(cls, args: Args) -> KanjiLimit:
        return args.finish(cls(args.count("kanji_limit"), args.relation()))

    def check(self, response: str) -> bool:
        """The number of kanji characters (U+4E00..U+9FAF, repeats counted) compared with
        `kanji_limit` by `relation`."""
        return _compare(len(re.findall(f"[{KANJI}]", response)), self.relation, self.kanji_limit)


@dataclass(frozen=True)
class NoComma(NoArgs):
    def check(self, response: str) -> bool:
        """No 読点 、 (U+3001); the full-width comma ， and the ASCII comma are allowed."""
        return "、" not in response


@dataclass(frozen=True)
class NoPeriod(NoArgs):
    def check(self, response: str) -> bool:
        """No 句点 。 (U+3002); ． and the ASCII period are allowed."""
        return "。" not in response


# Every instruction id the checker knows, to the function that builds its checker.
BUILDERS: dict[str, Callable[[Args], Instruction]] = {
    "ja:keywords:existence": KeywordsExist.from_args,
    "ja:keywords:frequency": KeywordFrequency.from_args,
    "ja:keywords:forbidden_words": ForbiddenWords.from_args,
    "ja:keywords:letter_frequency": LetterFrequency.from_args,
    "ja:language:response_language": ResponseLanguage.from_args,
    "ja:length_constraints:number_sentences": NumberOfSentences.from_args,
    "ja:length_constraints:number_paragraphs": NumberOfParagraphs.from_args,
    "ja:length_constraints:number_letters": NumberOfLetters.from_args,
    "ja:length_constraints:nth_paragraph_first_word": NthParagraphFirstWord.from_args,
    "ja:detectable_content:number_placeholders": Placeholders.from_args,
    "ja:detectable_content:postscript": Postscript.from_args,
    "ja:detectable_format:number_bullet_lists": BulletList.from_args,
    "ja:detectable_format:number_numbered_lists": NumberedList.from_args,
    "ja:detectable_format:constrained_response": ConstrainedResponse.from_args,
    "ja:detectable_format:number_highlighted_sections": HighlightedSections.from_args,
    "ja:detectable_format:multiple_sections": MultipleSections.from_args,
    "ja:detectable_format:json_format": JsonFormat.from_args,
    "ja:detectable_format:title": Title.from_args,
    "ja:detectable_format:nominal_ending": NominalEnding.from_args,
    "ja:combination:two_responses": TwoResponses.from_args,
    "ja:combination:repeat_prompt": RepeatPrompt.from_args,
    "ja:startend:end_checker": EndPhrase.from_args,
    "ja:startend:sentence_unified_end": SentenceUnifiedEnd.from_args,
    "ja:startend:quotation": Quotation.from_args,
    "ja:letters:furigana": Furigana.from_args,
    "ja:letters:kansuuji": Kansuuji.from_args,
    "ja:letters:no_katakana": NoKatakana.from_args,
    "ja:letters:katakana_only": KatakanaOnly.from_args,
    "ja:letters:no_hiragana": NoHiragana.from_args,
    "ja:letters:hiragana_only": HiraganaOnly.from_args,
    "ja:letters:kanji": KanjiLimit.from_args,
    "ja:punctuation:no_comma": NoComma.from_args,
    "ja:punctuation:no_period": NoPeriod.from_args,
}
