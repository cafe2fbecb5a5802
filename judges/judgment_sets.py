"""Judgment sets: the verdicts of one judge (or of the arena's human voters) read from the files
jeval meets, for `jeval judge agreement` (jeval.judges.agreement).

A set is either single-answer scores or pairwise verdicts:

- `SingleJudgment(model, item, turn, score, answer_hash, repeat)`: one score of one answer.
- `PairJudgment(model_a, model_b, item, turn, winner, order, repeat)`: one verdict on two answers, in
  the comparison's own frame (model_a = FastChat's model_1); `winner` is "a", "b" or "tie"; `order`
  says which answer was shown first: "original" = model_a first, "swapped" = model_b first, None =
  not known (an arena vote, a verdict already combined over both orders).

Items are strings: the question id, or for ELYZA-tasks-100 the 0-based row of test.csv (files that
carry the question text also keep its hash, so that two sets whose rows do not line up are refused).
Answer texts are kept as hashes (`text_hash`: the first 10 hex digits of SHA-1 of the UTF-8 text,
the form of shaberi's derived score tables), so that a comparison can require the same answer.

Formats read (`read_set`), detected from the content:

- a `jeval judge single|pairwise` run folder (`judgments.jsonl` + `results.json`);
- FastChat `model_judgment/*_single.jsonl` (`question_id, model, judge, score, turn`; -1 = no verdict)
  and `*_pair.jsonl` (`question_id, model_1, model_2, g1_winner, g2_winner`: game 1 shows model_1
  first, game 2 model_2; winners are "model_1", "model_2", "tie" or "error"), which is also the
  format of the Japanese Vicuna QA judgments (ku-nlp) and of jeval's own judgments.jsonl;
- shaberi's ELYZA-tasks-100 judgments (JSON Lines `Question, output, eval_aspect, ModelAnswer,
  score`; the model is the file name, rows in test.csv order) and its derived score tables
  (`judge, model_file, row, item_index|question_id, score, answer_sha1_10`, CSV, may be gzipped);
- bench_elyza results (a JSON array of `input, sample_output, model_output, eval_aspect, score`);
- Northern System Service gpt4-autoeval (`result_takeN.jsonl`, `{"reason", "grade"}` per row in
  test.csv order, `preds.jsonl` beside it; a model folder with take1..3 is one set with repeats);
- Rakuda reviews (`model1_id, model2_id, question_id, score` with 1 = first better, 2 = second
  better, 3 = tie; `winner` in Rakuda v3's files);
- battles as the arena exports them and `jeval judge pairwise` writes them (`model_a, model_b,
  winner`), or a vote-store URL; arena votes are the human set.

A file holding several judges (a score table, a battles file with arena and judge battles) is read as
`PATH#JUDGE`.
"""

from __future__ import annotations

import ast
import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from jeval.errors import JevalError
from jeval.io import jsonl_numbered, read_json, read_jsonl_numbered

Winner = Literal["a", "b", "tie"]
Order = Literal["original", "swapped"]
Kind = Literal["single", "pairwise"]

ELYZA_SCALE = (1, 5)
MT_BENCH_SCALE = (1, 10)
HUMAN = "arena (human votes)"

FORMATS = ("a jeval judge run folder, FastChat *_single.jsonl / *_pair.jsonl (also Japanese Vicuna QA), shaberi "
           "ELYZA-tasks-100 JSON Lines or score table CSV, bench_elyza JSON array, NSS result_takeN.jsonl or model "
           "folder, Rakuda reviews, arena/judge battles JSONL")


