"""The `jeval` command line."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import errno
import importlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from jeval import __version__, gc_policy
from jeval.errors import JevalError
from jeval.tracking import Tracking, tracking_of
from jeval.tracking import add_arguments as add_tracking_arguments
from jeval.tracking import check as check_tracking

if TYPE_CHECKING:
    from jeval.models.inprocess import LocalSettings
    from jeval.overrides import Overrides
    from jeval.reasoning import Reasoning

NOT_YET: dict[str, str] = {}

# Commands whose parser lives with the room that implements them: each module exposes
# `build_parser(prog) -> argparse.ArgumentParser` whose sub-commands set `func(args) -> int`.
DELEGATED = {
    "judge": ("jeval.judges.cli", "grade model answers with an LLM judge (MT-Bench)"),
    "arena": ("jeval.arena.cli", "the Chatbot Arena: serve, export votes, compute ratings"),
    "leaderboard": ("jeval.leaderboard.cli", "leaderboard tables and pages over benchmark, judge and arena results"),
    "ifeval": ("jeval.tasks.m_ifeval.cli", "check M-IFEval (Japanese) responses by its rules, without a model"),
    "export": ("jeval.export_lmeval", "write a run's results in another tool's format (lm-eval's results JSON)"),
}


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v.strip() for item in values or [] for v in item.split(",") if v.strip())


ALIASES = {"corpus": ("ppl", "corpus"), "lang": ("ppl", "lang"), "stride": ("ppl", "stride"),
           "context_length": ("ppl", "context_length"), "lm_eval_include": ("lm-eval", "include")}
"""Run options kept as aliases of task arguments (`--corpus X` is `--task-arg ppl.corpus=X`)."""


def task_args(args: argparse.Namespace) -> dict[str, dict[str, tuple[str, ...]]]:
    """`--task-arg FAMILY.KEY=VALUE` values and the aliases above, by family and key."""
    found: dict[str, dict[str, list[str]]] = {}
    for item in args.task_arg or []:
        name, sep, value = item.partition("=")
        family, dot, key = name.rpartition(".")
        if not sep or not dot or not family or not key:
            raise JevalError(f"--task-arg {item!r}: expected FAMILY.KEY=VALUE (e.g. ppl.corpus=valid.jsonl)")
        found.setdefault(family, {}).setdefault(key.replace("-", "_"), []).append(value)
    for option, (family, key) in ALIASES.items():
        given = getattr(args, option, None)
        if given is None:
            continue
        values = given if isinstance(given, list) else [given]
        found.setdefault(family, {}).setdefault(key, []).extend(str(v) for v in values)
    return {family: {k: tuple(v) for k, v in keys.items()} for family, keys in found.items()}


def reasoning_of(args: argparse.Namespace) -> Reasoning | None:
    """The run's reasoning handling: on with --reasoning, or with markers or a budget given."""
    from jeval.reasoning import DEFAULT_BUDGET, Reasoning

    if not (args.reasoning or args.reasoning_markers or args.reasoning_budget is not None):
        return None
    start, end = args.reasoning_markers or (Reasoning.start, Reasoning.end)
    budget = DEFAULT_BUDGET if args.reasoning_budget is None else args.reasoning_budget
    return Reasoning(start, end, budget)


def _batch_size(value: str) -> int | str:
    from jeval.models.batching import parse_batch_size

    try:
        return parse_batch_size(value)
    except JevalError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--batch-size ")) from None


def local_settings(args: argparse.Namespace) -> LocalSettings:
    """`--device`, `--dtype`, `--batch-size`, `--threads` (each left at its default where not given)."""
    from jeval.models.inprocess import LocalSettings

    given = {"device": args.device, "dtype": args.dtype, "batch_size": args.batch_size, "threads": args.threads}
    return LocalSettings(**{k: v for k, v in given.items() if v is not None})


