"""Upstream files -> the rows lm-eval's `japanese_leaderboard` configs read.

Each converter gives the rows of the Hugging Face dataset that lm-eval's config names
(`Rakuten/JGLUE`, `kumapo/JAQKET`, `mkshing/xlsum_ja`, `juletxara/mgsm`, `polm-stability/xwinograd-ja`),
built from the files those datasets are built from, with the same field names and shapes (a
`Sequence` of records is a record of lists), so that lm-eval's own prompts and functions apply
unchanged. Nothing from an upstream file is executed: `exemplars.py` is read through `ast`.
"""

from __future__ import annotations

import ast
import csv
import sys
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import read_json, read_jsonl

Rows = list[dict[str, Any]]

NLI_LABELS = ("entailment", "contradiction", "neutral")
SENTIMENT_LABELS = ("positive", "negative")


def _require(row: dict[str, Any], fields: tuple[str, ...], where: str) -> None:
    missing = [f for f in fields if f not in row]
    if missing:
        raise JevalError(f"{where}: lacks {', '.join(missing)}")


def _class_label(value: Any, names: tuple[str, ...], where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return value
    if isinstance(value, str) and value in names:
        return names.index(value)
    raise JevalError(f"{where}: label must be one of {', '.join(names)} (or 0-{len(names) - 1}), got {value!r}")


def _nonempty(rows: Rows, path: Path) -> Rows:
    if not rows:
        raise JevalError(f"{path}: no records in the file")
    return rows


def jcommonsenseqa(path: Path) -> Rows:
    fields = ("q_id", "question", "choice0", "choice1", "choice2", "choice3", "choice4", "label")
    rows = []
    for n, row in enumerate(read_jsonl(path), 1):
        _require(row, fields, f"{path}: record {n}")
        rows.append({k: row[k] for k in fields}
                    | {"label": _class_label(row["label"], tuple("01234"), f"{path}: record {n}")})
    return _nonempty(rows, path)


def jnli(path: Path) -> Rows:
    fields = ("sentence_pair_id", "yjcaptions_id", "sentence1", "sentence2", "label")
    rows = []
    for n, row in enumerate(read_jsonl(path), 1):
        _require(row, fields, f"{path}: record {n}")
        rows.append({k: row[k] for k in fields}
                    | {"label": _class_label(row["label"], NLI_LABELS, f"{path}: record {n}")})
    return _nonempty(rows, path)


def marc_ja(path: Path) -> Rows:
    """The file JGLUE's `preprocess/marc-ja` script writes: `review_id`, `sentence`, `label`."""
    rows = []
    for n, row in enumerate(read_jsonl(path), 1):
        _require(row, ("sentence", "label"), f"{path}: record {n}")
        rows.append({"sentence": row["sentence"],
                     "label": _class_label(row["label"], SENTIMENT_LABELS, f"{path}: record {n}"),
                     "review_id": row.get("review_id", "")})
    return _nonempty(rows, path)


def _records(value: Any, key: str, where: str) -> list:
    if not isinstance(value, dict) or not isinstance(value.get(key), list):
        raise JevalError(f"{where}: expected an object with a {key!r} list")
    return value[key]


def jsquad(path: Path) -> Rows:
    """SQuAD-style JSON: one row per question, `context` as JGLUE writes it (`title [SEP] text`)."""
    rows = []
    for a, article in enumerate(_records(read_json(path), "data", str(path))):
        for p, paragraph in enumerate(_records(article, "paragraphs", f"{path}: data[{a}]")):
            where = f"{path}: data[{a}].paragraphs[{p}]"
            if not isinstance(paragraph.get("context"), str):
                raise JevalError(f"{where}: lacks a context string")
            for q, qa in enumerate(_records(paragraph, "qas", where)):
                _require(qa, ("id", "question", "answers"), f"{where}.qas[{q}]")
                answers = qa["answers"]
                if not isinstance(answers, list) or not answers or not all(
                        isinstance(x, dict) and isinstance(x.get("text"), str) for x in answers):
                    raise JevalError(f"{where}.qas[{q}]: answers must be a non-empty list of {{text, answer_start}}")
                rows.append({
                    "id": qa["id"], "title": article.get("title", ""), "context": paragraph["context"],
                    "question": qa["question"],
                    "answers": {"text": [x["text"] for x in answers],
                                "answer_start": [int(x.get("answer_start", -1)) for x in answers]},
                    "is_impossible": bool(qa.get("is_impossible", False)),
                })
    return _nonempty(rows, path)


JAQKET_CONTEXTS = 5


def jaqket_v2(path: Path) -> Rows:
    """AIO2 retriever output (a JSON array): the first 5 passages of each question, and only
    questions with an answer among them, as `kumapo/JAQKET` (config v2.0) keeps them."""
    data = read_json(path)
    if not isinstance(data, list):
        raise JevalError(f"{path}: expected a JSON array of questions")
    rows = []
    for n, item in enumerate(data):
        where = f"{path}: item {n}"
        if not isinstance(item, dict):
            raise JevalError(f"{where}: expected an object")
        _require(item, ("qid", "question", "answers", "ctxs"), where)
        ctxs = item["ctxs"][:JAQKET_CONTEXTS]
        for c, ctx in enumerate(ctxs):
            _require(ctx, ("id", "title", "text", "score", "has_answer"), f"{where}.ctxs[{c}]")
        if not any(ctx["has_answer"] for ctx in ctxs):
            continue
        rows.append({
            "qid": item["qid"], "question": item["question"],
            "answers": {"text": list(item["answers"]), "answer_start": [-1] * len(item["answers"])},
            "ctxs": {k: [float(c[k]) if k == "score" else c[k] for c in ctxs]
                     for k in ("id", "title", "text", "score", "has_answer")},
        })
    return _nonempty(rows, path)


def xlsum(path: Path) -> Rows:
    """`mkshing/xlsum_ja`'s CSV files (XL-Sum's fields: id, url, title, summary, text)."""
    csv.field_size_limit(sys.maxsize)
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            missing = [k for k in ("summary", "text") if k not in fields]
            if missing:
                raise JevalError(f"{path}: the CSV header lacks {', '.join(missing)} "
                                 f"(found {', '.join(fields) or 'none'})")
            rows = [{k: row.get(k) or "" for k in ("id", "url", "title", "summary", "text")} for row in reader]
    except UnicodeDecodeError as e:
        raise JevalError(f"{path}: not UTF-8 text ({e.reason})") from None
    except csv.Error as e:
        raise JevalError(f"{path}: not a readable CSV file ({e})") from None
    return _nonempty(rows, path)


def _integer(text: str, where: str) -> int:
    try:
        return int(text.strip().replace(",", ""))
    except ValueError:
        raise JevalError(f"{where}: the answer {text!r} is not an integer") from None


def mgsm_test(path: Path) -> Rows:
    """`mgsm_<lang>.tsv`: question<TAB>answer, no header, no quoting."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise JevalError(f"{path}: not UTF-8 text ({e.reason})") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise JevalError(f"{path}:{n}: expected question<TAB>answer, found {len(fields)} fields")
        rows.append({"question": fields[0], "answer": None, "answer_number": _integer(fields[1], f"{path}:{n}"),
                     "equation_solution": None})
    return _nonempty(rows, path)


def _module_literals(path: Path) -> dict[str, Any]:
    try:
        module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as e:
        raise JevalError(f"{path}: not a readable Python source file ({e})") from None
    found = {}
    for stmt in module.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            try:
                found[stmt.targets[0].id] = ast.literal_eval(stmt.value)
            except ValueError:
                continue
    return found


def mgsm_exemplars(path: Path, language: str = "ja") -> Rows:
    """The train split: `MGSM_EXEMPLARS[language]` with `EXEMPLAR_NUMBER_ANSWERS` and
    `EXEMPLAR_EQUATION_SOLUTIONS` of url-nlp's `exemplars.py`, in key order."""
    values = _module_literals(path)
    missing = [k for k in ("MGSM_EXEMPLARS", "EXEMPLAR_NUMBER_ANSWERS", "EXEMPLAR_EQUATION_SOLUTIONS")
               if k not in values]
    if missing:
        raise JevalError(f"{path}: no literal {', '.join(missing)}")
    exemplars = values["MGSM_EXEMPLARS"].get(language)
    numbers, equations = values["EXEMPLAR_NUMBER_ANSWERS"], values["EXEMPLAR_EQUATION_SOLUTIONS"]
    if not isinstance(exemplars, dict) or len(numbers) < len(exemplars) or len(equations) < len(exemplars):
        raise JevalError(f"{path}: MGSM_EXEMPLARS[{language!r}] is missing or longer than the answer lists")
    rows = []
    for i, key in enumerate(exemplars):
        item = exemplars[key]
        if not isinstance(item, dict) or not {"q", "a"} <= set(item):
            raise JevalError(f"{path}: MGSM_EXEMPLARS[{language!r}][{key!r}] lacks q or a")
        rows.append({"question": item["q"], "answer": item["a"], "answer_number": int(numbers[i]),
                     "equation_solution": equations[i]})
    return _nonempty(rows, path)


def xwinograd(path: Path) -> Rows:
    """XWinograd's `jp` file (winogrande style: `sentence` with `_`, `option1`, `option2`, `answer`),
    with the two filled-in sentences `polm-stability/xwinograd-ja` carries as sentence1/sentence2."""
    rows = []
    for n, row in enumerate(read_jsonl(path), 1):
        where = f"{path}: record {n}"
        _require(row, ("sentence", "option1", "option2", "answer"), where)
        if row["sentence"].count("_") != 1:
            raise JevalError(f"{where}: the sentence must hold exactly one `_` blank")
        if str(row["answer"]) not in ("1", "2"):
            raise JevalError(f"{where}: answer must be 1 or 2, got {row['answer']!r}")
        rows.append({"sentence1": row["sentence"].replace("_", row["option1"]),
                     "sentence2": row["sentence"].replace("_", row["option2"]),
                     "answer": str(row["answer"]), "option1": row["option1"], "option2": row["option2"]})
    return _nonempty(rows, path)
