"""Suspicious votes in a vote store, by rule, for `jeval arena audit`.

Votes are grouped by client: by address and by login where the vote has them, else (votes stored
before addresses were) by session. The rules:

- `burst`: at least `burst_votes` votes from one client within `burst_window_s` seconds; every
  vote of such a window is flagged. Reading two answers and writing a prompt takes a person far
  longer than a script.
- `one_model`: one client's votes favour one model far beyond what everybody else's votes give
  it. Of the client's n anonymous votes in battles with model M, k went to M; the chance of k or
  more under the rate at which other clients' votes went to M (Laplace-smoothed, so a model few
  others met counts as even) is below `alpha`, with n at least `min_votes`. The votes for M are
  flagged.
- `fast`: cast sooner than reading allows, i.e. less than `read_base_s` after the answers
  finished, or less than `read_base_s` plus the answers' length at `read_chars_per_s` after the
  turn began (answers can be read while they stream).
- `names_model`: the battle named a model (the identity filter's flag), with the words found. Such
  votes already stay out of the rankings by their flag (`--include-flagged` counts them), so no
  exclusion is recorded for them.

Recorded exclusions (`VoteStore.exclude`) keep the vote in the store and out of every rating."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jeval.arena.identity import FLAG
from jeval.arena.store import VoteRecord
from jeval.errors import JevalError

RULES = ("burst", "one_model", "fast", FLAG)
EXCLUDING_RULES = ("burst", "one_model", "fast")


@dataclass(frozen=True)
class AuditRules:
    burst_votes: int = 10
    burst_window_s: float = 300.0
    min_votes: int = 10
    alpha: float = 0.001
    read_base_s: float = 2.0
    read_chars_per_s: float = 30.0
    rules: tuple[str, ...] = RULES

    def check(self) -> None:
        if self.burst_votes < 2:
            raise JevalError(f"--burst-votes must be at least 2, got {self.burst_votes}")
        if self.burst_window_s <= 0 or self.read_chars_per_s <= 0 or self.read_base_s < 0:
            raise JevalError("--burst-window-s and --read-chars-per-s must be above 0, --read-base-s 0 or more")
        if self.min_votes < 1:
            raise JevalError(f"--min-votes must be at least 1, got {self.min_votes}")
        if not 0 < self.alpha < 1:
            raise JevalError(f"--alpha must be between 0 and 1, got {self.alpha}")
        unknown = sorted(set(self.rules) - set(RULES))
        if unknown:
            raise JevalError(f"unknown audit rule(s) {', '.join(unknown)} (known: {', '.join(RULES)})")


@dataclass(frozen=True)
class Finding:
    battle_id: str
    rule: str
    reason: str


def clients_of(vote: VoteRecord) -> list[tuple[str, str]]:
    """The client keys a vote is counted under: ("address", hash), ("login", hash), else ("session", hash)."""
    keys = [(kind, value) for kind, value in (("address", vote.voter.address), ("login", vote.voter.login))
            if value is not None]
    return keys or [("session", vote.session)]


def _who(kind: str) -> str:
    return {"address": "one address", "login": "one user", "session": "one session"}[kind]


def bursts(votes: Sequence[VoteRecord], rules: AuditRules) -> list[Finding]:
    by_client: dict[tuple[str, str], list[VoteRecord]] = defaultdict(list)
    for v in votes:
        for key in clients_of(v):
            by_client[key].append(v)
    found: dict[str, tuple[int, str]] = {}
    for (kind, _), group in by_client.items():
        group.sort(key=lambda v: v.tstamp)
        start = 0
        for end in range(len(group)):
            while group[end].tstamp - group[start].tstamp > rules.burst_window_s:
                start += 1
            size = end - start + 1
            if size < rules.burst_votes:
                continue
            span = group[end].tstamp - group[start].tstamp
            for v in group[start:end + 1]:
                if v.battle_id not in found or found[v.battle_id][0] < size:
                    found[v.battle_id] = (size, f"{size} votes from {_who(kind)} within {span:.0f} s")
    return [Finding(b, "burst", reason) for b, (_, reason) in found.items()]


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space."""
    if k <= 0:
        return 1.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p)
             + (n - i) * math.log1p(-p) for i in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def one_model(votes: Sequence[VoteRecord], rules: AuditRules) -> list[Finding]:
    anony = [v for v in votes if v.mode == "anony"]
    met: dict[str, int] = defaultdict(int)
    won: dict[str, int] = defaultdict(int)
    mine_met: dict[tuple[tuple[str, str], str], list[VoteRecord]] = defaultdict(list)
    for v in anony:
        for model in (v.model_a, v.model_b):
            met[model] += 1
            won[model] += v.chosen == model
            for key in clients_of(v):
                mine_met[(key, model)].append(v)
    found: dict[str, tuple[float, str]] = {}
    for ((kind, _), model), group in mine_met.items():
        n = len(group)
        if n < rules.min_votes:
            continue
        k = sum(v.chosen == model for v in group)
        others_met, others_won = met[model] - n, won[model] - k
        rate = (others_won + 1) / (others_met + 2)
        p = binomial_tail(k, n, rate)
        if p >= rules.alpha:
            continue
        reason = (f"{k} of {n} votes from {_who(kind)} in battles with {model} went to it "
                  f"(other votes: {100 * others_won / others_met if others_met else 50:.0f}%; p = {p:.1g})")
        for v in group:
            if v.chosen == model and (v.battle_id not in found or p < found[v.battle_id][0]):
                found[v.battle_id] = (p, reason)
    return [Finding(b, "one_model", r) for b, (_, r) in found.items()]


def fast(votes: Sequence[VoteRecord], rules: AuditRules) -> list[Finding]:
    out = []
    for v in votes:
        if v.finished is None or v.started is None:
            continue
        after_answers = v.tstamp - v.finished
        reading = rules.read_base_s + v.answer_chars / rules.read_chars_per_s
        since_start = v.tstamp - v.started
        if after_answers < rules.read_base_s:
            out.append(Finding(v.battle_id, "fast", f"voted {after_answers:.1f} s after the answers finished "
                                                    f"(at least {rules.read_base_s:g} s)"))
        elif since_start < reading:
            out.append(Finding(v.battle_id, "fast", f"voted {since_start:.1f} s after the prompt; reading "
                                                    f"{v.answer_chars} characters takes {reading:.1f} s"))
    return out


def names_model(votes: Sequence[VoteRecord]) -> list[Finding]:
    out = []
    for v in votes:
        if FLAG in v.flags:
            words = ", ".join(v.leaks) if v.leaks else "words not recorded"
            out.append(Finding(v.battle_id, FLAG, f"names a model ({words}); left out of the rankings by its flag"))
    return out


def audit(votes: Sequence[VoteRecord], rules: AuditRules = AuditRules()) -> list[Finding]:
    """Every finding of the chosen rules, in the votes' order, then by rule."""
    rules.check()
    found: list[Finding] = []
    if "burst" in rules.rules:
        found += bursts(votes, rules)
    if "one_model" in rules.rules:
        found += one_model(votes, rules)
    if "fast" in rules.rules:
        found += fast(votes, rules)
    if FLAG in rules.rules:
        found += names_model(votes)
    order = {v.battle_id: i for i, v in enumerate(votes)}
    return sorted(found, key=lambda f: (order[f.battle_id], RULES.index(f.rule)))


def exclusions(findings: Iterable[Finding]) -> list[tuple[str, str, str]]:
    """The (battle id, rule, reason) rows `--exclude` records: every finding but the identity flag's."""
    return [(f.battle_id, f.rule, f.reason) for f in findings if f.rule in EXCLUDING_RULES]