def text_hash(text: str) -> str:
    """The first 10 hex digits of SHA-1 of the UTF-8 text (shaberi's `answer_sha1_10`)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True)
class SingleJudgment:
    model: str
    item: str
    turn: int
    score: float
    answer_hash: str | None = None
    repeat: int | None = None
    question_hash: str | None = None
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class PairJudgment:
    model_a: str
    model_b: str
    item: str
    turn: int
    winner: Winner
    order: Order | None = None
    repeat: int | None = None
    hash_a: str | None = None
    hash_b: str | None = None
    where: str = field(default="", compare=False)

    @property
    def first_shown(self) -> str | None:
        if self.order is None:
            return None
        return self.model_a if self.order == "original" else self.model_b


@dataclass(frozen=True)
class JudgmentSet:
    label: str
    source: str
    format: str
    kind: Kind
    judge: str | None = None
    scale: tuple[int, int] | None = None
    singles: tuple[SingleJudgment, ...] = ()
    pairs: tuple[PairJudgment, ...] = ()
    notes: tuple[str, ...] = ()
    left_out: int = 0
    """Records of the chosen judge that hold no usable verdict (a null score), counted in `notes`."""

    def __len__(self) -> int:
        return len(self.singles) + len(self.pairs)

    @property
    def repeats(self) -> list[int]:
        rows: Iterable[SingleJudgment | PairJudgment] = self.singles if self.kind == "single" else self.pairs
        return sorted({r.repeat or 0 for r in rows})

    @property
    def models(self) -> list[str]:
        if self.kind == "single":
            return sorted({s.model for s in self.singles})
        return sorted({m for p in self.pairs for m in (p.model_a, p.model_b)})

    @property
    def items(self) -> list[str]:
        rows: Iterable[SingleJudgment | PairJudgment] = self.singles if self.kind == "single" else self.pairs
        return sorted({r.item for r in rows}, key=_natural)

    @property
    def has_answer_hashes(self) -> bool:
        if self.kind == "single":
            return any(s.answer_hash is not None for s in self.singles)
        return any(p.hash_a is not None for p in self.pairs)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "source": self.source, "format": self.format, "kind": self.kind,
                               "judge": self.judge, "judgments": len(self), "models": len(self.models),
                               "items": len(self.items), "repeats": len(self.repeats),
                               "answer_texts": self.has_answer_hashes}
        if self.kind == "single":
            out["scale"] = list(self.scale) if self.scale else None
        else:
            out["ordered_games"] = sum(1 for p in self.pairs if p.order is not None)
        out["notes"] = list(self.notes)
        return out


def _natural(text: str) -> tuple[int, int | str]:
    return (0, int(text)) if text.isdigit() else (1, text)


# ---------------------------------------------------------------------------------------------
# Reading: one row of a judgment file, with the judge that gave it


@dataclass
class _Rows:
    """What a reader found: judgments by judge name, and counts of rows left out, by reason."""

    format: str
    kind: Kind
    scale: tuple[int, int] | None = None
    singles: list[tuple[str | None, SingleJudgment]] = field(default_factory=list)
    pairs: list[tuple[str | None, PairJudgment]] = field(default_factory=list)
    left_out: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def extend(self, other: _Rows) -> None:
        self.singles += other.singles
        self.pairs += other.pairs
        self.left_out.update(other.left_out)
        self.notes += other.notes


def _number(value: Any, where: str, what: str = "score") -> float | None:
    """A score as stored: a number or a numeric string; None, "" and FastChat's -1 mean no verdict."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise JevalError(f"{where}: {what} must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise JevalError(f"{where}: {what} must be a number, got {value!r}") from None
    if not isinstance(value, int | float) or value != value or value in (float("inf"), float("-inf")):
        raise JevalError(f"{where}: {what} must be a number, got {value!r}")
    if value == -1:
        return None
    return float(value)


def _turn(value: Any, where: str) -> int:
    if value is None:
        return 1
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise JevalError(f"{where}: turn must be a positive integer, got {value!r}")
    return value


