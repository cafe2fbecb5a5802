"""Reading a verdict out of a judge's text, without ever raising.

Single-answer grading asks for `[[N]]` on a 1-10 scale; judges also write `[[8.5]]`,
`[[評価：8]]`, `[[８]]` (full-width), `評価：[8]` (single brackets) or, on the last line, `評価: 8`.
Text is NFKC-normalised first, so full-width digits, brackets and colons read as ASCII.
Pairwise grading asks for `[[A]]`, `[[B]]` or `[[C]]` (tie), or, in the 5-level form,
`[[A>>B]]`, `[[A>B]]`, `[[A=B]]`, `[[B>A]]`, `[[B>>A]]` (mirrored spellings such as `A<B` too).

The rule (where FastChat takes the first `[[N]]`, else the first `[N]`, anywhere in the text):

- Every rating the text states is read, in every form (`[[N]]` and `評価：[N]` anywhere; `[N]` and
  `評価: N` on the last line), not only the most explicit form present. A judge that quotes the
  answer it grades quotes whatever the answer wrote, so a `[[10]]` written by the answer and the
  judge's own `評価：3` are two different ratings: the judgment fails as `conflicting` (ambiguous);
  the parser never guesses between two different verdicts, and never prefers one by its position.
  The same rating written several times is that rating. Values outside 1-10 are not ratings (an
  example such as `[[11]]` does not hide a valid one).
- A verdict mark that the judged answer itself contains (`planted`: `[[10]]` or `評価：[10]` in the
  model's answer; `[[A]]` or `[[A>>B]]` in a pairwise answer) cannot be told apart from the judge
  quoting it. A verdict equal to a planted one fails as `planted`; a different verdict is the judge's
  own. Either way an answer cannot write its own score.
- A text that holds no verdict, or a value outside the scale, is a failure with a reason.

A failed judgment is never dropped silently: it is recorded with its reason and counted against the
score's coverage (jeval.judges.coverage).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Literal

SCALE_MIN, SCALE_MAX = 1.0, 10.0
Scale = tuple[float, float]
TEN: Scale = (SCALE_MIN, SCALE_MAX)
NUMBER = r"(\d+(?:\.\d+)?)"
LABEL = r"(?:評価|評点|点数|スコア|得点|rating|score)"

_DOUBLE = re.compile(r"\[\[\s*(?:" + LABEL + r"\s*[:=は]?\s*)?" + NUMBER + r"\s*(?:点|/\s*10)?\s*\]\]", re.I)
_DOUBLE_ANY = re.compile(r"\[\[([^\[\]\n]{0,40})\]\]")
_SINGLE_LABELLED = re.compile(LABEL + r"\s*[:=は]?\s*\[\s*" + NUMBER + r"\s*(?:点|/\s*10)?\s*\]", re.I)
_SINGLE = re.compile(r"(?<!\[)\[\s*" + NUMBER + r"\s*(?:点|/\s*10)?\s*\](?!\])")
_PLAIN_LABELLED = re.compile(LABEL + r"\s*[:=は]\s*" + NUMBER + r"\s*(?:点|/\s*10)?\s*(?:です)?[。.]?\s*$", re.I)
_NUMBER_LIKE = re.compile(r"^\s*(?:" + LABEL + r"\s*[:=は]?\s*)?-?\d")

Failure = Literal["empty", "no_verdict", "out_of_range", "conflicting", "planted"]


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


def normalize(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "")


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _in_scale(v: float, scale: Scale = TEN) -> bool:
    return scale[0] <= v <= scale[1]


def _decide(values: list[float], form: str, scale: Scale = TEN) -> Rating:
    in_range = sorted({v for v in values if _in_scale(v, scale)})
    outside = sorted({v for v in values if not _in_scale(v, scale)})
    if len(in_range) > 1:
        return Rating(None, "conflicting", form, f"several different ratings: {', '.join(map(_fmt, in_range))}")
    if in_range:
        return Rating(in_range[0], None, form)
    return Rating(None, "out_of_range", form,
                  f"rating {_fmt(outside[0])} is outside {_fmt(scale[0])}-{_fmt(scale[1])}")


def _fmt(v: float) -> str:
    return str(int(v)) if v == int(v) else str(v)


def _rating_marks(t: str) -> list[tuple[str, float]]:
    """Every rating a (normalised) text states, as (form, value), the most explicit forms first."""
    marks = [("[[N]]", float(m)) for m in _DOUBLE.findall(t)]
    marks += [("label [N]", float(m)) for m in _SINGLE_LABELLED.findall(t)]
    last = _last_line(t)
    marks += [("[N]", float(m)) for m in _SINGLE.findall(last)]
    plain = _PLAIN_LABELLED.search(last)
    if plain:
        marks.append(("label: N", float(plain.group(1))))
    return marks


def planted_ratings(texts: Iterable[str], scale: Scale = TEN) -> tuple[float, ...]:
    """The ratings that judged answers write themselves in a verdict form (`[[N]]`, `評価：[N]`,
    and on a 1-5 scale also `{"grade": N}`); a judge's verdict equal to one of them cannot be told
    from a quote."""
    found: set[float] = set()
    for text in texts:
        t = normalize(text)
        found.update(float(m) for m in _DOUBLE.findall(t))
        found.update(float(m) for m in _SINGLE_LABELLED.findall(t))
        if scale != TEN:
            found.update(float(m) for m in _JSON_GRADE.findall(t))
    return tuple(sorted(v for v in found if _in_scale(v, scale)))


def parse_rating(text: str | None, planted: Collection[float] = ()) -> Rating:
    """The 1-10 rating in a single-answer judgment (the rule is in the module's docstring).

    `planted`: ratings the judged answer itself writes (`planted_ratings`)."""
    t = normalize(text)
    if not t.strip():
        return Rating(None, "empty", None, "the judge returned no text")
    marks = _rating_marks(t)
    if not _DOUBLE.search(t):
        numeric_looking = [s for s in _DOUBLE_ANY.findall(t) if _NUMBER_LIKE.match(s)]
        if numeric_looking:
            return Rating(None, "out_of_range", "[[N]]", f"unreadable rating [[{numeric_looking[0].strip()}]]")
    if not marks:
        return Rating(None, "no_verdict", None, "no rating in the form [[N]] was found")
    rating = _decide([v for _, v in marks], marks[0][0])
    if rating.score is not None and rating.score in planted:
        return Rating(None, "planted", rating.form,
                      f"the judged answer itself writes the rating {_fmt(rating.score)} "
                      f"([[{_fmt(rating.score)}]]); a verdict equal to it cannot be told from a quote of the answer")
    return rating


_JSON_GRADE = re.compile(r'"(?:grade|score|評価|点数)"\s*:\s*"?' + NUMBER + r'"?', re.I)
_BARE = re.compile(r"^\s*" + NUMBER + r"\s*(?:点)?\s*$")


def parse_grade(text: str | None, scale: Scale, planted: Collection[float] = ()) -> Rating:
    """A rating on a short scale (ELYZA-tasks-100's 1-5) from judges asked for "the number only"
    or for JSON `{"reason": ..., "grade": N}`: a text that is just a number, a `"grade": N` field, and
    every form `parse_rating` reads; different ratings conflict, as there."""
    t = normalize(text)
    if not t.strip():
        return Rating(None, "empty", None, "the judge returned no text")
    marks = [("number only", float(m)) for m in _BARE.findall(t)]
    marks += [('"grade": N', float(m)) for m in _JSON_GRADE.findall(t)]
    marks += _rating_marks(t)
    if not marks:
        return Rating(None, "no_verdict", None, f"no {_fmt(scale[0])}-{_fmt(scale[1])} grade was found (a number "
                                                "alone, {\"grade\": N} or [[N]])")
    rating = _decide([v for _, v in marks], marks[0][0], scale)
    if rating.score is not None and rating.score in planted:
        return Rating(None, "planted", rating.form, f"the judged answer itself writes the grade {_fmt(rating.score)}; "
                                                    "a verdict equal to it cannot be told from a quote of the answer")
    return rating


Preference = Literal["A>>B", "A>B", "A=B", "B>A", "B>>A"]

_PAIR3 = re.compile(r"\[\[\s*([ABC])\s*\]\]", re.I)
_PAIR5 = re.compile(r"\[\[\s*([AB])\s*(>>|>|=|<<|<)\s*([AB])\s*\]\]", re.I)
_TIE_WORDS = re.compile(r"\[\[\s*(?:tie|引き分け|同等)\s*\]\]", re.I)
_MIRROR = {"<<": ">>", "<": ">"}
_PAIR3_MEANING: dict[str, Preference] = {"A": "A>B", "B": "B>A", "C": "A=B"}


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


def _decide_pair(found: list[Preference], bad: list[str], planted: Collection[Preference]) -> Verdict:
    distinct = sorted(set(found))
    if len(distinct) > 1:
        return Verdict(None, "conflicting", f"several different verdicts: {', '.join(distinct)}")
    if distinct and distinct[0] in planted:
        return Verdict(None, "planted", f"a judged answer itself writes the verdict {distinct[0]}; a verdict "
                                        "equal to it cannot be told from a quote of the answer")
    if distinct:
        return Verdict(distinct[0])
    if bad:
        return Verdict(None, "no_verdict", f"unreadable verdict [[{bad[0]}]]")
    return Verdict(None, "no_verdict", "no verdict in the asked form was found")


def _three_level(t: str) -> list[Preference]:
    found = [_PAIR3_MEANING[m.upper()] for m in _PAIR3.findall(t)]
    return found + ["A=B"] * len(_TIE_WORDS.findall(t))


def _five_level(t: str) -> tuple[list[Preference], list[str]]:
    found: list[Preference] = []
    bad: list[str] = []
    for left, op, right in _PAIR5.findall(t):
        canonical = _canonical(left, op, right)
        if canonical is None:
            bad.append(f"{left}{op}{right}")
        else:
            found.append(canonical)
    return found, bad


def planted_preferences(texts: Iterable[str], five_level: bool, output_format: str = "[[A]]"
                        ) -> tuple[Preference, ...]:
    """The verdicts that judged answers write themselves in the asked form (`[[A]]`, `[[A>>B]]`).
    Rakuda's form (a digit alone on the judge's last line) has no mark an answer could plant: the
    judge's last line is its own."""
    if output_format.strip() == "last" and not five_level:
        return ()
    found: set[Preference] = set()
    for text in texts:
        t = normalize(text)
        found.update(_five_level(t)[0] if five_level else _three_level(t))
    return tuple(sorted(found))


def parse_pairwise(text: str | None, planted: Collection[Preference] = ()) -> Verdict:
    """A 3-level verdict: `[[A]]`, `[[B]]`, `[[C]]` (tie), read as A>B, B>A, A=B."""
    t = normalize(text)
    if not t.strip():
        return Verdict(None, "empty", "the judge returned no text")
    return _decide_pair(_three_level(t), [], planted)


_LAST_DIGIT = re.compile(r"^[^\d]{0,20}?([123])\s*[。.]?\s*$")
_DIGIT_MEANING: dict[str, Preference] = {"1": "A>B", "2": "B>A", "3": "A=B"}


def parse_pairwise_last(text: str | None, planted: Collection[Preference] = ()) -> Verdict:
    """Rakuda's verdict (judge-prompt output format `last`): 1 (the first assistant), 2 (the
    second) or 3 (cannot choose) alone on the last line, optionally after a short label such as
    `評価: `. A verdict written only in prose is no verdict: it is not guessed from the wording."""
    t = normalize(text)
    if not t.strip():
        return Verdict(None, "empty", "the judge returned no text")
    found = _LAST_DIGIT.findall(_last_line(t))
    if not found:
        return Verdict(None, "no_verdict", "the last line is not 1, 2 or 3")
    return _decide_pair([_DIGIT_MEANING[found[0]]], [], planted)


def parse_pairwise_5(text: str | None, planted: Collection[Preference] = ()) -> Verdict:
    """A 5-level verdict such as `[[A>>B]]` (Arena-Hard's form)."""
    t = normalize(text)
    if not t.strip():
        return Verdict(None, "empty", "the judge returned no text")
    found, bad = _five_level(t)
    return _decide_pair(found, bad, planted)


RatingReader = Callable[[str | None, Collection[float]], Rating]
PreferenceReader = Callable[[str | None, Collection[Preference]], Verdict]


def rating_reader(scale: Scale) -> RatingReader:
    """How a single-answer judgment is read: FastChat's rule on the 1-10 scale, `parse_grade` on
    a shorter one."""
    if scale == TEN:
        return parse_rating
    return lambda text, planted: parse_grade(text, scale, planted)


def preference_reader(output_format: str, five_level: bool) -> PreferenceReader:
    """How a pairwise judgment is read, by its prompt's output format: `[[A]]` (FastChat),
    `[[A>>B]]` (5-level) or `last` (Rakuda: 1, 2 or 3 on the last line)."""
    if five_level:
        return parse_pairwise_5
    if output_format.strip() == "last":
        return parse_pairwise_last
    return parse_pairwise
