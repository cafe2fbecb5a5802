"""`jeval arena serve | export | ratings`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from jeval.errors import JevalError

if TYPE_CHECKING:
    from jeval.arena.battles import Battle


def _store_url(value: str) -> bool:
    return "://" in value


def _holds_battles(path: Path) -> bool:
    """Whether a file's first record is a battle (else it may be another tool's pairwise judgments)."""
    import json

    try:
        with path.open(encoding="utf-8") as f:
            first = next((line for line in f if line.strip()), "")
        row = json.loads(first)
    except (OSError, UnicodeDecodeError, ValueError):
        return True
    if not isinstance(row, dict) or ("winner" in row and "model_a" in row):
        return True
    return "model_1" not in row and "model1_id" not in row


def load_battles(sources: list[str]) -> list[Battle]:
    """Battles from vote-store URLs and/or JSON Lines files (the arena's export, `jeval judge`'s),
    or pairwise judgments of other tools (Rakuda's reviews, FastChat's pairwise judgments; see
    jeval.judges.battles)."""
    from jeval.arena.battles import read_battles
    from jeval.judges.battles import read_judgment_battles

    battles = []
    for source in sources:
        if _store_url(source):
            from jeval.arena.store import VoteStore

            store = VoteStore(source)
            try:
                battles += store.battles()
            finally:
                store.close()
        elif _holds_battles(Path(source)):
            battles += read_battles(Path(source))
        else:
            battles += read_judgment_battles(Path(source))
    return battles


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def cmd_serve(args: argparse.Namespace) -> int:
    from jeval.arena.app import launch
    from jeval.arena.config import load_config
    from jeval.arena.service import ArenaService
    from jeval.arena.store import VoteStore

    config = load_config(Path(args.config))
    store = VoteStore(config.store)
    service = ArenaService(config, store)
    demo, url = launch(service, args.host, args.port or _free_port(args.host))
    print(f"arena: {url.rstrip('/')}", flush=True)
    print(f"models: {len(config.models)}; vote store: {store.engine.url.render_as_string(hide_password=True)}",
          flush=True)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping the arena", file=sys.stderr, flush=True)
        return 0
    finally:
        demo.close()
        store.close()


def cmd_export(args: argparse.Namespace) -> int:
    import json

    from jeval.arena.store import VoteStore
    from jeval.io import atomic_write_jsonl

    url = args.store
    if args.config:
        from jeval.arena.config import load_config

        url = load_config(Path(args.config)).store
    if not url:
        raise JevalError("give the vote store with --store URL or --config arena.yaml")
    store = VoteStore(url)
    try:
        rows = store.export(conversations=args.with_conversations)
    finally:
        store.close()
    if args.output:
        atomic_write_jsonl(Path(args.output), rows)
        print(f"{len(rows)} battles written to {args.output}", file=sys.stderr)
    else:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


def _anchor(value: str | None) -> tuple[str, float] | None:
    if value is None:
        return None
    name, sep, rating = value.rpartition("=")
    try:
        if not sep or not name:
            raise ValueError(value)
        return name, float(rating)
    except ValueError:
        raise JevalError(f"--anchor {value!r}: expected MODEL=RATING, "
                         "e.g. --anchor mixtral-8x7b-instruct-v0.1=1114") from None


def cmd_ratings(args: argparse.Namespace) -> int:
    from jeval.arena.battles import Selection, select
    from jeval.arena.ratings import RatingOptions, compute
    from jeval.arena.report import png, render
    from jeval.io import atomic_write_text

    if args.bootstrap < 0:
        raise JevalError(f"--bootstrap must be 0 or more, got {args.bootstrap}")
    if args.prior < 0:
        raise JevalError(f"--prior must be 0 or more, got {args.prior}")
    battles = load_battles(args.battles)
    chosen = select(battles, Selection(args.include_named, args.include_flagged, tuple(args.source or ())))
    if not chosen:
        raise JevalError(f"none of the {len(battles)} battles is counted (flagged, non-anonymous or other sources "
                         "are left out by default; see --include-flagged, --include-named, --source)")
    options = RatingOptions(bootstrap=args.bootstrap, seed=args.seed, prior=args.prior, elo_k=args.elo_k,
                            anchor=_anchor(args.anchor), style=args.style)
    report = compute(chosen, options)
    if args.format == "png":
        if not args.output:
            raise JevalError("--format png needs --output FILE.png")
        png(report, Path(args.output))
        print(f"ratings figure written to {args.output}", file=sys.stderr)
        return 0
    text = render(report, args.format)
    if args.output:
        atomic_write_text(Path(args.output), text)
        print(f"ratings written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="The Chatbot Arena: blind pairwise votes into ratings.")
    sub = parser.add_subparsers(dest="arena_command", required=True)

    serve = sub.add_parser("serve", help="run the arena web app")
    serve.add_argument("--config", required=True, help="arena YAML (models, vote store, limits, login)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860, help="port (0: any free port)")
    serve.set_defaults(func=cmd_serve)

    export = sub.add_parser("export", help="write voted battles as JSON Lines (FastChat's field names)")
    export.add_argument("--store", help="vote-store URL, e.g. sqlite:///arena.sqlite")
    export.add_argument("--config", help="take the vote store from this arena YAML")
    export.add_argument("--output", "-o", help="JSONL file (default: standard output)")
    export.add_argument("--with-conversations", action="store_true",
                        help="add conversation_a / conversation_b (the prompts and answers)")
    export.set_defaults(func=cmd_export)

    ratings = sub.add_parser("ratings", help="Bradley-Terry and Elo ratings from battles")
    ratings.add_argument("--battles", required=True, action="append",
                         help="vote-store URL or battles JSONL (arena export or `jeval judge` pairwise); repeatable")
    ratings.add_argument("--bootstrap", type=int, default=100, help="bootstrap rounds for the intervals (default 100)")
    ratings.add_argument("--seed", type=int, default=0)
    ratings.add_argument("--prior", type=float, default=1e-6,
                         help="L2 prior on strengths, so that all-win or all-loss models stay finite (default 1e-6)")
    ratings.add_argument("--elo-k", type=float, default=4.0, help="K of the online Elo (default 4)")
    ratings.add_argument("--anchor", help="MODEL=RATING: shift ratings so that MODEL has RATING")
    ratings.add_argument("--style", action="store_true", help="style control (answer length and markdown)")
    ratings.add_argument("--include-flagged", action="store_true", help="count battles flagged as naming a model")
    ratings.add_argument("--include-named", action="store_true", help="count side-by-side (non-anonymous) battles")
    ratings.add_argument("--source", action="append", choices=("arena", "judge"), help="only battles from this source")
    ratings.add_argument("--format", choices=("md", "csv", "json", "png"), default="md")
    ratings.add_argument("--output", "-o", help="write to this file (required for png)")
    ratings.set_defaults(func=cmd_ratings)
    return parser
