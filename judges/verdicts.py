"""Reading a verdict out of a judge's text, without ever raising.

Single-answer grading asks for `[[N]]` on a 1-10 scale; judges also write `[[8.5]]`,
`[[評価：8]]`, `[[８]]` (full-width), `評価：[8]` (single brackets) or, on the last line, `評価: 8`.
Text is NFKC-normalised first, so full-width digits, brackets and colons read as ASCII.
Pairwise grading asks for `[[A]]`, `[[B]]` or `[[C]]` (tie), or, in the 5-level form,
`[[A>>B]]`, `[[A>B]]`, `[[A=B]]`, `[[B>A]]`, `[[B>>A]]` (mirrored spellings such as `A<B` too).

A text that holds no verdict, a value outside the scale, or verdicts that contradict each
other is a failure with a reason; the parser never guesses between two different verdicts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

SCALE_MIN, SCALE_MAX = 1.0, 10.0
NUMBER = r"(\d+(?:\.\d+)?)"
LABEL = r"(?:評価|評点|点数|スコア|得点|rating|score)"

_DOUBLE = re.compile(r"\[\[\s*(?:" + LABEL + r"\s*[:=は]?\s*)?" + NUMBER + r"\s*(?:点|/\s*10)?\s*\]\]", re.I)
_DOUBLE_ANY = re.compile(r"\[\[([^\[\]\n]{0,40})\]\]")
_SINGLE_LABELLED = re.compile(LABEL + r"\s*[:=は]?\s*\[\s*" + NUMBER + r"\s*(?:点|/\s*10)?\s*\]", re.I)
_SINGLE = re.compile(r"(?<!\[)\[\s*" + NUMBER + r"\s*(?:点|/\s*10)?\s*\](?!\])")
_PLAIN_LABELLED = re.compile(LABEL + r"\s*[:=は]\s*" + NUMBER + r"\s*(?:点|/\s*10)?\s*(?:です)?[。.]?\s*$", re.I)
_NUMBER_LIKE = re.compile(r"^\s*(?:" + LABEL + r"\s*[:=は]?\s*)?-?\d")

Failure = Literal["empty", "no_verdict", "out_of_range", "conflicting"]


@dataclass(frozen=True)
class Rating:
    """A 1-10 score, or the reason there is none. `form` says which written form was read."""

    score: float | None
    failure: Failure | None = None
    form: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.score is not None


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _decide(values: list[float], form: str) -> Rating:
    in_range = sorted({v for v in values if SCALE_MIN <= v <= SCALE_MAX})
    outside = sorted({v for v in values if not SCALE_MIN <= v <= SCALE_MAX})
    if len(in_range) > 1:
        return Rating(None, "conflicting", form, f"several different ratings: {', '.join(map(_fmt, in_range))}")
    if in_range:
        return Rating(in_range[0], None, form)
    return Rating(None, "out_of_range", form,
                  f"rating {_fmt(outside[0])} is outside {_fmt(SCALE_MIN)}-{_fmt(SCALE_MAX)}")


def _fmt(v: float) -> str:
    return str(int(v)) if v == int(v) else str(v)


def parse_rating(text: str) -> Rating:
    """The 1-10 rating in a single-answer judgment.

    Forms are tried from the most to the least explicit; the first form present decides."""
    t = normalize(text)
    if not t.strip():
        return Rating(None, "empty", None, "the judge returned no text")
    doubles = [float(m) for m in _DOUBLE.findall(t)]
    if doubles:
        return _decide(doubles, "[[N]]")
    numeric_looking = [s for s in _DOUBLE_ANY.findall(t) if _NUMBER_LIKE.match(s)]
    if numeric_looking:
        return Rating(None, "out_of_range", "[[N]]", f"unreadable rating [[{numeric_looking[0].strip()}]]")
    labelled = [float(m) for m in _SINGLE_LABELLED.findall(t)]
    if labelled:
        return _decide(labelled, "label [N]")
    last = _last_line(t)
    singles = [float(m) for m in _SINGLE.findall(last)]
    if singles:
        return _decide(singles, "[N]")
    plain = _PLAIN_LABELLED.search(last)
    if plain:
        return _decide([float(plain.group(1))], "label: N")
    return Rating(None, "no_verdict", None, "no rating in the form [[N]] was found")


Preference = Literal["A>>B", "A>B", "A=B", "B>A", "B>>A"]

_PAIR3 = re.compile(r"\[\[\s*([ABC])\s*\]\]", re.I)
_PAIR5 = re.compile(r"\[\[\s*([AB])\s*(>>|>|=|<<|<)\s*([AB])\s*\]\]", re.I)
_TIE_WORDS = re.compile(r"\[\[\s*(?:tie|引き分け|同等)\s*\]\]", re.I)
_MIRROR = {"<<": ">>", "<": ">"}


@dataclass(frozen=True)
class Verdict:
    """A pairwise preference in the answers' presented order (A is shown first), or a failure."""

    preference: Preference | None
    failure: Failure | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.preference is not None


def _canonical(left: str, op: str, right: str) -> Preference | None:
    left, right = left.upper(), right.upper()
    if op in _MIRROR:
        left, right, op = right, left, _MIRROR[op]
    if op == "=":
        return "A=B" if left != right else None
    if left == right:
        return None
    return f"{left}{op}{right}"  # type: ignore[return-value]


def _decide_pair(found: list[Preference], bad: list[str]) -> Verdict:
    distinct = sorted(set(found))
    if len(distinct) > 1:
        return Verdict(None, "conflicting", f"several different verdicts: {', '.join(distinct)}")
    if distinct:
        return Verdict(distinct[0])
    if bad:
        return Verdict(None, "no_verdict", f"unreadable verdict [[{bad[0]}]]")
    return Verdict(None, "no_verdict", "no verdict in the asked form was found")


def parse_pairwise(text: str) -> Verdict:
    """A 3-level verdict: `[[A]]`, `[[B]]`, `[[C]]` (tie), read as A>B, B>A, A=B."""
    t = normalize(text)
    if not t.strip():
        return Verdict(None, "empty", "the judge returned no text")
    mapping: dict[str, Preference] = {"A": "A>B", "B": "B>A", "C": "A=B"}
    found = [mapping[m.upper()] for m in _PAIR3.findall(t)]
    found += ["A=B"] * len(_TIE_WORDS.findall(t))
    return _decide_pair(found, [])


def parse_pairwise_5(text: str) -> Verdict:
    """A 5-level verdict such as `[[A>>B]]` (Arena-Hard's form)."""
    t = normalize(text)
    if not t.strip():
        return Verdict(None, "empty", "the judge returned no text")
    found, bad = [], []
    for left, op, right in _PAIR5.findall(t):
        canonical = _canonical(left, op, right)
        if canonical is None:
            bad.append(f"{left}{op}{right}")
        else:
            found.append(canonical)
    return _decide_pair(found, bad)