def _repeat(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise JevalError(f"{where}: repeat must be a non-negative integer, got {value!r}")
    return value


def _item(value: Any, where: str, what: str = "question_id") -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise JevalError(f"{where}: {what} must be a string or an integer, got {value!r}")
    return str(value)


def _name(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise JevalError(f"{where}: {what} must be a non-empty string, got {value!r}")
    return value


def _need(row: dict[str, Any], keys: tuple[str, ...], where: str, what: str) -> None:
    missing = [k for k in keys if k not in row]
    if missing:
        raise JevalError(f"{where}: {what} record without {', '.join(missing)}")


def _judge_name(value: Any) -> str | None:
    """FastChat's `judge` is [model, prompt name]; some copies store that list as a string."""
    if isinstance(value, str) and value.startswith("["):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    if isinstance(value, list | tuple) and value and isinstance(value[0], str):
        return value[0]
    return value if isinstance(value, str) and value else None


def _hash_of(value: Any) -> str | None:
    return text_hash(value) if isinstance(value, str) else None


def _fastchat_single(rows: list[tuple[int, dict[str, Any]]], path: Path) -> _Rows:
    out = _Rows("fastchat-single", "single", MT_BENCH_SCALE)
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        _need(row, ("question_id", "model", "score"), where, "single judgment")
        score = _number(row["score"], where)
        judge = _judge_name(row.get("judge"))
        if score is None or row.get("failure"):
            out.left_out[(judge, "without a verdict (score -1 or a failure)")] += 1
            continue
        out.singles.append((judge, SingleJudgment(
            _name(row["model"], where, "model"), _item(row["question_id"], where), _turn(row.get("turn"), where),
            score, _hash_of(row.get("answer")), _repeat(row.get("repeat"), where), where=where)))
    return out


_GAME_WINNER: dict[str, Winner] = {"model_1": "a", "model_2": "b", "tie": "tie"}


def _fastchat_pair(rows: list[tuple[int, dict[str, Any]]], path: Path) -> _Rows:
    out = _Rows("fastchat-pair", "pairwise")
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        _need(row, ("question_id", "model_1", "model_2", "g1_winner", "g2_winner"), where, "pairwise judgment")
        m1, m2 = _name(row["model_1"], where, "model_1"), _name(row["model_2"], where, "model_2")
        if m1 == m2:
            raise JevalError(f"{where}: model_1 and model_2 are the same model ({m1!r})")
        item, turn = _item(row["question_id"], where), _turn(row.get("turn"), where)
        repeat = _repeat(row.get("repeat"), where)
        judge = _judge_name(row.get("judge")) or _judge_name(row.get("judge_model"))
        h1, h2 = _hash_of(row.get("answer_1")), _hash_of(row.get("answer_2"))
        for game, order in ((1, "original"), (2, "swapped")):
            value = row[f"g{game}_winner"]
            if value == "error" or value is None:
                out.left_out[(judge, "games without a verdict (error)")] += 1
                continue
            if value not in _GAME_WINNER:
                raise JevalError(f"{where}: g{game}_winner {value!r} is not model_1, model_2, tie or error")
            out.pairs.append((judge, PairJudgment(m1, m2, item, turn, _GAME_WINNER[value],
                                                  "original" if order == "original" else "swapped",
                                                  repeat, h1, h2, where=where)))
    return out


_RAKUDA: dict[str, Winner] = {"1": "a", "2": "b", "3": "tie"}


def _rakuda(rows: list[tuple[int, dict[str, Any]]], path: Path) -> _Rows:
    """Each review shows model1 first ("assistant 1"); a second review of the same ordered pair and
    question is a repeat (1, 2, ...), the reverse order a game with the other answer first."""
    out = _Rows("rakuda", "pairwise")
    seen: Counter = Counter()
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        verdict_key = "score" if "score" in row else "winner"
        _need(row, ("question_id", "model1_id", "model2_id", verdict_key), where, "Rakuda review")
        m1, m2 = _name(row["model1_id"], where, "model1_id"), _name(row["model2_id"], where, "model2_id")
        if m1 == m2:
            raise JevalError(f"{where}: model1_id and model2_id are the same model ({m1!r})")
        value = row[verdict_key]
        judge = _judge_name(row.get("reviewer_id")) or _judge_name(row.get("judge"))
        if isinstance(value, bool) or str(value).strip() not in _RAKUDA:
            if value is None or value in ("", -1, "-1"):
                out.left_out[(judge, "reviews without a verdict")] += 1
                continue
            raise JevalError(f"{where}: {verdict_key} {value!r} is not 1 (first better), 2 (second better) or 3 (tie)")
        item = _item(row["question_id"], where)
        turn = _turn(row.get("turn"), where)
        key = (m1, m2, item, turn)
        repeat = seen[key]
        seen[key] += 1
        out.pairs.append((judge, PairJudgment(m1, m2, item, turn, _RAKUDA[str(value).strip()], "original", repeat,
                                              _hash_of(row.get("answer1")), _hash_of(row.get("answer2")),
                                              where=where)))
    return out


_BATTLE: dict[str, Winner] = {"model_a": "a", "model_b": "b", "tie": "tie", "tie (bothbad)": "tie"}


def _battles(rows: list[tuple[int, dict[str, Any]]], path: Path | str) -> _Rows:
    """Battles as `jeval arena ratings` reads them; like the ratings, only anonymous, unflagged ones."""
    from jeval.arena.battles import parse_battle

    out = _Rows("battles", "pairwise")
    seen: Counter = Counter()
    for lineno, row in rows:
        where = f"{path}:{lineno}" if lineno else f"{path} battle {row.get('question_id')}"
        b = parse_battle(row, where)
        judge = HUMAN if b.source == "arena" else (b.judge or b.source)
        if b.flags or not b.anony:
            out.left_out[(judge, "flagged or named battles (as in `jeval arena ratings`)")] += 1
            continue
        item = str(b.question_id) if b.question_id is not None else f"battle-{lineno}"
        key = (judge, *sorted((b.model_a, b.model_b)), item, b.turn or 1)
        repeat = seen[key]  # the same comparison judged again (`jeval judge pairwise --repeat`)
        seen[key] += 1
        out.pairs.append((judge, PairJudgment(b.model_a, b.model_b, item, b.turn or 1, _BATTLE[b.winner], None,
                                              repeat, where=where)))
    return out


def _elyza_row(index: int, question: Any, answer: Any, score_value: Any, where: str, model: str,
               out: _Rows, judge: str | None) -> None:
    score = _number(score_value, where)
    if score is None:
        out.left_out[(judge, "without a score (null)")] += 1
        return
    out.singles.append((judge, SingleJudgment(model, str(index), 1, score, _hash_of(answer), None,
                                             _hash_of(question), where=where)))


def _shaberi_model(path: Path) -> str:
    return path.stem


def _shaberi_judge(path: Path) -> str | None:
    """shaberi keeps data/judgements/judge_<JUDGE>/<dataset>/<model>.json."""
    for parent in (path.parent, path.parent.parent):
        if parent.name.startswith("judge_"):
            return parent.name.removeprefix("judge_")
    return None


def _shaberi(rows: list[tuple[int, dict[str, Any]]], path: Path) -> _Rows:
    out = _Rows("shaberi", "single", ELYZA_SCALE)
    judge, model = _shaberi_judge(path), _shaberi_model(path)
    for index, (lineno, row) in enumerate(rows):
        where = f"{path}:{lineno}"
        _need(row, ("Question", "ModelAnswer", "score"), where, "shaberi")
        _elyza_row(index, row["Question"], row["ModelAnswer"], row["score"], where, model, out, judge)
    return out


def _bench_elyza(rows: list[dict[str, Any]], path: Path) -> _Rows:
    out = _Rows("bench_elyza", "single", ELYZA_SCALE)
    # bench_elyza writes results/<model>/results.json
    model = path.parent.name if path.stem == "results" else path.stem
    for index, row in enumerate(rows):
        where = f"{path}: record {index}"
        if not isinstance(row, dict):
            raise JevalError(f"{where}: expected a JSON object, got {type(row).__name__}")
        _need(row, ("input", "model_output", "score"), where, "bench_elyza")
        _elyza_row(index, row["input"], row["model_output"], row["score"], where, model, out, None)
    return out


_TAKE = re.compile(r"result_take(\d+)\.jsonl$")


def _nss_names(folder: Path) -> tuple[str, str | None]:
    """NSS names its folders <model>_<judge> (e.g. cyberagent_calm2-7b-chat_cmdrplus)."""
    model, sep, judge = folder.name.rpartition("_")
    return (model, judge) if sep and model else (folder.name, None)


def _nss_take(rows: list[tuple[int, dict[str, Any]]], path: Path) -> _Rows:
    out = _Rows("nss", "single", ELYZA_SCALE)
    take = _take_number(path)
    repeat = take - 1 if take is not None else None
    model, judge = _nss_names(path.parent)
    preds_path = path.parent / "preds.jsonl"
    hashes: list[str | None] = [None] * len(rows)
    if preds_path.exists():
        preds = read_jsonl_numbered(preds_path)
        if len(preds) != len(rows):
            raise JevalError(f"{path}: {len(rows)} judgments, but {preds_path} holds {len(preds)} answers; "
                             "the rows must line up")
        hashes = [_hash_of(p.get("pred")) for _, p in preds]
    else:
        out.notes.append(f"{path}: no preds.jsonl beside it, so the answer texts are unknown")
    for index, (lineno, row) in enumerate(rows):
        where = f"{path}:{lineno}"
        _need(row, ("grade",), where, "NSS result")
        score = _number(row["grade"], where, "grade")
        if score is None:
            out.left_out[(judge, "without a grade")] += 1
            continue
        out.singles.append((judge, SingleJudgment(model, str(index), 1, score, hashes[index], repeat, where=where)))
    return out


_TABLE_ITEM = ("item_index", "question_id")


def _score_table(path: Path, text: str, only: str | None = None) -> _Rows:
    """shaberi's derived score tables: one row per (judge, model, item), the answer's hash; `only`
    keeps one judge's rows (the tables are large)."""
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    item_key = next((k for k in _TABLE_ITEM if k in fields), None)
    if item_key is None or not {"judge", "model_file", "score", "answer_sha1_10"} <= set(fields):
        raise JevalError(f"{path}: a CSV file, but not a score table (columns judge, model_file, item_index or "
                         f"question_id, score, answer_sha1_10); found {', '.join(fields) or 'no header'}")
    out = _Rows("score-table", "single", ELYZA_SCALE if item_key == "item_index" else MT_BENCH_SCALE)
    judges: set[str] = set()
    for lineno, row in enumerate(reader, 2):
        where = f"{path}:{lineno}"
        if None in row or any(v is None for v in row.values()):
            raise JevalError(f"{where}: expected {len(fields)} columns")
        judges.add(row["judge"])
        if only is not None and row["judge"] != only:
            continue
        score = _number(row["score"], where)
        judge = row["judge"] or None
        if score is None:
            out.left_out[(judge, "without a score (empty)")] += 1
            continue
        out.singles.append((judge, SingleJudgment(
            _name(row["model_file"], where, "model_file"), _item(row[item_key], where, item_key), 1, score,
            row["answer_sha1_10"] or None, None, row.get("question_sha1_10") or None, where=where)))
    if only is not None and only not in judges:
        raise JevalError(f"{path}: no judgments by {only!r}; the judges in it: {', '.join(sorted(judges))}")
    return out


def _detect(row: dict[str, Any]) -> str | None:
    keys = set(row)
    if {"question_id", "model_1", "model_2", "g1_winner", "g2_winner"} <= keys:
        return "fastchat-pair"
    if {"model1_id", "model2_id"} <= keys and ("score" in keys or "winner" in keys):
        return "rakuda"
    if {"model_a", "model_b", "winner"} <= keys:
        return "battles"
    if {"Question", "ModelAnswer", "score"} <= keys:
        return "shaberi"
    if "grade" in keys:
        return "nss"
    if {"question_id", "model", "score"} <= keys:
        return "fastchat-single"
    if {"input", "model_output", "score"} <= keys:
        return "bench_elyza"
    return None


_LINE_READERS: dict[str, Callable[[list[tuple[int, dict[str, Any]]], Path], _Rows]] = {
    "fastchat-pair": _fastchat_pair, "rakuda": _rakuda, "battles": _battles, "shaberi": _shaberi,
    "nss": _nss_take, "fastchat-single": _fastchat_single,
}


def _unknown(path: Path, row: Any) -> JevalError:
    if isinstance(row, dict) and set(row) == {"pred"}:
        return JevalError(f"{path}: model answers (NSS preds.jsonl), not judgments; give result_takeN.jsonl or "
                          "the model folder")
    if isinstance(row, dict) and {"question_id", "model_id", "choices"} <= set(row):
        return JevalError(f"{path}: model answers (FastChat model_answer), not judgments")
    fields = ", ".join(sorted(row)) if isinstance(row, dict) else type(row).__name__
    return JevalError(f"{path}: not a judgment set jeval reads (first record: {fields}); expected {FORMATS}")


def _json_lines(path: Path, rows: list[tuple[int, dict[str, Any]]]) -> _Rows:
    if not rows:
        raise JevalError(f"{path}: no judgments in the file")
    kind = _detect(rows[0][1])
    if kind == "bench_elyza":
        return _bench_elyza([r for _, r in rows], path)
    if kind is None:
        raise _unknown(path, rows[0][1])
    return _LINE_READERS[kind](rows, path)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        return data.decode("utf-8")
    except FileNotFoundError:
        raise JevalError(f"{path}: file not found") from None
    except (OSError, EOFError) as e:
        raise JevalError(f"{path}: cannot read ({e})") from None
    except UnicodeDecodeError as e:
        raise JevalError(f"{path}: not UTF-8 text ({e.reason})") from None


def _read_file(path: Path, only: str | None = None) -> _Rows:
    name = path.name.lower()
    if name == "results.json" and (path.parent / "judgments.jsonl").exists():
        return _run_folder(path.parent)
    text = _read_text(path)
    if name.endswith((".csv", ".csv.gz")):
        return _score_table(path, text, only)
    if name.endswith((".json", ".json.gz")):
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None  # JSON Lines under a .json name (shaberi)
        if isinstance(whole, list):
            if not whole:
                raise JevalError(f"{path}: no judgments in the file")
            first = whole[0]
            if not isinstance(first, dict) or _detect(first) != "bench_elyza":
                raise _unknown(path, first)
            return _bench_elyza(whole, path)
    return _json_lines(path, jsonl_numbered(io.StringIO(text, newline=None), path))


ELYZA_TASK = "elyza_tasks_100"


def _answer_hashes(results: dict[str, Any], task: str) -> tuple[dict[tuple[str, str, int], str], str | None]:
    """Hashes of the judged answers, read from the answer files the run names (run folders keep
    them under answers/<task>.jsonl, in FastChat's format): (model, question id, turn) -> hash of
    the answer's turns up to that turn. Where they cannot be read, none, and why."""
    found: dict[tuple[str, str, int], str] = {}
    for given in results.get("answers") or []:
        path = Path(str(given))
        if path.is_dir():
            path = path / "answers" / f"{task}.jsonl"
        if not path.is_file():
            return {}, f"the answer texts are unknown ({path} is not here)"
        for lineno, row in read_jsonl_numbered(path):
            choices = row.get("choices")
            turns = choices[0].get("turns") if isinstance(choices, list) and choices and isinstance(
                choices[0], dict) else None
            model, qid = row.get("model_id"), row.get("question_id")
            if not isinstance(model, str) or isinstance(qid, bool) or not isinstance(qid, str | int) or not (
                    isinstance(turns, list) and all(isinstance(t, str) for t in turns)):
                return {}, f"the answer texts are unknown ({path}:{lineno} is not a FastChat answer)"
            for turn in range(1, len(turns) + 1):
                found[(model, str(qid), turn)] = text_hash("\n".join(turns[:turn]))
    return found, None if found else "the answer texts are unknown (results.json names no answer files)"


def _run_folder(folder: Path) -> _Rows:
    """A `jeval judge` run. Its answers' texts come from the answer files results.json names; an
    ELYZA-tasks-100 run numbers questions 1-100, read here as test.csv's rows 0-99, as the other
    ELYZA-tasks-100 judgments are."""
    results = read_json(folder / "results.json")
    if not isinstance(results, dict) or results.get("mode") not in ("single", "pairwise"):
        raise JevalError(f"{folder / 'results.json'}: not the results of a `jeval judge single|pairwise` run")
    path = folder / "judgments.jsonl"
    rows = read_jsonl_numbered(path)
    if not rows:
        raise JevalError(f"{path}: no judgments in the file")
    out = _fastchat_single(rows, path) if results["mode"] == "single" else _fastchat_pair(rows, path)
    out.format = f"jeval-{results['mode']}"
    given = results.get("benchmark")
    bench: dict[str, Any] = given if isinstance(given, dict) else {}
    task = str(bench.get("task") or "jmt_bench")
    scale = bench.get("scale")
    if isinstance(scale, list) and len(scale) == 2 and all(isinstance(v, int | float) for v in scale):
        out.scale = (int(scale[0]), int(scale[1]))
    hashes, why = _answer_hashes(results, task)
    if why:
        out.notes.append(f"{folder}: {why}")

    def item(qid: str) -> str:
        return str(int(qid) - 1) if task == ELYZA_TASK and qid.isdigit() else qid

    out.singles = [(j, replace(s, item=item(s.item), answer_hash=hashes.get((s.model, s.item, s.turn))))
                   for j, s in out.singles]
    out.pairs = [(j, replace(p, item=item(p.item), hash_a=hashes.get((p.model_a, p.item, p.turn)),
                             hash_b=hashes.get((p.model_b, p.item, p.turn)))) for j, p in out.pairs]
    if task == ELYZA_TASK:
        out.notes.append("ELYZA-tasks-100 questions 1-100 are read as test.csv rows 0-99")
    prompt_set = (results.get("prompt_set") or {}).get("name")
    if prompt_set:
        out.notes.append(f"benchmark {task}, prompt set {prompt_set}")
    return out


def _take_number(path: Path) -> int | None:
    m = _TAKE.search(path.name)
    return int(m.group(1)) if m else None


def _is_nss_folder(folder: Path) -> bool:
    return any(_take_number(p) is not None for p in folder.iterdir())


def _nss_folder(folder: Path) -> _Rows:
    takes = sorted((p for p in folder.iterdir() if _take_number(p) is not None), key=lambda p: _take_number(p) or 0)
    out = _Rows("nss", "single", ELYZA_SCALE)
    for take in takes:
        out.extend(_read_file(take))
    return out


_DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".csv.gz", ".json.gz", ".jsonl.gz")


def _read_folder(folder: Path) -> _Rows:
    if (folder / "judgments.jsonl").exists() and (folder / "results.json").exists():
        return _run_folder(folder)
    if _is_nss_folder(folder):
        return _nss_folder(folder)
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir())
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.name.lower().endswith(_DATA_SUFFIXES) and p.name != "preds.jsonl")
    runs = [p for p in subfolders if (p / "judgments.jsonl").exists() and (p / "results.json").exists()]
    if runs and not files:
        raise JevalError(f"{folder} holds {len(runs)} judge run folders ({', '.join(p.name for p in runs[:5])}); "
                         "name one of them")
    nss = [p for p in subfolders if _is_nss_folder(p)]
    if nss and not files:
        out = _Rows("nss", "single", ELYZA_SCALE)
        for sub in nss:
            out.extend(_nss_folder(sub))
        return out
    if not files:
        raise JevalError(f"{folder}: no judgment files in the folder (expected {FORMATS})")
    parts = [(p, _read_file(p)) for p in files]
    formats = {(r.format, r.kind, r.scale) for _, r in parts}
    if len(formats) > 1:
        listing = "; ".join(f"{p.name}: {r.format}" for p, r in parts[:6])
        raise JevalError(f"{folder}: files of different formats in one folder ({listing}); a folder is one judgment "
                         "set, so give the files one by one")
    out = _Rows(parts[0][1].format, parts[0][1].kind, parts[0][1].scale)
    for _, rows in parts:
        out.extend(rows)
    return out