def overrides_of(args: argparse.Namespace) -> Overrides:
    """`--gen-kwargs` and `--system-prompt`; a seed given in both ways must agree."""
    from jeval.overrides import Overrides, parse_gen_kwargs, read_system_prompt

    gen = parse_gen_kwargs(args.gen_kwargs) if args.gen_kwargs is not None else None
    if gen is not None and gen.seed is not None and args.seed is not None and gen.seed != args.seed:
        raise JevalError(f"--seed {args.seed} and --gen-kwargs seed={gen.seed} disagree; give one")
    system = read_system_prompt(args.system_prompt) if args.system_prompt is not None else None
    return Overrides(gen, system)


def cmd_run(args: argparse.Namespace) -> int:
    deferred = gc_policy.defer_full_collections() if getattr(args, "as_program", False) else None

    from jeval.io import default_home
    from jeval.models.hub import checkpoint_of
    from jeval.runner import RunConfig, run

    home = default_home()
    overrides = overrides_of(args)
    hub = checkpoint_of(args.model)
    config = RunConfig(
        tasks=_split(args.tasks),
        checkpoint=hub.folder if hub else args.model,
        base_urls=tuple(args.base_url or ()),
        model_id=args.model_id,
        model_name=args.name or (hub.repo_id if hub else None),
        model_revision=hub.revision if hub else args.model_revision,
        backend=args.backend,
        engine=args.engine,
        server_args=tuple(args.server_arg),
        shots=args.shots,
        variant=args.variant,
        limit=args.limit,
        task_args=task_args(args),
        data_dir=args.data_dir or home / "data",
        cache_path=args.cache or home / "generations.sqlite",
        output_dir=args.output,
        concurrency=args.concurrency,
        max_retries=args.max_retries,
        timeout_s=args.timeout,
        api_key_env=args.api_key_env,
        run_id=args.run_id,
        require_all=args.require_all,
        progress=not (args.quiet or args.json),
        print_json=args.json,
        reasoning=reasoning_of(args),
        local=local_settings(args),
        seed=overrides.gen.seed if overrides.gen and overrides.gen.seed is not None else args.seed,
        overrides=overrides,
        command_line=tuple(getattr(args, "command_line", ())),
    )
    tracking = tracking_of(args)
    check_tracking(tracking)
    path = run(config, on_first_answer=deferred.resume if deferred else None)
    if tracking.wanted:
        log_run(path, tracking)
    return 0


def log_run(path: Path, tracking: Tracking) -> None:
    from jeval.io import read_json
    from jeval.tracking import log_board, run_board

    try:
        for line in log_board(run_board(read_json(path), path.parent), tracking):
            print(line, file=sys.stderr)
    except JevalError as e:
        raise JevalError(f"{e} (the run's results are written: {path})") from None


def cmd_data_prepare(args: argparse.Namespace) -> int:
    from jeval.data.download import Mirror
    from jeval.data.prepare import prepare_task
    from jeval.io import default_home
    from jeval.registry import load_registry
    from jeval.task import ChoosesPromptText, PrepareOptions

    tasks = load_registry().resolve(list(_split(args.tasks)))
    data_dir = args.data_dir or default_home() / "data"
    mirror = Mirror.open(args.mirror)
    options = PrepareOptions(upstream_text=args.prompts == "llm-jp-eval", upstream_checkout=args.llm_jp_eval_dir,
                             preprocessed=args.jaster_dir)
    checkouts = []
    if args.llm_jp_eval_dir is not None:
        choosing = [t for t in tasks if isinstance(t, ChoosesPromptText)]
        if not choosing:
            raise JevalError("--llm-jp-eval-dir applies to Jaster datasets only")
        checkouts.append(choosing[0].open_checkout(args.llm_jp_eval_dir))
        print(f"prompt text: {checkouts[0].describe}", file=sys.stderr)
    if mirror.checksums:
        print(f"note: checksums from {args.mirror}'s jeval-mirror.json are used for the files it lists; "
              "that data is not upstream's and results will say so", file=sys.stderr)
    if len(tasks) > 1:
        for task in tasks:
            if not task.spec.prepared:
                print(f"{task.spec.name}: nothing to prepare (its inputs are given to `jeval run`)", file=sys.stderr)
        tasks = [t for t in tasks if t.spec.prepared]
    failed = []
    for task in tasks:
        try:
            prepared = prepare_task(task, data_dir, mirror, options, checkouts)
        except JevalError as e:
            if len(tasks) == 1:
                raise
            failed.append(task.spec.name)
            print(f"{task.spec.name}: not prepared: {' '.join(str(e).split())}", flush=True)
            continue
        counts = ", ".join(f"{split} {n}" for split, n in prepared.counts.items())
        lacks = "".join(f"; lacks {m.source.url}: {m.source.optional}" for m in prepared.missing)
        print(f"{prepared.task}: prepared [{prepared.protocol}]" + (f" {counts}" if counts else "") + lacks, flush=True)
    done = len(tasks) - len(failed)
    if len(tasks) > 1:
        print(f"prepared {done} of {len(tasks)} in {data_dir}", flush=True)
    if failed:
        raise JevalError(f"{len(failed)} of {len(tasks)} tasks were not prepared ({', '.join(failed)}); "
                         f"the other {done} are ready")
    return 0


