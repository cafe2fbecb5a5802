"""Does a battle's text name a model or its maker? Such votes are kept but flagged, so that
they stay out of the anonymous rankings by default.

Matching is done on NFKC-normalised, case-folded text, so that full-width letters count.
Latin terms must stand alone (not inside a longer Latin word), katakana terms must not be part
of a longer katakana word (ラマ is not in ドラマ, メタ is not in メタデータ); kanji and
hiragana terms match anywhere."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

FLAG = "names_model"

# The project's own list of well-known model families and makers, in English and Japanese forms.
KNOWN_TERMS = (
    "OpenAI", "オープンAI", "オープンエーアイ", "ChatGPT", "チャットGPT", "GPT",
    "Anthropic", "アンソロピック", "アンスロピック", "Claude", "クロード",
    "Google", "グーグル", "Gemini", "ジェミニ", "Gemma", "ジェマ", "Bard", "DeepMind", "ディープマインド",
    "Meta", "メタ", "Llama", "ラマ", "Mistral", "ミストラル", "Mixtral",
    "Qwen", "クウェン", "通義千問", "通义千问", "Alibaba", "アリババ", "DeepSeek", "ディープシーク",
    "Microsoft", "マイクロソフト", "Copilot", "コパイロット", "xAI", "Grok", "グロック", "Cohere", "コヒア",
    "Swallow", "スワロー", "ELYZA", "イライザ", "rinna", "りんな", "Tanuki", "LLM-jp", "CyberAgent",
    "サイバーエージェント", "Sakana AI", "サカナAI", "PLaMo", "Preferred Networks", "Stockmark", "ストックマーク",
    "Karakuri", "カラクリ",
)

_LATIN = "a-z0-9"
_KATAKANA = "\u30a0-\u30ff\uff66-\uff9f"


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _pattern(term: str) -> str:
    t = normalize(term)
    body = re.escape(t)
    before = after = ""
    if re.match(f"[{_LATIN}]", t[0]):
        before = f"(?<![{_LATIN}])"
    elif re.match(f"[{_KATAKANA}]", t[0]):
        before = f"(?<![{_KATAKANA}])"
    if re.match(f"[{_LATIN}]", t[-1]):
        after = f"(?![{_LATIN}])"
    elif re.match(f"[{_KATAKANA}]", t[-1]):
        after = f"(?![{_KATAKANA}])"
    return before + body + after


@dataclass(frozen=True)
class IdentityDetector:
    terms: tuple[str, ...]
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    @classmethod
    def build(cls, names: Iterable[str], extra: Iterable[str] = (),
              known: Iterable[str] = KNOWN_TERMS) -> IdentityDetector:
        terms = {normalize(t).strip() for t in [*names, *extra, *known] if t and t.strip()}
        return cls(tuple(sorted(terms, key=lambda t: (-len(t), t))))

    def __post_init__(self) -> None:
        pattern = "|".join(_pattern(t) for t in self.terms) or "(?!)"
        object.__setattr__(self, "_regex", re.compile(pattern))

    def find(self, texts: Iterable[str]) -> list[str]:
        found = []
        for text in texts:
            for match in self._regex.finditer(normalize(text or "")):
                if match.group(0) not in found:
                    found.append(match.group(0))
        return found


def names_for(display_name: str, model_id: str, aliases: Iterable[str]) -> list[str]:
    """What identifies one configured model: its display name, its model id (and the last part of a
    path or repo id), and its aliases."""
    tail = model_id.rstrip("/").rsplit("/", 1)[-1]
    return [display_name, model_id, tail, *aliases]