# ---------------------------------------------------------------------------------------------
# Selecting one judge, checking duplicates, the set


def split_spec(spec: str) -> tuple[str, str | None]:
    """`PATH#JUDGE` -> (PATH, JUDGE); a path that exists as written is taken whole."""
    if "#" not in spec or Path(spec).exists():
        return spec, None
    path, _, judge = spec.rpartition("#")
    return path, judge or None


def _select(found: list[tuple[str | None, Any]], judge: str | None, source: str) -> tuple[str | None, list[Any]]:
    judges = sorted({j or "" for j, _ in found})
    if judge is not None:
        chosen = [r for j, r in found if j == judge]
        if not chosen:
            listed = ", ".join(j or "(unnamed)" for j in judges)
            raise JevalError(f"{source}: no judgments by {judge!r}; the judges in it: {listed}")
        return judge, chosen
    if len(judges) > 1:
        listed = ", ".join(f"{j or '(unnamed)'}" for j in judges[:12])
        raise JevalError(f"{source} holds the judgments of {len(judges)} judges ({listed}); pick one as "
                         f"{source}#JUDGE")
    return (judges[0] or None) if judges else None, [r for _, r in found]


def _single_key(s: SingleJudgment) -> tuple[Any, ...]:
    return (s.model, s.item, s.turn, s.repeat)