def cmd_data_sources(args: argparse.Namespace) -> int:
    from jeval.data.prepare import sources_table
    from jeval.registry import load_registry

    registry = load_registry()
    names = list(_split(args.tasks)) or sorted(n for n, t in registry.tasks.items() if t.spec.prepared)
    rows = sources_table(registry.resolve(names))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif args.markdown:
        from jeval.source_status import markdown_table

        print(markdown_table(rows), end="")
    else:
        for row in rows:
            pin = f"sha256:{row['sha256']}" if row["sha256"] else "unpinned (checksum recorded at first download)"
            task = f"{row['task']} {row['variant']}" if row["variant"] else row["task"]
            print(f"{task}\t{row['url']}\t{pin}\t{row['license']}\tupstream: {row['upstream']}\t"
                  f"access: {row['access']}\tcommercial use: {row['commercial_use']}")
    return 0


def cmd_tasks_list(args: argparse.Namespace) -> int:
    from jeval.registry import load_registry

    registry = load_registry()
    families: dict[str, list[str]] = {}
    for name, task in sorted(registry.tasks.items()):
        spec = task.spec
        print(f"{name}\t{spec.category}\t{spec.protocol}\t{spec.default_shots}-shot")
        for arg in spec.args:
            families.setdefault(spec.family, [])
            line = f"{spec.family}.{arg.name}\t{arg.help}"
            if line not in families[spec.family]:
                families[spec.family].append(line)
    for prefix in sorted(registry.resolvers):
        print(f"{prefix}<name>\topen-ended: any name after {prefix!r}")
        spec = registry.resolvers[prefix](f"{prefix}example").spec
        families.setdefault(spec.family, []).extend(f"{spec.family}.{a.name}\t{a.help}" for a in spec.args)
    for group, members in sorted(registry.groups.items()):
        print(f"{group}\tgroup: {', '.join(members)}")
    if args.args:
        for lines in families.values():
            for line in lines:
                print(f"--task-arg {line}")
    return 0


