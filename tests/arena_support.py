"""Helpers for the arena tests: two real `transformers serve` endpoints on the tiny checkpoint
(under two display names) and a real `jeval arena serve` started through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from conftest import Served, start_jeval_serve, stop

NAMES = ("hinoki-7b", "sakura-3b")


@dataclass
class Endpoints:
    servers: list[Served]

    def models(self, max_tokens: int = 16, **extra) -> list[dict]:
        return [{"name": name, "base_url": s.base_url, "model": s.model_id,
                 "params": {"max_tokens": max_tokens, "temperature": 0.0}, **extra}
                for name, s in zip(NAMES, self.servers)]

    def close(self) -> None:
        for s in self.servers:
            stop(s.process)


def start_endpoints(checkpoint: Path, log_dir: Path) -> Endpoints:
    return Endpoints([start_jeval_serve(checkpoint, log_dir / f"serve-{i}") for i in range(2)])


SCRIPTED_LIMITS = {"min_read_s": 0, "votes_per_address_per_hour": 100_000}
"""Test arenas vote as fast as a script, every session from 127.0.0.1: the reading time and the
per-address limit a deployment keeps would refuse them (see test_arena_stuffing for those)."""


def write_config(path: Path, models: list[dict], store: str, deployed_limits: bool = False, **extra) -> Path:
    """An arena YAML; `limits` are SCRIPTED_LIMITS plus the given ones, or with `deployed_limits`
    the given ones alone (the defaults of a real deployment)."""
    limits = extra.pop("limits", {})
    if not deployed_limits:
        limits = {**SCRIPTED_LIMITS, **limits}
    raw = {"models": models, "store": store, **extra, **({"limits": limits} if limits else {})}
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


@dataclass
class ArenaProcess:
    url: str
    process: subprocess.Popen
    log: Path

    def close(self) -> None:
        stop(self.process)


def start_arena(config: Path, log: Path, timeout_s: float = 120) -> ArenaProcess:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    out = log.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "jeval", "arena", "serve", "--config", str(config), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=out, text=True, env=env)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"jeval arena serve exited: {log.read_text()[-3000:]}")
        if line.startswith("arena: "):
            return ArenaProcess(line.split(": ", 1)[1].strip(), proc, log)
    proc.kill()
    raise AssertionError("jeval arena serve did not start in time")


@dataclass
class LoadResult:
    sessions: int
    accepted: int
    rejected_duplicates: int
    race_winners: int
    errors: list[str]
    vote_latencies: list[float]
    send_latencies: list[float]
    wall_s: float

    def percentile(self, values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")

    def summary(self) -> str:
        return (f"{self.sessions} sessions, {self.accepted} votes accepted in {self.wall_s:.1f} s "
                f"({self.accepted / self.wall_s:.2f} votes/s incl. generation); vote latency p50 "
                f"{self.percentile(self.vote_latencies, 0.5) * 1000:.0f} ms, p99 "
                f"{self.percentile(self.vote_latencies, 0.99) * 1000:.0f} ms; battle turn p50 "
                f"{self.percentile(self.send_latencies, 0.5):.2f} s, "
                f"p99 {self.percentile(self.send_latencies, 0.99):.2f} s; "
                f"{self.rejected_duplicates} replayed votes rejected; {self.race_winners} of {self.sessions} "
                f"concurrent double votes counted once; errors: {len(self.errors)}")


def run_load(url: str, sessions: int, battles: int, deadline_s: float) -> LoadResult:
    """`sessions` concurrent browser sessions (Gradio clients) each accept the terms notice and play
    `battles` blind battles: send a prompt (both answers streamed), vote, replay the vote (must be
    rejected), new round. The arena's texts must be English (`ui.language: en`).
    Each session's last battle gets two votes at once (a double click); exactly one may count."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    lock = threading.Lock()
    result = LoadResult(sessions, 0, 0, 0, [], [], [], 0.0)
    stop_at = time.monotonic() + deadline_s
    choices = ["vote_a", "vote_b", "vote_tie", "vote_bothbad"]

    def session(sid: int) -> None:
        try:
            client = Client(url, verbose=False)
            client.predict(api_name="/accept_terms")
            for k in range(battles):
                if time.monotonic() > stop_at:
                    raise TimeoutError("deadline reached")
                t0 = time.perf_counter()
                out = client.predict(f"質問 {sid}-{k}: 日本の川について", api_name="/battle_send")
                sent = time.perf_counter() - t0
                if not str(out[2]).startswith("Vote now"):
                    raise AssertionError(f"turn not ready: {out[2]!r}")
                if k < battles - 1:
                    t0 = time.perf_counter()
                    message = client.predict(api_name=f"/battle_{choices[(sid + k) % 4]}")[0]
                    latency = time.perf_counter() - t0
                    replay = client.predict(api_name="/battle_vote_a")[0]
                    with lock:
                        result.send_latencies.append(sent)
                        if message.startswith("Thanks"):
                            result.accepted += 1
                            result.vote_latencies.append(latency)
                        else:
                            result.errors.append(f"session {sid}: vote refused: {message}")
                        result.rejected_duplicates += "already has your vote" in replay
                else:
                    t0 = time.perf_counter()
                    jobs = [client.submit(api_name="/battle_vote_a"), client.submit(api_name="/battle_vote_b")]
                    messages = [j.result()[0] for j in jobs]
                    latency = time.perf_counter() - t0
                    thanks = sum(m.startswith("Thanks") for m in messages)
                    with lock:
                        result.send_latencies.append(sent)
                        result.vote_latencies.append(latency)
                        result.accepted += thanks
                        result.race_winners += thanks == 1
                client.predict(api_name="/battle_new_round")
        except Exception as e:  # every failure is reported by the caller
            with lock:
                result.errors.append(f"session {sid}: {type(e).__name__}: {e}")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(sessions) as pool:
        list(pool.map(session, range(sessions)))
    result.wall_s = time.perf_counter() - t0
    return result
