"""Does a battle's text name a model? Such votes are kept but flagged (`names_model`), with the
words found, so that they stay out of the anonymous rankings by default and `jeval arena audit`
can show why.

What counts as a name: each configured model's display name, model id (and the last part of a
path or repo id), aliases and `leak_words`; the arena's `vendor_terms`; and the project's list of
well-known model families below. Makers (Google, Meta, OpenAI, ...) are not on that list: their
names are ordinary words in ordinary questions (Google検索, メタ分析, meta-analysis). Give them to
a model as `leak_words` where an answer naming its maker would give the model away.

Matching runs on NFKC-normalised, case-folded text, so full-width letters and half-width katakana
count. A term must stand alone in its own script:
- Latin: not inside a longer Latin word, but a version may follow: Llama3, Llama-3.1, Qwen2.5,
  GPT4o, Mistral7B, Claude 3.5 match; llamas and googled do not;
- katakana: not inside a longer katakana word (ドラマ is not ラマ, メタデータ is not メタ, and
  クロード・モネ is not クロード: the middle dot is katakana); a final long-vowel mark is optional
  (ジーピーティ) and a katakana number may follow (ジーピーティーフォー);
- hiragana: not preceded by hiragana (きりんなど is not りんな; particles may follow);
- kanji: anywhere.
Some family names are ordinary words on their own (Phi the letter, ラマ the animal): those match
only when a version follows (Phi-3, ラマ3)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

FLAG = "names_model"

# The project's own list of well-known model families, in Latin and Japanese spellings.
KNOWN_TERMS = (
    "ChatGPT", "チャットGPT", "チャットジーピーティー", "GPT", "ジーピーティー",
    "Claude", "クロード", "Gemini", "ジェミニ", "Gemma", "ジェマ", "Bard",
    "Llama", "Mistral", "ミストラル", "Mixtral", "Qwen", "クウェン", "通義千問", "通义千问",
    "DeepSeek", "ディープシーク", "Grok", "グロック", "Copilot", "コパイロット",
    "ELYZA", "イライザ", "エライザ", "Swallow", "スワロー", "rinna", "りんな", "Tanuki", "LLM-jp",
    "PLaMo", "Sarashina", "Karakuri",
)
# Family names that are ordinary words on their own: they count only with a version after them.
VERSIONED_TERMS = ("Phi", "ファイ", "ラマ")

_LATIN = "a-z"
_DIGIT = "0-9"
_KATAKANA = "\u30a0-\u30ff\uff66-\uff9f"
_HIRAGANA = "\u3041-\u309f"
_LATIN_VERSION = r"(?:[\s._-]?[0-9]+(?:\.[0-9]+)*[a-z]{0,2})"
_KATAKANA_NUMBER = r"(?:[・\s]?(?:ワン|ツー|スリー|フォー|ファイブ|オー)+)"
_KATAKANA_VERSION = rf"(?:\s?[0-9]+(?:\.[0-9]+)*|{_KATAKANA_NUMBER}(?![{_KATAKANA}]))"


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _script(char: str) -> str:
    for name, chars in (("latin", _LATIN), ("digit", _DIGIT), ("katakana", _KATAKANA), ("hiragana", _HIRAGANA)):
        if re.match(f"[{chars}]", char):
            return name
    return "other"


def _pattern(term: str, versioned: bool = False) -> str:
    """A regular expression for one normalised term, with the boundaries of its first and last script."""
    first, last = _script(term[0]), _script(term[-1])
    body = re.escape(term[:-1]) + "ー?" if last == "katakana" and term.endswith("ー") and len(term) > 2 \
        else re.escape(term)
    before = {"latin": f"(?<![{_LATIN}{_DIGIT}])", "digit": f"(?<![{_LATIN}{_DIGIT}])",
              "katakana": f"(?<![{_KATAKANA}])", "hiragana": f"(?<![{_HIRAGANA}])"}.get(first, "")
    if last == "latin":
        after = f"{_LATIN_VERSION}{'' if versioned else '?'}(?![{_LATIN}])"
    elif last == "digit":
        after = f"(?![{_DIGIT}])"
    elif last == "katakana":
        after = _KATAKANA_VERSION if versioned else f"(?:{_KATAKANA_VERSION}|(?![{_KATAKANA}]))"
    else:
        after = ""
    return before + body + after


@dataclass(frozen=True)
class IdentityDetector:
    terms: tuple[str, ...]
    versioned: tuple[str, ...] = ()
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    @classmethod
    def build(cls, names: Iterable[str], extra: Iterable[str] = (), known: Iterable[str] = KNOWN_TERMS,
              versioned: Iterable[str] = VERSIONED_TERMS) -> IdentityDetector:
        terms = {normalize(t).strip() for t in [*names, *extra, *known] if t and t.strip()}
        only_versioned = {normalize(t).strip() for t in versioned if t and t.strip()} - terms
        return cls(tuple(sorted(terms, key=lambda t: (-len(t), t))),
                   tuple(sorted(only_versioned, key=lambda t: (-len(t), t))))

    def __post_init__(self) -> None:
        patterns = [_pattern(t) for t in self.terms] + [_pattern(t, versioned=True) for t in self.versioned]
        object.__setattr__(self, "_regex", re.compile("|".join(patterns) or "(?!)"))

    def find(self, texts: Iterable[str]) -> list[str]:
        """The names found, as written (normalised), each once, in order of appearance."""
        found = []
        for text in texts:
            for match in self._regex.finditer(normalize(text or "")):
                word = match.group(0).strip()
                if word not in found:
                    found.append(word)
        return found


def names_for(display_name: str, model_id: str, aliases: Iterable[str]) -> list[str]:
    """What identifies one configured model: its display name, its model id (and the last part of a
    path or repo id), and its aliases (with its `leak_words`)."""
    tail = model_id.rstrip("/").rsplit("/", 1)[-1]
    return [display_name, model_id, tail, *aliases]
