"""`jeval judge`: single-answer and pairwise grading of Japanese MT-Bench, Japanese Vicuna QA,
Rakuda and ELYZA-tasks-100 answers, and rescoring."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Literal

from jeval.judges.benchmarks import BENCHMARKS
from jeval.judges.coverage import DEFAULT_MIN_SHARE, CoverageRule
from jeval.judges.default_prompts import NAME as DEFAULT_PROMPT_SET
from jeval.judges.engine import OPENAI_URL, JudgeConfig
from jeval.tracking import Tracking, tracking_of
from jeval.tracking import add_arguments as add_tracking_arguments
from jeval.tracking import check as check_tracking


def _turns(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"turns are 1, 2 or 1,2; got {text!r}") from None


def _question_ids(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _judge_config(args: argparse.Namespace) -> JudgeConfig:
    base_urls = tuple(args.judge_base_url or (OPENAI_URL,))
    api_key_env = args.api_key_env
    if api_key_env is None and base_urls == (OPENAI_URL,):
        api_key_env = "OPENAI_API_KEY"
    return JudgeConfig(model=args.judge_model, base_urls=base_urls, api_key_env=api_key_env,
                       concurrency=args.concurrency, max_retries=args.max_retries, timeout_s=args.timeout,
                       max_tokens=args.max_tokens, price_in_per_mtok=args.price_in,
                       price_out_per_mtok=args.price_out, retry_failures=args.retry_failures)


def _grade(args: argparse.Namespace, mode: Literal["single", "pairwise"]) -> int:
    from jeval.io import default_home
    from jeval.judges.run import JudgeRun, format_summary, incomplete_warnings, judge

    home = default_home()
    run = JudgeRun(
        mode=mode, answers=tuple(args.answers), judge=_judge_config(args),
        data_dir=args.data_dir or home / "data", cache_path=args.cache or home / "judgments.sqlite",
        output_dir=args.output, prompt_set=args.prompt_set, reference=args.reference, turns=args.turns,
        repeat=args.repeat, baseline=getattr(args, "baseline", None),
        five_level=getattr(args, "five_level", False), run_id=args.run_id,
        coverage=CoverageRule(min_share=args.min_coverage), benchmark=args.benchmark,
        questions=args.questions, limit=args.limit, dry_run=args.dry_run,
    )
    tracking = tracking_of(args)
    check_tracking(tracking)
    path = judge(run, announce=lambda line: print(line, flush=True))
    if path is None:
        return 0
    results = json.loads(path.read_text(encoding="utf-8"))
    print(format_summary(results))
    print(f"results: {path}")
    for line in incomplete_warnings(results):
        print(f"jeval: warning: {line}", file=sys.stderr)
    if tracking.wanted:
        _log_judgments(results, path, tracking)
    return 0


def _log_judgments(results: dict, path: Path, tracking: Tracking) -> None:
    from jeval.errors import JevalError
    from jeval.tracking import judge_board, log_board

    try:
        for line in log_board(judge_board(results, path.parent), tracking):
            print(line, file=sys.stderr)
    except JevalError as e:
        raise JevalError(f"{e} (the judgments are written: {path})") from None


def cmd_single(args: argparse.Namespace) -> int:
    return _grade(args, "single")


def cmd_pairwise(args: argparse.Namespace) -> int:
    return _grade(args, "pairwise")


def cmd_rescore(args: argparse.Namespace) -> int:
    from jeval.judges.rescore import rescore

    report = rescore(args.judgments).as_dict()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(f"{args.judgments}: {report['judgments']} judgments in {report['rows']} records")
    print(f"parsed: {report['parsed']}  failed: {report['failed']} {report['failure_reasons'] or ''}".rstrip())
    if report["texts"]:
        print(f"with a stored verdict: {report['with_stored_verdict']}  agree: {report['agree']}  "
              f"disagree: {report['disagree']}  recovered (stored as unparsable): {report['recovered']}")
    else:
        print("scores only (no judge texts to parse again): every stored score read")
    for d in report["disagreements"]:
        print(f"  disagreement: {json.dumps(d, ensure_ascii=False)}")
    print(_model_table(report["models"]))
    if report["duplicate_count"]:
        print(f"duplicates: {report['duplicate_count']} judgments recorded more than once (both copies counted):")
        for d in report["duplicates"][:10]:
            print(f"  line {d['line']} repeats line {d['first_line']} ({', '.join(d['key'])})")
    for note in report["notes"]:
        print(f"note: {note}")
    return 0


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _model_table(models: dict[str, dict]) -> str:
    """Per model: judgments and mean scores (stored, re-parsed), or games won, lost and tied."""
    if not models:
        return ""
    width = max(len(m) for m in models) + 2
    if any("games" in t for t in models.values()):
        lines = [f"{'model':<{width}}{'games':>7}  {'stored W/L/T':>14}  {'parsed W/L/T':>14}"]
        for model, t in models.items():
            stored = "/".join(str(t["stored"].get(k, 0)) for k in ("win", "loss", "tie"))
            parsed = "/".join(str(t["parsed"].get(k, 0)) for k in ("win", "loss", "tie"))
            lines.append(f"{model:<{width}}{t['games']:>7}  {stored:>14}  {parsed:>14}")
        return "\n".join(lines)
    lines = [f"{'model':<{width}}{'judgments':>10}  {'stored mean':>11}  {'parsed mean':>11}"]
    for model, t in models.items():
        lines.append(f"{model:<{width}}{t['judgments']:>10}  {_shown(t['stored_mean']):>11}  "
                     f"{_shown(t['parsed_mean']):>11}")
    return "\n".join(lines)


def cmd_agreement(args: argparse.Namespace) -> int:
    from jeval.errors import JevalError
    from jeval.judges.agreement import Options, agreement, format_report
    from jeval.judges.judgment_sets import read_set, rename_models

    mapping = {}
    for item in args.rename or []:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise JevalError(f"--rename {item!r}: expected OLD=NEW")
        mapping[old] = new
    opts = Options(same_answers=args.same_answers, bootstrap=args.bootstrap, seed=args.seed, weights=args.weights,
                   by_pair=args.by_pair)
    a = rename_models(read_set(args.a), mapping)
    b = rename_models(read_set(args.b), mapping) if args.b is not None else None
    report = agreement(a, b, opts)
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_report(report))
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--answers", type=Path, action="append", required=True, metavar="RUN_DIR_OR_FILE",
                   help="a `jeval run` run folder or a FastChat answer JSONL file; repeat")
    p.add_argument("--benchmark", choices=sorted(BENCHMARKS),
                   help="the benchmark the answers are for (default: the one whose answers the run folders hold; "
                        "for answer files, jmt_bench)")
    p.add_argument("--questions", type=_question_ids, metavar="ID[,ID...]", help="judge only these questions")
    p.add_argument("--limit", type=int, metavar="N", help="judge only the first N questions (by id)")
    p.add_argument("--dry-run", action="store_true",
                   help="only say how many judge requests would be sent (the rest is cached) and what they may cost")
    p.add_argument("--judge-model", required=True,
                   help="the judge's model id (e.g. gpt-4o, or a served checkpoint path)")
    p.add_argument("--judge-base-url", action="append",
                   help=f"an OpenAI-compatible judge endpoint, e.g. from `jeval serve`; repeat for replicas "
                        f"(default: {OPENAI_URL})")
    p.add_argument("--api-key-env", help="environment variable holding the judge's API key "
                                         "(default: OPENAI_API_KEY for the OpenAI API, none otherwise)")
    p.add_argument("--prompt-set",
                   help=f"{DEFAULT_PROMPT_SET} (jeval's own; MT-Bench's default), an upstream set that `jeval data "
                        "prepare` wrote (jmt_bench: fastchat-ja, fastchat-en; ja_vicuna_qa: ja-vicuna-qa, its "
                        "default; rakuda: rakuda; elyza_tasks_100: elyza-autoeval) or a judge-prompt JSONL file")
    p.add_argument("--reference",
                   help="reference answers for math/reasoning/coding: gpt-4 (default), gpt-4o (MT-Bench only), "
                        "or a FastChat answer file")
    p.add_argument("--turns", type=_turns, help="turns to grade: 1, 2 or 1,2 (default: all the benchmark has)")
    p.add_argument("--repeat", type=int, default=1, help="judge each item N times; reports mean, median and spread")
    p.add_argument("--min-coverage", type=float, default=DEFAULT_MIN_SHARE, metavar="SHARE",
                   help=f"the share of judgments (0-1] that must give a verdict, with every category judged, "
                        f"for a score to count as complete (default: {DEFAULT_MIN_SHARE}); a score below it is "
                        "marked incomplete in results, console and leaderboard")
    p.add_argument("--retry-failures", action="store_true",
                   help="ask again where a cached judgment held no readable verdict")
    p.add_argument("--concurrency", type=int, default=8, help="judge requests in flight (default: 8)")
    p.add_argument("--max-retries", type=int, default=5)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per judge request")
    p.add_argument("--max-tokens", type=int, default=2048, help="judge answer length (FastChat: 2048)")
    p.add_argument("--price-in", type=float, help="USD per million prompt tokens, for the cost report")
    p.add_argument("--price-out", type=float, help="USD per million completion tokens, for the cost report")
    p.add_argument("--data-dir", type=Path, help="prepared data (default: $JEVAL_HOME/data)")
    p.add_argument("--cache", type=Path, help="judgment cache (default: $JEVAL_HOME/judgments.sqlite)")
    p.add_argument("--output", type=Path, default=Path("results/judge"), help="default: results/judge")
    p.add_argument("--run-id")
    add_tracking_arguments(p)


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Grade Japanese MT-Bench answers with an LLM judge.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logging")
    sub = parser.add_subparsers(dest="judge_command", metavar="ACTION", required=True)

    p = sub.add_parser("single", help="grade each answer on a 1-10 scale")
    _common(p)
    p.set_defaults(func=cmd_single)

    p = sub.add_parser("pairwise", help="compare models' answers, both orders; writes battles for the arena")
    _common(p)
    p.add_argument("--baseline", help="compare every model with this one (default: all pairs)")
    p.add_argument("--five-level", action="store_true",
                   help="verdicts A>>B, A>B, A=B, B>A, B>>A; a strong win in both orders is weighted")
    p.set_defaults(func=cmd_pairwise)

    p = sub.add_parser("rescore", help="re-parse stored judgments (jeval's, FastChat's, Rakuda's) and compare; "
                                       "tabulate stored scores per model (ELYZA-tasks-100 score files too)")
    p.add_argument("--judgments", type=Path, required=True, metavar="FILE_OR_FOLDER")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rescore)

    p = sub.add_parser("agreement", help="how far two judgment sets agree (judges, repeats, arena votes); "
                                         "self-consistency and position bias of one")
    p.add_argument("a", metavar="A", help="judgment file or folder (PATH#JUDGE picks one judge of several)")
    p.add_argument("b", metavar="B", nargs="?", help="the set to compare A with; without it, A's repeats and "
                                                     "both-order comparisons are examined")
    p.add_argument("--same-answers", action="store_true", help="only judgments of identical answer texts")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="resamples of items for the 95%% "
                                                                             "intervals (default: 1000; 0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", choices=("quadratic", "linear"), default="quadratic", help="weighted kappa's weights")
    p.add_argument("--by-pair", action="store_true", help="compare per model pair (sets without shared items, "
                                                          "e.g. a judge and arena votes)")
    p.add_argument("--rename", action="append", metavar="OLD=NEW",
                   help="call model OLD NEW in both sets, where the sets name one model differently; repeat")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_agreement)
    return parser

