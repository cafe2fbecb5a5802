"""`jeval arena serve | export | ratings | audit | board`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jeval.errors import JevalError
from jeval.tracking import Tracking, tracking_of
from jeval.tracking import add_arguments as add_tracking_arguments
from jeval.tracking import check as check_tracking

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


def _store_of(args: argparse.Namespace) -> str:
    """The vote-store URL from --store, or from the arena YAML given by --config."""
    url = args.store
    if args.config:
        from jeval.arena.config import load_config

        url = load_config(Path(args.config)).store
    if not url:
        raise JevalError("give the vote store with --store URL or --config arena.yaml")
    return url


def cmd_export(args: argparse.Namespace) -> int:
    import json

    from jeval.arena.store import VoteStore
    from jeval.io import atomic_write_jsonl

    store = VoteStore(_store_of(args))
    try:
        rows = store.export(conversations=args.with_conversations, include_excluded=args.include_excluded)
    finally:
        store.close()
    if args.output:
        atomic_write_jsonl(Path(args.output), rows)
        print(f"{len(rows)} battles written to {args.output}", file=sys.stderr)
    else:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


def cmd_board(args: argparse.Namespace) -> int:
    """Recompute the leaderboard tab's stored summary now (the app also does it every refresh_s)."""
    from jeval.arena.board import BoardKeeper
    from jeval.arena.config import load_config
    from jeval.arena.store import VoteStore

    config = load_config(Path(args.config))
    store = VoteStore(config.store)
    try:
        keeper = BoardKeeper(store, config.leaderboard)
        keeper.refresh(force=True)
        board = keeper.read()
    finally:
        store.close()
    assert board is not None
    print(f"leaderboard summary stored: {board.battles} counted battles of {board.votes} votes, "
          f"{len(board.models)} models", file=sys.stderr)
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
    tracking = tracking_of(args)
    check_tracking(tracking)
    battles = load_battles(args.battles)
    chosen = select(battles, Selection(args.include_named, args.include_flagged, tuple(args.source or ())))
    if not chosen:
        raise JevalError(f"none of the {len(battles)} battles is counted (flagged, non-anonymous or other sources "
                         "are left out by default; see --include-flagged, --include-named, --source)")
    options = RatingOptions(bootstrap=args.bootstrap, seed=args.seed, prior=args.prior, elo_k=args.elo_k,
                            anchor=_anchor(args.anchor), style=args.style)
    report = compute(chosen, options)
    if tracking.wanted:
        _log_ratings(report, args, tracking)
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


def cmd_audit(args: argparse.Namespace) -> int:
    import json

    from jeval.arena.audit import RULES, AuditRules, audit, exclusions
    from jeval.arena.audit_report import report, table
    from jeval.arena.store import VoteStore

    rules = AuditRules(args.burst_votes, args.burst_window_s, args.min_votes, args.alpha, args.read_base_s,
                       args.read_chars_per_s, tuple(args.rule or RULES))
    rules.check()
    store = VoteStore(_store_of(args))
    try:
        votes = store.vote_records()
        findings = audit(votes, rules)
        new = store.exclude(exclusions(findings)) if args.exclude else 0
        recorded = store.exclusions()
    finally:
        store.close()
    result = report(votes, findings, recorded, new, args.exclude)
    if args.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(table(result))
    return 0


def _log_ratings(report: Any, args: argparse.Namespace, tracking: Tracking) -> None:
    """The ratings, their table and the ratings figure, to W&B / TensorBoard."""
    import tempfile

    from matplotlib.image import imread

    from jeval.arena.report import png
    from jeval.tracking import log_board, ratings_board

    with tempfile.TemporaryDirectory(prefix="jeval-ratings-") as tmp:
        png(report, Path(tmp) / "ratings.png")
        figure = (imread(Path(tmp) / "ratings.png")[..., :3] * 255).astype("uint8")
    name = f"arena-ratings-{time.strftime('%Y%m%d-%H%M%S')}"
    folder = Path(args.output).parent if args.output else Path.cwd()
    for line in log_board(ratings_board(report, name, folder, figure), tracking):
        print(line, file=sys.stderr)


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
    export.add_argument("--include-excluded", action="store_true",
                        help="keep votes that `jeval arena audit --exclude` left out, each with `excluded` (its rules)")
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
    add_tracking_arguments(ratings)
    ratings.set_defaults(func=cmd_ratings)

    audit = sub.add_parser("audit", help="flag suspicious votes (bursts, one client for one model, votes faster "
                                         "than reading, battles naming a model); --exclude keeps them out of ratings")
    audit.add_argument("--store", help="vote-store URL, e.g. sqlite:///arena.sqlite")
    audit.add_argument("--config", help="take the vote store from this arena YAML")
    audit.add_argument("--exclude", action="store_true",
                       help="record the flagged votes as excluded (with rule and reason; nothing is deleted), so that "
                            "ratings and the leaderboard leave them out; running it again adds only new ones")
    audit.add_argument("--rule", action="append", choices=("burst", "one_model", "fast", "names_model"),
                       help="check only this rule (repeatable; default: all)")
    audit.add_argument("--burst-votes", type=int, default=10,
                       help="burst: this many votes from one client ... (default 10)")
    audit.add_argument("--burst-window-s", type=float, default=300.0, help="... within this many seconds (default 300)")
    audit.add_argument("--min-votes", type=int, default=10,
                       help="one_model: judge a client's votes on a model from this many on (default 10)")
    audit.add_argument("--alpha", type=float, default=0.001,
                       help="one_model: flag a client whose share of votes for the model has a chance below this "
                            "(default 0.001)")
    audit.add_argument("--read-base-s", type=float, default=2.0,
                       help="fast: seconds a vote needs after the answers finish (default 2)")
    audit.add_argument("--read-chars-per-s", type=float, default=30.0,
                       help="fast: reading speed over both answers, counted from the prompt (default 30 characters/s)")
    audit.add_argument("--json", action="store_true", help="print JSON instead of a table")
    audit.set_defaults(func=cmd_audit)

    board = sub.add_parser("board", help="recompute the leaderboard tab's stored summary now")
    board.add_argument("--config", required=True, help="arena YAML (vote store and leaderboard settings)")
    board.set_defaults(func=cmd_board)
    return parser
