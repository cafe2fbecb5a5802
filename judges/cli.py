"""`jeval judge`: single-answer and pairwise grading of MT-Bench answers, and rescoring."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Literal

from jeval.judges.coverage import DEFAULT_MIN_SHARE, CoverageRule
from jeval.judges.default_prompts import NAME as DEFAULT_PROMPT_SET
from jeval.judges.engine import OPENAI_URL, JudgeConfig


def _turns(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"turns are 1, 2 or 1,2; got {text!r}") from None


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
        coverage=CoverageRule(min_share=args.min_coverage),
    )
    path = judge(run)
    results = json.loads(path.read_text(encoding="utf-8"))
    print(format_summary(results))
    print(f"results: {path}")
    for line in incomplete_warnings(results):
        print(f"jeval: warning: {line}", file=sys.stderr)
    return 0


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
    print(f"with a stored verdict: {report['with_stored_verdict']}  agree: {report['agree']}  "
          f"disagree: {report['disagree']}  recovered (stored as unparsable): {report['recovered']}")
    for d in report["disagreements"]:
        print(f"  disagreement: {json.dumps(d, ensure_ascii=False)}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--answers", type=Path, action="append", required=True, metavar="RUN_DIR_OR_FILE",
                   help="a `jeval run --tasks jmt_bench` run folder or a FastChat answer JSONL file; repeat")
    p.add_argument("--judge-model", required=True,
                   help="the judge's model id (e.g. gpt-4o, or a served checkpoint path)")
    p.add_argument("--judge-base-url", action="append",
                   help=f"an OpenAI-compatible judge endpoint, e.g. from `jeval serve`; repeat for replicas "
                        f"(default: {OPENAI_URL})")
    p.add_argument("--api-key-env", help="environment variable holding the judge's API key "
                                         "(default: OPENAI_API_KEY for the OpenAI API, none otherwise)")
    p.add_argument("--prompt-set", default=DEFAULT_PROMPT_SET,
                   help=f"{DEFAULT_PROMPT_SET} (jeval's own, default), fastchat-ja, fastchat-en (upstream, from "
                        "`jeval data prepare jmt_bench`) or a judge-prompt JSONL file")
    p.add_argument("--reference", default="gpt-4",
                   help="reference answers for math/reasoning/coding: gpt-4 (default), gpt-4o, "
                        "or a FastChat answer file")
    p.add_argument("--turns", type=_turns, default=(1, 2), help="turns to grade: 1, 2 or 1,2 (default)")
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

    p = sub.add_parser("rescore", help="re-parse stored judgments (jeval's or FastChat's JSONL) and compare")
    p.add_argument("--judgments", type=Path, required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rescore)
    return parser