def _pair_key(p: PairJudgment) -> tuple[Any, ...]:
    first, second = sorted((p.model_a, p.model_b))
    return (first, second, p.item, p.turn, p.repeat, p.first_shown)


def _dedupe(rows: list[Any], key: Callable[[Any], tuple[Any, ...]], what: str) -> tuple[list[Any], int]:
    """Identical duplicates (a line written twice) are dropped and counted; a second, different
    judgment of the same thing is an error."""
    seen: dict[tuple[Any, ...], Any] = {}
    kept, dropped = [], 0
    for r in rows:
        k = key(r)
        if k in seen:
            if replace(seen[k], where="") == replace(r, where=""):
                dropped += 1
                continue
            raise JevalError(f"{r.where}: a second, different judgment of the same {what} (first at {seen[k].where}); "
                             "a set holds one judgment per answer, turn and repeat: split the file, or give the "
                             "runs as repeats")
        seen[k] = r
        kept.append(r)
    return kept, dropped


def read_set(spec: str) -> JudgmentSet:
    """One judgment set from a file, a folder or a vote-store URL, optionally `#JUDGE`."""
    where, judge = split_spec(spec)
    if "://" in where:
        from jeval.arena.store import VoteStore

        store = VoteStore(where)
        try:
            rows = _battles([(0, r) for r in store.export()], where)
        finally:
            store.close()
    else:
        path = Path(where)
        if not path.exists():
            raise JevalError(f"{where}: no such file or folder")
        rows = _read_folder(path) if path.is_dir() else _read_file(path, judge)
    found: list[tuple[str | None, Any]] = list(rows.singles) if rows.kind == "single" else list(rows.pairs)
    chosen_judge, chosen = _select(found, judge, where)
    notes = list(rows.notes)
    notes += [f"{n} {reason} left out" for (j, reason), n in rows.left_out.items() if j == chosen_judge]
    if rows.kind == "single":
        chosen, dropped = _dedupe(chosen, _single_key, "answer (model, item, turn, repeat)")
    else:
        chosen, dropped = _dedupe(chosen, _pair_key, "comparison (pair, item, turn, repeat, order)")
    if dropped:
        notes.append(f"{dropped} identical duplicate judgment(s) counted once")
    if not chosen:
        every = [f"{n} {reason}" for (_, reason), n in rows.left_out.items()]
        raise JevalError(f"{where}: no usable judgments ({'; '.join(every) or 'the file holds none'})")
    if rows.kind == "single" and rows.scale is not None:
        lo, hi = rows.scale
        outside = sum(1 for s in chosen if not lo <= s.score <= hi)
        if outside:
            notes.append(f"{outside} score(s) outside the {lo}-{hi} scale (kept as given)")
    label = chosen_judge or Path(where).name or where
    return JudgmentSet(label=label, source=str(where), format=rows.format, kind=rows.kind, judge=chosen_judge,
                       scale=rows.scale if rows.kind == "single" else None,
                       singles=tuple(chosen) if rows.kind == "single" else (),
                       pairs=tuple(chosen) if rows.kind == "pairwise" else (), notes=tuple(notes),
                       left_out=sum(n for (j, _), n in rows.left_out.items() if j == chosen_judge))


def rename_models(s: JudgmentSet, mapping: dict[str, str]) -> JudgmentSet:
    """The same set with models renamed (`--rename OLD=NEW`), for sets that name a model differently."""
    if not mapping:
        return s
    def get(model: str) -> str:
        return mapping.get(model, model)

    singles = tuple(replace(x, model=get(x.model)) for x in s.singles)
    pairs = tuple(replace(p, model_a=get(p.model_a), model_b=get(p.model_b)) for p in s.pairs)
    for p in pairs:
        if p.model_a == p.model_b:
            raise JevalError(f"--rename makes both sides of a comparison {p.model_a!r} ({p.where})")
    if s.kind == "single":
        _dedupe(list(singles), _single_key, "answer (after --rename)")
    return replace(s, singles=singles, pairs=pairs)