def cmd_tasks_path(args: argparse.Namespace) -> int:
    from jeval.io import default_home
    from jeval.tasks.japanese_leaderboard.render import render_folder

    print(render_folder(args.data_dir or default_home() / "data"))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve until stopped. The first Ctrl-C (or SIGTERM) lets the requests in flight finish, for up
    to the stop grace; a second one ends the server at once."""
    from jeval.models.hub import checkpoint_of
    from jeval.models.server import ModelServer, ServeConfig, failure_line

    if args.checkpoint is not None and args.model is not None:
        raise JevalError("jeval serve: name the model once, as CHECKPOINT or as --model, not both")
    given = args.model if args.model is not None else args.checkpoint
    if given is None:
        raise JevalError("jeval serve needs a model: a checkpoint folder or a Hugging Face Hub id ORG/NAME[@REVISION] "
                         "(jeval serve --model ORG/NAME)")
    hub = checkpoint_of(given)
    config = ServeConfig(hub.folder if hub else given, engine=args.engine, host=args.host, port=args.port,
                         log_dir=args.log_dir, extra_args=tuple(args.server_arg))
    server = ModelServer(config)

    try:
        server.start()
        print(f"serving {hub.revision if hub else server.model_id} with {server.engine}", flush=True)
        print(f"base URL: {server.base_url}", flush=True)
        print(f"model id: {server.model_id}", flush=True)
        record = ""
        if hub:
            print(f"name: {hub.repo_id}", flush=True)
            print(f"revision: {hub.revision}", flush=True)
            record = f" --name {hub.repo_id} --model-revision {hub.revision}"
        print(f"log: {server.log_path}", flush=True)
        if server.engine == "transformers":
            record += " --engine transformers"
        print(f"try: jeval run --base-url {server.base_url} --model-id {server.model_id}{record} "
              "--tasks jcommonsenseqa", flush=True)
        while server.running:
            time.sleep(0.5)
        server.stop()
        raise JevalError(f"{server.engine} serve stopped by itself (code {server.returncode}): "
                         f"{failure_line(server.log_lines())} (whole log: {server.log_path})")
    except KeyboardInterrupt:
        try:
            print(server.stopping_message(), file=sys.stderr, flush=True)
            server.stop()
        except KeyboardInterrupt:
            server.kill()
            raise
        return 0
    finally:
        server.stop()


def cmd_train(args: argparse.Namespace) -> int:
    from jeval.models.train.cli import run_train

    return run_train(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from jeval.demo import run_demo

    run_demo(args.workdir, max_steps=args.max_steps, limit=args.limit)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jeval", description="Evaluate Japanese LLMs: benchmarks, LLM judge, arena.")
    parser.add_argument("--version", action="version", version=f"jeval {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only: no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", help="evaluate a model on tasks")
    who = p.add_argument_group("model (one of)")
    who.add_argument("--model", type=Path, help="checkpoint folder, or a Hugging Face Hub id ORG/NAME[@REVISION] "
                                                "(downloaded into the HF cache); served with vLLM (GPU) or "
                                                "transformers serve")
    who.add_argument("--base-url", action="append", help="an OpenAI-compatible server; repeat for replicas")
    p.add_argument("--model-id", help="model name to send to --base-url (default: the one the server lists)")
    p.add_argument("--name", help="the model's display name in results and leaderboards (default: the checkpoint "
                                  "folder's name, or the model id); models are told apart by their fingerprint")
    p.add_argument("--model-revision", help="with --base-url: the revision of the model behind the id (answers are "
                                            "cached per revision; give a new one whenever the served model changes)")
    p.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                   help="passed to the vllm/transformers serve jeval starts, as it is; repeat "
                        "(e.g. --server-arg=--dtype=bfloat16); part of the model's identity")
    p.add_argument("--backend", choices=["server", "local"], default="server",
                   help="server: HTTP API (default); local: in process, no server")
    p.add_argument("--engine", choices=["auto", "vllm", "transformers"], default="auto",
                   help="vllm or transformers (default: vllm where it is installed and a GPU is visible); with "
                        "--backend local, vllm is vLLM's offline engine in this process; with --base-url, "
                        "transformers says the server is a `transformers serve` (jeval serve's try: line adds it)")
    inproc = p.add_argument_group("in-process model (--backend local)")
    inproc.add_argument("--batch-size", type=_batch_size, default=None, metavar="N|auto",
                        help="sequences per forward pass, grouped by length (default: auto, as many as a token "
                             "budget from the device's free memory allows; halved where memory runs out)")
    inproc.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: the first GPU, else the CPU); part of "
                                         "the model's identity")
    inproc.add_argument("--dtype", choices=["auto", "float32", "float16", "bfloat16"], default=None,
                        help="weights and activations (default: auto, the checkpoint's own); part of the model's "
                             "identity")
    inproc.add_argument("--threads", type=int, help="torch's intra-op threads (default: every core jeval may use)")
    p.add_argument("--tasks", action="append", required=True, help="task or group names, comma-separated")
    p.add_argument("--task-arg", action="append", metavar="FAMILY.KEY=VALUE",
                   help="an argument of a task family, e.g. ppl.corpus=valid.jsonl or lm-eval.include=DIR; repeatable "
                        "(`jeval tasks list --args` shows them)")
    p.add_argument("--shots", type=int, help="few-shot examples (default: each task's own)")
    p.add_argument("--variant", help="a task family's prompt variant, recorded as its own protocol "
                                     "(Jaster: chat = the whole prompt as one user turn of the model's chat "
                                     "template; fewshot-turns = few-shots as user/assistant turns, Nejumi style; "
                                     "reasoning = chat, zero-shot, thinking blocks taken off answers)")
    thinking = p.add_argument_group("reasoning models")
    thinking.add_argument("--reasoning", action="store_true",
                          help="take each answer's thinking block (<think>…</think>) off before it is scored and "
                               "keep it in the samples; requests get room for thinking (--reasoning-budget) and "
                               "their stop sequences are applied to the answer after the block")
    thinking.add_argument("--reasoning-markers", nargs=2, metavar=("START", "END"),
                          help="the markers around the thinking (default: <think> </think>); implies --reasoning")
    thinking.add_argument("--reasoning-budget", type=int, metavar="TOKENS",
                          help="tokens allowed for thinking beyond each task's answer length (default: 8192, "
                               "lowered to what the model's context leaves); implies --reasoning")
    p.add_argument("--limit", type=int,
                   help="evaluate only the first N test items of each task; -1 for all (default: the task's "
                        "protocol, e.g. 100 for Jaster as llm-jp-eval's max_num_samples, else all)")
    p.add_argument("--data-dir", type=Path, help="prepared data (default: $JEVAL_HOME/data)")
    p.add_argument("--cache", type=Path, help="generation cache file (default: $JEVAL_HOME/generations.sqlite)")
    p.add_argument("--output", type=Path, default=Path("results"), help="results folder (default: results)")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight (default: 16)")
    p.add_argument("--max-retries", type=int, default=5)
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds per request (default: 300; a timeout is retried once)")
    p.add_argument("--api-key-env", help="environment variable holding the API key")
    p.add_argument("--run-id")
    p.add_argument("--json", action="store_true",
                   help="print results.json to standard output instead of the score table (no progress bars)")
    p.add_argument("--seed", type=int, metavar="N",
                   help="recorded in results.json and sent as the `seed` of sampled requests (temperature > 0) to "
                        "the server; greedy requests, and their cache entries, are the same with or without it")
    p.add_argument("--gen-kwargs", metavar="KEY=VALUE,...",
                   help="override generation tasks' decoding, as lm-eval's --gen_kwargs (lm-eval: tasks too): "
                        "temperature, max_tokens (or max_gen_toks), do_sample, seed, top_p, top_k, min_p, "
                        "repetition_penalty, presence_penalty, frequency_penalty (refused where the engine cannot "
                        "apply one); the protocol gets a /gen:... suffix")
    p.add_argument("--system-prompt", metavar="TEXT|@FILE",
                   help="a system message for chat requests (tasks whose requests are chats); the protocol gets a "
                        "/system:<sha256[:8]> suffix; refused with tasks that send plain completions")
    add_tracking_arguments(p)
    p.add_argument("--require-all", action="store_true",
                   help="fail when a member of a named group (e.g. jaster) is not prepared or cannot give the shots "
                        "asked (default: skip it and list it with the reason)")
    ppl = p.add_argument_group("ppl (perplexity on corpora) and lm-eval:<task>: aliases of --task-arg")
    ppl.add_argument("--corpus", action="append", metavar="FILE[,FILE...]",
                     help="ppl: JSON Lines files with a `text` field (and optionally `lang`), or plain-text files")
    ppl.add_argument("--lang", action="append", metavar="LANG[,LANG...]",
                     help="ppl: the language of every --corpus file, or one per file (a record's `lang` wins)")
    ppl.add_argument("--stride", type=int,
                     help="ppl: tokens scored per sliding window after the first; smaller gives more context "
                          "(default: context length - 1, disjoint windows)")
    ppl.add_argument("--context-length", type=int, help="ppl: window length in tokens (default: the model's maximum)")
    ppl.add_argument("--lm-eval-include", action="append", type=Path, metavar="DIR",
                     help="lm-eval:<task>: a folder of extra lm-eval task configs (lm-eval's --include_path); "
                          "repeatable")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("data", help="prepare benchmark data")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    d = data_sub.add_parser("prepare", help="download and convert the data of tasks")
    d.add_argument("tasks", nargs="+", help="task or group names")
    d.add_argument("--mirror", help="a folder or URL laid out as MIRROR/HOST/PATH, used instead of upstream")
    d.add_argument("--data-dir", type=Path, help="default: $JEVAL_HOME/data")
    d.add_argument("--prompts", choices=["jeval", "llm-jp-eval"], default="jeval",
                   help="Jaster's prompt text: jeval = jeval's own instructions, protocol jeval-jaster-1 (default; "
                        "needs only the data files); llm-jp-eval = read from llm-jp-eval v1.4.1's source, protocol "
                        "llm-jp-eval-1.4.1 (downloaded at its tag, or see --llm-jp-eval-dir)")
    d.add_argument("--llm-jp-eval-dir", type=Path, metavar="DIR",
                   help="Jaster: a local checkout or unpacked release of llm-jp-eval v1.4.1, read for its prompt "
                        "text instead of downloading it (implies --prompts llm-jp-eval)")
    d.add_argument("--jaster-dir", type=Path,
                   help="Jaster: take the splits from llm-jp-eval's own preprocessed files "
                        "(DATASET_DIR/1.4.1/evaluation; implies --prompts llm-jp-eval)")
    d.set_defaults(func=cmd_data_prepare)
    d = data_sub.add_parser("sources", help="list the upstream files of tasks: URL, checksum, licence, whether "
                                             "upstream still serves them and whether they are gated")
    d.add_argument("tasks", nargs="*")
    shown = d.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true")
    shown.add_argument("--markdown", action="store_true",
                       help="a table of the sources' status, grouped by task (the README's table of sources)")
    d.set_defaults(func=cmd_data_sources)

    p = sub.add_parser("tasks", help="list tasks and groups")
    tasks_sub = p.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)
    t = tasks_sub.add_parser("list", help="list tasks and groups")
    t.add_argument("--args", action="store_true", help="also list each task family's --task-arg arguments")
    t.set_defaults(func=cmd_tasks_list)
    t = tasks_sub.add_parser("path", help="write and print the lm-eval task folder (lm_eval --include_path)")
    t.add_argument("--data-dir", type=Path, help="prepared data the configs read (default: $JEVAL_HOME/data)")
    t.set_defaults(func=cmd_tasks_path)

    p = sub.add_parser("serve", help="serve a checkpoint over the OpenAI-compatible API",
                       description="Serve a checkpoint until stopped. Ctrl-C (or SIGTERM) lets the requests in "
                                   "flight finish for up to 15 s; a second Ctrl-C stops at once.")
    p.add_argument("checkpoint", type=Path, nargs="?",
                   help="checkpoint folder, or a Hugging Face Hub id ORG/NAME[@REVISION] (downloaded into the HF "
                        "cache)")
    p.add_argument("--model", type=Path, help="the same as CHECKPOINT, spelt as `jeval run --model`")
    p.add_argument("--engine", choices=["auto", "vllm", "transformers"], default="auto")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int)
    p.add_argument("--log-dir", type=Path, default=Path("results/logs"))
    p.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                   help="passed to vllm/transformers serve as it is; repeat (e.g. --server-arg=--dtype=bfloat16)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("train", help="train a model: tokenizer, (continued) pre-training, SFT, DPO, LoRA")
    from jeval.models.train.cli import add_train_arguments

    add_train_arguments(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("demo", help="train, serve and evaluate a tiny model offline, end to end")
    p.add_argument("--workdir", type=Path, default=Path("jeval-demo"))
    p.add_argument("--max-steps", type=int, help="override the tiny preset's training steps")
    p.add_argument("--limit", type=int, help="evaluate only the first N items")
    p.set_defaults(func=cmd_demo)

    for name, (_, what) in DELEGATED.items():
        sub.add_parser(name, help=what, add_help=False)
    for name, what in NOT_YET.items():
        sub.add_parser(name, help=f"{what} (not available yet)")
    return parser


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every `--option` of a parser and of its sub-commands, however deep."""
    found: set[str] = set()
    for action in parser._actions:
        found.update(o for o in action.option_strings if o.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _option_strings(sub)
    return found


def _check_options(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """A misspelt `--option` is one error line with the closest real ones, before argparse
    reports something else (a missing required option) or nothing useful ("unrecognized
    arguments"). Unique prefixes stay valid, as argparse takes them."""
    known = _option_strings(parser)
    for token in argv:
        if token == "--":
            return
        name = token.split("=", 1)[0]
        if not name.startswith("--") or any(option.startswith(name) for option in known):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.75)
        hint = f"; did you mean {' or '.join(close)}?" if close else f"; see `{parser.prog} --help`"
        parser.exit(2, f"jeval: error: unknown option {name}{hint}\n")


def _parse(argv: list[str]) -> argparse.Namespace:
    if argv and argv[0] in DELEGATED:
        module = importlib.import_module(DELEGATED[argv[0]][0])
        parser = module.build_parser(f"jeval {argv[0]}")
        _check_options(parser, argv[1:])
        return parser.parse_args(argv[1:])
    parser = build_parser()
    _check_options(parser, argv)
    return parser.parse_args(argv)


def _quiet_libraries(record: logging.LogRecord) -> bool:
    """Per-request chatter of HTTP libraries is noise at INFO; their warnings still show."""
    return record.levelno >= logging.WARNING or not record.name.startswith(("httpx", "httpcore", "openai"))


def _interrupt(signum, frame):
    """SIGTERM unwinds like Ctrl-C, so that servers jeval started are stopped on the way out."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    as_program = argv is None
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in NOT_YET:
        print(f"jeval: error: `jeval {argv[0]}` ({NOT_YET[argv[0]]}) is not available yet in jeval {__version__}",
              file=sys.stderr)
        return 2
    args = _parse(argv)
    args.command_line = ["jeval", *argv]
    verbose = getattr(args, "verbose", False)
    quiet = getattr(args, "quiet", False)
    if quiet or getattr(args, "json", False):
        os.environ["TQDM_DISABLE"] = "1"  # every library's bars too (transformers' "Loading weights")
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s")
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_quiet_libraries)
    signal.signal(signal.SIGTERM, _interrupt)
    args.as_program = as_program
    try:
        code = args.func(args)
        sys.stdout.flush()
        return code
    except JevalError as e:
        print(f"jeval: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _reader_gone()
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" writing {e.filename}" if e.filename else ""
        print(f"jeval: error: no space left on the device{where}; what was written before is kept (the caches "
              "commit each answer): free space and run the same command again", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jeval: interrupted", file=sys.stderr)
        if as_program:
            _exit_now(130)
        return 130
    finally:
        if as_program:
            gc_policy.spare_exit()


def _exit_now(code: int) -> None:
    """End the process without the interpreter's teardown. Every `finally` has run by now (servers
    stopped, answers committed, caches closed); the teardown left would take seconds once torch
    and transformers are imported, which someone who pressed Ctrl-C should not wait for."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _reader_gone() -> int:
    """The reader of standard output stopped (`jeval data sources | head`): not an error of the
    command. What is still buffered goes nowhere, and the exit status is a shell's for SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE
